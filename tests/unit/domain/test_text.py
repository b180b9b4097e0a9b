import gsm0338  # type: ignore[import-untyped]  # noqa: F401  (registers the "gsm03.38" codec, our oracle)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hirondelle.domain.text import (
    MAX_PARTS,
    BadParamKey,
    TextSize,
    decode_gsm7_unpacked,
    decode_text,
    decode_ucs2,
    encode_gsm7_unpacked,
    encode_ucs2,
    encoding_for,
    measure,
    merge_params,
    param_index,
    split_parts,
    too_long,
    unescape_newlines,
)

EXTENSION = "€{}[]~\\^|\x0c"
A, E_CIRC, EMOJI = "a", "ê", "😀"

# (text, encoding, units, parts)
SIZES = [
    ("", "gsm7", 0, 0),
    ("a", "gsm7", 1, 1),
    (A * 160, "gsm7", 160, 1),
    (A * 161, "gsm7", 161, 2),
    (A * 306, "gsm7", 306, 2),
    (A * 307, "gsm7", 307, 3),
    (A * 1224, "gsm7", 1224, 8),
    (A * 1225, "gsm7", 1225, 9),
    ("€", "gsm7", 2, 1),
    ("{", "gsm7", 2, 1),
    ("}", "gsm7", 2, 1),
    ("[", "gsm7", 2, 1),
    ("]", "gsm7", 2, 1),
    ("~", "gsm7", 2, 1),
    ("\\", "gsm7", 2, 1),
    ("^", "gsm7", 2, 1),
    ("|", "gsm7", 2, 1),
    ("\x0c", "gsm7", 2, 1),
    ("€" * 80, "gsm7", 160, 1),
    ("€" * 81, "gsm7", 162, 2),
    (A * 158 + "€", "gsm7", 160, 1),
    (A * 159 + "€", "gsm7", 161, 2),
    # an escape pair that would straddle parts 1 and 2 goes to part 2: one more part than 306/153
    (A * 152 + "€" + A * 152, "gsm7", 306, 3),
    (A * 153 + "€" + A * 151, "gsm7", 306, 2),
    (A * 305 + "€", "gsm7", 307, 3),
    ("éèàù", "gsm7", 4, 1),
    ("Ç", "gsm7", 1, 1),
    ("ç", "ucs2", 1, 1),
    ("ê", "ucs2", 1, 1),
    ("Garçon", "ucs2", 6, 1),
    ("Été à Paris : 5€ {promo}", "gsm7", 27, 1),
    ("Ça coûte 5€", "ucs2", 11, 1),
    ("ligne 1\nligne 2\r\n", "gsm7", 17, 1),
    ("@£$¥¤§¿¡ÄÖÑÜäöñüßÆæØøÅå", "gsm7", 23, 1),
    ("ΔΦΓΛΩΠΨΣΘΞ", "gsm7", 10, 1),
    ("αβ", "ucs2", 2, 1),
    ("`", "ucs2", 1, 1),
    ("\x1b", "ucs2", 1, 1),
    ("l’été", "ucs2", 5, 1),
    ("\u00a0", "ucs2", 1, 1),
    ("Привет", "ucs2", 6, 1),
    ("你好", "ucs2", 2, 1),
    (EMOJI, "ucs2", 2, 1),
    (EMOJI * 35, "ucs2", 70, 1),
    (EMOJI * 36, "ucs2", 72, 2),
    ("🇫🇷", "ucs2", 4, 1),
    ("👨\u200d👩\u200d👧", "ucs2", 8, 1),
    (E_CIRC * 70, "ucs2", 70, 1),
    (E_CIRC * 71, "ucs2", 71, 2),
    (E_CIRC * 134, "ucs2", 134, 2),
    (E_CIRC * 135, "ucs2", 135, 3),
    (E_CIRC * 536, "ucs2", 536, 8),
    (E_CIRC * 537, "ucs2", 537, 9),
    (E_CIRC * 68 + EMOJI, "ucs2", 70, 1),
    (E_CIRC * 69 + EMOJI, "ucs2", 71, 2),
    # a surrogate pair on the boundary of parts 1 and 2 goes to part 2
    (E_CIRC * 66 + EMOJI + E_CIRC * 66, "ucs2", 134, 3),
    (A * 200 + "ê", "ucs2", 201, 3),
]


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), SIZES)
def test_measure(text: str, encoding: str, units: int, parts: int) -> None:
    assert measure(text) == TextSize(encoding, units, parts)  # type: ignore[arg-type]
    assert encoding_for(text) == encoding
    assert len(split_parts(text)) == parts
    assert "".join(split_parts(text)) == text


def test_split_keeps_an_escape_pair_whole() -> None:
    text = A * 152 + "€" + A * 152
    assert [len(part) for part in split_parts(text)] == [152, 152, 1]
    assert split_parts(text)[1].startswith("€")


def test_split_at_exactly_153_septets_before_an_escape() -> None:
    text = A * 153 + "€" + A * 151
    assert split_parts(text) == [A * 153, "€" + A * 151]


def test_split_keeps_a_surrogate_pair_whole() -> None:
    parts = split_parts(E_CIRC * 66 + EMOJI + E_CIRC * 66)
    assert parts == [E_CIRC * 66, EMOJI + E_CIRC * 65, E_CIRC]


def test_split_short_and_empty_texts() -> None:
    assert split_parts("Hello") == ["Hello"]
    assert split_parts(A * 160) == [A * 160]
    assert split_parts("") == []
    assert split_parts(A * 161) == [A * 153, A * 8]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (A * 1224, False),
        (A * 1225, True),
        # 76 escape pairs fill a part (152 septets): 8 parts hold 608, not 612
        ("€" * 608, False),
        ("€" * 609, True),
        (E_CIRC * 536, False),
        (E_CIRC * 537, True),
        # 33 surrogate pairs fill a part (66 units): 8 parts hold 264, not 268
        (EMOJI * 264, False),
        (EMOJI * 265, True),
        (A * 100_000, True),
        ("", False),
    ],
)
def test_too_long(text: str, expected: bool) -> None:
    assert too_long(text) is expected
    assert (measure(text).parts > MAX_PARTS) is expected


@pytest.mark.parametrize(
    ("message", "params", "expected"),
    [
        ("Hello #param_1#", {1: "Jean"}, "Hello Jean"),
        ("#PARAM_1# #Param_2# #param_1#", {1: "a", 2: "b"}, "a b a"),
        ("Code #param_2#.", {1: "x"}, "Code ."),
        ("#param_10#", {10: "ten", 1: "one"}, "ten"),
        ("no params # here", {1: "x"}, "no params # here"),
        ("#param_#", {1: "x"}, "#param_#"),
        ("#param_1", {1: "x"}, "#param_1"),
        ("#param_1##param_2#", {1: "a", 2: "b"}, "ab"),
        ("#param_1#", {1: "#param_2#"}, "#param_2#"),  # values are not merged again
    ],
)
def test_merge_params(message: str, params: dict[int, str], expected: str) -> None:
    assert merge_params(message, params) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("PARAM_1", 1),
        ("param_2", 2),
        ("Param_10", 10),
        ("PARAM_01", 1),
        ("PARAM_\u0661", 1),  # an Arabic-Indic one: a decimal digit, as `#param_N#` reads it
        ("PARAM_" + "9" * 99, int("9" * 99)),
        ("MOBILEPHONE", None),
        ("mobilePhone", None),
        ("cliMsgId", None),
        ("PARAM", None),
        ("XPARAM_1", None),
    ],
)
def test_param_index(key: str, expected: int | None) -> None:
    assert param_index(key) == expected


@pytest.mark.parametrize(
    "key",
    ["PARAM_", "PARAM_x", "PARAM_\u00b2", "PARAM_1a", "PARAM_ 1", "PARAM_-1", "PARAM_" + "1" * 100],
)
def test_param_index_refuses_a_malformed_key(key: str) -> None:
    with pytest.raises(BadParamKey) as caught:  # "²".isdigit(), yet int() refuses it
        param_index(key)
    assert caught.value.key == key
    assert "PARAM_" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello\\nWorld", "Hello\nWorld"),
        ("a\\n\\nb", "a\n\nb"),
        ("no escape", "no escape"),
        ("a\nb", "a\nb"),
        ("back\\slash", "back\\slash"),
    ],
)
def test_unescape_newlines(text: str, expected: str) -> None:
    assert unescape_newlines(text) == expected


def test_an_unescaped_newline_is_one_septet() -> None:
    assert measure(unescape_newlines("a\\nb")) == TextSize("gsm7", 3, 1)


def test_gsm_tables_agree_with_the_gsm0338_codec() -> None:
    for code in range(0x10000):
        char = chr(code)
        if char == "\x1b" or 0xD800 <= code <= 0xDFFF:
            continue
        try:
            expected: bytes | None = char.encode("gsm03.38")
        except UnicodeEncodeError:
            expected = None
        if expected is None:
            assert encoding_for(char) == "ucs2", repr(char)
        else:
            assert encoding_for(char) == "gsm7", repr(char)
            assert encode_gsm7_unpacked(char) == expected, repr(char)
            assert measure(char).units == len(expected), repr(char)


def test_every_septet_decodes_like_gsm0338() -> None:
    for code in range(0x80):
        if code == 0x1B:
            continue
        data = bytes([code])
        assert decode_gsm7_unpacked(data) == data.decode("gsm03.38")
        escaped = bytes([0x1B, code])
        try:
            expected = escaped.decode("gsm03.38")
        except UnicodeDecodeError:  # not in the extension table: its basic character
            expected = data.decode("gsm03.38")
        assert decode_gsm7_unpacked(escaped) == expected


def test_gsm_encoding_examples() -> None:
    assert encode_gsm7_unpacked("@a€") == b"\x00\x61\x1b\x65"
    assert encode_gsm7_unpacked("Ç\n") == b"\x09\x0a"
    assert encode_gsm7_unpacked("") == b""


def test_gsm_decoding_edge_cases() -> None:
    assert decode_gsm7_unpacked(b"\x1b\x1b") == " "
    assert decode_gsm7_unpacked(b"ab\x1b") == "ab"
    assert decode_gsm7_unpacked(b"\x1b\x41") == "A"
    with pytest.raises(ValueError, match="septet"):
        decode_gsm7_unpacked(b"\x80")


def test_gsm_encoding_refuses_other_characters() -> None:
    for text in ["ê", "ç", "\x1b", EMOJI, "a`b"]:
        with pytest.raises(ValueError):
            encode_gsm7_unpacked(text)


def test_ucs2_encoding() -> None:
    assert encode_ucs2("Aê") == b"\x00\x41\x00\xea"
    assert encode_ucs2(EMOJI) == b"\xd8\x3d\xde\x00"
    assert decode_ucs2(b"\xd8\x3d\xde\x00\x00\x41") == EMOJI + "A"
    with pytest.raises(ValueError):
        decode_ucs2(b"\x00")


# Property tests: texts near part boundaries, rich in double-unit characters.

GSM_TEXT = st.text(alphabet=st.sampled_from("aZ0 é\nÇ@" + EXTENSION), max_size=1300)
UCS2_TEXT = st.text(
    alphabet=st.sampled_from(["a", "ê", "ç", "€", EMOJI, "🇫", "\u200d", "你", "\U0010ffff"]),
    max_size=600,
)
ANY_TEXT = GSM_TEXT | UCS2_TEXT | st.text(max_size=400)


def _units(text: str, gsm: bool | None = None) -> int:
    """Units of `text` once encoded, in its own encoding or as GSM (gsm=True) or UCS-2."""
    if gsm is None:
        gsm = encoding_for(text) == "gsm7"
    return len(encode_gsm7_unpacked(text)) if gsm else len(encode_ucs2(text)) // 2


def _reference_parts(text: str) -> list[str]:
    """The obvious character-by-character greedy splitter, to check the real one against."""
    single, per_part = (160, 153) if encoding_for(text) == "gsm7" else (70, 67)
    if _units(text) <= single:
        return [text] if text else []
    parts, current = [], ""
    for char in text:
        if _units(current + char) > per_part:
            parts.append(current)
            current = ""
        current += char
    return [*parts, current]


@settings(max_examples=400)
@given(ANY_TEXT)
def test_split_matches_the_reference_and_measure(text: str) -> None:
    parts = split_parts(text)
    size = measure(text)
    assert "".join(parts) == text
    assert parts == _reference_parts(text)
    assert len(parts) == size.parts
    assert size.units == _units(text)
    assert size.encoding == encoding_for(text)


@settings(max_examples=400)
@given(ANY_TEXT)
def test_no_part_exceeds_its_limit(text: str) -> None:
    parts = split_parts(text)
    gsm = encoding_for(text) == "gsm7"
    limit = (160 if gsm else 70) if len(parts) == 1 else (153 if gsm else 67)
    for part in parts:
        assert 0 < _units(part, gsm) <= limit


@settings(max_examples=300)
@given(GSM_TEXT)
def test_gsm_round_trip_and_codec_agreement(text: str) -> None:
    data = encode_gsm7_unpacked(text)
    assert data == text.encode("gsm03.38")
    assert decode_gsm7_unpacked(data) == text


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_ucs2_round_trip(text: str) -> None:
    assert decode_ucs2(encode_ucs2(text)) == text


@pytest.mark.parametrize(
    ("data", "coding", "text"),
    [
        (b"\x00\x01", 0, "@£"),
        (b"\xff", 0, "ÿ"),  # not a septet: Latin-1 fallback, never an exception
        (b"\x00", 8, "\x00"),  # odd UCS-2 length: fallback
        (b"abc", 1, "abc"),
        (b"\xe9", 3, "é"),
        (b"\x00\x01", 0xF1, "@£"),
    ],
)
def test_decode_text_by_data_coding(data: bytes, coding: int, text: str) -> None:
    assert decode_text(data, coding) == text
