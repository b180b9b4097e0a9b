"""Scale-out on PostgreSQL (docs/scale-out.md), every part a real process: HAProxy
(deploy/haproxy/hirondelle.cfg, its ports changed) in front of two `hirondelle web`, two
`hirondelle worker`, and `hirondelle smsc-sim` counting what it receives (--stats-file).

Skips without HIRONDELLE_TEST_POSTGRES_URL or without the haproxy binary (Debian's `haproxy`,
which .ci/run installs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.processes import Running, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "hirondelle.cfg"
MESSAGES = 20_000
PER_REQUEST = 2_000
WINDOW = 50
BINDS = 2
#: Startups are slow on a loaded 2-core machine: these are deadlines, not expectations.
START = 90.0
OWNED = r"connector owned by this worker.*connector=sim"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def haproxy_config(front: int, webs: list[int]) -> str:
    """The deployed file with this test's ports, logging to stderr instead of syslog."""
    text = HAPROXY_CFG.read_text()
    text = text.replace("log /dev/log local0 notice", "log stderr local0 warning")
    text = re.sub(r"bind 127\.0\.0\.1:\d+", f"bind 127.0.0.1:{front}", text)
    for name, port in zip(("web1", "web2"), webs, strict=True):
        text = re.sub(rf"server {name} \S+", f"server {name} 127.0.0.1:{port}", text)
    return text


@dataclass
class Cluster:
    tmp: Path
    env: dict[str, str]
    engine: sa.Engine
    stats: Path
    url: str = ""
    webs: list[tuple[Running, int]] = field(default_factory=list)
    workers: list[Running] = field(default_factory=list)
    owner: Running | None = None

    def counts(self) -> dict[str, int]:
        try:
            return dict(json.loads(self.stats.read_text()))
        except (OSError, ValueError):
            return {}

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def account(self, login: str, credits: int) -> str:
        created = Running(
            ["accounts", "create", login, "--credits", str(credits), "--json"], self.tmp, self.env
        )
        code, lines = created.finish(START)
        assert code == 0, lines
        return str(json.loads(next(line for line in lines if line.startswith("{")))["apiKey"])

    def start_web(self, port: int = 0) -> tuple[Running, int]:
        web = Running(["web", "--port", str(port)], self.tmp, self.env)
        match = web.expect(r"listening on http://127\.0\.0\.1:(\d+)", START)
        return web, int(match[1])

    def start_worker(self) -> Running:
        worker = Running(["worker"], self.tmp, self.env)
        worker.expect(r"worker \d+ started", START)
        self.workers.append(worker)
        return worker


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    configured = os.environ.get("HIRONDELLE_TEST_POSTGRES_URL")
    if not configured:
        pytest.skip("scale-out test skipped: set HIRONDELLE_TEST_POSTGRES_URL to run it")
    if haproxy is None:
        pytest.skip("scale-out test skipped: no haproxy binary (apt-get install haproxy)")
    # A database of this module's own, created and dropped here; one per pytest-xdist worker,
    # which may each run some of its tests (and so start a cluster of their own).
    base = sa.engine.make_url(configured)
    name = f"{base.database}_scaleout_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = sa.create_engine(configured, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    tmp = tmp_path_factory.mktemp("scaleout")
    engine = sa.create_engine(url)
    try:
        with ExitStack() as stack:
            stats = tmp / "sim.json"
            options = ["--receipt-delay", "0.2", "--history", str(MESSAGES * 2)]
            sim = Running(["smsc-sim", "--port", "0", *options, "--stats-file", str(stats)], tmp)
            stack.enter_context(sim)
            sim_port = int(sim.expect(r"listening on [\d.]+:(\d+)", START)[1])
            (tmp / "hirondelle.toml").write_text(
                "[[connectors]]\n"
                f'name = "sim"\nhost = "127.0.0.1"\nport = {sim_port}\nsystem_id = "test"\n'
                f"window = {WINDOW}\nbinds = {BINDS}\n"
            )
            env = {
                "HIRONDELLE_DATABASE_URL": url,
                "HIRONDELLE_VAR_DIR": str(tmp / "var"),
                "HIRONDELLE_SECRET_KEY": "scale-out-test-key-shared-by-every-process",
                "HIRONDELLE_DEMO_ACCOUNT": "false",
                "HIRONDELLE_CLAIM_LEASE": "6",
            }
            migrate = Running(["db", "upgrade"], tmp, env)
            assert migrate.finish(START)[0] == 0
            c = Cluster(tmp, env, engine, stats)
            owner = c.start_worker()  # the first worker up takes the connector
            stack.enter_context(owner)
            assert any(re.search(OWNED, line) for line in owner.lines), owner.lines
            c.owner = owner
            stack.enter_context(c.start_worker())
            for _ in range(2):
                web, port = c.start_web()
                stack.enter_context(web)
                c.webs.append((web, port))
            front = free_port()
            config = tmp / "haproxy.cfg"
            config.write_text(haproxy_config(front, [port for _web, port in c.webs]))
            proxy = Running(["-f", str(config), "-db"], tmp, program=[haproxy])
            stack.enter_context(proxy)
            c.url = f"http://127.0.0.1:{front}"
            wait_until(lambda: proxy.process.poll() is None and ready(c.url), START)
            assert proxy.process.poll() is None, proxy.finish()
            yield c
            for process in [proxy, *(web for web, _port in c.webs), *c.workers, sim]:
                if process.process.poll() is None:
                    process.terminate(30)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def expected_status(phone: str) -> int:
    return {"0000": 2, "9999": 4, "8888": 5}.get(phone[-4:], 1)


def send_feed(url: str, login: str, key: str, numbers: list[str]) -> None:
    feed = {"DATA": {"MESSAGE": "Scale-out", "SMS": [{"MOBILEPHONE": n} for n in numbers]}}
    answer = httpx.post(
        f"{url}/http/9.0/sendSms",
        data={"login": login, "apiKey": key, "smsData": json.dumps(feed)},
        timeout=120,
    ).json()
    assert answer["status"] == 100, answer


def test_20000_messages_through_haproxy_and_a_worker_killed_mid_campaign(
    cluster: Cluster,
) -> None:
    credits = MESSAGES * 20
    key = cluster.account("bulk", credits)
    batches = [
        [f"06{12_000_000 + i:08d}" for i in range(start, start + PER_REQUEST)]
        for start in range(0, MESSAGES, PER_REQUEST)
    ]
    errors: list[BaseException] = []

    def sender(mine: list[list[str]]) -> None:
        try:
            for numbers in mine:
                send_feed(cluster.url, "bulk", key, numbers)
        except BaseException as exc:
            errors.append(exc)

    senders = [threading.Thread(target=sender, args=(batches[i::2],)) for i in range(2)]
    for thread in senders:
        thread.start()
    # Mid-campaign: a quarter submitted, then the worker owning the connector dies.
    wait_until(lambda: cluster.counts().get("messages", 0) >= MESSAGES // 4 or bool(errors), 240)
    owner = cluster.owner
    assert owner is not None and not errors
    owner.process.send_signal(signal.SIGKILL)
    owner.process.wait(30)
    killed = time.monotonic()
    bulk = "account_id = (SELECT id FROM accounts WHERE login = 'bulk')"
    finals = f"SELECT count(*) FROM messages WHERE state = 'final' AND {bulk}"
    assert cluster.scalar(finals) < MESSAGES, "the campaign ended before the kill"
    standby = next(w for w in cluster.workers if w is not owner)
    # The takeover: the dead worker's lock went with its connection; the other one looks for
    # free connectors every 2 seconds (the bound: 10 seconds).
    standby.expect(OWNED, 10)
    print(f"takeover {time.monotonic() - killed:.1f} s after the SIGKILL")  # shown with -s
    cluster.owner = standby
    for thread in senders:
        thread.join(240)
    assert not errors, errors
    wait_until(lambda: cluster.scalar(finals) == MESSAGES, 240)

    with cluster.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT phone, status FROM messages WHERE {bulk}")).all()
        assert len(rows) == MESSAGES
        wrong = [(p, s) for p, s in rows if s != expected_status(p)]
        assert wrong == []  # 1, 2 and 5 come from receipts: each message got its receipt
        # The ledger: the balance is the sum of its movements, and what was kept is what the
        # messages not refunded cost.
        account = conn.execute(
            sa.text("SELECT id, balance FROM accounts WHERE login = 'bulk'")
        ).one()
        movements = conn.execute(
            sa.text("SELECT kind, sum(delta) FROM ledger WHERE account_id = :a GROUP BY kind"),
            {"a": account.id},
        ).all()
        by_kind = dict(movements)
        assert sum(by_kind.values()) == account.balance
        charged = conn.execute(
            sa.text("SELECT sum(credits) FROM messages WHERE status <> 4 AND account_id = :a"),
            {"a": account.id},
        ).scalar()
        assert -(by_kind["debit"] + by_kind.get("refund", 0)) == charged
    # The simulator writes its stats file every STATS_INTERVAL: the last messages may be newer.
    expected = MESSAGES - MESSAGES // 10000  # the …9999 are refused
    wait_until(lambda: cluster.counts().get("messages", 0) >= expected, 10)
    counts = cluster.counts()
    print(f"simulator counts: {counts}")
    # At most one window per bind was in flight at the SMSC when the worker died.
    assert counts["duplicates"] <= WINDOW * BINDS, counts
    assert counts["messages"] >= expected


def web_with_connection_on(cluster: Cluster) -> tuple[Running, int] | None:
    """The web process holding a connection from HAProxy (the one serving a request)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "01":  # ESTABLISHED
                established.add((local_port, fields[9]))  # (port, inode)
    for web, port in cluster.webs:
        pid = web.process.pid
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        if any(p == port and inode in inodes for p, inode in established):
            return web, port
    return None


def test_a_web_killed_mid_request_and_a_retry_with_the_same_idempotency_key(
    cluster: Cluster,
) -> None:
    key = cluster.account("idem", 100_000)
    idempotency = f"scale-out-{uuid.uuid4()}"
    body = {"text": "Idempotent", "to": [f"06{13_000_000 + i:08d}" for i in range(1500)]}
    headers = {"Idempotency-Key": idempotency}
    first: list[httpx.Response | BaseException] = []

    def post() -> httpx.Response:
        return httpx.post(
            f"{cluster.url}/sms/send/bulk/",
            json=body,
            headers=headers,
            auth=("idem", key),
            timeout=120,
        )

    def attempt() -> None:
        try:
            first.append(post())
        except BaseException as exc:
            first.append(exc)

    thread = threading.Thread(target=attempt)
    thread.start()
    # The campaign is committed, the answer may not have left: kill the web serving it.
    saved = "SELECT count(*) FROM idempotency_keys WHERE key = :k"
    wait_until(lambda: cluster.scalar(saved, k=idempotency) == 1 or bool(first), START)
    serving = web_with_connection_on(cluster)
    assert serving is not None, "no web process holds HAProxy's connection"
    web, port = serving
    web.process.send_signal(signal.SIGKILL)
    web.process.wait(30)
    thread.join(120)

    answers: list[httpx.Response | httpx.HTTPError] = []

    def retried() -> bool:
        try:
            answers.append(post())
        except httpx.HTTPError as exc:
            answers.append(exc)
        last = answers[-1]
        return isinstance(last, httpx.Response) and last.status_code == 201

    try:
        wait_until(retried, START)
    except AssertionError:
        shown = [
            a if isinstance(a, httpx.HTTPError) else (a.status_code, a.text[:200]) for a in answers
        ]
        raise AssertionError(f"first: {first}; retries: {shown[-5:]}") from None
    assert isinstance(answers[-1], httpx.Response)
    campaign = answers[-1].json()["campaignId"]
    with cluster.engine.connect() as conn:
        public_ids = conn.execute(
            sa.text(
                "SELECT public_id FROM campaigns"
                " JOIN accounts ON accounts.id = campaigns.account_id"
                " WHERE login = 'idem'"
            )
        ).scalars()
        assert list(public_ids) == [campaign]  # one campaign, the one the retry was given
    if isinstance(first[0], httpx.Response) and first[0].status_code == 201:
        assert first[0].json()["campaignId"] == campaign
    # Back to two web processes for whatever runs next.
    index = cluster.webs.index(serving)
    cluster.webs[index] = cluster.start_web(port)


def test_every_store_connection_cut_twice_mid_delivery(cluster: Cluster) -> None:
    """Every PostgreSQL session of the cluster ended (`pg_terminate_backend`) twice while a
    campaign is delivered, as a database failover shows it to the processes: submit journal,
    result and receipt writes fail, the worker's lock connection goes and its connector is
    taken again. Every message still gets its status, no journal row is left, and each cut
    costs at most a window per bind submitted twice."""
    messages = 10_000
    key = cluster.account("cut", messages * 20)
    numbers = [f"06{14_000_000 + i:08d}" for i in range(messages)]
    before = cluster.counts()
    for start in range(0, messages, PER_REQUEST):
        send_feed(cluster.url, "cut", key, numbers[start : start + PER_REQUEST])
    # Its own connections, one per query: the cluster's pooled ones are cut too.
    engine = sa.create_engine(cluster.engine.url, poolclass=sa.pool.NullPool)

    def scalar(sql: str) -> Any:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()

    mine = "account_id = (SELECT id FROM accounts WHERE login = 'cut')"
    sent = f"SELECT count(*) FROM messages WHERE state IN ('submitted', 'final') AND {mine}"
    finals = f"SELECT count(*) FROM messages WHERE state = 'final' AND {mine}"
    cut = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    try:
        for share in (5, 2):
            wait_until(lambda share=share: scalar(sent) >= messages // share, 240)
            assert scalar(cut) > 0
        final_at_cut = scalar(finals)
        print(f"{final_at_cut} of {messages} final at the second cut")  # shown with -s
        assert final_at_cut < messages, "the campaign ended before the second cut"
        wait_until(lambda: scalar(finals) == messages, 240)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT phone, status FROM messages WHERE {mine}"))
            assert [(p, s) for p, s in rows if s != expected_status(p)] == []
        assert scalar("SELECT count(*) FROM submit_journal") == 0
    finally:
        engine.dispose()
    # The simulator writes its stats every half second: until they show this campaign's receipts.
    acknowledged = before.get("receipts_acknowledged", 0) + messages - 1  # …9999: refused
    wait_until(lambda: cluster.counts().get("receipts_acknowledged", 0) >= acknowledged, 10)
    duplicates = cluster.counts()["duplicates"] - before.get("duplicates", 0)
    print(f"duplicates over the two cuts: {duplicates}")  # shown with -s
    assert duplicates <= 2 * WINDOW * BINDS
