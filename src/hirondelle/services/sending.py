"""Accepting SMS campaigns: validate, price, charge and store them, in one transaction.

`send` is what sendSms, the simplified send, the REST API and the customer area call. It plans the
campaign with the pure rules of `domain/` (numbers, text, sender, price), then writes the campaign,
one `queued` row per message and the credit debit in one store write, and returns only once that
write is durable. Nothing is submitted here: the dispatcher picks due messages up.

Refusals are `SendRefused` with the annex 5 status; they change nothing. The outcome is a plain
value: `api/v9` and `api/rest` each write it in their own wire format.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

import orjson
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.domain.sending_hours import SendingWindow, parse_window
from hirondelle.domain.statuses import SendStatus
from hirondelle.services import access
from hirondelle.services.accounts import Account, AccountError
from hirondelle.services.campaign_writes import (
    Accepted,
    count_sends,
    write_campaigns,
    write_paid_together,
)
from hirondelle.services.planning import (
    THREAD_PLAN_THRESHOLD,
    Plan,
    PlannedMessage,
    Recipient,
    Recipients,
    SendRefused,
    SmsOrder,
    parse_recipients,
    plan_campaign,
    random_ids,
)
from hirondelle.services.send_coalescer import SenderKind, coalescer_of
from hirondelle.store import campaigns as campaign_rows
from hirondelle.store import ledger
from hirondelle.store.ledger import InsufficientCredits, NotCovered

log = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
#: Longest idempotency key stored as given (the column's size); longer ones are stored hashed.
MAX_IDEMPOTENCY_KEY = 255

__all__ = [
    "Plan",
    "PlannedMessage",
    "Recipient",
    "SendOutcome",
    "SendRefused",
    "SmsOrder",
    "parse_recipients",
    "plan_campaign",
    "preview",
    "send",
    "send_many",
]


@dataclass
class SendOutcome:
    """A campaign accepted (or simulated): sent now or scheduled, and what it holds.

    `scheduled_for` is the local date of a scheduled campaign ("" when it is sent now);
    `deferred_to` the local date the sending window deferred messages to ("" when it deferred
    none). The status text is the API's to write (`send_status_text`). Kept as JSON for
    idempotent repeats.
    """

    status: SendStatus
    invalid_numbers: list[str] = field(default_factory=list)
    campaign_id: str = ""
    credits: int = 0
    credits_used: int = 0
    nb_contacts: int = 0
    nb_sms: int = 0
    sms_ids: list[tuple[str, str]] = field(default_factory=list)
    scheduled_for: str = ""
    deferred_to: str = ""

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> SendOutcome:
        values = orjson.loads(data)
        values.pop("status_text", None)  # kept by earlier versions: the API writes it now
        values["status"] = SendStatus(values["status"])
        values["sms_ids"] = [tuple(pair) for pair in values["sms_ids"]]
        return cls(**values)


# -- the use case ----------------------------------------------------------------------------


async def send(
    ctx: Context,
    account: Account,
    order: SmsOrder,
    *,
    simulate: bool = False,
    idempotency_key: str | None = None,
    method: str = "sendSms",
    coalesce: bool = True,
) -> SendOutcome:
    """Accept (or simulate) a campaign for `account`; raise SendRefused with its status.

    With an idempotency key seen for this account in the last 24 hours, return the first answer
    and create nothing. Over the account's messages/s limit, raise `access.Throttled`. A small
    send without key nor MASTERACCOUNT is written with the process's concurrent ones in one
    transaction (`coalesce=False`: in its own, as tests compare both).
    """
    now = ctx.clock()
    if idempotency_key and len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
        idempotency_key = "sha256:" + digest
    if idempotency_key and not simulate:
        earlier = await _earlier_answer(ctx, account, idempotency_key, now)
        if earlier is not None:
            return earlier
    if simulate:
        return (await preview(ctx, account, order))[0]
    if order.list_name:
        order = await _with_list_contacts(ctx, account, order)
    # The messages/s limit (services/access.py): every recipient counts, and a refused send
    # gives its tokens back. Before any write: a throttled send changes nothing.
    tokens = len(order.recipients)
    access.admit_messages(ctx, account, tokens)
    try:
        alone = idempotency_key or order.master_account or tokens > THREAD_PLAN_THRESHOLD
        if coalesce and not alone:
            # Written with the concurrent sends of the process in one transaction
            # (services/send_coalescer.py): the same answer, one COMMIT for many.
            batched = replace(order, list_name=None)  # its contacts are in it already
            kind: SenderKind = "smpp" if method == "submit_sm" else "http"
            coalescer = coalescer_of(ctx, lambda orders: send_many(ctx, orders), kind)
            return await coalescer.send(account, batched)
        return await _accept(ctx, account, order, idempotency_key, method, now)
    except Exception:
        access.give_back_messages(ctx, account, tokens)
        raise


async def _accept(
    ctx: Context,
    account: Account,
    order: SmsOrder,
    idempotency_key: str | None,
    method: str,
    now: datetime,
) -> SendOutcome:
    # A big campaign is planned before the write, on a reader thread (off the loop and off the
    # writer); a small one inside the write, which saves a round trip to the store per request.
    planned: Plan | None = None
    if len(order.recipients) > THREAD_PLAN_THRESHOLD:
        try:
            planned = await ctx.store.read(lambda conn: _plan(conn, ctx, account, order, now))
        except SendRefused as refused:
            if order.mail_notif:
                await _mail_refusal(ctx, account, refused)
            raise
    campaign_id = next(random_ids(1))

    def write(conn: Connection) -> SendOutcome:
        plan = planned or _plan(conn, ctx, account, order, now)
        if order.master_account:  # before the debit: its row locks come in id order
            _bind_to_master(conn, account, order.master_account)
        # The rows first, then the debit and the counts: on PostgreSQL the account's balance
        # row and its counts row of the hour stay locked from their UPDATE to the COMMIT, and
        # every send of the account waits for them; written last, they are held for the commit
        # only. Balance before counts, as refunds lock them (no deadlock). Refused for credit,
        # the transaction rolls back with the rows it wrote.
        accepted = [Accepted(account, order, plan, campaign_id)]
        db_ids = write_campaigns(conn, ctx, accepted, now)
        try:
            balance = ledger.move(conn, account.id, -plan.credits, "debit", campaign_id)
        except InsufficientCredits as exc:
            raise _no_credit(exc) from None
        count_sends(conn, accepted, db_ids, now)
        outcome = _outcome(plan, campaign_id, balance, account.timezone)
        if idempotency_key:
            since = now - IDEMPOTENCY_WINDOW
            campaign_rows.save_idempotent_answer(
                conn, account.id, idempotency_key, method, outcome.to_json(), now, since
            )
        return outcome

    try:
        outcome = await ctx.store.write(write)
    except SendRefused as refused:
        if order.mail_notif:
            await _mail_refusal(ctx, account, refused)
        raise
    except Exception:
        if idempotency_key:
            earlier = await _earlier_answer(ctx, account, idempotency_key, now)
            if earlier is not None:  # a concurrent request with the same key won the race
                return earlier
        raise
    ctx.notify_new_messages()
    return outcome


async def preview(
    ctx: Context, account: Account, order: SmsOrder, first: int = 0
) -> tuple[SendOutcome, list[PlannedMessage]]:
    """simulateCampaign: the answer a send would get, with nothing written, and the first
    `first` messages as they would be sent (the customer area's preview). Raises SendRefused."""
    now = ctx.clock()
    if order.list_name:
        order = await _with_list_contacts(ctx, account, order)
    plan = await ctx.store.read(lambda conn: _plan(conn, ctx, account, order, now))
    balance = await ctx.store.read(lambda conn: ledger.balance_of(conn, account.id))
    outcome = _outcome(plan, campaign_id="", balance=balance, timezone=account.timezone)
    return outcome, plan.messages[:first]


async def send_many(
    ctx: Context, orders: Sequence[tuple[Account, SmsOrder]]
) -> list[SendOutcome | SendRefused]:
    """Accept many campaigns (of one or several accounts) in ONE store transaction; the answer
    of each, in order: its SendOutcome or its SendRefused.

    Each order gets exactly what `send` would give it, sent one after the other in this order:
    the same plan (blacklist, sender, STOP, prices, sending hours), the same debit (an order
    the balance no longer covers is refused alone), the same rows. The statements are set-wise:
    one blacklist query, one debit per account, one INSERT for the campaigns, one for the
    messages, one for the ledger. Nothing is answered before the COMMIT; a failure of the
    transaction itself raises and writes nothing. No idempotency keys (no caller has them),
    and no MASTERACCOUNT (its binding must roll back with a refused debit: use `send`).
    """
    if any(order.master_account for _, order in orders):
        raise ValueError("send_many: an order with MASTERACCOUNT goes through send()")
    now = ctx.clock()
    results: list[SendOutcome | SendRefused | None] = [None] * len(orders)
    todo: list[tuple[int, Account, SmsOrder]] = []
    for index, (account, order) in enumerate(orders):
        try:
            if order.list_name:
                order = await _with_list_contacts(ctx, account, order)
        except SendRefused as refused:
            results[index] = refused
        else:
            todo.append((index, account, order))
    ids = random_ids(len(todo))
    campaign_ids = [next(ids) for _ in todo]

    def write(conn: Connection, *, together: bool) -> None:
        _write_many(conn, ctx, todo, campaign_ids, results, now, together=together)

    # PostgreSQL: first as if every balance covered its debits (two round trips); when one does
    # not, the transaction aborted and the batch is written again, debit by debit.
    try:
        await ctx.store.write(lambda conn: write(conn, together=not ctx.store.is_sqlite))
    except NotCovered:
        await ctx.store.write(lambda conn: write(conn, together=False))
    answers = [r for r in results if r is not None]
    assert len(answers) == len(orders)
    if any(isinstance(r, SendOutcome) for r in answers):
        ctx.notify_new_messages()
    for index, account, order in todo:  # as `send`: an unknown LISTNAME sends no mail
        answer = answers[index]
        if isinstance(answer, SendRefused) and order.mail_notif:
            await _mail_refusal(ctx, account, answer)
    return answers


def _write_many(
    conn: Connection,
    ctx: Context,
    todo: Sequence[tuple[int, Account, SmsOrder]],
    campaign_ids: Sequence[str],
    results: list[SendOutcome | SendRefused | None],
    now: datetime,
    *,
    together: bool = False,
) -> None:
    """`send_many`'s transaction: fills `results` (they count only once it committed).

    `together` (PostgreSQL): the reads in one round trip, the writes and the COMMIT in another
    (`write_paid_together`); raises NotCovered when a balance does not cover its debits."""
    parsed: list[tuple[int, Account, SmsOrder, Recipients, str]] = []
    for (index, account, order), campaign_id in zip(todo, campaign_ids, strict=True):
        try:
            parsed.append((index, account, order, parse_recipients(order.recipients), campaign_id))
        except SendRefused as refused:
            results[index] = refused
    pairs = [(account.id, phone) for _, account, _, rs, _ in parsed for phone in rs.phones]
    listed, new_ids = campaign_rows.blacklisted_pairs(
        conn, pairs, new_ids=len(parsed) if together else 0
    )
    planned: list[Accepted] = []
    where: list[int] = []
    for index, account, order, recipients, campaign_id in parsed:
        blacklisted = {p for p in recipients.phones if (account.id, p) in listed}
        try:
            plan = _plan_parsed(ctx, account, order, recipients, blacklisted, now)
        except SendRefused as refused:
            results[index] = refused
            continue
        planned.append(Accepted(account, order, plan, campaign_id))
        where.append(index)
    if together:
        ids = new_ids[: len(planned)]
        after = write_paid_together(conn, ctx, planned, ids, now) if planned else {}
        for p, a in enumerate(planned):
            new_balance = after[a.campaign_id]
            results[where[p]] = _outcome(a.plan, a.campaign_id, new_balance, a.account.timezone)
        return
    by_account: dict[int, list[int]] = {}  # debits in account id order: row locks too
    for position, a in enumerate(planned):
        by_account.setdefault(a.account.id, []).append(position)
    balances: dict[int, int] = {}
    for account_id in sorted(by_account):
        positions = by_account[account_id]
        debits = [(planned[p].plan.credits, planned[p].campaign_id) for p in positions]
        for position, balance in zip(
            positions, ledger.debit_each(conn, account_id, debits), strict=True
        ):
            if isinstance(balance, InsufficientCredits):
                results[where[position]] = _no_credit(balance)
            else:
                balances[position] = balance
    paid = sorted(balances)
    accepted = [planned[p] for p in paid]
    count_sends(conn, accepted, write_campaigns(conn, ctx, accepted, now), now)
    for p in paid:
        a = planned[p]
        results[where[p]] = _outcome(a.plan, a.campaign_id, balances[p], a.account.timezone)


def _no_credit(exc: InsufficientCredits) -> SendRefused:
    return SendRefused(
        SendStatus.INSUFFICIENT_CREDITS,
        used=exc.needed,
        available=exc.available,
        credits=exc.available,
    )


def _plan(conn: Connection, ctx: Context, account: Account, order: SmsOrder, now: datetime) -> Plan:
    """Plan `order` with the rules of `domain/`: its recipients read, the blacklisted ones looked
    up on `conn` (a read connection, or the send's own write transaction)."""
    recipients = parse_recipients(order.recipients)
    blacklisted = campaign_rows.blacklisted_among(conn, account.id, recipients.phones)
    return _plan_parsed(ctx, account, order, recipients, blacklisted, now)


def _plan_parsed(
    ctx: Context,
    account: Account,
    order: SmsOrder,
    recipients: Recipients,
    blacklisted: set[str],
    now: datetime,
) -> Plan:
    return plan_campaign(
        order,
        recipients,
        timezone=account.timezone,
        default_sender=account.reply_number or ctx.settings.default_sender,
        stop_short_code=ctx.settings.stop_short_code,
        prices=ctx.prices,
        blacklisted=blacklisted,
        now=now,
        short_link_base=ctx.settings.base_url if order.shorten else None,
        routes=ctx.settings.routes,
        sending_window=_sending_window(account, order),
    )


def _sending_window(account: Account, order: SmsOrder) -> SendingWindow | None:
    """The account's window when the campaign is commercial (by its flag or the account's)."""
    if not (order.commercial or account.commercial_hours):
        return None
    return parse_window(account.sending_window)


async def _mail_refusal(ctx: Context, account: Account, refused: SendRefused) -> None:
    """MAIL_NOTIF=1: a copy of the error goes to the account's email (manual §5.2, §6.4)."""
    from hirondelle.services.email import queue_notification

    if not account.email:
        return
    text = f"Your SMS campaign was refused (status {int(refused.status)}): {refused.text}\n" + (
        f"Invalid numbers: {', '.join(refused.invalid_numbers)}\n"
        if refused.invalid_numbers
        else ""
    )
    try:
        await queue_notification(ctx, account.email, "SMS campaign refused", text)
    except Exception:  # the refusal is what the caller must get, mail or not
        log.exception("could not queue the MAIL_NOTIF copy for %s", account.login)


def _bind_to_master(conn: Connection, account: Account, master_login: str) -> None:
    """MASTERACCOUNT: bind the sender to that master when the relation is valid, else send as
    is (the manual makes it a convenience, not a condition of the send). Inside the send's
    transaction: a refused send binds nothing."""
    from hirondelle.services import subaccounts

    try:
        subaccounts.bind_to_master(conn, account.id, master_login)
    except AccountError as exc:
        log.info("MASTERACCOUNT %r ignored for %s: %s", master_login, account.login, exc)


async def _with_list_contacts(ctx: Context, account: Account, order: SmsOrder) -> SmsOrder:
    """The order with the contacts of its LISTNAME added, their fields as merge fields."""
    from hirondelle.services import lists

    assert order.list_name is not None
    try:
        contacts = await lists.list_recipients(ctx, account.id, order.list_name)
    except lists.ListError:
        raise SendRefused(SendStatus.NO_VALID_NUMBER, invalid_numbers=[]) from None
    extra = [Recipient(mobile="+" + phone, fields=fields) for phone, fields in contacts]
    return replace(order, recipients=[*order.recipients, *extra])


async def _earlier_answer(
    ctx: Context, account: Account, key: str, now: datetime
) -> SendOutcome | None:
    since = now - IDEMPOTENCY_WINDOW
    row = await ctx.store.read(
        lambda conn: campaign_rows.find_idempotent_answer(conn, account.id, key, since)
    )
    return SendOutcome.from_json(row["answer"]) if row is not None else None


def _outcome(plan: Plan, campaign_id: str, balance: int, timezone: str) -> SendOutcome:
    return SendOutcome(
        status=SendStatus.SCHEDULED if plan.scheduled else SendStatus.SENT,
        invalid_numbers=plan.invalid_numbers,
        campaign_id=campaign_id,
        credits=balance,
        credits_used=plan.credits,
        nb_contacts=len(plan.messages),
        nb_sms=plan.nb_sms,
        sms_ids=[(m.phone, m.sms_id) for m in plan.messages],
        scheduled_for=format_local(plan.due_at, timezone) if plan.scheduled else "",
        deferred_to=format_local(plan.deferred_to, timezone) if plan.deferred_to else "",
    )
