"""Header injection through RFC 2047 encoded words (CVE-2024-6923), seen from an SMTP capture.

This machine's Python (3.11.7) has the vulnerable `email` package: these tests prove that our own
checks, not the Python version, keep the message to exactly the headers we set.
"""

from __future__ import annotations

import asyncio
import base64

import pytest
from starlette.testclient import TestClient

from hirondelle.notify.mailer import OutgoingEmail, SmtpMailer
from hirondelle.services.context import Context
from tests.helpers import Creds, json_answer
from tests.integration.test_email_smtp import (  # noqa: F401 (fixtures)
    HTML,
    Relay,
    creds,
    relay,
    run_once,
    send,
    settings,
)

CRLF = "=?utf-8?q?Hi=0D=0ABcc:_evil@x.example=0D=0A=0D=0AInjected_body?="
EXPECTED_HEADERS = {
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "X-Hirondelle-Campaign",
    "MIME-Version",
    "Content-Type",
}


def post(client: TestClient, creds: Creds, **fields: str) -> dict[str, object]:
    import orjson

    data = {
        "FROM": "news@shop.example",
        "SUBJECT": "Sale",
        "HTML": base64.b64encode(HTML.encode()).decode(),
        "TO": "a@x.example",
        **fields,
    }
    feed = orjson.dumps({"DATA": data}).decode()
    answer: dict[str, object] = json_answer(
        client.post("/http/9.0/sendEmail", data=creds.params(emailData=feed))
    )
    return answer


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("SUBJECT", CRLF, 107),
        ("ALIAS", CRLF, 106),
        ("FROM", f"{CRLF} <news@shop.example>", 106),
        ("FROM", "=?utf-8?q?x=0D=0ABcc=3A_e?=@shop.example", 106),
        ("REPLY_TO", "=?utf-8?q?x=0D=0AX-Evil=3A_1?=@shop.example", 106),
        ("SUBJECT", "=?utf-8?b?" + base64.b64encode(b"a\r\nBcc: e@x.example").decode() + "?=", 107),
    ],
)
def test_encoded_line_breaks_are_refused_with_the_methods_status(
    client: TestClient, ctx: Context, relay: Relay, creds: Creds, field: str, value: str, status: int
) -> None:
    answer = post(client, creds, **{field: value})
    assert answer["status"] == status, answer
    assert "campaignId" not in answer
    assert run_once(ctx) == 0
    assert relay.messages == []


def test_the_relay_gets_exactly_the_headers_we_set(
    client: TestClient, ctx: Context, relay: Relay, creds: Creds
) -> None:
    send(
        client,
        creds,
        "a@x.example",
        SUBJECT="=?utf-8?q?Soldes_d=27=C3=A9t=C3=A9?=",
        ALIAS="=?utf-8?b?TGEgQm91dGlxdWU=?=",
    )
    assert run_once(ctx) == 1
    ((_, _, message),) = relay.messages
    assert set(message.keys()) == EXPECTED_HEADERS
    assert len(message.keys()) == len(EXPECTED_HEADERS)
    assert message["Subject"] == "Soldes d'été"
    assert message["From"] == "La Boutique <news@shop.example>"


def test_the_mailer_refuses_a_header_that_got_past_the_api(ctx: Context, relay: Relay) -> None:
    """An email already stored with an encoded CR LF (or written by other code) never goes out."""
    email = OutgoingEmail(
        id=1,
        sender="news@shop.example",
        alias=CRLF,
        recipient="a@x.example",
        reply_to="",
        subject=CRLF,
        html="",
        text="hello\n",
        campaign="c-1",
    )
    good = OutgoingEmail(**{**email.__dict__, "id": 2, "alias": "Shop", "subject": "Fine"})
    outcomes = asyncio.run(SmtpMailer(ctx.settings).deliver([email, good]))
    assert outcomes[1].state == "rejected"
    assert "header" in outcomes[1].detail
    assert outcomes[2].state == "sent"  # the rest of the batch is not held up
    ((_, _, message),) = relay.messages
    assert message["Subject"] == "Fine"
    assert "Bcc" not in message
