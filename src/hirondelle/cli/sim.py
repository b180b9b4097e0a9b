"""`hirondelle smsc-sim` and `hirondelle sim mo`: the SMSC simulator from the command line."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated

import httpx
import typer

from hirondelle.config import load_settings

sim_app = typer.Typer(
    help="Talk to the SMSC simulator embedded in a running `hirondelle serve`.",
    no_args_is_help=True,
)


def smsc_sim(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 2775,
    receipt_delay: Annotated[float, typer.Option(help="Seconds before each receipt.")] = 1.0,
    system_id: Annotated[
        str | None, typer.Option(help="Accept only this system_id (default: any).")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Accept only this password (default: any).")
    ] = None,
    bind_tps: Annotated[
        float, typer.Option(help="Submits answered per second per bind at most (0: no cap).")
    ] = 0,
    history: Annotated[
        int, typer.Option(help="Messages remembered to count duplicates among (memory).")
    ] = 1000,
    stats_file: Annotated[
        str | None,
        typer.Option(help="Write the counts (submits, messages, duplicates…) there as JSON."),
    ] = None,
) -> None:
    """Run a standalone SMSC simulator for test benches.

    Outcomes follow the destination's last digits: …0000 not delivered, …9999 rejected at
    submit, …8888 unknown number, …7777 throttled once then accepted, anything else delivered.
    With --stats-file, its counts (duplicates: a destination and text received again) are
    written every half second as JSON.
    """
    from hirondelle.eventloop import run_loop
    from hirondelle.smpp.simulator import run_simulator

    with contextlib.suppress(KeyboardInterrupt):
        run_loop(
            run_simulator(
                host,
                port,
                receipt_delay,
                stats_file=stats_file or "",
                system_id=system_id,
                password=password,
                bind_tps=bind_tps,
                history=history,
            )
        )


@sim_app.command("mo")
def sim_mo(
    sender: Annotated[str, typer.Argument(metavar="FROM", help="The handset's number.")],
    text: Annotated[str, typer.Argument(help="The reply's text (e.g. STOP).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Short code replied to (default: the sender).")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="Base URL of the running server (default: the configured address)."),
    ] = None,
) -> None:
    """Inject a reply from a handset into the running server's simulator."""
    if server is None:
        try:
            settings = load_settings()
        except Exception as exc:  # a bad hirondelle.toml: say so, as the other commands do
            typer.echo(f"Error: invalid configuration: {exc}", err=True)
            raise typer.Exit(1) from exc
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        server = f"http://{host}:{settings.port}"
    body = {"from": sender, "text": text, **({"to": to} if to else {})}
    try:
        response = httpx.post(f"{server.rstrip('/')}/_sim/mo", json=body, timeout=10, verify=False)
    except httpx.HTTPError as exc:
        typer.echo(f"Error: cannot reach {server}: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        answer = response.json() if response.content else {}
    except ValueError:  # not JSON: not a Hirondelle server, or an error page in front of it
        answer = {"error": f"HTTP {response.status_code}: {response.text[:200]}"}
    if response.status_code != 200:
        typer.echo(f"Error: {answer.get('error', response.text)}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(answer))
