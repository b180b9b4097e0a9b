"""`/account/forgot-password`: the sign-in form's "Forgot your password?". The visitor gives a
login; the answer is the same whether or not it exists (services/password_resets.py sends the
email with its single-use link to the set-password page, and holds back email bombing)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hirondelle.context import Context
from hirondelle.services import password_resets
from hirondelle.web.account_pages import FORM_EXPIRED
from hirondelle.web.routes.account import form_fields, signed_out_form, signed_out_form_ok

SUBJECT = "forgot-password:"
TEMPLATE = "forgot_password.html"


async def forgot_password(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    minutes = ctx.settings.password_reset_minutes
    if request.method != "POST":
        return signed_out_form(request, TEMPLATE, SUBJECT, sent=False, minutes=minutes)
    fields = await form_fields(request)
    if not signed_out_form_ok(request, SUBJECT, fields):
        return signed_out_form(
            request, TEMPLATE, SUBJECT, 403, error=FORM_EXPIRED, sent=False, minutes=minutes
        )
    address = request.client.host if request.client else None
    await password_resets.request_reset(ctx, fields.get("login", ""), address)
    return signed_out_form(request, TEMPLATE, SUBJECT, sent=True, minutes=minutes)
