"""Small secrets kept encrypted under the instance's `secret_key` (a webhook signing secret).

A webhook secret must be read back to sign calls, so a digest cannot replace it; it is sealed
instead: encrypted and authenticated with keys derived from `secret_key`, bound to what it
belongs to (`context`, e.g. the account id), so a stolen database (or a backup) does not give
the secrets away, and a sealed value copied onto another account does not open.

Construction (standard library only): a random 16-byte nonce; keystream blocks
HMAC-SHA256(k_enc, nonce ‖ counter) XORed with the plaintext (HMAC as a PRF in counter mode);
tag HMAC-SHA256(k_mac, version ‖ nonce ‖ context ‖ ciphertext), checked in constant time before
anything is decrypted (encrypt-then-MAC). k_enc and k_mac are HMAC-SHA256(secret_key, label).
Text form: `s1.` + base64url(nonce ‖ ciphertext ‖ tag), 3 + 64 + 4/3·len(plaintext) characters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Final

VERSION: Final = "s1."
NONCE_BYTES: Final = 16
TAG_BYTES: Final = 32
_BLOCK: Final = hashlib.sha256().digest_size


class Unsealable(ValueError):
    """A sealed value that does not open: altered, another context, or another secret_key."""


def webhook_secret_context(account_id: int) -> str:
    """What an account's sealed webhook secret is bound to: it opens on that account only."""
    return f"webhook-secret:{account_id}"


def _keys(key: bytes) -> tuple[bytes, bytes]:
    def derive(label: bytes) -> bytes:
        return hmac.new(key, b"hirondelle-sealed/" + label, hashlib.sha256).digest()

    return derive(b"enc"), derive(b"mac")


def _keystream(k_enc: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (
        hmac.new(k_enc, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for counter in range((length + _BLOCK - 1) // _BLOCK)
    )
    return b"".join(blocks)[:length]


def _tag(k_mac: bytes, nonce: bytes, context: str, ciphertext: bytes) -> bytes:
    bound = context.encode()
    message = VERSION.encode() + nonce + len(bound).to_bytes(4, "big") + bound + ciphertext
    return hmac.new(k_mac, message, hashlib.sha256).digest()


def seal(key: bytes, plaintext: str, context: str) -> str:
    """`plaintext` encrypted and authenticated under `key`, bound to `context`."""
    k_enc, k_mac = _keys(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    data = plaintext.encode()
    ciphertext = bytes(
        a ^ b for a, b in zip(data, _keystream(k_enc, nonce, len(data)), strict=True)
    )
    blob = nonce + ciphertext + _tag(k_mac, nonce, context, ciphertext)
    return VERSION + base64.urlsafe_b64encode(blob).decode().rstrip("=")


def unseal(key: bytes, sealed: str, context: str) -> str:
    """The plaintext of `seal(key, plaintext, context)`; Unsealable if it does not open."""
    if not sealed.startswith(VERSION):
        raise Unsealable("not a sealed value")
    body = sealed[len(VERSION) :]
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Unsealable("not a sealed value") from exc
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise Unsealable("too short")
    nonce, ciphertext, tag = blob[:NONCE_BYTES], blob[NONCE_BYTES:-TAG_BYTES], blob[-TAG_BYTES:]
    k_enc, k_mac = _keys(key)
    if not hmac.compare_digest(tag, _tag(k_mac, nonce, context, ciphertext)):
        raise Unsealable("the seal does not match (altered, or another key or context)")
    stream = _keystream(k_enc, nonce, len(ciphertext))
    try:
        return bytes(a ^ b for a, b in zip(ciphertext, stream, strict=True)).decode()
    except UnicodeDecodeError as exc:  # only with a forged tag, i.e. never
        raise Unsealable("not text") from exc


def sealed_length(plaintext_bytes: int) -> int:
    """The length of the text form of a sealed value of `plaintext_bytes` bytes."""
    raw = NONCE_BYTES + plaintext_bytes + TAG_BYTES
    return len(VERSION) + (4 * raw + 2) // 3
