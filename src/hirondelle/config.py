"""Settings: one table of every knob, read from `HIRONDELLE_*` variables and `hirondelle.toml`.

`SETTINGS` is the single source of truth: `docs/settings.md` is checked against it by a test, and
the CLI's options only override its values. Connectors and routes (lists of tables) belong in the
TOML file (HIRONDELLE_CONNECTORS, a JSON list, replaces them); everything else may also come
from the environment.
"""

from __future__ import annotations

import difflib
import json
import os
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hirondelle.domain.networks import BadNetwork, parse_networks

CONFIG_FILE_ENV = "HIRONDELLE_CONFIG"

#: How a connector's submit_sm carries the message's validity (SMPP 3.4 §7.1.1), or "none".
ValidityFormat = Literal["relative", "absolute", "none"]
#: A connector's bind: one transceiver session, or a transmitter and a receiver (and aliases).
BindMode = Literal["transceiver", "trx", "transmitter+receiver", "tx+rx"]
#: How a long text is cut (smpp.messages.Concatenation, spelled here: config imports no SMPP).
ConcatenationName = Literal["udh8", "udh16", "sar", "payload"]
#: One octet of a PDU (TON, NPI): anything else could not be encoded.
Octet = Annotated[int, Field(ge=0, le=255)]
DEFAULT_CONFIG_FILE = "hirondelle.toml"


class ConfigError(Exception):
    """A configuration that cannot work; the message is one line that says what to fix."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str

    @property
    def env(self) -> str:
        return "HIRONDELLE_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "sqlite:///var/hirondelle.db",
        "URL of the store: sqlite:///FILE (default) or postgresql://user:password@host/db "
        "(postgres:// and postgresql+psycopg:// too).",
    ),
    Setting("host", "127.0.0.1", "Address the HTTP server listens on."),
    Setting("port", 8080, "Port the HTTP server listens on (0 picks a free one)."),
    Setting(
        "public_url",
        "",
        "Base URL clients and short links use, e.g. https://sms.example.com "
        "(default: built from host and port).",
    ),
    Setting("timezone", "Europe/Paris", "Default time zone of accounts (dates in the API)."),
    Setting("default_sender", "36180", "Sender (TPOA) used when none or an invalid one is given."),
    Setting(
        "stop_short_code",
        "36180",
        'Opt-out short code: to France, a custom sender needs the message to end with "STOP au" '
        "and this number.",
    ),
    Setting(
        "reply_window_hours",
        72.0,
        "Hours after a message during which a reply to the shared sender is routed to its account "
        "(and a STOP blacklists the number for it).",
    ),
    Setting("tls_cert", "", "PEM certificate file: when set with tls_key, serve HTTPS."),
    Setting("tls_key", "", "PEM private key file for tls_cert."),
    Setting(
        "smpp_server_port",
        None,
        "Port of the SMPP server for customers (docs/smpp-server.md); unset: no SMPP server, "
        "0 picks a free one.",
    ),
    Setting(
        "smpp_server_tls_port",
        None,
        "Port of the same SMPP server over TLS, with tls_cert and tls_key; unset: none.",
    ),
    Setting("smpp_server_host", "127.0.0.1", "Address the SMPP server listens on."),
    Setting(
        "smpp_server_max_binds",
        10,
        "Binds an account may hold at once on the SMPP server (an account's own `max_binds` "
        "overrides it).",
    ),
    Setting(
        "smpp_server_window",
        100,
        "Requests in flight per SMPP bind, each way: submit_sm beyond it get ESME_RTHROTTLED; "
        "the server sends at most this many deliver_sm unanswered.",
    ),
    Setting(
        "smpp_server_enquire_link",
        30.0,
        "Seconds between the SMPP server's enquire_link on an idle bind; one unanswered for as "
        "long closes the bind.",
    ),
    Setting(
        "smpp_server_part_timeout",
        60.0,
        "Seconds the parts of a concatenated submit wait for the others (then each part is "
        "answered ESME_RSUBMITFAIL).",
    ),
    Setting(
        "smpp_server_delivery_hours",
        72.0,
        "Hours a receipt or reply waits for a receiver bind of its account (SMPP server) "
        "before it is dropped.",
    ),
    Setting(
        "secret_key",
        "",
        "Key of the API-key digests and webhook signatures. Default: generated once and kept "
        "in var/secret_key.",
    ),
    Setting(
        "auth_free_failures",
        3,
        "Failed authentications per login and per address answered without delay; each "
        "further one waits twice as long (from 0.25 s).",
    ),
    Setting("auth_max_delay", 5.0, "Longest delay, in seconds, before a failed authentication."),
    Setting(
        "auth_failure_window",
        900.0,
        "Seconds without a failure after which a login or address starts again from zero.",
    ),
    Setting(
        "trusted_proxies",
        ["127.0.0.1", "::1"],
        "Addresses or CIDR ranges of the reverse proxies whose X-Forwarded-For is believed "
        "(the right-most address not in this list is the client); [] believes no one. "
        "Environment: a JSON list or comma-separated.",
    ),
    Setting(
        "throttle_burst",
        0.1,
        "Seconds of an account's messages/s or requests/s limit it may use at once after a "
        "pause (at least one): any one-second window passes at most limit × (1 + this).",
    ),
    Setting(
        "throttle_processes",
        1,
        "Processes that serve the APIs side by side (behind a load balancer): each enforces "
        "an account's limits divided by this.",
    ),
    Setting(
        "json_content_type",
        "text/html; charset=UTF-8",
        "Content-Type of API 9.0 JSON answers (allmysms serves text/html; some clients need it).",
    ),
    Setting(
        "max_body_bytes",
        1_048_576,
        "Largest request body, in bytes (413 beyond); feed paths: max_feed_body_bytes.",
    ),
    Setting(
        "max_feed_body_bytes",
        16_777_216,
        "Largest body of sendSms, simulateCampaign, populateList, the REST bulk send and the"
        " customer area's send form (its CSV or XLSX file).",
    ),
    Setting(
        "max_header_bytes",
        65_536,
        "Largest request line and headers together, in bytes (431 beyond).",
    ),
    Setting("max_header_count", 100, "Most header lines in a request (431 beyond)."),
    Setting(
        "request_read_timeout",
        60.0,
        "Seconds a request may take to arrive, headers and body (408 and closed beyond).",
    ),
    Setting("price_table", "", "CSV file (iso,country,credits) replacing the shipped price table."),
    Setting("demo_account", True, "On the first start with an empty store, create a demo account."),
    Setting("demo_credits", 10000, "Credits given to the demo account."),
    Setting("log_format", "console", "Log lines as 'console' (readable) or 'json'."),
    Setting("var_dir", "var", "Folder for the SQLite file, the secret key and local mail."),
    Setting(
        "simulator_receipt_delay",
        1.0,
        "Seconds before the built-in SMSC simulator sends a receipt (when no connector is set).",
    ),
    Setting(
        "receipt_retention_hours",
        72.0,
        "Hours a delivery receipt that matches no message is kept, waiting for its message's "
        "SMSC id (the manual's 72 h).",
    ),
    Setting(
        "retention_days",
        400,
        "Days messages, their status history and replies are kept; `hirondelle purge` deletes "
        "older ones (campaigns and their counts stay).",
    ),
    Setting("workers", True, "Run the dispatcher and SMPP connectors inside `hirondelle serve`."),
    Setting(
        "claim_lease",
        30.0,
        "Seconds a dispatcher's claim on a message lasts unless renewed (every third of it): "
        "the claims of a worker that died come back to the others after at most this long.",
    ),
    Setting(
        "readiness_grace",
        30.0,
        "Seconds after start-up before /readyz requires a bound SMPP connector: after them it "
        "answers 503 while none is bound.",
    ),
    Setting(
        "metrics_token",
        "",
        "Bearer token /metrics requires from every client (Authorization: Bearer …); empty: "
        "/metrics answers loopback clients only.",
    ),
    Setting(
        "message_validity_hours",
        48.0,
        "Hours from its due time a message may wait to be submitted (throttled, no answer, "
        "no connector): then it fails (status 4) and is refunded. Sent as validity_period.",
    ),
    Setting(
        "link_check",
        True,
        "shortenUrl checks that the URL answers (one HEAD request, public addresses only).",
    ),
    Setting("link_check_timeout", 3.0, "Seconds the shortenUrl reachability check may take."),
    Setting(
        "allow_private_addresses",
        False,
        "Let link checks and webhooks reach loopback, private and link-local addresses "
        "(refused by default: SSRF protection).",
    ),
    Setting("webhook_timeout", 5.0, "Seconds one webhook call may take, answer included."),
    Setting(
        "webhook_max_age_hours",
        24.0,
        "Hours a webhook event is retried (exponential backoff) before it is given up.",
    ),
    Setting(
        "webhook_concurrency",
        32,
        "Webhook calls in flight at once to one destination (scheme, host and port of a URL), "
        "each over its own keep-alive connection.",
    ),
    Setting(
        "webhook_breaker_failures",
        10,
        "Consecutive failed webhook calls after which a destination is paused (10 s, doubling "
        "to 10 min), then probed with one call.",
    ),
    Setting(
        "webhook_process",
        True,
        "Run the webhook sender of `hirondelle serve` and `hirondelle worker` in a child process "
        "(the same store), on a core of its own; false: in the process itself, sharing its event "
        "loop with HTTP and SMPP.",
    ),
    Setting(
        "smtp_host",
        "",
        "SMTP relay for outgoing email; empty: emails are written to the maildir var_dir/mail.",
    ),
    Setting("smtp_port", 587, "Port of the SMTP relay."),
    Setting(
        "smtp_tls",
        "starttls",
        "TLS to the relay: 'starttls' (required), 'tls' (implicit, usually port 465) or 'none'.",
    ),
    Setting("smtp_username", "", "SMTP login (empty: no authentication)."),
    Setting("smtp_password", "", "SMTP password."),
    Setting("smtp_timeout", 30.0, "Seconds an SMTP connection or command may take."),
    Setting("mail_from", "hirondelle@localhost", "Sender address of the platform's own emails."),
    Setting("email_credits", 1, "Credits debited per email (per recipient) by sendEmail."),
    Setting("email_batch_size", 50, "Emails sent over one SMTP connection before it is closed."),
    Setting(
        "set_password_token_hours",
        72.0,
        "Hours the set-password link of a new sub-account's welcome email stays valid.",
    ),
    Setting(
        "password_reset_minutes",
        60.0,
        "Minutes the link of a forgotten-password email stays valid (single use).",
    ),
)


class ConnectorConfig(BaseModel):
    """One SMPP connector, from a `[[connectors]]` table of hirondelle.toml."""

    model_config = ConfigDict(extra="forbid")

    # Checked here, each with the value it got wrong: a typo that fell back to a default (a
    # "transmiter" bind became a transceiver, "ucs2" became GSM 7-bit) or failed later (a
    # window of 0 as a traceback at start, a TON of 300 at the first submit) went unnoticed.
    name: str
    host: str
    port: int = Field(ge=1, le=65535)
    system_id: str
    password: str = ""
    password_env: str = ""
    system_type: str = ""
    bind_mode: BindMode = "transceiver"
    tps: float = Field(default=0, ge=0)
    window: int = Field(default=10, ge=1)
    binds: int = Field(default=1, ge=1, le=64)
    encoding: Literal["gsm7", "latin1"] = "gsm7"
    concatenation: ConcatenationName = "udh8"
    validity_format: ValidityFormat = "relative"
    source_ton: Octet | None = None
    source_npi: Octet | None = None
    dest_ton: Octet = 1
    dest_npi: Octet = 1
    prefixes: list[str] = Field(default_factory=list)

    def resolved_password(self) -> str:
        """The password, read from the `password_env` variable when one is named."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(
                    f"connector {self.name!r}: its password_env variable {self.password_env} "
                    "is not set"
                )
            return value
        return self.password


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIRONDELLE_", extra="ignore")

    database_url: str = "sqlite:///var/hirondelle.db"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    timezone: str = "Europe/Paris"
    default_sender: str = "36180"
    stop_short_code: str = "36180"
    reply_window_hours: float = Field(default=72.0, gt=0)
    tls_cert: str = ""
    tls_key: str = ""
    smpp_server_port: int | None = Field(default=None, ge=0, le=65535)
    smpp_server_tls_port: int | None = Field(default=None, ge=0, le=65535)
    smpp_server_host: str = "127.0.0.1"
    smpp_server_max_binds: int = Field(default=10, ge=1)
    smpp_server_window: int = Field(default=100, ge=1)
    smpp_server_enquire_link: float = Field(default=30.0, gt=0)
    smpp_server_part_timeout: float = Field(default=60.0, gt=0)
    smpp_server_delivery_hours: float = Field(default=72.0, gt=0)
    secret_key: str = ""
    auth_free_failures: int = Field(default=3, ge=0)
    auth_max_delay: float = Field(default=5.0, ge=0)
    auth_failure_window: float = Field(default=900.0, gt=0)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"]
    )
    throttle_burst: float = Field(default=0.1, gt=0, le=60)
    throttle_processes: int = Field(default=1, ge=1)
    json_content_type: str = "text/html; charset=UTF-8"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_feed_body_bytes: int = Field(default=16_777_216, ge=1024)
    max_header_bytes: int = Field(default=65_536, ge=1024)
    max_header_count: int = Field(default=100, ge=8)
    request_read_timeout: float = Field(default=60.0, gt=0)
    price_table: str = ""
    demo_account: bool = True
    demo_credits: int = 10000
    log_format: str = "console"
    var_dir: str = "var"
    simulator_receipt_delay: float = 1.0
    receipt_retention_hours: float = Field(default=72.0, gt=0)
    retention_days: int = Field(default=400, ge=1)
    workers: bool = True
    claim_lease: float = Field(default=30.0, ge=3)
    readiness_grace: float = Field(default=30.0, ge=0)
    metrics_token: str = ""
    message_validity_hours: float = Field(default=48.0, gt=0)
    link_check: bool = True
    link_check_timeout: float = 3.0
    allow_private_addresses: bool = False
    webhook_timeout: float = Field(default=5.0, gt=0)
    webhook_max_age_hours: float = Field(default=24.0, gt=0)
    webhook_concurrency: int = Field(default=32, ge=1)
    webhook_breaker_failures: int = Field(default=10, ge=1)
    webhook_process: bool = True
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 30.0
    mail_from: str = "hirondelle@localhost"
    email_credits: int = Field(default=1, ge=0)
    email_batch_size: int = Field(default=50, ge=1)
    set_password_token_hours: float = Field(default=72.0, gt=0)
    password_reset_minutes: float = Field(default=60.0, gt=0)
    connectors: list[ConnectorConfig] = Field(default_factory=list)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return database_url(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):  # the environment: a JSON list, or comma-separated
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            try:
                return [str(network) for network in parse_networks(str(v) for v in value)]
            except BadNetwork as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert and self.tls_key else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def routes(self) -> list[list[str]] | None:
        """The destination prefixes of each connector; None when there is no connector (the
        built-in simulator serves every number)."""
        return [c.prefixes for c in self.connectors] if self.connectors else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


#: Schemes of `database_url` for PostgreSQL, all opened with psycopg 3.
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")


def database_url(url: str) -> str:
    """`url` with the driver we use spelled out; ValueError for a database we cannot open."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in POSTGRES_SCHEMES:
        return "postgresql+psycopg://" + rest
    if sep and scheme in ("sqlite", "sqlite+pysqlite"):
        return url
    shown = f"{scheme}://" if sep else repr(url.partition(":")[0][:20])
    raise ValueError(f"the database URL must start with sqlite:/// or postgresql://, not {shown}")


def _check_keys(values: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    names = list(known)
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key {key!r} in {where}{hint}")


def check_file_keys(values: Mapping[str, Any], path: Path) -> None:
    """Refuse a key no setting has: a typo would otherwise leave its default in place."""
    _check_keys(values, Settings.model_fields, str(path))
    connectors = values.get("connectors")
    for index, table in enumerate(connectors if isinstance(connectors, list) else []):
        if isinstance(table, dict):
            name = table.get("name", index + 1)
            where = f"connector {name!r} of {path}"
            _check_keys(table, ConnectorConfig.model_fields, where)


def one_line(error: ValidationError) -> str:
    """Pydantic's errors as `where: what` pairs on one line."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def load_settings(config_file: str | None = None, **overrides: Any) -> Settings:
    """Settings, or ConfigError saying in one line what is wrong; see `read_settings`."""
    try:
        return read_settings(config_file, **overrides)
    except ValidationError as exc:
        raise ConfigError(one_line(exc)) from None


def read_settings(config_file: str | None = None, **overrides: Any) -> Settings:
    """Settings from the TOML file (if any), then the environment, then explicit overrides.

    The environment wins over the file so that a deployment can keep one file and vary secrets.
    A file named explicitly (argument or HIRONDELLE_CONFIG) must exist: a typo in its path
    would otherwise run the server on defaults without a word.
    """
    named = config_file or os.environ.get(CONFIG_FILE_ENV)
    path = Path(named or DEFAULT_CONFIG_FILE)
    if named and not path.is_file():
        raise ConfigError(f"configuration file not found: {path}")
    file_values: dict[str, Any] = {}
    if path.is_file():
        with path.open("rb") as handle:
            try:
                file_values = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        check_file_keys(file_values, path)
    env_values = Settings().model_dump(exclude_unset=True)
    values = {**file_values, **env_values}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def ensure_secret_key(settings: Settings) -> str:
    """The configured secret key, or one generated once and kept in `var_dir/secret_key`."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.var_dir) / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
