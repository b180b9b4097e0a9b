"""`/api/docs` (the REST API's OpenAPI document in a vendored viewer) and `/api/docs/v9` (the API
9.0 reference, rendered from the catalogue): same-origin scripts only, static files served with
their types, every method of the catalogue on the page."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.domain.catalogue import CATALOGUE
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from tests.conftest import TEST_SECRET, make_settings

VIEWER = "/static/vendor/swagger-ui"


class Assets(HTMLParser):
    """The scripts, stylesheets and inline code of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            if values.get("src"):
                self.scripts.append(values["src"] or "")
            else:
                self._in = "script"
        elif tag == "link" and values.get("rel") == "stylesheet":
            self.styles.append(values.get("href") or "")
        elif tag == "style":
            self._in = "style"
        if any(name.startswith("on") for name in values) or "style" in values:
            self.inline.append(f"<{tag} {values}>")

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def assets(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def test_the_docs_page_loads_only_same_origin_files(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    found = assets(response.text)
    assert found.inline == []
    assert f"{VIEWER}/swagger-ui-bundle.js" in found.scripts
    assert "/static/apidocs.js" in found.scripts
    assert f"{VIEWER}/swagger-ui.css" in found.styles
    for url in found.scripts + found.styles:
        assert url.startswith("/static/"), url
        assert client.get(url).status_code == 200, url
    assert 'data-openapi="/openapi.json"' in response.text
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        (f"{VIEWER}/swagger-ui-bundle.js", "text/javascript"),
        (f"{VIEWER}/swagger-ui.css", "text/css"),
        ("/static/apidocs.js", "text/javascript"),
        ("/static/apidocs.css", "text/css"),
    ],
)
def test_static_files_are_served_with_their_types(
    client: TestClient, path: str, media_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/vendor/swagger-ui/nothing.js").status_code == 404


def test_the_vendored_viewer_names_its_version_and_licence(client: TestClient) -> None:
    readme = client.get(f"{VIEWER}/README.md").text
    version = re.search(r"swagger-ui-dist@(\d+\.\d+\.\d+)", readme)
    assert version is not None, readme
    bundle = client.get(f"{VIEWER}/swagger-ui-bundle.js").text
    assert f'PACKAGE_VERSION:"{version.group(1)}"' in bundle
    assert "Apache License" in client.get(f"{VIEWER}/LICENSE").text


def test_the_v9_reference_lists_every_method(client: TestClient) -> None:
    response = client.get("/api/docs/v9")
    assert response.status_code == 200
    assert assets(response.text).inline == []
    for doc in CATALOGUE:
        assert f'id="{doc.name}"' in response.text, doc.name
        assert f"<code>{doc.path}</code>" in response.text, doc.name
        for parameter in doc.parameters:
            assert f"<code>{parameter.name}</code>" in response.text, (doc.name, parameter.name)
    assert "curl -sS http://testserver/http/9.0/getAcks" in response.text
    redirect = client.get("/api/docs/v9/", follow_redirects=False)
    assert redirect.headers["location"].endswith("/api/docs/v9")


def test_the_curl_lines_use_the_public_url(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path, public_url="https://sms.example.com/")
    ctx = Context(store=Store(create_engine(sqlite_url)), settings=settings, secret=TEST_SECRET)
    with TestClient(create_app(ctx)) as client:
        page = client.get("/api/docs/v9").text
    ctx.close()
    assert "curl -sS https://sms.example.com/http/9.0/getAcks" in page
    assert "testserver" not in page


def test_the_docs_pages_link_each_other(client: TestClient) -> None:
    assert 'href="/api/docs/v9"' in client.get("/api/docs").text
    assert 'href="/api/docs"' in client.get("/api/docs/v9").text
