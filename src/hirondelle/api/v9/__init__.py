"""API 9.0 (allmysms HTTP API): a module per family of methods, over `methods.serve`."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Importing the family modules registers their methods.
from hirondelle.api.v9 import accounts, lists, reports, sending, subaccounts, tools  # noqa: F401
from hirondelle.api.v9.methods import serve


async def _method_endpoint(request: Request) -> Response:
    return await serve(request, request.path_params["method"])


async def _simplified_send(request: Request) -> Response:
    return await serve(request, "directSend")


def routes() -> list[Route]:
    verbs = ["GET", "POST"]
    return [
        Route("/http/9.0", _simplified_send, methods=verbs),
        Route("/http/9.0/", _simplified_send, methods=verbs),
        Route("/http/9.0/{method}", _method_endpoint, methods=verbs),
        Route("/http/9.0/{method}/", _method_endpoint, methods=verbs),
    ]
