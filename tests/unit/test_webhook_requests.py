"""What a webhook GET carries: the account's URL parsed once (`Endpoint`), the variables appended
to its query exactly as `urlencode` writes them (the receiver verifies the signature over them)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hirondelle.notify import netguard
from hirondelle.notify.webhooks import Endpoint, query

PARAMS = {
    "smsId": "0190a3c2-1234-7abc-8def-0123456789ab",
    "status": "1",
    "statusText": "Délivré à l'opérateur",
    "receptionDate": "2026-12-03 12:00:00",
    "phoneNumber": "33612345678",
    "message": "a&b=c?d#e+f %",
    "empty": "",
}


def test_the_query_is_urlencode_byte_for_byte() -> None:
    assert query(PARAMS) == urlencode(PARAMS)
    assert query({}) == urlencode({})
    assert query({"statusText": "Transmitted to the operator"}) == urlencode(
        {"statusText": "Transmitted to the operator"}
    )


@given(st.dictionaries(st.sampled_from(list(PARAMS)), st.text(alphabet=" :~-._aZ9é+%&")))
def test_any_value_is_quoted_as_urlencode_quotes_it(params: dict[str, str]) -> None:
    assert query(params) == urlencode(params)


@pytest.mark.parametrize(
    ("url", "target", "host"),
    [
        ("http://h.example/dlr", "/dlr?smsId=1", "h.example"),
        ("http://h.example/dlr?", "/dlr?smsId=1", "h.example"),
        ("http://h.example/dlr?token=abc", "/dlr?token=abc&smsId=1", "h.example"),
        ("http://h.example/dlr?token=abc&", "/dlr?token=abc&smsId=1", "h.example"),
        ("https://H.Example:8443", "/?smsId=1", "h.example:8443"),
        ("http://user:pw@h.example/a%20b#frag", "/a%20b?smsId=1", "h.example"),
    ],
)
def test_the_variables_go_after_the_urls_own_query(url: str, target: str, host: str) -> None:
    endpoint = Endpoint.parse(url)
    assert endpoint.get_target({"smsId": "1"}) == target
    assert endpoint.host == host


@pytest.mark.parametrize("url", ["ftp://h.example/x", "http:///x", "not a url"])
def test_a_url_that_is_not_http_with_a_host_is_refused(url: str) -> None:
    with pytest.raises(netguard.BlockedUrl):
        Endpoint.parse(url)
