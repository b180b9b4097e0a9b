"""Sealed secrets: what is stored opens only with the same secret_key and context."""

from __future__ import annotations

import pytest

from hirondelle.domain.sealed import Unsealable, seal, sealed_length, unseal

KEY = b"k" * 32


@pytest.mark.parametrize("plaintext", ["", "a", "x" * 31, "y" * 32, "z" * 33, "é€" * 40, "~" * 128])
def test_round_trip(plaintext: str) -> None:
    sealed = seal(KEY, plaintext, "account:7")
    assert len(plaintext) < 8 or plaintext not in sealed
    assert len(sealed) == sealed_length(len(plaintext.encode()))
    assert unseal(KEY, sealed, "account:7") == plaintext


def test_two_seals_of_one_secret_differ() -> None:
    assert seal(KEY, "same secret value", "a") != seal(KEY, "same secret value", "a")


def test_it_opens_only_with_the_same_key_and_context() -> None:
    sealed = seal(KEY, "the webhook secret", "account:7")
    with pytest.raises(Unsealable):
        unseal(b"another key", sealed, "account:7")
    with pytest.raises(Unsealable):
        unseal(KEY, sealed, "account:8")


@pytest.mark.parametrize("position", [3, 10, 30, -5, -1])
def test_an_altered_seal_does_not_open(position: int) -> None:
    sealed = seal(KEY, "the webhook secret", "account:7")
    flipped = "A" if sealed[position] != "A" else "B"
    altered = (
        sealed[:position] + flipped + sealed[position + 1 :]
        if position != -1
        else sealed[:-1] + flipped
    )
    with pytest.raises(Unsealable):
        unseal(KEY, altered, "account:7")


@pytest.mark.parametrize("value", ["", "plain secret in clear", "s1.", "s1.!!!", "s1.AAAA"])
def test_garbage_does_not_open(value: str) -> None:
    with pytest.raises(Unsealable):
        unseal(KEY, value, "account:7")


def test_the_longest_secret_fits_the_column() -> None:
    assert sealed_length(128) <= 255
