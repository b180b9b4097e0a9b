"""The console's samples (domain/console.py): exact curl and Python text, the key never in them,
and statuses explained from the annex tables."""

from __future__ import annotations

import ast
import shlex

from hirondelle.domain.catalogue import by_name, rest_endpoint
from hirondelle.domain.console import as_curl, as_python, explain, rest_request, v9_request

BASE = "https://sms.example.com/"


def test_a_v9_call_as_curl_reads_the_key_from_the_environment() -> None:
    request = v9_request(by_name("getAcks"), "alice", {"campId": "it's 1", "returnformat": ""})
    text = as_curl(request, BASE)
    assert text == (
        "curl -sS 'https://sms.example.com/http/9.0/getAcks' \\\n"
        "  --data-urlencode 'login=alice' \\\n"
        '  --data-urlencode "apiKey=$HIRONDELLE_API_KEY" \\\n'
        "  --data-urlencode 'campId=it'\"'\"'s 1'"
    )
    words = shlex.split(text.replace("\\\n", " "), posix=True)
    assert "campId=it's 1" in words


def test_the_python_sample_is_valid_python_with_the_same_fields() -> None:
    request = v9_request(by_name("sendSms"), "alice", {"smsData": '{"DATA": "é\\n"}'})
    tree = ast.parse(as_python(request, BASE))
    call = tree.body[2].value  # type: ignore[attr-defined]
    data = next(k.value for k in call.keywords if k.arg == "data")
    keys = [ast.literal_eval(k) for k in data.keys]
    assert keys == ["login", "apiKey", "smsData"]
    assert ast.literal_eval(data.values[2]) == '{"DATA": "é\\n"}'
    assert "HIRONDELLE_API_KEY" in ast.unparse(data.values[1])


def test_a_rest_call_substitutes_and_quotes_its_path() -> None:
    request = rest_request(rest_endpoint("rest-sms-reports"), "alice", {"smsId": "a/b c"})
    assert request.target == "/report/sms/a%2Fb%20c"
    assert '-u "alice:$HIRONDELLE_API_KEY"' in as_curl(request, BASE)
    replies = rest_request(rest_endpoint("rest-replies"), "alice", {"limit": "5"})
    assert replies.target == "/replies?limit=5"


def test_statuses_are_explained_from_the_annexes() -> None:
    sent = explain("sendSms", {"status": 100})
    assert [(e.field, e.value, e.text) for e in sent] == [
        ("status", "100", "The message has been sent")
    ]
    assert "…" in explain("sendSms", {"status": 101})[0].text
    acks = explain("getAcks", {"acks": [{"status": 1}, {"status": 1}, {"status": 5}]})
    assert [e.value for e in acks] == ["1", "5"]
    assert explain("deleteCampaign", {"status": "OK"})[0].text == "The campaign has been deleted"
    assert explain("getInfo", {"status": 1}) == []
    assert explain("sendSms", {"status": True}) == explain("sendSms", ["x"]) == []
