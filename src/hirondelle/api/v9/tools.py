"""Tool methods of API 9.0: shortenUrl (manual §28) and sendEmail (§29)."""

from __future__ import annotations

from hirondelle.api.v9.methods import Call, Fields, error, method
from hirondelle.services import links


@method("shortenUrl")
async def shorten_url(call: Call) -> Fields:
    url = call.require("url", "Missing parameter: url (the http or https URL to shorten)")
    try:
        link = await links.shorten(call.ctx, call.account.id, url)
    except links.LinkRefused as exc:
        raise error(f"URL refused: {exc}") from exc
    return {"url": link.target, "shortUrl": link.short_url}
