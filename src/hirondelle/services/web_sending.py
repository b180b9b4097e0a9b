"""Sending from the customer area: recipients typed, pasted or imported from a CSV or XLSX file
(or a contact list), previewed with simulateCampaign's rules, then sent by the same service as
the APIs.

1. `import_recipients` reads the rows as they stream (a CSV is decoded line by line, an XLSX read
   in openpyxl's read-only mode), counts invalid and duplicate numbers, and keeps every other
   column of a row as its `#Column#` merge fields (services/planning.py merges them, any case).
2. `prepare` keeps the order as a draft in the store (its token is the form's nonce) and runs
   `sending.preview` — simulateCampaign — for the cost and the first messages.
3. `confirm` sends the draft with `sending.send`, the token as its idempotency key: a second
   click, or the form posted twice, gets the first answer and sends nothing more.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO

import orjson

from hirondelle.context import Context
from hirondelle.domain.numbers import InvalidNumber, parse_mobile
from hirondelle.domain.pricing import UnknownCountry
from hirondelle.services import sending
from hirondelle.services.accounts import Account
from hirondelle.services.planning import PlannedMessage, Recipient, SmsOrder
from hirondelle.services.sending import SendOutcome
from hirondelle.store import send_drafts

#: Rows one import may hold (a campaign of the API has no smaller limit than the body size).
MAX_ROWS = 100_000
#: First messages shown in the preview.
PREVIEW_MESSAGES = 5
DRAFT_LIFETIME = timedelta(days=1)
#: Column names taken for the phone number when the form names none (compared casefolded).
PHONE_NAMES = (
    "mobile",
    "mobilephone",
    "phone",
    "telephone",
    "téléphone",
    "tel",
    "numero",
    "numéro",
    "number",
    "portable",
    "gsm",
)


# The reasons an import is refused: English here, translated where they are shown (web/).
NOT_XLSX = "This file is not a readable XLSX workbook."
NO_COLUMN = "The file has no column of that name."
TOO_MANY = "At most 100,000 recipients per import."


class UnreadableImport(ValueError):
    """A file that cannot be read as a table of recipients; the message says why."""


@dataclass
class Imported:
    """What an import read: its valid recipients once each, and what it left out."""

    rows: int = 0
    invalid: int = 0
    duplicates: int = 0
    columns: list[str] = field(default_factory=list)
    phone_column: str = ""
    recipients: list[Recipient] = field(default_factory=list)


def _csv_rows(data: IO[bytes]) -> Iterator[list[str]]:
    """The rows of a CSV file, decoded as it streams: UTF-8 (with or without BOM), else
    Windows-1252 (what spreadsheets write in France); `;`, `,` or tab separated."""
    head = data.read(65536)
    data.seek(0)
    try:
        head.decode("utf-8-sig")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as error:
        encoding = "utf-8-sig" if error.start > len(head) - 4 else "cp1252"
    first = head.decode(encoding, "replace").splitlines()[0] if head else ""
    delimiter = max((";", ",", "\t"), key=first.count)
    text = codecs.getreader(encoding)(data, "replace")
    yield from csv.reader(text, delimiter=delimiter)


def _xlsx_rows(data: IO[bytes]) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(data, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a file that is not XLSX
        raise UnreadableImport(NOT_XLSX) from error
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed in a cell: 33612345678.0
    return str(value)


def table_rows(data: IO[bytes], filename: str) -> Iterator[list[str]]:
    """The rows of an uploaded file: XLSX by its name or its zip signature, else CSV."""
    signature = data.read(4)
    data.seek(0)
    if filename.lower().endswith(".xlsx") or signature == b"PK\x03\x04":
        return _xlsx_rows(data)
    return _csv_rows(data)


def typed_rows(text: str) -> Iterator[list[str]]:
    """Numbers typed or pasted: one per line, or separated by commas or semicolons."""
    for line in text.splitlines():
        for number in line.replace(";", ",").split(","):
            if number.strip():
                yield [number.strip()]


def _phone_index(header: Sequence[str], wanted: str) -> int:
    names = [name.strip().casefold() for name in header]
    if wanted.strip():
        if wanted.strip().casefold() not in names:
            raise UnreadableImport(NO_COLUMN)
        return names.index(wanted.strip().casefold())
    for index, name in enumerate(names):
        if name.replace(" ", "").replace("_", "").replace("-", "") in PHONE_NAMES:
            return index
    return 0


def import_recipients(
    rows: Iterator[list[str]], *, header: bool, phone_column: str = ""
) -> Imported:
    """Read rows of recipients: the number from the phone column (named, or found by its name,
    or the first), every other column of a header as a merge field. Raises UnreadableImport."""
    found = Imported()
    columns: list[str] = []
    index = 0
    if header:
        first = next(rows, None)
        if first is None:
            return found
        columns = [name.strip() for name in first]
        index = _phone_index(columns, phone_column)
        found.columns, found.phone_column = columns, columns[index] if columns else ""
    seen: set[str] = set()
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue  # blank lines of a pasted list or a spreadsheet
        found.rows += 1
        if found.rows > MAX_ROWS:
            raise UnreadableImport(TOO_MANY)
        raw = row[index].strip() if index < len(row) else ""
        try:
            digits = parse_mobile(raw).digits
        except InvalidNumber:
            found.invalid += 1
            continue
        if digits in seen:
            found.duplicates += 1
            continue
        seen.add(digits)
        fields = {
            name: row[i].strip() for i, name in enumerate(columns) if i != index and i < len(row)
        }
        found.recipients.append(Recipient(mobile="+" + digits, fields=fields))
    return found


def price_per_part(ctx: Context, country: str) -> int | None:
    """Credits of one SMS part to `country` (the send page's live estimate), None if unpriced."""
    try:
        return ctx.prices.credits_per_part(country)
    except UnknownCountry:
        return None


@dataclass(frozen=True)
class Draft:
    """A send page's order, kept between its preview and its confirmation."""

    message: str
    sender: str = ""
    date: str = ""  # "YYYY-MM-DD HH:MM:SS" in the account's time zone; "" for now
    name: str = ""
    list_name: str = ""
    recipients: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def order(self) -> SmsOrder:
        return SmsOrder(
            message=self.message,
            recipients=[Recipient(mobile=m, fields=f) for m, f in self.recipients],
            tpoa=self.sender or None,
            date=self.date or None,
            campaign_name=self.name,
            list_name=self.list_name or None,
        )


@dataclass(frozen=True)
class Preview:
    token: str
    outcome: SendOutcome
    first: list[PlannedMessage]


async def prepare(ctx: Context, account: Account, draft: Draft) -> Preview:
    """Keep the draft and simulate it (simulateCampaign's rules); raises SendRefused."""
    outcome, first = await sending.preview(ctx, account, draft.order(), PREVIEW_MESSAGES)
    token = secrets.token_urlsafe(24)
    payload = orjson.dumps(draft)
    now = ctx.clock()
    await ctx.store.write(
        lambda conn: send_drafts.save(conn, account.id, token, payload, now, now - DRAFT_LIFETIME)
    )
    return Preview(token, outcome, first)


async def confirm(ctx: Context, account: Account, token: str) -> SendOutcome | None:
    """Send the account's draft `token` (None when there is no such draft, or it expired);
    raises SendRefused. Idempotent: the token is the send's idempotency key."""
    since = ctx.clock() - DRAFT_LIFETIME
    payload = await ctx.store.read(lambda conn: send_drafts.load(conn, account.id, token, since))
    if payload is None:
        return None
    values = orjson.loads(payload)
    values["recipients"] = [(mobile, fields) for mobile, fields in values["recipients"]]
    draft = Draft(**values)
    return await sending.send(
        ctx, account, draft.order(), idempotency_key="web-send:" + token, method="webSend"
    )


async def read_form(
    data: IO[bytes] | None, filename: str, typed: str, phone_column: str
) -> Imported:
    """The recipients of a send form: its file if one was sent, else the typed numbers. Read
    in a worker thread: 100,000 rows take a moment. Raises UnreadableImport."""

    def read() -> Imported:
        if data is not None and filename:
            rows = table_rows(data, filename)
            return import_recipients(rows, header=True, phone_column=phone_column)
        return import_recipients(typed_rows(typed), header=False)

    return await asyncio.to_thread(read)
