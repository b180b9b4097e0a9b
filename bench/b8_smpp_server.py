"""B8 SMPP server: messages submitted over 4 binds to Hirondelle's SMPP server, with their
receipts returned to the binds.

`hirondelle serve` runs with the SMPP server on and one connector to `hirondelle smsc-sim` (its
own process, receipts at once). Four ESMEs (our SmppSession, transceiver, window 100 each) submit
MESSAGES single-part messages with registered_delivery between them; each message goes through
the send service (credits, blacklist, sender, prices, one committed transaction), the dispatcher,
the connector and the simulator, and its receipt comes back through the outbox as a deliver_sm.

Figures: messages per second until the last submit_sm_resp (accepted), and until the last
receipt reached its ESME (end to end), on SQLite. Reference, in the same run: the same 4 binds
and windows straight to `hirondelle smsc-sim` (no store at all), submits and receipts.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable

from harness import base_env, create_account, report, run_cli, server, simulator_process, workdir

from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.messages import build_submits
from hirondelle.smpp.pdu import DataSm, DeliverSm, SubmitSm
from hirondelle.smpp.session import SessionConfig, SmppSession

MESSAGES = int(os.environ.get("BENCH_B8_MESSAGES", "20000"))
BINDS = 4
WINDOW = 100
PASSWORD = "benchpw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receipts:
    def __init__(self) -> None:
        self.count = 0
        self.done = asyncio.Event()

    async def __call__(self, pdu: DeliverSm | DataSm) -> int:
        if pdu.esm_class & 0x04:
            self.count += 1
            if self.count >= MESSAGES:
                self.done.set()
        return S.ESME_ROK


async def drive(port: int, system_id: str, password: str) -> dict[str, float]:
    """Submit MESSAGES over BINDS binds; seconds to the last answer and to the last receipt."""
    receipts = Receipts()
    sessions = [
        SmppSession(
            SessionConfig(
                "127.0.0.1", port, system_id, password, window=WINDOW, response_timeout=60
            ),
            receipts,
        )
        for _ in range(BINDS)
    ]
    for session in sessions:
        await session.start()
    for session in sessions:
        await session.wait_bound(30)
    # ...1 endings: the simulator refuses or throttles some others (smpp/simulator.py)
    pdus = [build_submits("Hello", "", f"3366{i:06d}1")[0] for i in range(MESSAGES)]
    started = time.perf_counter()

    async def bind_share(session: SmppSession, share: list[SubmitSm]) -> None:
        gate = asyncio.Semaphore(WINDOW)

        async def one(pdu: SubmitSm) -> None:
            async with gate:
                await session.submit(pdu)

        await asyncio.gather(*(one(pdu) for pdu in share))

    await asyncio.gather(*(bind_share(s, pdus[i::BINDS]) for i, s in enumerate(sessions)))
    accepted = time.perf_counter() - started
    async with asyncio.timeout(600):
        await receipts.done.wait()
    whole = time.perf_counter() - started
    for session in sessions:
        await session.close()
    return {"accepted_seconds": accepted, "seconds": whole}


def figures_of(label: str, timing: dict[str, float]) -> dict[str, object]:
    return {
        f"{label}_submits_per_s": round(MESSAGES / timing["accepted_seconds"]),
        f"{label}_with_receipts_per_s": round(MESSAGES / timing["seconds"]),
    }


def run(coro: Callable[[], Awaitable[dict[str, float]]]) -> dict[str, float]:
    return asyncio.run(coro())  # type: ignore[arg-type]


def hirondelle() -> dict[str, float]:
    with workdir() as cwd, simulator_process() as sim_port:
        smpp_port = free_port()
        env = base_env(cwd) | {"HIRONDELLE_SMPP_SERVER_PORT": str(smpp_port)}
        (cwd / "hirondelle.toml").write_text(
            f'[[connectors]]\nname = "sim"\nhost = "127.0.0.1"\nport = {sim_port}\n'
            f'system_id = "bench"\nwindow = {WINDOW}\n'
        )
        run_cli(env, cwd, "db", "upgrade")
        create_account(env, cwd, "bench", credits=MESSAGES * 15)
        run_cli(env, cwd, "accounts", "smpp-password", "bench", "--password", PASSWORD)
        run_cli(env, cwd, "accounts", "smpp-max-binds", "bench", str(BINDS))
        with server(env, cwd):
            return run(lambda: drive(smpp_port, "bench", PASSWORD))


def reference() -> dict[str, float]:
    with simulator_process() as port:
        return run(lambda: drive(port, "ref", ""))


def main() -> dict[str, object]:
    figures: dict[str, object] = {"messages": MESSAGES, "binds": BINDS, "window": WINDOW}
    figures.update(figures_of("reference_smsc_sim", reference()))
    figures.update(figures_of("sqlite", hirondelle()))
    figures["target"] = ">= 3000 messages/s submitted, receipts returned"
    return report("B8 SMPP server", figures)


if __name__ == "__main__":
    main()
