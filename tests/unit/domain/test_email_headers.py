"""RFC 2047 encoded words in sendEmail's header fields (CVE-2024-6923).

Python's `email` package before 3.11.10 / 3.12.5 decodes `=?utf-8?q?...=0D=0A...?=` in a header
value and writes the CR LF out as is, which injects headers and a body. Our check decodes encoded
words itself and refuses control characters in the result, whatever the Python version.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from hirondelle.domain.email import (
    EmailDraft,
    EmailRejected,
    EmailStatus,
    check_draft,
    decode_encoded_words,
    header_value,
    normalize_address,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HTML = base64.b64encode(b"<p>Hello</p>").decode()
CRLF_Q = "=?utf-8?q?Hi=0D=0ABcc:_evil@x.example?="
CRLF_B = "=?utf-8?b?" + base64.b64encode(b"Hi\r\nBcc: evil@x.example").decode() + "?="


def draft(**changes: str | None) -> EmailDraft:
    fields: dict[str, str | None] = {
        "sender": "news@shop.example",
        "to": "a@x.example",
        "subject": "Spring sale",
        "html": HTML,
    }
    fields.update(changes)
    return EmailDraft(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("Plain subject", "Plain subject"),
        ("=?utf-8?q?Soldes_d=27=C3=A9t=C3=A9?=", "Soldes d'été"),
        ("=?UTF-8?B?U29sZGVzIGTigJnDqXTDqQ==?=", "Soldes d’été"),
        ("Re: =?iso-8859-1?q?caf=E9?= =?iso-8859-1?q?_cr=E8me?=", "Re: café crème"),
        ("=?utf-8*fr?q?=C3=A9t=C3=A9?=", "été"),  # RFC 2231 language tag
    ],
)
def test_encoded_words_are_decoded(raw: str, decoded: str) -> None:
    assert decode_encoded_words(raw) == decoded
    assert header_value(raw) == decoded


@pytest.mark.parametrize(
    "raw",
    [
        CRLF_Q,
        CRLF_B,
        "x =?utf-8?q?=0A?= y",
        "=?us-ascii?q?a=0Db?=",
        "=?utf-8?q?tab=00nul?=",
        "=?utf-8?q?del=7F?=",
        "=?utf-8?q?=C2=85next_line?=",  # U+0085
        "=?utf-8?q?=E2=80=A8line_separator?=",  # U+2028
        "=?utf-16?b?" + base64.b64encode("a\r\nb".encode("utf-16")).decode() + "?=",
        "=?x-no-such-charset?q?=0D=0A?=",  # an unknown charset is refused, not guessed
        "=?utf-8?b?not*base64?=",
        "=?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0D=3D0A=3F=3D?=",  # decodes to another encoded word
        "Hi\r\nBcc: evil@x.example",
        "Hi\nthere",
    ],
)
def test_control_characters_after_decoding_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        header_value(raw)


@pytest.mark.parametrize(
    ("field", "status"),
    [
        ("subject", EmailStatus.EMPTY_SUBJECT),
        ("alias", EmailStatus.BAD_SENDER),
    ],
)
@pytest.mark.parametrize("value", [CRLF_Q, CRLF_B, "Sale " + CRLF_Q])
def test_injection_in_subject_and_alias_is_refused(
    field: str, status: EmailStatus, value: str
) -> None:
    with pytest.raises(EmailRejected) as refused:
        check_draft(draft(**{field: value}), "Europe/Paris", NOW)
    assert refused.value.status == status
    assert "line" in refused.value.text or "control" in refused.value.text


@pytest.mark.parametrize(
    ("field", "status"),
    [("sender", EmailStatus.BAD_SENDER), ("reply_to", EmailStatus.BAD_SENDER)],
)
@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?x=0D=0ABcc=3A_e?=@shop.example",
        "=?utf-8?q?x?=@shop.example",
        f"{CRLF_Q} <news@shop.example>",
    ],
)
def test_encoded_words_in_from_and_reply_to_are_refused(
    field: str, status: EmailStatus, value: str
) -> None:
    with pytest.raises(EmailRejected) as refused:
        check_draft(draft(**{field: value}), "Europe/Paris", NOW)
    assert refused.value.status == status


def test_an_encoded_word_in_a_recipient_makes_it_invalid() -> None:
    assert normalize_address("=?utf-8?q?a=0D=0A?=@x.example") is None
    checked = check_draft(
        draft(to="a@x.example;=?utf-8?q?b=0D=0ABcc=3A_c?=@x.example"), "Europe/Paris", NOW
    )
    assert checked.recipients == ["a@x.example"]
    assert len(checked.invalid) == 1


def test_subject_and_alias_are_kept_decoded() -> None:
    checked = check_draft(
        draft(subject="=?utf-8?q?Soldes_d=27=C3=A9t=C3=A9?=", alias="=?utf-8?q?La_Boutique?="),
        "Europe/Paris",
        NOW,
    )
    assert (checked.subject, checked.alias) == ("Soldes d'été", "La Boutique")
