"""The message ids an SMSC gives (submit_sm_resp) and reports back (receipts): the form we store
and compare, and the other forms the same id may take."""

from __future__ import annotations

import re


def normalize_message_id(message_id: str) -> str:
    """The form we store and compare: trimmed, lower case, leading zeros dropped."""
    text = message_id.strip().lower()
    return text.lstrip("0") or ("0" if text else "")


_HEX = re.compile(r"[0-9a-f]+")


def message_id_forms(message_id: str) -> frozenset[str]:
    """Every normalized form the same id may take at an SMSC that reports it in hex in the
    submit_sm_resp and in decimal in the receipt, or the reverse."""
    norm = normalize_message_id(message_id)
    forms = {norm}
    if _HEX.fullmatch(norm) and len(norm) <= 32:
        forms.add(normalize_message_id(str(int(norm, 16))))
        if norm.isdigit():
            forms.add(normalize_message_id(f"{int(norm):x}"))
    return frozenset(forms)
