"""sendEmail rules: addresses, recipients, HTML content, header safety and annex 21's order."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from hirondelle.domain.email import (
    EmailDraft,
    EmailRejected,
    EmailStatus,
    check_draft,
    decode_html,
    email_status_text,
    html_to_text,
    normalize_address,
    split_recipients,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HTML = base64.b64encode(b"<p>Hello <b>you</b></p>").decode()


def draft(**changes: str | None) -> EmailDraft:
    fields: dict[str, str | None] = {
        "sender": "news@shop.example",
        "to": "a@x.example;b@y.example",
        "subject": "Spring sale",
        "html": HTML,
    }
    fields.update(changes)
    return EmailDraft(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("jean.dupont@example.fr", "jean.dupont@example.fr"),
        ("  Jean+promo@Example.FR ", "Jean+promo@example.fr"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
        ("jean@société.fr", "jean@xn--socit-esab.fr"),
        ("x@sub-domain.example.", "x@sub-domain.example"),
    ],
)
def test_valid_addresses(value: str, normal: str) -> None:
    assert normalize_address(value) == normal


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "@example.fr",
        "jean@",
        "jean@localhost",
        "jean@example.123",
        "jean..dupont@example.fr",
        ".jean@example.fr",
        "jean dupont@example.fr",
        "Jean <jean@example.fr>",
        "jean@exa_mple.fr",
        "jean@-example.fr",
        "jean@example.fr\r\nBcc: victim@example.org",
        "jean@example.fr\nX: y",
        "jéan@example.fr",
        "a" * 65 + "@example.fr",
        "a@" + "b" * 250 + ".fr",
    ],
)
def test_invalid_addresses(value: str) -> None:
    assert normalize_address(value) is None


def test_recipients_split_on_semicolons_and_commas_once_each() -> None:
    valid, invalid = split_recipients(
        " a@x.example;b@y.example , \n c@z.example;; A@X.example, nope,"
        " d@w.example\nBcc: e@v.example"
    )
    assert valid == ["a@x.example", "b@y.example", "c@z.example"]
    assert invalid == ["nope", "d@w.example Bcc: e@v.example"]


def test_decode_html() -> None:
    html = "<p>Élan été</p>"
    encoded = base64.b64encode(html.encode()).decode()
    assert decode_html(encoded) == html
    wrapped = "\n".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))
    assert decode_html(wrapped) == html
    assert decode_html(encoded.rstrip("=")) == html
    assert decode_html(base64.b64encode("<p>café</p>".encode("cp1252")).decode()) == "<p>café</p>"
    urlsafe = base64.urlsafe_b64encode(b"<a href='?a=>>>'>x</a>").decode()
    assert decode_html(urlsafe) == "<a href='?a=>>>'>x</a>"
    with pytest.raises(ValueError, match="not valid base64"):
        decode_html("<p>not base64</p>")


def test_html_to_text() -> None:
    html = (
        "<html><head><title>T</title><style>p {color: red}</style></head><body>"
        "<h1>Hello</h1><p>See <a href='https://shop.example/x'>the shop</a> &amp; more</p>"
        "<script>alert(1)</script><p>Bye</p></body></html>"
    )
    assert html_to_text(html) == "Hello\n\nSee the shop (https://shop.example/x) & more\n\nBye\n"


def test_a_good_draft() -> None:
    checked = check_draft(
        draft(
            alias="Shop",
            reply_to="help@shop.example",
            text="Hello you",
            campaign_name="spring",
            to="a@x.example;bad;b@y.example",
        ),
        "Europe/Paris",
        NOW,
    )
    assert checked.sender == "news@shop.example"
    assert checked.alias == "Shop"
    assert checked.reply_to == "help@shop.example"
    assert checked.html == "<p>Hello <b>you</b></p>"
    assert checked.text == "Hello you\n"
    assert checked.recipients == ["a@x.example", "b@y.example"]
    assert checked.invalid == ["bad"]
    assert checked.due_at is None
    assert checked.campaign_name == "spring"


def test_text_is_derived_from_html_and_html_is_optional_with_text() -> None:
    assert check_draft(draft(), "Europe/Paris", NOW).text == "Hello you\n"
    text_only = check_draft(draft(html=None, text="Just text"), "Europe/Paris", NOW)
    assert (text_only.html, text_only.text) == ("", "Just text\n")


def test_scheduled_and_past_dates() -> None:
    later = check_draft(draft(date="2026-03-05 09:30:00"), "Europe/Paris", NOW)
    assert later.due_at == datetime(2026, 3, 5, 8, 30, tzinfo=UTC)
    past = check_draft(draft(date="2020-01-01 00:00:00"), "Europe/Paris", NOW)
    assert past.due_at == NOW


@pytest.mark.parametrize(
    ("changes", "status", "detail"),
    [
        ({"sender": None}, EmailStatus.BAD_SENDER, ""),
        ({"sender": "  "}, EmailStatus.BAD_SENDER, ""),
        ({"sender": "not-an-address"}, EmailStatus.BAD_SENDER, "is not an email address"),
        ({"sender": "a@b.example\r\nBcc: x@y.example"}, EmailStatus.BAD_SENDER, "FROM must"),
        ({"alias": "Shop\nBcc: x@y.example"}, EmailStatus.BAD_SENDER, "ALIAS must"),
        ({"reply_to": "nope"}, EmailStatus.BAD_SENDER, "REPLY_TO 'nope'"),
        ({"reply_to": "r@y.example\nBcc: z@y.example"}, EmailStatus.BAD_SENDER, "REPLY_TO must"),
        ({"subject": None}, EmailStatus.EMPTY_SUBJECT, ""),
        ({"subject": " "}, EmailStatus.EMPTY_SUBJECT, ""),
        ({"subject": "Hi\r\nBcc: x@y.example"}, EmailStatus.EMPTY_SUBJECT, "SUBJECT must"),
        ({"subject": "x" * 999}, EmailStatus.EMPTY_SUBJECT, "too long"),
        ({"to": None}, EmailStatus.NO_RECIPIENT, ""),
        ({"to": " ; , "}, EmailStatus.NO_VALID_EMAIL, ""),
        ({"html": None}, EmailStatus.INVALID_FEED, "HTML is missing"),
        ({"html": "%%%"}, EmailStatus.INVALID_FEED, "not valid base64"),
        ({"html": base64.b64encode(b"   ").decode()}, EmailStatus.INVALID_FEED, "HTML is empty"),
        ({"to": "nobody, nowhere"}, EmailStatus.NO_VALID_EMAIL, ""),
        ({"date": "tomorrow"}, EmailStatus.BAD_DATE, ""),
        ({"date": "2026-02-30 10:00:00"}, EmailStatus.BAD_DATE, ""),
        ({"campaign_name": "a\nb"}, EmailStatus.INVALID_FEED, "CAMPAIGN_NAME must"),
    ],
)
def test_refusals(changes: dict[str, str | None], status: EmailStatus, detail: str) -> None:
    with pytest.raises(EmailRejected) as caught:
        check_draft(draft(**changes), "Europe/Paris", NOW)
    assert caught.value.status == status
    assert caught.value.text.startswith(email_status_text(status))
    assert detail in caught.value.text


def test_the_first_broken_rule_wins() -> None:
    everything_wrong = draft(sender="x", subject="", to="", html="%", date="never")
    with pytest.raises(EmailRejected) as caught:
        check_draft(everything_wrong, "Europe/Paris", NOW)
    assert caught.value.status == EmailStatus.BAD_SENDER


def test_status_texts() -> None:
    assert set(EmailStatus) == {
        EmailStatus(n) for n in (100, 101, 102, 104, 105, 106, 107, 109, 110, 114, 115)
    }
    assert email_status_text(EmailStatus.SCHEDULED, date="2026-01-01 10:00:00").endswith(
        "at 2026-01-01 10:00:00"
    )
    assert "Use: 3 Credits, Available: 1" in email_status_text(
        EmailStatus.INSUFFICIENT_CREDITS, used=3, available=1
    )
