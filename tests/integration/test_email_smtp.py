"""Email delivery against a real SMTP server (aiosmtpd on 127.0.0.1) and into the local maildir."""

from __future__ import annotations

import asyncio
import base64
import mailbox
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from starlette.testclient import TestClient

from hirondelle.config import Settings
from hirondelle.context import Context
from hirondelle.notify.mailer import Mailer, Outcome, OutgoingEmail, SmtpMailer, maildir_path
from hirondelle.services import email
from hirondelle.store.accounts import find_by_login
from hirondelle.store.emails import emails_of_campaign
from tests.conftest import make_settings
from tests.helpers import Creds, json_answer, make_account

HTML = "<html><body><h1>Soldes</h1><p>Jusqu'à -50 %</p></body></html>"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Relay:
    """An SMTP handler that records messages, refusing `reject*` (550) and `later*` (451)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.sessions = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:  # fmt: skip
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        if address.startswith("reject"):
            return "550 5.1.1 No such user"
        if address.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 2.0.0 Queued as 42"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"hd", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def relay(ctx: Context) -> Iterator[Relay]:
    """A running relay that `ctx` is configured to use."""
    handler = Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    use_relay(ctx, port)
    yield handler
    controller.stop()


@pytest.fixture
def creds(ctx: Context) -> Creds:
    return make_account(ctx, credits=10)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, link_check=False)


def use_relay(ctx: Context, port: int, **extra: Any) -> None:
    for name, value in {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        **extra,
    }.items():
        setattr(ctx.settings, name, value)


def send(client: TestClient, creds: Any, to: str, **fields: str) -> dict[str, Any]:
    data = {
        "FROM": "news@shop.example",
        "ALIAS": "La Boutique",
        "REPLY_TO": "help@shop.example",
        "SUBJECT": "Soldes d'été",
        "HTML": base64.b64encode(HTML.encode()).decode(),
        "MAILTEXT": "Jusqu'à -50 %",
        "TO": to,
        **fields,
    }
    feed = orjson.dumps({"DATA": data}).decode()
    answer: dict[str, Any] = json_answer(
        client.post("/http/9.0/sendEmail", data=creds.params(emailData=feed))
    )
    assert answer["status"] in (100, 101), answer
    return answer


def states(ctx: Context, campaign_id: str) -> dict[str, tuple[str, int, str]]:
    rows = ctx.store.read_sync(lambda conn: emails_of_campaign(conn, campaign_id))
    return {r["recipient"]: (r["state"], r["attempts"], r["detail"]) for r in rows}


def balance(ctx: Context) -> int:
    return int(ctx.store.read_sync(lambda conn: find_by_login(conn, "alice")["balance"]))


def run_once(ctx: Context, now: datetime | None = None) -> int:
    return asyncio.run(email.send_due_emails(ctx, now=now))


def test_a_three_recipient_campaign_reaches_the_relay(
    client: TestClient, ctx: Context, relay: Relay, creds: Creds
) -> None:
    handler = relay
    answer = send(client, creds, "a@x.example; b@y.example, c@z.example")
    assert handler.messages == []  # nothing is sent inside the request
    assert run_once(ctx) == 3
    assert handler.sessions == 1  # one connection for the batch
    assert [(frm, to) for frm, to, _ in handler.messages] == [
        ("news@shop.example", ["a@x.example"]),
        ("news@shop.example", ["b@y.example"]),
        ("news@shop.example", ["c@z.example"]),
    ]
    for _, (to,), message in handler.messages:
        assert message["From"] == "La Boutique <news@shop.example>"
        assert message["To"] == to
        assert message["Reply-To"] == "help@shop.example"
        assert message["Subject"] == "Soldes d'été"
        assert message.get_content_type() == "multipart/alternative"
        text, html = message.iter_parts()  # type: ignore[misc]
        assert text.get_content_type() == "text/plain"
        assert text.get_content().replace("\r\n", "\n") == "Jusqu'à -50 %\n"
        assert (html.get_content_type(), html.get_content().strip()) == ("text/html", HTML)
    assert {to: state for to, (state, _, _) in states(ctx, answer["campaignId"]).items()} == {
        "a@x.example": "sent",
        "b@y.example": "sent",
        "c@z.example": "sent",
    }
    assert run_once(ctx) == 0


def test_relay_refusals_are_recorded_per_recipient(
    client: TestClient, ctx: Context, relay: Relay, creds: Creds
) -> None:
    handler = relay
    answer = send(client, creds, "ok@x.example;reject@y.example;later@z.example")
    assert balance(ctx) == 7
    assert run_once(ctx) == 3
    result = states(ctx, answer["campaignId"])
    assert result["ok@x.example"][0] == "sent"
    assert result["reject@y.example"][0] == "rejected"
    assert "550 5.1.1 No such user" in result["reject@y.example"][2]
    assert result["later@z.example"][:2] == ("queued", 1)
    assert "451" in result["later@z.example"][2]
    assert balance(ctx) == 8  # the rejected email is refunded
    assert [to for _, to, _ in handler.messages] == [["ok@x.example"]]

    assert run_once(ctx) == 0  # the retry waits for its backoff
    far = datetime.now(UTC) + timedelta(days=1)
    for attempt in range(2, email.MAX_ATTEMPTS + 1):
        assert run_once(ctx, now=far + timedelta(days=attempt)) == 1
    assert states(ctx, answer["campaignId"])["later@z.example"][:2] == (
        "failed",
        email.MAX_ATTEMPTS,
    )
    assert balance(ctx) == 9


def test_an_unreachable_relay_keeps_the_emails(
    client: TestClient, ctx: Context, creds: Creds
) -> None:
    use_relay(ctx, free_port())  # nothing listens there
    answer = send(client, creds, "a@x.example;b@y.example")
    assert run_once(ctx) == 2
    result = states(ctx, answer["campaignId"])
    assert {state for state, _, _ in result.values()} == {"queued"}
    assert all("relay unavailable" in detail for _, _, detail in result.values())
    assert balance(ctx) == 8


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(("password", "state"), [("s3cret", "sent"), ("wrong", "queued")])
def test_authentication(client: TestClient, ctx: Context, password: str, state: str) -> None:
    handler = Relay()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        use_relay(ctx, port, smtp_username="hd", smtp_password=password, smtp_timeout=1.0)
        creds = make_account(ctx, credits=10)
        answer = send(client, creds, "a@x.example")
        assert run_once(ctx) == 1
    finally:
        controller.stop()
    assert states(ctx, answer["campaignId"])["a@x.example"][0] == state
    assert len(handler.messages) == (1 if state == "sent" else 0)


def test_scheduled_emails_wait_for_their_date(
    client: TestClient, ctx: Context, relay: Relay, creds: Creds
) -> None:
    handler = relay
    answer = send(client, creds, "a@x.example", DATE="2099-06-01 10:00:00")
    assert answer["status"] == 101
    assert run_once(ctx) == 0
    assert run_once(ctx, now=datetime(2099, 6, 1, 7, 59, tzinfo=UTC)) == 0
    assert run_once(ctx, now=datetime(2099, 6, 1, 8, 0, tzinfo=UTC)) == 1
    assert len(handler.messages) == 1


def test_without_a_relay_emails_go_to_the_maildir(
    client: TestClient, ctx: Context, creds: Creds
) -> None:
    answer = send(client, creds, "a@x.example;b@y.example")
    assert run_once(ctx) == 2
    box = mailbox.Maildir(maildir_path(ctx.settings), create=False)
    messages = sorted((m["To"], m["From"]) for m in box)
    assert messages == [
        ("a@x.example", "La Boutique <news@shop.example>"),
        ("b@y.example", "La Boutique <news@shop.example>"),
    ]
    assert {s for s, _, _ in states(ctx, answer["campaignId"]).values()} == {"sent"}


def test_notifications_use_the_same_sender(ctx: Context, relay: Relay) -> None:
    handler = relay
    ctx.settings.mail_from = "noreply@hirondelle.example"
    campaign = asyncio.run(
        email.queue_notification(ctx, "owner@x.example", "Low credit", "", html="<p>10 left</p>")
    )
    assert run_once(ctx) == 1
    ((sender, to, message),) = handler.messages
    assert (sender, to, message["Subject"]) == (
        "noreply@hirondelle.example",
        ["owner@x.example"],
        "Low credit",
    )
    assert message.get_body(("plain",)).get_content().strip() == "10 left"  # type: ignore[union-attr]
    assert states(ctx, campaign)["owner@x.example"][0] == "sent"
    with pytest.raises(ValueError):
        asyncio.run(email.queue_notification(ctx, "x@y.example", "Hi\nBcc: z@y.example", "t"))


# -- header injection through RFC 2047 encoded words (CVE-2024-6923) ----------------------------
# This machine's Python (3.11.7) has the vulnerable `email` package: these tests prove that our
# own checks, not the Python version, keep the message to exactly the headers we set.

CRLF = "=?utf-8?q?Hi=0D=0ABcc:_evil@x.example=0D=0A=0D=0AInjected_body?="
EXPECTED_HEADERS = {
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "X-Hirondelle-Campaign",
    "MIME-Version",
    "Content-Type",
}


def post_email(client: TestClient, creds: Creds, **fields: str) -> dict[str, object]:
    data = {
        "FROM": "news@shop.example",
        "SUBJECT": "Sale",
        "HTML": base64.b64encode(HTML.encode()).decode(),
        "TO": "a@x.example",
        **fields,
    }
    feed = orjson.dumps({"DATA": data}).decode()
    answer: dict[str, object] = json_answer(
        client.post("/http/9.0/sendEmail", data=creds.params(emailData=feed))
    )
    return answer


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("SUBJECT", CRLF, 107),
        ("ALIAS", CRLF, 106),
        ("FROM", f"{CRLF} <news@shop.example>", 106),
        ("FROM", "=?utf-8?q?x=0D=0ABcc=3A_e?=@shop.example", 106),
        ("REPLY_TO", "=?utf-8?q?x=0D=0AX-Evil=3A_1?=@shop.example", 106),
        ("SUBJECT", "=?utf-8?b?" + base64.b64encode(b"a\r\nBcc: e@x.example").decode() + "?=", 107),
    ],
)
def test_encoded_line_breaks_are_refused_with_the_methods_status(
    client: TestClient,
    ctx: Context,
    relay: Relay,
    creds: Creds,
    field: str,
    value: str,
    status: int,
) -> None:
    answer = post_email(client, creds, **{field: value})
    assert answer["status"] == status, answer
    assert "campaignId" not in answer
    assert run_once(ctx) == 0
    assert relay.messages == []


def test_the_relay_gets_exactly_the_headers_we_set(
    client: TestClient, ctx: Context, relay: Relay, creds: Creds
) -> None:
    send(
        client,
        creds,
        "a@x.example",
        SUBJECT="=?utf-8?q?Soldes_d=27=C3=A9t=C3=A9?=",
        ALIAS="=?utf-8?b?TGEgQm91dGlxdWU=?=",
    )
    assert run_once(ctx) == 1
    ((_, _, message),) = relay.messages
    assert set(message.keys()) == EXPECTED_HEADERS
    assert len(message.keys()) == len(EXPECTED_HEADERS)
    assert message["Subject"] == "Soldes d'été"
    assert message["From"] == "La Boutique <news@shop.example>"


def test_the_mailer_refuses_a_header_that_got_past_the_api(ctx: Context, relay: Relay) -> None:
    """An email already stored with an encoded CR LF (or written by other code) never goes out."""
    email = OutgoingEmail(
        id=1,
        sender="news@shop.example",
        alias=CRLF,
        recipient="a@x.example",
        reply_to="",
        subject=CRLF,
        html="",
        text="hello\n",
        campaign="c-1",
    )
    good = OutgoingEmail(**{**email.__dict__, "id": 2, "alias": "Shop", "subject": "Fine"})
    outcomes = asyncio.run(SmtpMailer(ctx.settings).deliver([email, good]))
    assert outcomes[1].state == "rejected"
    assert "header" in outcomes[1].detail
    assert outcomes[2].state == "sent"  # the rest of the batch is not held up
    ((_, _, message),) = relay.messages
    assert message["Subject"] == "Fine"
    assert "Bcc" not in message


class SignallingMailer:
    """A mailer that records batches and sets an event when it has seen `expected` emails."""

    def __init__(self, expected: int) -> None:
        self.seen: list[OutgoingEmail] = []
        self.expected = expected
        self.done = asyncio.Event()

    async def deliver(self, emails: Any) -> dict[int, Outcome]:
        self.seen.extend(emails)
        if len(self.seen) >= self.expected:
            self.done.set()
        return {e.id: Outcome("sent", "ok") for e in emails}


@pytest.mark.anyio
async def test_the_sender_loop_delivers_and_stops(ctx: Context) -> None:
    ctx.settings.email_batch_size = 2
    for n in range(5):
        await email.queue_notification(ctx, f"user{n}@x.example", "Summary", "text")
    mailer = SignallingMailer(expected=5)
    stop = asyncio.Event()
    task = asyncio.create_task(email.run_email_sender(ctx, stop, mailer=mailer, poll_seconds=60))
    await asyncio.wait_for(mailer.done.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)  # a set stop event ends even a long poll at once
    assert sorted(e.recipient for e in mailer.seen) == [f"user{n}@x.example" for n in range(5)]


@pytest.mark.anyio
async def test_a_failing_mailer_does_not_kill_the_loop(ctx: Context) -> None:
    class Broken:
        calls = 0

        async def deliver(self, emails: Any) -> dict[int, Outcome]:
            Broken.calls += 1
            raise RuntimeError("boom")

    await email.queue_notification(ctx, "a@x.example", "Hi", "text")
    mailer: Mailer = Broken()
    assert await email.send_due_emails(ctx, mailer=mailer) == 1
    assert Broken.calls == 1
    assert await email.send_due_emails(ctx, mailer=mailer) == 0  # requeued with a backoff
