"""sendSms where the manual is unclear or silent: the readings docs/api-v9.md documents, each
pinned here end to end (the domain rules have their own unit tests).

- French numbers 070–072 are not allocated: refused, as every non-mobile French number.
- A foreign number is not checked against the operators' lengths (manual §6.3), but one of a
  length impossible for its country is refused.
- `\\n` in a feed is a line break, one character (one septet) once encoded.
- MESSAGE from a feed is trimmed of surrounding whitespace before its `\\n` become line breaks;
  the simplified send's `message` is taken as given.
- The French "STOP au" mention names the platform's opt-out short code (`stop_short_code`).
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from tests.api.sending_helpers import call, json_feed, message_rows, send_sms, xml_feed
from tests.helpers import make_account

ONE = ["0612000000"]


def test_unallocated_french_and_impossible_foreign_numbers_are_refused(
    client: TestClient, ctx: Context
) -> None:
    unallocated = ["0700000000", "0712345678", "0729999999", "+33 7 20 00 00 00"]
    impossible = ["+32 470 12 34 567", "+1 202 555 012", "+44 7911 1234567"]
    allowed = ["0730000000", "+32 4701 2345"]  # 073 is allocated; 8 digits is a Belgian length
    answer = send_sms(
        client, make_account(ctx), json_feed("Hi", unallocated + impossible + allowed)
    )
    assert answer["invalidNumbers"] == "|".join(unallocated + impossible)
    assert [sms["phoneNumber"] for sms in answer["smsIds"]] == ["33730000000", "3247012345"]


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("a" * 159 + "\\n", 1),
        ("a" * 160 + "\\n", 2),
        ("a" * 78 + "\\n" + "b" * 80 + "\\n", 1),
        ("ê" * 69 + "\\n", 1),  # UCS-2: one unit too
        ("ê" * 70 + "\\n", 2),
    ],
)
def test_backslash_n_counts_one_character(
    client: TestClient, ctx: Context, message: str, parts: int
) -> None:
    answer = send_sms(client, make_account(ctx), json_feed(message, ONE))
    assert (answer["status"], answer["nbSms"]) == (100, parts)


@pytest.mark.parametrize("feed", [json_feed, xml_feed])
@pytest.mark.parametrize(
    ("message", "text"),
    [
        ("  Hello  ", "Hello"),
        ("\n\tHello\r\n", "Hello"),
        ("\u00a0Hello\u3000", "Hello"),  # Unicode spaces too
        ("Hello\\n", "Hello\n"),  # a `\\n` is not whitespace until decoded: it stays
        ("\\nHello \\n  ", "\nHello \n"),
    ],
)
def test_a_feed_message_is_trimmed_before_its_line_breaks_are_decoded(
    client: TestClient, ctx: Context, feed: object, message: str, text: str
) -> None:
    assert callable(feed)
    answer = send_sms(client, make_account(ctx), feed(message, ONE), returnformat="json")
    assert message_rows(ctx, answer["campaignId"])[0]["text"] == text


def test_a_blank_feed_message_is_110(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    for message in ("   ", " \\n ", "\n\t"):
        assert send_sms(client, creds, json_feed(message, ONE))["status"] == 110, message


def test_the_simplified_send_takes_message_as_given(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    answer = call(client, "", creds, message="  Hello \\n ", mobile=ONE[0])
    assert message_rows(ctx, answer["campaignId"])[0]["text"] == "  Hello \n "


def test_the_stop_mention_must_name_the_configured_short_code(
    client: TestClient, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.settings, "stop_short_code", "38100")
    creds = make_account(ctx, credits=10_000)
    senders = []
    for message in ("Promo STOP au 38100", "Promo STOP au 36180"):
        answer = send_sms(client, creds, json_feed(message, ONE, TPOA="Society"))
        senders += [row["sender"] for row in message_rows(ctx, answer["campaignId"])]
    assert senders == ["Society", "36180"]
