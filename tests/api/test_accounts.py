"""getInfo end to end, and the authentication every API 9.0 method shares."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.store.accounts import find_by_login, update_account
from tests.helpers import json_answer, make_account, xml_answer


def test_get_info_json_by_default(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=1847, last_name="Dupont", first_name="Mark", society="ACME")
    response = client.get("/http/9.0/getInfo/", params=creds.params())
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    assert json_answer(response) == {
        "status": "Active Account",
        "credits": 1847,
        "apiKey": creds.api_key,
        "lastName": "Dupont",
        "firstName": "Mark",
        "society": "ACME",
        "email": "",
    }


@pytest.mark.parametrize("path", ["/http/9.0/getInfo", "/http/9.0/getInfo/", "/http/9.0/GETINFO"])
def test_get_info_xml_post_and_paths(client: TestClient, ctx: Context, path: str) -> None:
    creds = make_account(ctx, credits=5)
    response = client.post(path, data=creds.params(returnformat="xml"))
    root = xml_answer(response)
    assert root.tag == "getInfo"
    assert root.findtext("credits") == "5"
    assert root.findtext("status") == "Active Account"


def test_clientcode_is_an_alias_of_login(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=7)
    answer = json_answer(
        client.get("/http/9.0/getInfo", params={"clientcode": creds.login, "apiKey": creds.api_key})
    )
    assert answer["credits"] == 7


@pytest.mark.parametrize(
    "params",
    [
        {"login": "alice", "apiKey": "wrong"},
        {"login": "nobody", "apiKey": "wrong"},
        {"login": "alice"},
        {"apiKey": "wrong"},
        {"login": "", "apiKey": ""},
        {},
    ],
)
def test_bad_credentials(client: TestClient, ctx: Context, params: dict[str, str]) -> None:
    make_account(ctx)
    answer = json_answer(client.get("/http/9.0/getInfo", params=params))
    assert set(answer) == {"error"}
    assert "credentials" in answer["error"]


def test_bad_credentials_in_xml(client: TestClient, ctx: Context) -> None:
    make_account(ctx)
    root = xml_answer(
        client.get(
            "/http/9.0/getInfo", params={"login": "alice", "apiKey": "x", "returnformat": "xml"}
        )
    )
    assert root.tag == "getInfo"
    assert "credentials" in root.findtext("error")


def test_inactive_account_is_refused(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)

    def deactivate(conn):  # type: ignore[no-untyped-def]
        row = find_by_login(conn, creds.login)
        update_account(conn, row["id"], {"active": False})

    ctx.store.write_sync(deactivate)
    answer = json_answer(client.get("/http/9.0/getInfo", params=creds.params()))
    assert "error" in answer


def test_unknown_method(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    answer = json_answer(client.get("/http/9.0/getNothing", params=creds.params()))
    assert answer == {"error": "Unknown method: getNothing"}


def test_subaccount_must_belong_to_the_caller(client: TestClient, ctx: Context) -> None:
    master = make_account(ctx, "master", credits=100)
    other = make_account(ctx, "other", credits=100)
    master_id = ctx.store.read_sync(lambda conn: find_by_login(conn, "master")["id"])
    make_account(ctx, "child", credits=42, parent_id=master_id)

    mine = json_answer(client.get("/http/9.0/getInfo", params=master.params(subaccount="child")))
    assert mine["credits"] == 42
    assert mine["apiKey"] == ""
    alias = json_answer(client.get("/http/9.0/getInfo", params=master.params(subAccount="child")))
    assert alias["credits"] == 42

    theirs = json_answer(client.get("/http/9.0/getInfo", params=other.params(subaccount="child")))
    assert theirs == {"error": "Unknown sub-account: child"}
    missing = json_answer(client.get("/http/9.0/getInfo", params=master.params(subaccount="zz")))
    assert missing == {"error": "Unknown sub-account: zz"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"garbage without boundary"),
        ("application/x-www-form-urlencoded", b"%%%%&&&=&login"),
        ("application/x-www-form-urlencoded", b"\xff\xfe\x00login=\x00"),
    ],
)
def test_malformed_bodies_get_an_error_not_a_500(
    client: TestClient, ctx: Context, content_type: str, body: bytes
) -> None:
    make_account(ctx)
    response = client.post(
        "/http/9.0/getInfo", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 200
    assert "error" in json_answer(response)


def test_multipart_post(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=9)
    response = client.post(
        "/http/9.0/getInfo", files={"login": (None, creds.login), "apiKey": (None, creds.api_key)}
    )
    assert json_answer(response)["credits"] == 9


def test_lf_only_multipart(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=11)
    body = (
        f'--XyZ\nContent-Disposition: form-data; name="login"\n\n{creds.login}\n'
        f'--XyZ\nContent-Disposition: form-data; name="apiKey"\n\n{creds.api_key}\n--XyZ--\n'
    ).encode()
    response = client.post(
        "/http/9.0/getInfo",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )
    assert json_answer(response)["credits"] == 11


def test_health_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_changes_to_an_account_apply_to_the_next_request(client: TestClient, ctx: Context) -> None:
    """Authentication reads on a long-lived connection must never see a stale snapshot."""
    creds = make_account(ctx, credits=3)
    assert json_answer(client.get("/http/9.0/getInfo", params=creds.params()))["credits"] == 3
    later = make_account(ctx, "latecomer", credits=4)
    assert json_answer(client.get("/http/9.0/getInfo", params=later.params()))["credits"] == 4

    def deactivate(conn):  # type: ignore[no-untyped-def]
        update_account(conn, find_by_login(conn, creds.login)["id"], {"active": False})

    ctx.store.write_sync(deactivate)
    assert "error" in json_answer(client.get("/http/9.0/getInfo", params=creds.params()))
