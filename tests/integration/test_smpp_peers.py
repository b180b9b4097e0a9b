"""SmppSession against SMSCs no one here wrote: PyPI smpp34's Server (Rust core) and an SMSC on
npm `smpp` (tests/peers/smsc.js, installed with npm on first use; skipped if that fails)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import smpp34

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.messages import MessageOptions, Reassembler, build_submits
from hirondelle.smpp.pdu import DataSm, DeliverSm, SubmitSm
from hirondelle.smpp.receipts import ReceiptStat, receipt_from_deliver_sm
from hirondelle.smpp.session import SessionConfig, SmppSession

pytestmark = pytest.mark.anyio

PEERS = Path(__file__).resolve().parents[1] / "peers"
FAST = {"response_timeout": 3.0, "reconnect_delay": 0.02, "reconnect_max_delay": 0.1}
TEXTS = [
    ("Bonjour, votre code est 1234", 1),
    ("Привет, как дела?", 1),
    ("Long GSM message with {braces} and €. " * 12, 4),
    ("é" * 66 + "😀" + "ü" * 70 + "😀" + "x" * 5, 3),
]


class Inbox:
    def __init__(self) -> None:
        self.pdus: list[DeliverSm | DataSm] = []

    async def __call__(self, pdu: DeliverSm | DataSm) -> int:
        self.pdus.append(pdu)
        return S.ESME_ROK


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def free_port() -> int:
    """smpp34's Server cannot report the port it bound, so find a free one first."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_for(port: int, inbox: Inbox, **config: Any) -> SmppSession:
    return SmppSession(SessionConfig("127.0.0.1", port, "esme", "pw", **(FAST | config)), inbox)


# -- smpp34 ---------------------------------------------------------------------------------------


class Smpp34Smsc:
    """smpp34.Server accepting every submit and recording what it got."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.submits: list[smpp34.SubmitSmEvent] = []
        self.esmes: list[smpp34.Esme] = []
        self.unbound = 0
        self.server = smpp34.Server("127.0.0.1", port, system_id="smpp34")
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.server.start()
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                self.esmes.append(event)
            elif isinstance(event, smpp34.SubmitSmEvent):
                self.submits.append(event)
                event.accept(f"{len(self.submits):x}")
            elif isinstance(event, smpp34.Unbound):
                self.unbound += 1

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.server.stop()

    def texts(self) -> list[str]:
        """smpp34 hands over raw parts: reassemble them with what they carried."""
        reassembler = Reassembler()
        found = []
        for event in self.submits:
            pdu = SubmitSm(
                source_addr=event.source_addr,
                destination_addr=event.destination_addr,
                esm_class=event.esm_class,
                data_coding=event.data_coding,
                short_message=event.short_message,
            )
            whole = reassembler.feed(pdu)
            if whole is not None:
                found.append(whole.text)
        return found


@asynccontextmanager
async def smpp34_peer(**config: Any) -> AsyncIterator[tuple[Smpp34Smsc, SmppSession, Inbox]]:
    smsc = Smpp34Smsc(free_port())
    await smsc.start()
    inbox = Inbox()
    session = session_for(smsc.port, inbox, **config)
    await session.start()
    try:
        await session.wait_bound(10)
        yield smsc, session, inbox
    finally:
        await session.close()
        await smsc.stop()


@pytest.mark.parametrize("bind_mode", ["trx", "tx+rx"])
async def test_smpp34_submits_receipts_and_replies(bind_mode: str) -> None:
    async with smpp34_peer(bind_mode=bind_mode) as (smsc, session, inbox):
        for text, parts in TEXTS:
            pdus = build_submits(text, "Hirondelle", "33611111111")
            assert len(pdus) == parts
            for pdu in pdus:
                assert (await session.submit(pdu)).message_id
        assert smsc.texts() == [text for text, _ in TEXTS]
        # what smpp34 parsed from our octets is what we built
        first = smsc.submits[0]
        assert (first.source_addr_ton, first.dest_addr_ton, first.registered_delivery) == (5, 1, 1)
        if bind_mode == "tx+rx":
            # smpp34 1.5's Server never completes deliver_sm on a bind_receiver session: its own
            # Client(bind_type="RX") times out the same way, though the deliver_sm_resp arrives.
            return
        receiver = next(esme for esme in smsc.esmes if esme.can_receive)
        resp = await receiver.deliver_sm(
            "Hirondelle",
            b"id:1 sub:001 dlvrd:001 submit date:2401011200 done date:2401011200 stat:DELIVRD",
            source_addr="33611111111",
            esm_class=0x04,
            tlvs=[
                smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, b"1\x00"),
                smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02"),
            ],
        )
        assert resp.is_success
        resp = await receiver.deliver_sm(
            "36180", "Réponse".encode("utf-16-be"), source_addr="33611111111", data_coding=8
        )
        assert resp.is_success
        await until(lambda: len(inbox.pdus) == 2)
        receipt = receipt_from_deliver_sm(inbox.pdus[0])
        assert receipt is not None and (receipt.message_id, receipt.stat) == (
            "1",
            ReceiptStat.DELIVRD,
        )
        assert Reassembler().feed(inbox.pdus[1]).text == "Réponse"  # type: ignore[union-attr]


async def test_smpp34_unbind_and_drop_are_survived() -> None:
    async with smpp34_peer() as (smsc, session, _):
        # our bind_resp may arrive before smpp34's Server hands over its Esme event
        await until(lambda: bool(smsc.esmes))
        await smsc.esmes[0].unbind()
        await until(lambda: session.stats.binds == 2 and session.bound)
        await session.submit(build_submits("after unbind", "36180", "33611111111")[0])
        # smpp34's Server.stop() leaves open sessions alone, so cut the TCP connection here
        session.links[0].abort()
        await until(lambda: session.stats.binds == 3 and session.bound)
        await session.submit(build_submits("after drop", "36180", "33611111111")[0])
        assert smsc.texts()[-2:] == ["after unbind", "after drop"]
        assert session.stats.disconnects == 2


def test_smpp34_decodes_our_long_messages() -> None:
    for concatenation in ("udh8", "udh16", "sar", "payload"):
        options = MessageOptions(concatenation=concatenation)  # type: ignore[arg-type]
        for pdu in build_submits("Ceci est long. " * 20, "36180", "33611111111", options):
            data = encode_pdu(pdu)
            theirs = smpp34.decode(data)
            assert isinstance(theirs, smpp34.SubmitSm)
            assert (theirs.short_message, theirs.esm_class) == (pdu.short_message, pdu.esm_class)
            assert decode_pdu(theirs.encode()) == pdu


# -- npm smpp -------------------------------------------------------------------------------------


def npm_smpp_ready() -> str | None:
    """None when usable, else why not."""
    if not shutil.which("node") or not shutil.which("npm"):
        return "node and npm are not installed"
    if (PEERS / "node_modules" / "smpp").is_dir():
        return None
    try:
        subprocess.run(
            ["npm", "install", "--prefix", str(PEERS), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"npm install smpp failed: {exc}"
    return None


class NodeSmsc:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())
        self.port = 0

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            event = json.loads(line)
            self.events.append(event)
            if event["event"] == "listening":
                self.port = event["port"]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == kind]

    async def command(self, **cmd: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.process.stdin.drain()


@asynccontextmanager
async def npm_peer(**config: Any) -> AsyncIterator[tuple[NodeSmsc, SmppSession, Inbox]]:
    if (reason := await asyncio.to_thread(npm_smpp_ready)) is not None:
        pytest.skip(reason)
    process = await asyncio.create_subprocess_exec(
        "node", str(PEERS / "smsc.js"), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    smsc = NodeSmsc(process)
    inbox = Inbox()
    session: SmppSession | None = None
    try:
        await until(lambda: smsc.port != 0)
        session = session_for(smsc.port, inbox, **config)
        await session.start()
        await session.wait_bound(10)
        yield smsc, session, inbox
    finally:
        if session is not None:
            await session.close()
        process.kill()
        await process.wait()
        smsc.task.cancel()


@pytest.mark.parametrize("bind_mode", ["trx", "tx+rx"])
async def test_npm_smpp_submits_receipts_and_replies(bind_mode: str) -> None:
    async with npm_peer(bind_mode=bind_mode) as (smsc, session, inbox):
        for text, _ in TEXTS:
            for pdu in build_submits(text, "Hirondelle", "33611111111"):
                await session.submit(pdu)
        sar = MessageOptions(concatenation="sar")
        for pdu in build_submits("Par SAR. " * 30, "36180", "33622222222", sar):
            await session.submit(pdu)
        await until(lambda: len(smsc.of("message")) == len(TEXTS) + 1)
        expected = [(text, parts) for text, parts in TEXTS] + [("Par SAR. " * 30, 2)]
        assert [(m["text"], m["parts"]) for m in smsc.of("message")] == expected
        receipts = 1 + 1 + 4 + 3 + 2
        await until(lambda: len(smsc.of("deliver_resp")) == receipts)
        assert {e["status"] for e in smsc.of("deliver_resp")} == {0}
        found = [receipt_from_deliver_sm(pdu) for pdu in inbox.pdus]
        assert all(r is not None and r.stat is ReceiptStat.DELIVRD for r in found)
        await smsc.command(cmd="mo", source="33611111111", destination="36180", text="Oui 👍")
        await until(lambda: len(inbox.pdus) == receipts + 1)
        assert Reassembler().feed(inbox.pdus[-1]).text == "Oui 👍"  # type: ignore[union-attr]
        assert session.stats.replies == 1 and session.stats.receipts == receipts


async def test_npm_smpp_drop_is_survived() -> None:
    async with npm_peer() as (smsc, session, _):
        await smsc.command(cmd="drop")
        await until(lambda: session.stats.binds == 2 and session.bound)
        await session.submit(build_submits("after the drop", "36180", "33611111111")[0])
        await until(lambda: len(smsc.of("message")) == 1)
        assert smsc.of("message")[0]["text"] == "after the drop"
        await session.close()  # and close() unbinds cleanly
        await until(lambda: len(smsc.of("unbound")) == 1)
