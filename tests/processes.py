"""`hirondelle` as a real process: start it, read its output as it comes, stop it with SIGTERM."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

#: The welcome text's ready-to-paste line: the base URL, the demo login and its API key.
WELCOME_CURL = re.compile(
    r"curl '(?P<base>https?://[^/']+)/http/9\.0/getInfo\?login=(?P<login>[^&]+)&apiKey=(?P<key>[^']+)'"
)


def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    """Poll `predicate` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


class Running:
    """`python -m hirondelle.cli ARGS` (or `program ARGS`) with stdout and stderr read line by
    line on a thread."""

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        program: list[str] | None = None,
        unset: tuple[str, ...] = (),
    ) -> None:
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("HIRONDELLE_") and k not in unset
        }
        self.process = subprocess.Popen(
            [*(program or [sys.executable, "-m", "hirondelle.cli"]), *args],
            cwd=cwd,
            env={**clean, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first line from now on that matches `pattern`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matched {pattern!r}; output:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 30.0) -> tuple[int, list[str]]:
        """Wait for the process to exit by itself: its exit code and every line it wrote."""
        code = self.process.wait(timeout)
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return code, self.lines

    def welcome(self, timeout: float = 60.0) -> tuple[str, str]:
        """(base URL, demo API key) from the first start's welcome text."""
        match = self.expect(WELCOME_CURL.pattern, timeout)
        return match["base"], urllib.parse.unquote(match["key"])

    def terminate(self, timeout: float = 10.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def __enter__(self) -> Running:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
