"""Endpoints for operators and test benches: `/metrics` and the simulator's control endpoint.

`POST /_sim/mo` injects a reply into the embedded SMSC simulator (what `hirondelle sim mo` calls).
It answers only to loopback clients, and only when the simulator runs in this process.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hirondelle.runtime import Workers
from hirondelle.services.authfailures import AuthFailures
from hirondelle.services.context import Context

#: SessionStats fields exported per connector, and whether each is a counter.
CONNECTOR_STATS = {
    "submitted": ("submit_sm sent, retries included", True),
    "acknowledged": ("submit_sm accepted by the SMSC", True),
    "rejected": ("submit_sm refused for good", True),
    "throttled": ("throttle or queue-full answers", True),
    "receipts": ("delivery receipts stored and acknowledged", True),
    "replies": ("replies stored and acknowledged", True),
    "in_flight": ("submit_sm awaiting an answer", False),
    "bound": ("1 when every link of the connector is bound", False),
}


class ConnectorCollector:
    """Reads each connector's session statistics when Prometheus scrapes."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers

    def collect(self) -> Iterator[Metric]:
        for field, (help_text, counter) in CONNECTOR_STATS.items():
            name = f"hirondelle_smpp_{field}"
            kind = CounterMetricFamily if counter else GaugeMetricFamily
            family = kind(name, help_text, labels=["connector"])
            for connector in self.workers.connectors.values():
                family.add_metric([connector.name], float(getattr(connector.session.stats, field)))
            yield family


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
    registry = CollectorRegistry()
    ctx: Context = request.app.state.ctx
    registry.register(AuthCollector(ctx.auth_failures))
    workers: Workers | None = getattr(request.app.state, "workers", None)
    if workers is not None:
        registry.register(ConnectorCollector(workers))
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
    workers: Workers | None = getattr(request.app.state, "workers", None)
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
