from pathlib import Path

import phonenumbers
import pytest

from hirondelle.domain.pricing import PriceTable, UnknownCountry, parse_credits

# ISO 3166-1 alpha-2, all 249 officially assigned codes.
_ISO_TEXT = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ISO_CODES = _ISO_TEXT.split()


def test_the_list_above_is_complete() -> None:
    assert len(ISO_CODES) == len(set(ISO_CODES)) == 249


def test_shipped_table_prices_every_iso_country() -> None:
    table = PriceTable.default()
    missing = [code for code in ISO_CODES if code not in table.credits]
    assert missing == []


def test_shipped_table_prices_every_region_phonenumbers_can_return() -> None:
    table = PriceTable.default()
    regions = phonenumbers.SUPPORTED_REGIONS - {"001"}
    assert sorted(regions - set(table.credits)) == []


def test_shipped_prices_are_plausible() -> None:
    table = PriceTable.default()
    assert table.credits_per_part("FR") == 15
    assert all(15 <= credits <= 60 for credits in table.credits.values())
    assert table.credits_per_part("BE") <= 20


def test_shipped_table_is_read_once() -> None:
    assert PriceTable.default() is PriceTable.default()


@pytest.mark.parametrize("code", ["FR", "fr", "Fr", " FR "])
def test_codes_are_case_insensitive(code: str) -> None:
    assert PriceTable.default().credits_per_part(code) == 15


@pytest.mark.parametrize("code", ["UK", "uk"])
def test_uk_is_gb(code: str) -> None:
    table = PriceTable.default()
    assert table.credits_per_part(code) == table.credits_per_part("GB")


@pytest.mark.parametrize("code", ["ZZ", "", "FRA", "001", "EU"])
def test_unknown_country(code: str) -> None:
    with pytest.raises(UnknownCountry) as raised:
        PriceTable.default().credits_per_part(code)
    assert raised.value.args == (code,)
    assert isinstance(raised.value, KeyError)


def test_cost() -> None:
    table = PriceTable.from_csv_text("iso,country,credits\nFR,France,15\nDE,Germany,17\n")
    assert table.cost("FR", parts=2) == 30
    assert table.cost("de", parts=3, recipients=10) == 510


def test_from_csv_text_skips_comments_and_blank_lines() -> None:
    text = "# prices\n\niso,country,credits\n# neighbours\nBE,Belgium,16\n\nFR,France,15\n"
    assert PriceTable.from_csv_text(text).credits == {"BE": 16, "FR": 15}


def test_from_csv_text_reads_quoted_names_and_any_column_order() -> None:
    text = 'credits,iso,country\n35,VG,"Virgin Islands, British"\n20,at,Austria\n'
    assert PriceTable.from_csv_text(text).credits == {"VG": 35, "AT": 20}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("iso,country\nFR,France\n", "columns iso and credits"),
        ("iso,country,credits\nFR,France,x\n", "line 2: credits must be a whole number"),
        ("iso,country,credits\nFR,France,-1\n", "line 2: credits must be a whole number"),
        ("iso,country,credits\nFR,France,1.5\n", "line 2: credits must be a whole number"),
        ("iso,country,credits\nFR,France,\n", "line 2: credits must be a whole number"),
        ("iso,country,credits\n#\nFR,France,15\nfr,France,15\n", "line 4: FR appears twice"),
        ("iso,country,credits\nFRA,France,15\n", "line 2: 'FRA' is not a 2-letter code"),
        ("iso,country,credits\n12,France,15\n", "line 2: '12' is not a 2-letter code"),
        ("iso,country,credits\nFR,France\n", "line 2: 3 columns expected"),
    ],
)
def test_from_csv_text_refuses_bad_tables(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceTable.from_csv_text(text)


def test_load_an_operator_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("iso,country,credits\nFR,France,12\nGB,United Kingdom,14\n", "utf-8")
    table = PriceTable.load(path)
    assert table.credits_per_part("FR") == 12
    assert table.credits_per_part("UK") == 14
    assert PriceTable.load(str(path)) == table
    with pytest.raises(UnknownCountry):
        table.credits_per_part("DE")


@pytest.mark.parametrize(
    ("text", "signed", "value"),
    [("10", False, 10), (" 007 ", False, 7), ("-5", True, -5), ("+5", True, 5), ("0", True, 0)],
)
def test_parse_credits_reads_ascii_digits(text: str, signed: bool, value: int) -> None:
    assert parse_credits(text, signed=signed) == value


@pytest.mark.parametrize(
    "text",
    ["", " ", "1.5", "1_0", "\u0661\u0660", "\uff11\uff10", "1e3", "1 0", "--5", "0x10", "\u00b2"],
)
@pytest.mark.parametrize("signed", [False, True])
def test_parse_credits_refuses_anything_else(text: str, signed: bool) -> None:
    with pytest.raises(ValueError, match="whole number"):
        parse_credits(text, signed=signed)


@pytest.mark.parametrize("text", ["-5", "+5"])
def test_parse_credits_refuses_a_sign_unless_signed(text: str) -> None:
    with pytest.raises(ValueError, match="whole number"):
        parse_credits(text)
