"""Rendering a customer-area page: one Jinja2 environment (autoescape on), the page's language,
and the headers every page carries — a policy that loads only our own files and runs no inline
script or style (DESIGN.md §7)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hirondelle.web import i18n

PAGE_POLICY = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": PAGE_POLICY,
}

# The words for a campaign's state (store values), translated where they are shown.
STATE_LABELS = {
    "queued": i18n.N_("sent"),
    "scheduled": i18n.N_("scheduled"),
    "deleted": i18n.N_("deleted"),
}


@cache
def environment(lang: str) -> Environment:
    """The templates in `lang`: `_()`/`ngettext()` from its Babel catalogue (newstyle gettext:
    write `%%` for a literal percent sign), and the filters `number` and `when` (a datetime in
    the account's time zone) formatted for it."""
    env = Environment(
        loader=PackageLoader("hirondelle.web", "templates"),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    translations = i18n.translations(lang)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]

    def number(value: float | int) -> str:
        return i18n.number(value, lang)

    def when(moment: datetime, time_zone: str = "Europe/Paris") -> str:
        return i18n.when(moment, lang, time_zone)

    def state_label(state: str) -> str:
        return translations.gettext(STATE_LABELS.get(state, state))

    env.filters.update(number=number, when=when)
    env.globals.update(state_label=state_label)
    return env


templates = environment(i18n.DEFAULT)


def language(request: Request) -> str:
    return i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language", ""))


def render(
    request: Request,
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    only_lang: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """The template `name` in the page's language (`only_lang` for a page not translated yet),
    with the page headers (and `headers`)."""
    lang = only_lang or language(request)
    html = environment(lang).get_template(name).render(lang=lang, path=request.url.path, **values)
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def public_base_url(request: Request) -> str:
    """The site's address for links and samples: `public_url`, else the address the page was
    reached at (the listening port may be 0 in the settings)."""
    ctx = request.app.state.ctx
    public: str = ctx.settings.public_url
    return public.rstrip("/") or str(request.base_url).rstrip("/")


def local_path(target: str | None, default: str = "/") -> str:
    """`target` when it is a path of this site, else `default` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default
