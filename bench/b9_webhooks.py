"""B9 webhooks at the speed of delivery: 20,000 messages accepted, submitted to the simulator in
its own process, and each final receipt pushed to a local sink (bench/webhook_sink.py, its own
process) that counts them.

Figure: messages per second from the first accept to the last final receipt received by the
sink — for 10 sendSms of 2,000 and for 20,000 single (simplified) sends, on SQLite and on
PostgreSQL. The account asks for final receipts only, as Kannel's dlr-mask 3. The rate at which
single sends are accepted while receipts flow is B2 under webhooks.

Reference, same run, same simulator, same sink, same window: Kannel (Debian `kannel`: bearerbox
and smsbox, sendsms with dlr-mask 3 and a dlr-url to the sink), when installed —
`apt-get install kannel` (the bench starts its own bearerbox and smsbox from a generated
configuration; the Debian service need not run).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

from b2_small_sends import get_request
from b3_end_to_end import postgres_url, wait_until_final
from harness import (
    base_env,
    create_account,
    die_with_parent,
    form_request,
    http_load,
    report,
    run_cli,
    server,
    simulator_process,
    workdir,
    worker,
)

from hirondelle.store.engine import create_engine

MESSAGES = int(os.environ.get("BENCH_B9_MESSAGES", "20000"))
PER_CALL = 2_000
WINDOW = 100
CONNECTIONS = 64  # clients of the single sends, as B2
DEADLINE = 600.0


@contextmanager
def sink_process() -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "webhook_sink.py")],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    assert process.stdout is not None
    try:
        yield int(process.stdout.readline().split()[1])
    finally:
        process.kill()
        process.wait(10)


def sink_stats(port: int) -> dict[str, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/_stats")
        return dict(json.loads(connection.getresponse().read()))
    finally:
        connection.close()


def wait_for_finals(port: int, key: str, count: int) -> dict[str, float]:
    deadline = time.monotonic() + DEADLINE
    while (stats := sink_stats(port))[key] < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"B9: {stats[key]} of {count} final receipts after {DEADLINE} s")
        time.sleep(0.2)
    return stats


def emptied(database_url: str) -> None:
    """A throwaway PostgreSQL bench database, emptied before each run (as B3 recreates it)."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def wait_for_stored(database_url: str, login: str) -> dict[str, float]:
    """Wait until every message of this run's account is final."""
    done = wait_until_final(database_url, login, MESSAGES, time.monotonic() + DEADLINE)
    last_final = time.time() - (time.perf_counter() - done)  # the moment, on the wall clock
    return {"last_final": last_final, "connections": 0, "duplicates": 0}


def numbers(offset: int, count: int) -> list[str]:
    """`count` numbers from the `offset`-th, skipping those the simulator treats specially
    (refused at submit, throttled, failed): every message gets a delivery receipt."""
    found: list[str] = []
    n = 40_000_000 + offset * 2
    while len(found) < count:
        n += 1
        if n % 10_000 not in (0, 7777, 8888, 9999):
            found.append(f"06{n:08d}")
    return found


# -- Hirondelle ----------------------------------------------------------------------------------


def hirondelle(
    database_url: str | None, label: str, sim_port: int, *, roles: str = "serve"
) -> dict[str, object]:
    """The three runs: `bulk` and `single` with webhooks; `bulk_no_webhook`, the same delivery
    without a receipt URL (to the last receipt stored): what the SMS path alone allows.

    `roles` "serve" (one process) or "web+worker" (PostgreSQL: `hirondelle web` and `hirondelle
    worker`, each its own process, the deployment of docs/scale-out.md; the worker runs the
    SMPP side and the webhook sender)."""
    figures: dict[str, object] = {}
    modes = os.environ.get("BENCH_B9_MODES", "bulk,single,bulk_no_webhook").split(",")
    for mode in modes:
        with workdir() as cwd, sink_process() as sink:
            env = base_env(cwd, database_url) | {"HIRONDELLE_ALLOW_PRIVATE_ADDRESSES": "true"}
            if database_url:
                emptied(database_url)
            (cwd / "hirondelle.toml").write_text(
                f'[[connectors]]\nname = "sim"\nhost = "127.0.0.1"\nport = {sim_port}\n'
                f'system_id = "bench"\nwindow = {WINDOW}\n'
            )
            run_cli(env, cwd, "db", "upgrade")
            login = f"b9{mode}{int(time.time())}"
            key = create_account(env, cwd, login, credits=MESSAGES * 15)
            url = f"http://127.0.0.1:{sink}/dlr"
            if mode != "bulk_no_webhook":
                command = ("webhooks", "set", login, "--receipt-url", url, "--events", "final")
                run_cli(env, cwd, *command)
            with contextlib.ExitStack() as stack:
                if roles == "web+worker":
                    stack.enter_context(worker(env, cwd))
                    srv = stack.enter_context(server(env, cwd, command="web"))
                else:
                    srv = stack.enter_context(server(env, cwd))
                offset = {"bulk": 0, "single": MESSAGES, "bulk_no_webhook": 3 * MESSAGES}[mode]
                if mode != "single":
                    requests = [
                        form_request(
                            srv.base_url,
                            "/http/9.0/sendSms",
                            {"login": login, "apiKey": key, "smsData": feed(offset + n)},
                        )
                        for n in range(0, MESSAGES, PER_CALL)
                    ]
                    connections = 4
                else:
                    requests = [
                        get_request(
                            srv.base_url,
                            "/http/9.0/?"
                            + urlencode(
                                {"login": login, "apiKey": key, "mobile": phone, "message": "Hi"}
                            ),
                        )
                        for phone in numbers(offset, MESSAGES)
                    ]
                    connections = CONNECTIONS
                started = time.time()
                accepted = asyncio.run(http_load(srv.base_url, requests, connections))
                if mode == "bulk_no_webhook":
                    stats = wait_for_stored(env["HIRONDELLE_DATABASE_URL"], login)
                else:
                    stats = wait_for_finals(sink, "finals", MESSAGES)
            seconds = stats["last_final"] - started
            figures[f"{label}_{mode}_messages_per_s"] = round(MESSAGES / seconds)
            figures[f"{label}_{mode}_seconds"] = round(seconds, 1)
            figures[f"{label}_{mode}_accept_requests_per_s"] = round(accepted.per_second)
            figures[f"{label}_{mode}_sink_connections"] = stats["connections"]
            figures[f"{label}_{mode}_duplicates"] = stats["duplicates"]
    return figures


def feed(offset: int) -> str:
    sms = [{"MOBILEPHONE": n} for n in numbers(offset, PER_CALL)]
    return json.dumps({"DATA": {"MESSAGE": "Hello", "SMS": sms}})


# -- Kannel --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


KANNEL_CONF = """\
group = core
admin-port = {admin}
admin-password = bench
smsbox-port = {smsbox}
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 4
access-log = "{dir}/access.log"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {sim}
transceiver-mode = true
smsc-username = kannel
smsc-password = kannel
msg-id-type = 0x03
system-type = "VMA"
max-pending-submits = {window}
log-level = 4

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
log-file = "{dir}/smsbox.log"
log-level = 4

group = sendsms-user
username = bench
password = bench
"""


@contextmanager
def kannel(sim_port: int) -> Iterator[int]:
    """bearerbox and smsbox on a generated configuration; yields the sendsms port."""
    with workdir() as cwd:
        ports = {"admin": free_port(), "smsbox": free_port(), "sendsms": free_port()}
        conf = cwd / "kannel.conf"
        conf.write_text(KANNEL_CONF.format(dir=cwd, sim=sim_port, window=WINDOW, **ports))
        boxes = [start_box("bearerbox", conf)]
        time.sleep(2)
        boxes.append(start_box("smsbox", conf))
        try:
            deadline = time.monotonic() + 30
            while not smsc_online(ports["admin"]):
                if time.monotonic() > deadline:
                    raise RuntimeError("Kannel did not bind to the simulator")
                time.sleep(0.5)
            time.sleep(1)  # smsbox connected to bearerbox
            yield ports["sendsms"]
        finally:
            for box in reversed(boxes):
                box.terminate()
            for box in boxes:
                try:
                    box.wait(15)
                except subprocess.TimeoutExpired:
                    box.kill()


def start_box(box: str, conf: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [box, str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=conf.parent,
        preexec_fn=die_with_parent,
    )


def smsc_online(admin_port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=2)
        connection.request("GET", "/status.txt?password=bench")
        text = connection.getresponse().read().decode()
        connection.close()
    except OSError:
        return False
    return "online" in text and "sim" in text


def kannel_reference(sim_port: int) -> dict[str, object]:
    with sink_process() as sink, kannel(sim_port) as sendsms:
        base = f"http://127.0.0.1:{sendsms}"
        dlr_url = f"http://127.0.0.1:{sink}/kannel?type=%d&to=%p"
        requests = [
            get_request(
                base,
                "/cgi-bin/sendsms?username=bench&password=bench&from=36180&text=Hello"
                f"&to=33{phone[1:]}&dlr-mask=3&dlr-url={quote(dlr_url, safe='')}",
            )
            for phone in numbers(2 * MESSAGES, MESSAGES)
        ]
        started = time.time()
        accepted = asyncio.run(http_load(base, requests, CONNECTIONS, ok=(202,)))
        stats = wait_for_finals(sink, "kannel_finals", MESSAGES)
    seconds = stats["last_final"] - started
    return {
        "kannel_messages_per_s": round(MESSAGES / seconds),
        "kannel_seconds": round(seconds, 1),
        "kannel_accept_requests_per_s": round(accepted.per_second),
    }


def main() -> dict[str, object]:
    figures: dict[str, object] = {"messages": MESSAGES, "window": WINDOW, "events": "final"}
    with simulator_process() as sim_port:
        if shutil.which("bearerbox") and shutil.which("smsbox"):
            figures.update(kannel_reference(sim_port))
        else:
            figures["kannel"] = "skipped: not installed (apt-get install kannel)"
        figures.update(hirondelle(None, "sqlite", sim_port))
        pg = postgres_url()
        if pg is None:
            figures["postgresql"] = "skipped: no PostgreSQL server answered"
        else:
            figures.update(hirondelle(pg, "postgresql", sim_port))
            figures.update(hirondelle(pg, "postgresql_web_worker", sim_port, roles="web+worker"))
    figures["target"] = ">= Kannel on SQLite; >= 2000 messages/s on PostgreSQL"
    return report("B9 webhooks", figures)


if __name__ == "__main__":
    main()
