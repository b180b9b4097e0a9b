import pytest

from hirondelle.domain.sender import (
    DEFAULT_SENDER,
    answered_at,
    has_stop_mention,
    parse_reply_number,
    reply_address,
    sender_for,
    valid_tpoa,
)

WITH_STOP = "Soldes -20% ce week-end ! STOP au 36180"


@pytest.mark.parametrize(
    ("tpoa", "expected"),
    [
        ("ABC", True),
        ("Shop", True),
        ("MyShop 2024", True),  # 11 characters
        ("a1 ", True),
        ("Z9Z9Z9Z9Z9Z", True),
        ("AB", False),  # too short
        ("MyShop 20245", False),  # 12 characters
        ("", False),
        ("1Shop", False),  # must begin with a letter
        ("36180", False),
        ("+33611111111", False),
        (" Shop", False),
        ("Café", False),  # no accents
        ("My-Shop", False),
        ("My_Shop", False),
        ("Shop!", False),
        ("Shop\n", False),
        ("ＡＢＣ", False),  # fullwidth letters are not ASCII
    ],
)
def test_valid_tpoa(tpoa: str, expected: bool) -> None:
    assert valid_tpoa(tpoa) is expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (WITH_STOP, True),
        ("Promo\nSTOP au 36180", True),
        ("Promo\r\nSTOP au 36180", True),
        ("Promo stop AU 36180", True),
        ("Promo Stop Au 36180  \n", True),
        ("Promo STOP  au  36180", True),
        # only the platform's opt-out short code, not any digits
        ("Promo STOP au 38100", False),
        ("Promo STOP au 12", False),
        ("Promo STOP au 361800", False),
        ("Promo STOP au 3618", False),
        ("Promo STOP au 0612345678", False),
        ("Promo STOP au 36180.", False),
        ("STOP au 36180", False),  # nothing before it
        ("Promo-STOP au 36180", False),
        ("Promo STOP au 36180 merci", False),  # not at the end
        ("Promo STOP au", False),
        ("Promo STOP 36180", False),
        ("Promo STOPau 36180", False),
        ("Promo STOP au SHOP", False),
        ("Promo", False),
    ],
)
def test_stop_mention(message: str, expected: bool) -> None:
    assert has_stop_mention(message) is expected


def test_the_stop_mention_names_the_configured_short_code() -> None:
    assert has_stop_mention("Promo STOP au 38100", "38100")
    assert not has_stop_mention("Promo STOP au 36180", "38100")
    assert sender_for("Shop", "Promo STOP au 38100", "FR", stop_short_code="38100") == "Shop"
    assert sender_for("Shop", "Promo STOP au 36180", "FR", stop_short_code="38100") == "36180"
    assert sender_for("Shop", "Promo STOP au 38100", "FR") == DEFAULT_SENDER
    # another country has no such rule, whatever the mention says
    assert sender_for("Shop", "Promo STOP au 38100", "DE") == "Shop"


def test_absent_or_invalid_tpoa_gives_the_default() -> None:
    assert sender_for(None, WITH_STOP, "FR") == DEFAULT_SENDER == "36180"
    assert sender_for("", WITH_STOP, "FR") == DEFAULT_SENDER
    assert sender_for("1Shop", WITH_STOP, "DE") == DEFAULT_SENDER
    assert sender_for("Shop", WITH_STOP, "FR", default="38100") == "Shop"
    assert sender_for(None, WITH_STOP, "FR", default="38100") == "38100"


def test_a_numeric_sender_is_not_a_custom_sender() -> None:
    assert sender_for("36180", WITH_STOP, "DE") == DEFAULT_SENDER
    assert sender_for("33611111111", "Hi", "DE", default="38100") == "38100"


def test_france_needs_the_stop_mention() -> None:
    assert sender_for("Shop", WITH_STOP, "FR") == "Shop"
    assert sender_for("Shop", "Soldes -20% ce week-end !", "FR") == DEFAULT_SENDER
    assert sender_for("Shop", "Soldes\nSTOP au 36180\n", "fr") == "Shop"


@pytest.mark.parametrize("country", ["RE", "GP", "MQ", "GF", "YT", "BL", "MF"])
def test_the_french_plan_overseas_needs_the_stop_mention(country: str) -> None:
    assert sender_for("Shop", "Soldes !", country) == DEFAULT_SENDER
    assert sender_for("Shop", WITH_STOP, country) == "Shop"


@pytest.mark.parametrize("country", ["DE", "BE", "GB", "US", "PM"])
def test_other_countries_take_a_valid_tpoa_as_given(country: str) -> None:
    assert sender_for("Shop", "Sale!", country) == "Shop"


def test_the_tpoa_is_taken_without_surrounding_whitespace() -> None:
    assert sender_for("  Shop \n", "Sale!", "DE") == "Shop"
    assert sender_for("   ", "Sale!", "DE") == DEFAULT_SENDER


@pytest.mark.parametrize(
    ("text", "number"),
    [("38001", "38001"), ("+33 6 12 34 56 78", "33612345678"), (" 36180 ", "36180")],
)
def test_parse_reply_number(text: str, number: str) -> None:
    assert parse_reply_number(text) == number


@pytest.mark.parametrize("text", ["", "12", "1" * 16, "3_8001", "\u0663\u0668\u0660", "SHOP", "+"])
def test_parse_reply_number_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="3 to 15 digits"):
        parse_reply_number(text)


def test_reply_address_is_the_stored_form_of_a_sender() -> None:
    assert [reply_address(a) for a in ("+38001", " 36180", "")] == ["38001", "36180", ""]


@pytest.mark.parametrize(
    ("sender", "message", "where"),
    [
        ("36180", "Hello", "36180"),
        ("+38001", "Hello STOP au 36180", "38001"),  # a number is answered at itself
        ("Shop", WITH_STOP, "36180"),
        ("Shop", "Promo\nStop au 38001 ", "38001"),
        ("Shop", "Hello", None),  # a name without a mention cannot be answered
        ("Shop", "STOP au 36180 then more", None),
    ],
)
def test_answered_at(sender: str, message: str, where: str | None) -> None:
    assert answered_at(sender, message) == where
