"""Control characters that no parameter may carry.

NUL cannot be stored by PostgreSQL (it failed the request with a 500 and closed the
connection) and the other C0 controls are never text; TAB, CR and LF are, in messages.
"""

from __future__ import annotations

import re

CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def has_control_chars(text: str) -> bool:
    return CONTROL_CHARS.search(text) is not None
