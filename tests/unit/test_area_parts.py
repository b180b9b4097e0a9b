"""The parts under the customer area's list pages: keyset cursors, the number search, reading
uploaded files, and turning a file's rows into contacts."""

from __future__ import annotations

import pytest

from hirondelle.services.contact_files import ImportFileError, read_rows
from hirondelle.services.list_pages import contact_items
from hirondelle.services.lists import FieldSpec
from hirondelle.services.paging import NumberSearch, Page, cursor, number_search, page_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("12", 12),
        ("0", None),
        ("-3", None),
        ("1e3", None),
        ("٣", None),
        (str(2**63), None),
    ],
)
def test_a_cursor_is_a_positive_whole_number_or_the_first_page(
    text: str | None, expected: int | None
) -> None:
    assert cursor(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06 12 34 56 78", NumberSearch("33612345678", False)),
        ("+33612345678", NumberSearch("33612345678", False)),
        ("06 12", NumberSearch("33612", True)),
        ("0044 7", NumberSearch("447", True)),
        ("336", NumberSearch("336", True)),
        ("hello", None),
        ("   ", None),
    ],
)
def test_the_number_search(text: str, expected: NumberSearch | None) -> None:
    assert number_search(text) == expected


def test_a_page_knows_whether_another_follows() -> None:
    assert page_of([5, 4, 3], 2, int, str) == Page(["5", "4"], 4)
    assert page_of([5, 4], 2, int, str) == Page(["5", "4"], None)
    assert page_of([], 2, int, str) == Page([], None)


def test_files_of_any_usual_separator_and_encoding() -> None:
    assert read_rows(b"a;b\r\n\r\nc;d\n") == [["a", "b"], ["c", "d"]]
    assert read_rows(b"a\tb\n") == [["a", "b"]]
    assert read_rows("\ufeffnuméro,x\n".encode()) == [["numéro", "x"]]
    assert read_rows("numéro,x\n".encode("cp1252")) == [["numéro", "x"]]
    assert read_rows(b"0611111111\n0622222222") == [["0611111111"], ["0622222222"]]
    for bad in (b"", b"  \n", b"\x00\x01"):
        with pytest.raises(ImportFileError):
            read_rows(bad)


def test_rows_become_contacts_with_or_without_a_heading() -> None:
    fields = [FieldSpec("FirstName"), FieldSpec("City")]
    items, ignored = contact_items(
        [["Téléphone", "city", "Age"], ["0611111111", "Paris", "30"], ["", "Lyon", ""]], fields
    )
    assert items == [{"MOBILEPHONE": "0611111111", "City": "Paris"}, {"MOBILEPHONE": ""}]
    assert ignored == ["Age"]
    items, ignored = contact_items([["0611111111", "Ann", "Paris", "extra"]], fields)
    assert items == [{"MOBILEPHONE": "0611111111", "FirstName": "Ann", "City": "Paris"}]
    assert ignored == []
