"""The one CSRF mechanism of the web pages: a form carries `stamp.mac`, the HMAC of a timestamp
and of what the form is for (`subject`), keyed with a secret the attacker cannot read.

The key and subject say whose form it is: the set-password page keys with the platform secret
over the link's token; a signed-in page with its session's own random CSRF secret (stored with
the session); the sign-in form with the platform secret over the browser's sign-in cookie. A
token is good for `max_age` seconds (and a little clock skew).
"""

from __future__ import annotations

import hashlib
import hmac
import time

#: Seconds a rendered form may wait before it is submitted (and tolerated clock skew).
FORM_MAX_AGE = 3600
CLOCK_SKEW = 60


def form_token(key: bytes, subject: str, now: float | None = None) -> str:
    stamp = str(int(now if now is not None else time.time()))
    return f"{stamp}.{_mac(key, subject, stamp)}"


def check_form_token(
    key: bytes, subject: str, value: str, now: float | None = None, max_age: float = FORM_MAX_AGE
) -> bool:
    stamp, _, mac = value.partition(".")
    if not stamp.isdigit() or len(stamp) > 12:
        return False
    age = (now if now is not None else time.time()) - int(stamp)
    if not -CLOCK_SKEW <= age <= max_age:
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, subject, stamp).encode())


def _mac(key: bytes, subject: str, stamp: str) -> str:
    message = b"form\0" + subject.encode() + b"\0" + stamp.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
