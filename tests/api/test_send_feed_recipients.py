"""Where an smsData feed's recipients are: `<SMS>` blocks, and the `<Text>` blocks of the manual's
appendix 1 (the same thing). A part of the feed the send does not understand is never dropped
with a number in it: such a feed is refused with 109 and nothing is written."""

from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from tests.api.sending_helpers import TEXTS, message_rows, send_sms, snapshot
from tests.helpers import make_account

A, B, C = "0612000001", "0612000002", "0612000003"


def digits(national: str) -> str:
    return "33" + national[1:]


def sent_to(ctx: Context, answer: dict[str, object]) -> list[tuple[str, str, str | None]]:
    """(phone, text, CLIMSGID) of each message of the campaign."""
    rows = message_rows(ctx, str(answer["campaignId"]))
    return [(r["phone"], r["text"], r["cli_msg_id"]) for r in rows]


@pytest.mark.parametrize(
    "feed",
    [
        "<DATA><MESSAGE>Hi #param_1#</MESSAGE><DYNAMIC>1</DYNAMIC>"
        f"<Text><MOBILEPHONE>{A}</MOBILEPHONE><PARAM_1>Ann</PARAM_1>"
        "<CLIMSGID>a-1</CLIMSGID></Text>"
        f"<TEXT><MOBILEPHONE>{B}</MOBILEPHONE><PARAM_1>Bob</PARAM_1></TEXT></DATA>",
        orjson.dumps(
            {
                "DATA": {
                    "MESSAGE": "Hi #param_1#",
                    "Text": [
                        {"MOBILEPHONE": A, "PARAM_1": "Ann", "CLIMSGID": "a-1"},
                        {"MOBILEPHONE": B, "PARAM_1": "Bob"},
                    ],
                }
            }
        ).decode(),
    ],
    ids=["xml", "json"],
)
def test_text_blocks_are_recipients(client: TestClient, ctx: Context, feed: str) -> None:
    answer = send_sms(client, make_account(ctx), feed, returnformat="json")
    assert (answer["status"], answer["nbContacts"]) == (100, 2), answer
    assert sent_to(ctx, answer) == [
        (digits(A), "Hi Ann", "a-1"),
        (digits(B), "Hi Bob", None),
    ]


def test_sms_and_text_blocks_together(client: TestClient, ctx: Context) -> None:
    feed = (
        f"<DATA><MESSAGE>Hi</MESSAGE><SMS><MOBILEPHONE>{A}</MOBILEPHONE></SMS>"
        f"<Text><MOBILEPHONE>{B}</MOBILEPHONE></Text></DATA>"
    )
    answer = send_sms(client, make_account(ctx), feed, returnformat="json")
    assert sorted(phone for phone, _text, _id in sent_to(ctx, answer)) == [digits(A), digits(B)]


def test_several_mobilephones_in_one_block_are_each_a_recipient(
    client: TestClient, ctx: Context
) -> None:
    """The manual's "Duplicate tag for each phone number": each MOBILEPHONE is read, with the
    block's parameters, rather than garbled into one invalid number."""
    feed = (
        "<DATA><MESSAGE>Hi #param_1#</MESSAGE><SMS><MOBILEPHONE>"
        f"{A}</MOBILEPHONE><MOBILEPHONE>{B}</MOBILEPHONE><PARAM_1>you</PARAM_1></SMS></DATA>"
    )
    answer = send_sms(client, make_account(ctx), feed, returnformat="json")
    assert (answer["status"], answer["invalidNumbers"]) == (100, "")
    assert sent_to(ctx, answer) == [(digits(A), "Hi you", None), (digits(B), "Hi you", None)]


@pytest.mark.parametrize(
    "feed",
    [
        # an unknown container beside the SMS blocks
        f"<DATA><MESSAGE>Hi</MESSAGE><SMS><MOBILEPHONE>{A}</MOBILEPHONE></SMS>"
        f"<RECIPIENT><MOBILEPHONE>{B}</MOBILEPHONE></RECIPIENT></DATA>",
        # a bare MOBILEPHONE at the top, beside the SMS blocks
        f"<DATA><MESSAGE>Hi</MESSAGE><MOBILEPHONE>{B}</MOBILEPHONE>"
        f"<SMS><MOBILEPHONE>{A}</MOBILEPHONE></SMS></DATA>",
        # a number nested deeper inside an SMS block
        f"<DATA><MESSAGE>Hi</MESSAGE><SMS><MOBILEPHONE>{A}</MOBILEPHONE></SMS>"
        f"<SMS><CONTACT><MOBILEPHONE>{B}</MOBILEPHONE></CONTACT></SMS></DATA>",
        # a MOBILEPHONE that is not a value
        f"<DATA><MESSAGE>Hi</MESSAGE><SMS><MOBILEPHONE>{A}</MOBILEPHONE></SMS>"
        f"<SMS><MOBILEPHONE><NUMBER>{B}</NUMBER></MOBILEPHONE></SMS></DATA>",
        # the same in JSON: an unknown key holding recipients
        orjson.dumps(
            {
                "DATA": {
                    "MESSAGE": "Hi",
                    "SMS": [{"MOBILEPHONE": A}],
                    "CONTACTS": [{"MOBILEPHONE": B}, {"MOBILEPHONE": C}],
                }
            }
        ).decode(),
        # a list nested in the recipients' list
        orjson.dumps({"DATA": {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": A}, [B, C]]}}).decode(),
    ],
    ids=["container", "top-level", "nested", "not-a-value", "json-container", "json-nested"],
)
def test_a_number_in_a_part_not_understood_refuses_the_feed(
    client: TestClient, ctx: Context, feed: str
) -> None:
    creds = make_account(ctx)
    before = snapshot(ctx, creds.login)
    answer = send_sms(client, creds, feed, returnformat="json")
    assert answer == {"status": 109, "statusText": TEXTS[109]}
    assert snapshot(ctx, creds.login) == before


def test_unknown_tags_without_a_number_are_ignored(client: TestClient, ctx: Context) -> None:
    """The console sample's LOWCOST, or any tag of another client, does not stop the send."""
    feed = (
        "<DATA><MESSAGE>Hi</MESSAGE><LOWCOST>0</LOWCOST><OPTIONS><X>1</X></OPTIONS>"
        f"<SMS><MOBILEPHONE>{A}</MOBILEPHONE><NOTE>vip</NOTE></SMS></DATA>"
    )
    answer = send_sms(client, make_account(ctx), feed, returnformat="json")
    assert (answer["status"], answer["nbContacts"]) == (100, 1)
