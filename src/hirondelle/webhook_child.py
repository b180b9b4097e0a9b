"""`python -m hirondelle.webhook_child`: the webhook sender process that `hirondelle serve`
and `hirondelle worker` start (notify/sender_process.py); not a command for people.

Wiring of its own, outside `hirondelle.cli`: importing the CLI would load the web application
and the commands, 30 MB the sender never uses. It sets up the logs and the event loop as `serve`
does, which notify/ may not import.
"""

from __future__ import annotations

from hirondelle import logs
from hirondelle.eventloop import run_loop
from hirondelle.notify.sender_process import read_settings, run_child


def main() -> None:
    settings = read_settings()
    if settings is None:
        return  # the parent died before it said anything
    logs.configure(settings.log_format)
    run_loop(run_child(settings))


if __name__ == "__main__":
    main()
