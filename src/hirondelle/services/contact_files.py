"""Files of numbers and contacts uploaded in the customer area: CSV or TXT (any of `,` `;` tab
as separator, UTF-8 or Windows-1252), and XLSX when `openpyxl` is installed (imported only when
such a file comes, so the package stays optional).

A file becomes rows of text cells; what the rows mean (numbers to blacklist, contacts of a list)
is the caller's business.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

#: Rows read from one file at most: beyond, the file is refused rather than half imported.
MAX_ROWS = 200_000
XLSX_MAGIC = b"PK\x03\x04"


class ImportFileError(ValueError):
    """An uploaded file that cannot be read; the message says why and is safe to show."""


def xlsx_available() -> bool:
    try:
        import openpyxl  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def read_rows(data: bytes, filename: str = "") -> list[list[str]]:
    """The file's rows as lists of stripped cells, blank rows left out."""
    if not data.strip():
        raise ImportFileError("The file is empty")
    if data.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        rows = list(_xlsx_rows(data))
    else:
        rows = list(_text_rows(_decode(data)))
    kept = [row for row in rows if any(row)]
    if len(kept) > MAX_ROWS:
        raise ImportFileError(f"The file has more than {MAX_ROWS} rows")
    return kept


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _text_rows(text: str) -> Iterator[list[str]]:
    if "\0" in text:
        raise ImportFileError("The file is not a text (CSV or TXT) file")
    sample = "\n".join(text.splitlines()[:20])
    counts = {sep: sample.count(sep) for sep in (";", "\t", ",")}
    separator = max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            yield [cell.strip() for cell in row]
    except csv.Error as exc:
        raise ImportFileError(f"The CSV file cannot be read: {exc}") from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    try:
        import openpyxl  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise ImportFileError("XLSX files are not supported here: save the sheet as CSV") from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError(f"The XLSX file cannot be read: {exc}") from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(value) for value in values]
    finally:
        book.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed in a sheet comes back as 336.0e9
    return str(value).strip()
