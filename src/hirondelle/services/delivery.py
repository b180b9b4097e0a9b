"""What comes back from operators, and what the dispatcher learnt: one transaction each.

- `record_submit_results`: a batch of submit outcomes (accepted with SMSC ids, rejected and
  refunded, or to retry later), with any receipt that arrived before its submit_sm_resp.
- `record_receipts`: delivery receipts, matched by SMSC message id (see `_match_receipts` for
  reused ids, hex and decimal forms); an unknown number (status 5) blacklists the number as
  `refused`. Receipts that match nothing wait, swept by `resolve_stale_receipts`.

Each writes the status history and the webhook events in the same transaction, and returns only
once durable: the SMPP session acknowledges a deliver_sm only after these return. Each `record_*`
(async, its own transaction) has its `apply_*` twin, to run inside a transaction. Replies from
handsets are `services.replies`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.domain.smsc_ids import message_id_forms, normalize_message_id
from hirondelle.domain.statuses import ACK_STATUS_TEXTS, AckStatus
from hirondelle.notify.payloads import receipt_params
from hirondelle.store import delivery as rows
from hirondelle.store import ledger, smpp_deliveries, submit_journal, traffic, validity
from hirondelle.store import receipts as receipt_rows
from hirondelle.store import webhooks as outbox
from hirondelle.store.engine import Sql

Outcome = Literal["accepted", "rejected", "retry"]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    message_id: int
    outcome: Outcome
    connector: str = ""
    smsc_ids: Sequence[str] = ()
    detail: str = ""
    retry_in: timedelta = field(default=timedelta(seconds=30))
    #: the submit journal's row holding this result, if any (see `journal_submits`)
    journal: str = ""


async def journal_submits(ctx: Context, entry_id: str, results: Sequence[SubmitResult]) -> None:
    """Make accepted submits durable in the submit journal, as one row `entry_id`: their full
    write (`record_submit_results`, with `journal=entry_id`) removes it."""
    entries = [(r.message_id, r.connector, r.smsc_ids) for r in results]
    at = datetime.now(UTC)
    await ctx.store.write(lambda conn: submit_journal.append(conn, entry_id, entries, at))


async def record_submit_results(ctx: Context, results: Sequence[SubmitResult]) -> None:
    """Store a batch of submit outcomes in one transaction."""
    if results:
        await ctx.store.write(lambda conn: apply_submit_results(conn, results, datetime.now(UTC)))


#: How old a submit journal row must be for the sweep to apply it: its full write comes within
#: milliseconds unless its process died or the write failed (applied twice, it is no harm).
JOURNAL_GRACE = timedelta(seconds=10)


async def record_left_behind(ctx: Context, *, limit: int = 50) -> int:
    """Store in full the submit journal's rows older than `JOURNAL_GRACE` (at most `limit`
    rows); return how many messages they held."""
    now = datetime.now(UTC)
    return await ctx.store.write(lambda conn: apply_left_behind(conn, now, limit))


def apply_left_behind(conn: Connection, now: datetime, limit: int) -> int:
    results = [
        SubmitResult(message_id, "accepted", connector, smsc_ids, journal=entry_id)
        for entry_id, entries in submit_journal.left_behind(conn, now - JOURNAL_GRACE, limit)
        for message_id, connector, smsc_ids in entries
    ]
    apply_submit_results(conn, results, now)
    return len(results)


def apply_submit_results(conn: Connection, results: Sequence[SubmitResult], now: datetime) -> None:
    """Store submit outcomes set-wise: a few statements per batch, not per message."""
    accepted: dict[str, list[SubmitResult]] = {}
    retry: dict[timedelta, list[int]] = {}
    refused: list[tuple[int, int, int]] = []
    for result in results:
        if result.outcome == "accepted":
            accepted.setdefault(result.connector, []).append(result)
        elif result.outcome == "rejected":
            if _reject(conn, result, now):
                refused.append((result.message_id, 0, int(AckStatus.REJECTED)))
        else:
            retry.setdefault(result.retry_in, []).append(result.message_id)
    # The journal's rows first: a sweep applying one locks it before the messages, too.
    first = submit_journal.remove_sql(conn, sorted({r.journal for r in results if r.journal}))
    for connector, batch in sorted(accepted.items()):
        _mark_submitted(conn, connector, batch, now, first)
        first = []  # (results with a journal row are all accepted)
    for delay, ids in retry.items():
        rows.retry_later(conn, ids, now + delay)
    traffic.count_changes(conn, refused, now, refunded=True)  # last: see traffic.changes_sql


def _mark_submitted(
    conn: Connection,
    connector: str,
    batch: Sequence[SubmitResult],
    now: datetime,
    first: Sequence[Sql] = (),
) -> None:
    ids = [r.message_id for r in batch]
    ours = set(rows.mark_submitted(conn, connector, ids, now, first))
    parts: list[dict[str, object]] = []
    for result in batch:
        if result.message_id in ours:
            for index, smsc_id in enumerate(result.smsc_ids, start=1):
                parts.append(
                    {
                        "message_id": result.message_id,
                        "part": index,
                        "smsc_id": normalize_message_id(smsc_id),
                        "connector": connector,
                        "status": int(AckStatus.TRANSMITTED),
                        "created_at": now,
                    }
                )
    # With receipts that beat their submit_sm_resp, by exact id: another form could be another's.
    counts = traffic.changes_sql(conn, [(m, 0, int(AckStatus.TRANSMITTED)) for m in ours], now)
    targets, early = rows.store_submitted(conn, connector, parts, sorted(ours), now, counts)
    _queue_receipt_webhooks(conn, {m: AckStatus.TRANSMITTED for m in ours}, now, targets)
    _apply_waiting(conn, connector, early, now, other_forms=False)


def _reject(conn: Connection, result: SubmitResult, now: datetime) -> bool:
    """Reject and refund a claimed message; False if it was not ours any more."""
    refund = rows.record_rejected(conn, result.message_id, result.detail, now)
    if refund is None:
        return False
    info = rows.message_info(conn, result.message_id)
    if refund:
        ledger.move(conn, info.account_id, refund, "refund", info.sms_id)
    _queue_receipt_webhooks(conn, {info.id: AckStatus.REJECTED}, now)
    return True


#: The status history's detail for a message whose validity ended before it was submitted.
EXPIRED = "validity period expired"


async def expire_messages(ctx: Context, now: datetime | None = None, *, batch: int = 500) -> int:
    """Fail (status 4) and refund the messages past their validity that no SMSC took, a batch
    per transaction; return how many. One the SMSC took keeps status 3 (the manual's "sent to
    the operator") whether or not its receipt ever comes."""
    at = now or datetime.now(UTC)
    total = 0
    while True:
        count = await ctx.store.write(lambda conn: apply_expiry(conn, at, batch))
        total += count
        if count < batch:
            return total


def apply_expiry(conn: Connection, now: datetime, limit: int) -> int:
    """One batch of `expire_messages`, set-wise like a batch of rejections."""
    expired = validity.expire_waiting(conn, now, limit)
    if expired:
        rows.add_events(conn, [(m.id, int(AckStatus.REJECTED), EXPIRED) for m in expired], now)
        refunds = [(m.account_id, m.credits, m.sms_id) for m in expired if m.credits]
        ledger.credit_each(conn, "refund", refunds)
        traffic.count_changes(conn, [(m.id, 0, 4) for m in expired], now, refunded=True)
        _queue_receipt_webhooks(conn, {m.id: AckStatus.REJECTED for m in expired}, now)
    return len(expired)


# -- receipts ------------------------------------------------------------------------------------


class ReceiptIn(NamedTuple):
    """A delivery receipt as a connector reports it."""

    smsc_id: str
    status: AckStatus  # annex 6
    detail: str


async def record_receipts(ctx: Context, connector: str, receipts: Sequence[ReceiptIn]) -> list[str]:
    """Store delivery receipts of one connector in one transaction; return the SMSC ids of
    those left waiting for their message (in pending_receipts)."""
    final = [r for r in receipts if r.status != AckStatus.TRANSMITTED]  # ENROUTE changes nothing
    if not final:
        return []
    return await ctx.store.write(
        lambda conn: apply_receipts(conn, connector, final, datetime.now(UTC)), patient=True
    )


async def match_waiting(ctx: Context, connector: str, smsc_ids: Sequence[str]) -> int:
    """Apply the receipts waiting for these exact SMSC ids whose parts are stored now; return
    how many matched.

    A receipt and its submit result written at the same moment in two PostgreSQL transactions
    miss each other: the receipt finds no part and waits, the result's look for waiting
    receipts ran before the receipt's COMMIT. With one bind the worker orders them (the answer
    always comes first on its connection); a receipt of one bind can arrive before the answer
    read on another. Looked at again once the results being stored have been, they match
    (without it, at the sweep after STALE_RECEIPT: 30 s later)."""
    if not smsc_ids:
        return 0
    now = datetime.now(UTC)

    def match(conn: Connection) -> int:
        waiting = receipt_rows.pending_for(conn, connector, smsc_ids)
        return len(waiting) - len(_apply_waiting(conn, connector, waiting, now, other_forms=False))

    return await ctx.store.write(match)


def _match_receipts(
    conn: Connection,
    connector: str,
    receipts: Sequence[ReceiptIn],
    now: datetime,
    *,
    arrived: Sequence[datetime] | None = None,
    other_forms: bool = False,
    commit: bool = False,
) -> list[int]:
    """Match receipts to message parts and apply them; return the positions of those left.
    `commit`: the caller writes nothing else unless some are left (see `_apply_matches`).

    SMSCs reuse their ids (counters that wrap, restarts): a receipt goes to the part that holds
    its id last, and only if that part has no final status from its own receipt yet (a second
    receipt for it waits, for the next submit its id comes back with) and, for receipts that
    waited, was recorded no later than `RECEIPT_LEAD` after the receipt `arrived`. So a message
    final from its own receipt is never changed, and a receipt that waited is never given to a
    later holder.

    Some SMSCs report in decimal the id they gave in hex (or the reverse). A receipt matches its
    exact id; with `other_forms` (only for receipts that waited long enough for their message's
    id to be stored, see `resolve_stale_receipts`), another form of it matches when no part
    holds the exact id and exactly one holds another form — before that, another message's id
    could be taken for it.
    """
    if other_forms:
        wanted = {form for receipt in receipts for form in message_id_forms(receipt.smsc_id)}
    else:
        wanted = {normalize_message_id(receipt.smsc_id) for receipt in receipts}
    holders = {part.smsc_id: part for part in receipt_rows.latest_holders(conn, connector, wanted)}
    matches: list[receipt_rows.PartMatch] = []
    receipt_of: dict[int, ReceiptIn] = {}  # part id -> its receipt
    left: list[int] = []
    for index, receipt in enumerate(receipts):
        part = _holder(holders, receipt.smsc_id, other_forms)
        if (
            part is None
            or part.part_status != AckStatus.TRANSMITTED
            or part.part_id in receipt_of
            or (arrived is not None and part.created_at > arrived[index] + RECEIPT_LEAD)
        ):
            left.append(index)
        else:
            matches.append(part)
            receipt_of[part.part_id] = receipt
    _apply_matches(conn, matches, receipt_of, now, last=commit and not left)
    return left


def _holder(
    holders: dict[str, receipt_rows.PartMatch], smsc_id: str, other_forms: bool
) -> receipt_rows.PartMatch | None:
    part = holders.get(normalize_message_id(smsc_id))
    if part is None and other_forms:
        others = [holders[f] for f in message_id_forms(smsc_id) if f in holders]
        part = others[0] if len(others) == 1 else None
    return part


def _apply_matches(
    conn: Connection,
    matches: Sequence[receipt_rows.PartMatch],
    receipt_of: dict[int, ReceiptIn],
    now: datetime,
    *,
    last: bool = False,
) -> None:
    """Store what the matched receipts change: parts, messages, events, counts, webhooks.

    `last`: nothing else is written in this transaction, so that on PostgreSQL its COMMIT goes
    in the same pipeline when nothing here needs another round trip (a webhook event other
    than a final one, an unknown number to blacklist): the rows it updates stay locked for no
    round trip to us. The webhooks' targets come with the matches (`latest_holders`).
    """
    part_updates = [(p.part_id, int(receipt_of[p.part_id].status)) for p in matches]
    status_of: dict[int, int] = {
        p.message_id: int(receipt_of[p.part_id].status) for p in matches if p.parts == 1
    }
    long = sorted({p.message_id for p in matches if p.parts > 1})
    if long:  # long messages: one status for all their parts, read once theirs are set
        for message_id, statuses in rows.set_parts_status(conn, part_updates, long).items():
            status_of[message_id] = message_status(statuses)
        part_updates = []
    current = {p.message_id: p.message_status for p in matches}
    changed = {m: s for m, s in status_of.items() if s != current[m]}
    details = {p.message_id: receipt_of[p.part_id].detail for p in matches}
    events = [
        (m, s, details[m] or ACK_STATUS_TEXTS[AckStatus(s)])
        for m, s in changed.items()
        if s != AckStatus.TRANSMITTED
    ]
    finals = {m: s for m, s in changed.items() if s != AckStatus.TRANSMITTED}
    new = {m: AckStatus(s) for m, s in changed.items()}
    targets = {
        p.message_id: rows.MessageInfo(*p.webhook)
        for p in matches
        if p.webhook and p.message_id in changed
    }
    # Final events only: every account with a URL wants those, no setting to read first.
    ahead = all(new[m] != AckStatus.TRANSMITTED for m in targets)
    hooks = outbox.insert_events_sql(conn, _receipt_events(new, targets, now), now) if ahead else []
    then = [
        *smpp_deliveries.receipts_sql(conn, finals, now),
        *hooks,
        *traffic.changes_sql(conn, [(m, current[m], s) for m, s in changed.items()], now),
    ]
    unknown = AckStatus.UNKNOWN_NUMBER in new.values()
    commit = last and ahead and not unknown
    rows.store_statuses(conn, part_updates, list(changed.items()), events, now, then, commit=commit)
    if not ahead:
        _queue_receipt_webhooks(conn, new, now, targets, smpp_queued=True)
    for message_id, status in changed.items():
        if status == AckStatus.UNKNOWN_NUMBER:
            info = rows.message_info(conn, message_id)
            rows.blacklist_add(conn, info.account_id, info.phone, "refused", now)


def apply_receipts(
    conn: Connection, connector: str, receipts: Sequence[ReceiptIn], now: datetime
) -> list[str]:
    """Apply receipts; keep those that matched no part they may change in pending_receipts and
    return their (normalized) SMSC ids."""
    left = [receipts[i] for i in _match_receipts(conn, connector, receipts, now, commit=True)]
    kept = [(normalize_message_id(r.smsc_id), int(r.status), r.detail) for r in left]
    receipt_rows.add_pending(conn, connector, kept, now, now + STALE_RECEIPT)
    return [smsc_id for smsc_id, _, _ in kept]


def _apply_waiting(
    conn: Connection,
    connector: str,
    waiting: Sequence[receipt_rows.Pending],
    now: datetime,
    *,
    other_forms: bool,
) -> list[receipt_rows.Pending]:
    """Apply waiting receipts of one connector, each as of its arrival; delete those that
    matched and return the others, left as they were."""
    if not waiting:
        return []
    receipts = [ReceiptIn(p.smsc_id, AckStatus(p.status), p.detail) for p in waiting]
    arrived = [p.received_at for p in waiting]
    left = _match_receipts(conn, connector, receipts, now, arrived=arrived, other_forms=other_forms)
    kept = set(left)
    receipt_rows.delete_pending(conn, [p.id for i, p in enumerate(waiting) if i not in kept])
    return [waiting[i] for i in left]


#: A receipt reaches us this long at most before its submit_sm_resp is stored (the dispatcher's
#: lease: a message whose outcome takes longer is submitted again). A part stored later than
#: that after a receipt arrived is a later holder of a reused id, not the receipt's message.
RECEIPT_LEAD = timedelta(minutes=2)
#: A receipt still unmatched after this long is tried against the other forms of its id; then
#: again after as long as it has waited (a geometric back-off), until the retention drops it.
STALE_RECEIPT = timedelta(seconds=30)
#: Waiting receipts one sweep looks at (and expired ones it drops): one short transaction.
SWEEP_LIMIT = 1000


async def resolve_stale_receipts(ctx: Context, *, limit: int = SWEEP_LIMIT) -> int:
    """Drop waiting receipts older than the retention; apply those due for another look,
    trying the other forms of their ids; return how many matched.

    Each call reads at most `limit` receipts through indexes, whatever the table holds.
    """
    now = datetime.now(UTC)
    retention = timedelta(hours=ctx.settings.receipt_retention_hours)

    def resolve(conn: Connection) -> int:
        receipt_rows.drop_expired(conn, now - retention, limit)
        by_connector: dict[str, list[receipt_rows.Pending]] = {}
        for pending in receipt_rows.due_pending(conn, now, limit):
            by_connector.setdefault(pending.connector, []).append(pending)
        resolved = 0
        for connector, waiting in sorted(by_connector.items()):
            left = _apply_waiting(conn, connector, waiting, now, other_forms=True)
            resolved += len(waiting) - len(left)
            receipt_rows.put_off(
                conn, [(p.id, now + max(STALE_RECEIPT, now - p.received_at)) for p in left]
            )
        return resolved

    return await ctx.store.write(resolve)


def message_status(part_statuses: Sequence[int]) -> int:
    """One status for a message of several parts: delivered only when every part is; a failed
    part decides at once (unknown number before rejected before not delivered)."""
    for failure in (AckStatus.UNKNOWN_NUMBER, AckStatus.REJECTED, AckStatus.NOT_DELIVERED):
        if failure in part_statuses:
            return int(failure)
    if part_statuses and all(s == AckStatus.DELIVERED for s in part_statuses):
        return int(AckStatus.DELIVERED)
    return int(AckStatus.TRANSMITTED)


def _queue_receipt_webhooks(
    conn: Connection,
    statuses: dict[int, AckStatus],
    now: datetime,
    targets: dict[int, rows.MessageInfo] | None = None,
    *,
    smpp_queued: bool = False,
) -> None:
    """Queue the webhook events of these status changes, and the SMPP server's receipts of the
    final ones (for messages a submit_sm sent asking for one: `smpp_deliveries`; `smpp_queued`:
    the caller did). `targets`: `rows.webhook_targets` of them (or of those that can have an
    event), when read already."""
    finals = {m: int(s) for m, s in statuses.items() if s != AckStatus.TRANSMITTED}
    if finals and not smpp_queued:
        smpp_deliveries.queue_receipts(conn, finals, now)
    transmitted_only = set(statuses.values()) == {AckStatus.TRANSMITTED}  # a batch of submits
    if transmitted_only and targets is None and not outbox.any_account_wants_all(conn):
        return
    if targets is None:
        targets = rows.webhook_targets(conn, list(statuses))
    outbox.queue_events(conn, _receipt_events(statuses, targets, now), now)


def _receipt_events(
    statuses: dict[int, AckStatus], targets: dict[int, rows.MessageInfo], now: datetime
) -> list[outbox.NewEvent]:
    """The receipt webhook events of these status changes, for the messages in `targets`."""
    events: list[outbox.NewEvent] = []
    for message_id, info in targets.items():
        status = statuses[message_id]
        params = receipt_params(
            sms_id=info.sms_id,
            status=status,
            received=format_local(now, info.timezone),
            phone=info.phone,
            campaign_id=info.campaign_id,
            cli_msg_id=info.cli_msg_id,
        )
        final = status != AckStatus.TRANSMITTED
        events.append(
            outbox.NewEvent(
                info.account_id, "receipt", info.sms_id, info.receipt_url, params, final
            )
        )
    return events
