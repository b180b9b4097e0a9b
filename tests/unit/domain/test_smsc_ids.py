from __future__ import annotations

import pytest

from hirondelle.domain.smsc_ids import message_id_forms, normalize_message_id


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("5F3A", "5f3a", True),
        ("005F3A", "5f3a", True),
        ("5F3A", "24378", True),  # hex in submit_sm_resp, decimal in the receipt
        ("24378", "5F3A", True),  # and the reverse
        ("123", "291", True),  # "123" read as hex is 291
        ("123", "7b", True),  # "123" decimal is 0x7b
        ("123", "124", False),
        ("abc-1", "ABC-1", True),
        ("abc-1", "abc-2", False),
        ("", "", False),
        ("0", "00", True),
    ],
)
def test_forms_of_one_id(a: str, b: str, same: bool) -> None:
    assert (bool(a.strip()) and normalize_message_id(b) in message_id_forms(a)) is same


def test_normalize_and_forms() -> None:
    assert normalize_message_id(" 00AbC ") == "abc"
    assert message_id_forms("ff") == {"ff", "255"}
    assert message_id_forms("x-1") == {"x-1"}
