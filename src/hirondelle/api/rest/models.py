"""The JSON bodies of the REST API: what FastAPI validates and what the OpenAPI document shows.

Requests are strict (a number where a string is expected is refused, not converted), so the
document says exactly what is accepted. Unknown request fields are ignored; `null` counts as absent.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hirondelle.domain.controls import has_control_chars


def _no_controls(value: str) -> str:
    if has_control_chars(value):
        raise ValueError("control characters (NUL, ESC, ...) are not allowed")
    return value


#: A request string: any text but control characters (TAB, CR and LF are text).
Text = Annotated[str, AfterValidator(_no_controls)]

#: `simulate`, `alerting`, `verbose`: a JSON boolean, or 0 / 1 as the Symfony options send them.
Flag = bool | Literal[0, 1] | None


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, populate_by_name=True)


class _SendFields(_Request):
    sender: Text | None = Field(
        None,
        alias="from",
        description="Sender (TPOA): 3–11 characters, a letter first, then letters, digits or "
        "spaces. Absent or null: the platform's default sender. Anything else: 400, code 110.",
        examples=["MyShop"],
    )
    text: Text = Field(
        description="The message; `#param_N#` is replaced by each contact's PARAM_N (bulk).",
        examples=["Your parcel is on its way. STOP au 36180"],
    )
    date: Text | None = Field(
        None,
        description="Send later: `YYYY-MM-DD HH:MM:SS` in the account's time zone (code 115 "
        "when malformed; a past date means now).",
        examples=["2030-01-31 09:30:00"],
    )
    campaignName: Text | None = Field(None, description="A name for the campaign.")
    commercial: Flag = Field(
        None,
        description="A commercial message: to French numbers it leaves only inside the "
        "account's sending window (Mon–Sat 08:00–20:00 Paris by default, not on public "
        "holidays); outside it, it waits (`scheduledDate` says until when).",
    )
    simulate: Flag = Field(
        None, description="Price and check the request without sending anything."
    )
    uniqueIdentifier: Text | None = Field(
        None,
        description="Idempotency key: the same key within 24 hours returns the first answer and "
        "sends nothing more (the `Idempotency-Key` header does the same).",
    )
    alerting: Flag = Field(None, description="Accepted for compatibility; no effect.")
    verbose: Flag = Field(None, description="Accepted for compatibility; no effect.")


class SendRequest(_SendFields):
    to: Text = Field(description="The recipient's mobile number.", examples=["+33611111111"])
    cliMsgId: Text | None = Field(
        None, description="Your own id for this message, echoed in delivery reports."
    )


class Contact(_Request):
    """A bulk recipient; any other key (`PARAM_1`, `PARAM_2`, …) is a merge value."""

    model_config = ConfigDict(strict=True, extra="allow")
    __pydantic_extra__: dict[str, Text] = Field(init=False)

    mobilePhone: Text = Field(examples=["+33611111111"])
    cliMsgId: Text | None = None


class BulkRequest(_SendFields):
    to: list[Text | Contact] = Field(
        description="Recipients: mobile numbers, or objects `{mobilePhone, PARAM_1, …}`.",
        examples=[["+33611111111", {"mobilePhone": "0622222222", "PARAM_1": "Ann"}]],
    )


class ErrorAnswer(BaseModel):
    code: int = Field(description="The send status (110, 114, …) or else the HTTP status.")
    description: str


class _Answer(BaseModel):
    code: int
    description: str


#: When the sending window of a commercial campaign deferred messages (absent otherwise).
SCHEDULED_DATE = Field(
    None,
    description="`YYYY-MM-DD HH:MM:SS` (account's time zone) at which the messages to French "
    "numbers that the sending window deferred leave; absent when it deferred none.",
    exclude_if=lambda value: value is None,
)


class SendAnswer(_Answer):
    """code 100 (sent) or 101 (scheduled)."""

    smsId: str
    campaignId: str
    invalidNumbers: list[str]
    nbContacts: int
    nbSms: int
    balance: int = Field(description="Credits left after this send.")
    cost: int = Field(description="Credits this send used.")
    scheduledDate: str | None = SCHEDULED_DATE


class SmsId(BaseModel):
    smsId: str
    phoneNumber: str


class BulkAnswer(_Answer):
    campaignId: str
    cost: int
    nbSms: int
    nbContacts: int
    balance: int
    invalidNumbers: list[str]
    smsIds: list[SmsId]
    simulate: bool
    scheduledDate: str | None = SCHEDULED_DATE


class AccountAnswer(_Answer):
    balance: int = Field(description="Credits.")
    nbSms: int = Field(description="How many one-part SMS to France the balance pays for.")
    email: str
    company: str


class AllowedIpsRequest(_Request):
    allowedIps: list[Text] = Field(
        max_length=1000,
        description="The whole new list: addresses and CIDR ranges, IPv4 or IPv6. `[]` lets "
        "the account be used from anywhere. It must allow the address the request comes from.",
        examples=[["203.0.113.7", "198.51.100.0/24", "2001:db8::/32"]],
    )


class AllowedIpsAnswer(_Answer):
    allowedIps: list[str] = Field(
        description="Where the account's API calls and SMPP binds may come from (canonical "
        "form, IPv4 first); empty: from anywhere."
    )


class DeleteAnswer(_Answer):
    status: str = Field(description="The deleteCampaign status of API 9.0 (annex 7).")


class Report(BaseModel):
    phoneNumber: str
    smsId: str
    cliMsgId: str | None = None
    code: int = Field(description="0 pending, 1 delivered, 2 not delivered, 3 transmitted, …")
    description: str
    receptionDate: str = Field(description="`YYYY-MM-DD HH:MM:SS`, empty while pending.")


class ReportsAnswer(_Answer):
    reports: list[Report]


class Reply(BaseModel):
    id: str
    phoneNumber: str
    smsId: str
    campaignId: str
    message: str
    receptionDate: str


class RepliesAnswer(_Answer):
    replies: list[Reply]
