"""Endpoints for operators and test benches: `/metrics` and the simulator's control endpoint.

`/metrics` answers loopback clients only, unless the `metrics_token` setting is set: then it
wants `Authorization: Bearer <token>` from every client.

`POST /_sim/mo` injects a reply into the embedded SMSC simulator (what `hirondelle sim mo` calls).
It answers only to loopback clients, and only when the simulator runs in this process.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hirondelle.authfailures import AuthFailures
from hirondelle.context import Context


class _HasStats(Protocol):
    @property
    def stats(self) -> object: ...


class _Connector(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def sessions(self) -> Sequence[_HasStats]: ...
    @property
    def bound(self) -> bool: ...


class _Simulator(Protocol):
    async def inject_mo(self, source: str, destination: str, text: str) -> None: ...


class LiveWorkers(Protocol):
    """What these endpoints read of the workers running in this process (`app.state.workers`,
    a `hirondelle.workers.Workers`): web/ sits below the wiring and never imports it."""

    @property
    def connectors(self) -> Mapping[str, _Connector]: ...
    @property
    def webhooks(self) -> _HasStats | None: ...
    @property
    def simulator(self) -> _Simulator | None: ...


#: SessionStats fields exported per connector, and whether each is a counter.
CONNECTOR_STATS = {
    "submitted": ("submit_sm sent, retries included", True),
    "acknowledged": ("submit_sm accepted by the SMSC", True),
    "rejected": ("submit_sm refused for good", True),
    "throttled": ("throttle or queue-full answers", True),
    "timeouts": ("submit_sm not answered in time", True),
    "receipts": ("delivery receipts stored and acknowledged", True),
    "replies": ("replies stored and acknowledged", True),
    "in_flight": ("submit_sm awaiting an answer", False),
    "bound": ("1 when the connector is bound (one of its binds at least)", False),
}


class ConnectorCollector:
    """Reads each connector's session statistics when Prometheus scrapes."""

    def __init__(self, workers: LiveWorkers) -> None:
        self.workers = workers

    def collect(self) -> Iterator[Metric]:
        for field, (help_text, counter) in CONNECTOR_STATS.items():
            name = f"hirondelle_smpp_{field}"
            kind = CounterMetricFamily if counter else GaugeMetricFamily
            family = kind(name, help_text, labels=["connector"])
            for connector in self.workers.connectors.values():
                value = sum(float(getattr(s.stats, field)) for s in connector.sessions)
                if field == "bound":  # 1 when bound: by any of its binds
                    value = float(connector.bound)
                family.add_metric([connector.name], value)
            yield family


#: WebhookStats fields exported as counters.
WEBHOOK_STATS = {
    "delivered": "webhook calls answered 2xx",
    "failed": "webhook calls that did not deliver (retried later or given up)",
    "given_up": "webhook events given up (410 Gone, bad URL, past webhook_max_age_hours)",
}


class WebhookCollector:
    """Reads the webhook sender's counters when Prometheus scrapes."""

    def __init__(self, workers: LiveWorkers) -> None:
        self.workers = workers

    def collect(self) -> Iterator[Metric]:
        sender = self.workers.webhooks
        for field, help_text in WEBHOOK_STATS.items():
            value = getattr(sender.stats, field) if sender is not None else 0
            yield CounterMetricFamily(f"hirondelle_webhook_{field}", help_text, value=value)


def _metrics_refusal(request: Request) -> Response | None:
    """Why `request` may not read /metrics, as the answer to give; None when it may."""
    token: str = request.app.state.ctx.settings.metrics_token
    if not token:
        if _from_loopback(request):
            return None
        error = "/metrics answers loopback clients only; set metrics_token to allow others"
        return JSONResponse({"error": error}, 403)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode()):
        return None
    error = "/metrics wants the metrics_token setting as Authorization: Bearer <token>"
    return JSONResponse({"error": error}, 401, headers={"WWW-Authenticate": "Bearer"})


class AuthCollector:
    """Failed authentications (API 9.0 and REST) since the process started."""

    def __init__(self, failures: AuthFailures) -> None:
        self.failures = failures

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "hirondelle_auth_failures", "failed authentications (wrong login or API key)"
        )
        family.add_metric([], float(self.failures.total))
        yield family


async def metrics(request: Request) -> Response:
    if (refusal := _metrics_refusal(request)) is not None:
        return refusal
    registry = CollectorRegistry()
    ctx: Context = request.app.state.ctx
    registry.register(AuthCollector(ctx.auth_failures))
    workers: LiveWorkers | None = getattr(request.app.state, "workers", None)
    if workers is not None:
        registry.register(ConnectorCollector(workers))
        registry.register(WebhookCollector(workers))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("testclient", "localhost")


async def inject_mo(request: Request) -> Response:
    """Inject a reply into the embedded simulator: JSON {"from", "text", "to"?}."""
    if not _from_loopback(request):
        return JSONResponse({"error": "the simulator control endpoint answers loopback only"}, 403)
    workers: LiveWorkers | None = getattr(request.app.state, "workers", None)
    simulator = workers.simulator if workers is not None else None
    if simulator is None:
        return JSONResponse({"error": "no embedded simulator in this process"}, 404)
    try:
        body = await request.json()
        source, text = str(body["from"]), str(body["text"])
        destination = str(body.get("to") or request.app.state.ctx.settings.default_sender)
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": 'expected JSON {"from": NUMBER, "text": TEXT, "to"?}'}, 400)
    await simulator.inject_mo(source.lstrip("+"), destination, text)
    return JSONResponse({"status": "injected", "from": source, "to": destination})
