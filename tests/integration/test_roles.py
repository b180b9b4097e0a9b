"""`hirondelle web` and `hirondelle worker` as real processes: what they refuse, and the
supervisor of `web --processes N`."""

from __future__ import annotations

import os
import re
import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.processes import Running, wait_until

START = 90.0  # a deadline: start-ups are slow on a loaded machine


@pytest.mark.parametrize("role", ["web", "worker"])
def test_a_role_refuses_sqlite_with_one_line(role: str, tmp_path: Path) -> None:
    env = {"HIRONDELLE_DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}
    with Running([role], tmp_path, env) as process:
        code, lines = process.finish(START)
    assert code == 2
    assert lines == [
        f"Error: `hirondelle {role}` needs PostgreSQL (--database postgresql://…): with SQLite "
        "one process does everything, run `hirondelle serve`"
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.postgres
def test_web_processes_share_the_port_and_a_dead_one_is_replaced(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {
        "HIRONDELLE_DATABASE_URL": postgres_url,
        "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
        "HIRONDELLE_DEMO_ACCOUNT": "false",
    }
    with Running(["web", "--processes", "2", "--port", "0"], tmp_path, env) as web:
        base = web.expect(r"listening on (http://\S+)", START)[1]
        pids = [int(p) for p in re.findall(r"\d+", web.expect(r"2 web processes: (.*)")[1])]
        assert len(pids) == 2
        for _ in range(4):
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        os.kill(pids[0], signal.SIGKILL)
        web.expect(r"a web process ended: starting another", START)
        wait_until(lambda: healthy(base), START)
        assert web.terminate(60) == 0
        assert not alive(pids[1])


@pytest.mark.postgres
def test_web_processes_on_a_port_in_use_is_one_line(postgres_url: str, tmp_path: Path) -> None:
    env = {"HIRONDELLE_DATABASE_URL": postgres_url}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with Running(["web", "--processes", "2", "--port", str(port)], tmp_path, env) as web:
            code, lines = web.finish(START)
    assert code == 1
    assert lines[-1].startswith(f"Error: cannot listen on 127.0.0.1:{port} (")
