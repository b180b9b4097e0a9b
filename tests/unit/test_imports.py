"""Imports run one way (DESIGN.md §3): this test reads every module of `src/hirondelle` with `ast`,
builds the graph of project imports, and fails on a cycle or on an import that the table below
does not allow. A newcomer reads the table to know what a file may import.

Each key is a part of the package (a subpackage, or a top-level module); its value lists the
parts it may import besides itself. The wiring at the top (app, server, workers, cli) may import
anything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "hirondelle"

#: part -> the parts it may import. `*`: anything.
RULES: dict[str, set[str]] = {
    # pure rules, no I/O
    "domain": set(),
    "config": {"domain"},
    # the only place that speaks SQL
    "store": {"domain", "config"},
    # the protocol: pure text rules only (pdu.py is data; codec.py and connection.py import it)
    "smpp": {"domain", "batched_writer"},
    # Context: settings + store + clocks
    "context": {"config", "domain", "store", "authfailures"},
    "notify": {"domain", "store", "context", "config"},
    "services": {"domain", "store", "context", "notify", "config"},
    # the connector turns PDUs into plain values for services
    "dispatch": {"services", "smpp", "domain", "context", "config"},
    # the SMPP server for customers: PDUs to plain values for services, as dispatch does the
    # other way; a package of its own so that dispatch/ stays about operators
    "smppserver": {"services", "smpp", "domain", "context", "config", "batched_writer"},
    # HTTP middleware, below the applications that use them
    "asgi": set(),
    "logs": {"config", "asgi"},
    "authfailures": set(),
    "headers": {"asgi"},
    "bodylimit": {"config", "asgi"},
    "forwarded": {"config", "asgi", "domain"},
    "httpguard": {"config", "batched_writer"},
    # what is written in one turn of the event loop, in one system call (SMPP and HTTP)
    "batched_writer": set(),
    # thin: decode, call a service, encode
    "api": {"services", "domain", "context", "config", "logs", "authfailures"},
    "web": {"services", "domain", "context", "config", "logs", "authfailures"},
    # the wiring
    "app": {"*"},
    "workers": {"*"},
    "server": {"*"},
    "cli": {"*"},
    "webhook_child": {"*"},
    # the event loop's set-up, shared by the wiring
    "eventloop": set(),
    "__init__": set(),
}

#: Files that must not import their neighbours (STYLE.md §1: pdu.py is data).
FILE_RULES: dict[str, set[str]] = {
    "hirondelle.smpp.pdu": {"hirondelle.smpp.codec", "hirondelle.smpp.connection"},
}


#: Known breaches being removed (issue "The house in order"): each is an expected failure, and
#: strict, so the entry must go the day its module is fixed. The list must end empty.
PENDING: dict[str, str] = {}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports_of(name: str, path: Path) -> set[str]:
    """The project modules `path` imports (for `from x import y`, both x and x.y when y is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    known = {n for n, _ in modules()}
    return {m for m in found if m in known and m != name}


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


GRAPH = {name: imports_of(name, path) for name, path in modules()}


def test_every_part_has_a_rule() -> None:
    missing = {part_of(m) for m in GRAPH} - set(RULES)
    assert not missing, f"add these parts to RULES: {sorted(missing)}"


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(m, marks=pytest.mark.xfail(reason=PENDING[m], strict=True))
        if m in PENDING
        else m
        for m in sorted(GRAPH)
    ],
)
def test_imports_follow_the_table(module: str) -> None:
    part = part_of(module)
    allowed = RULES[part]
    if "*" in allowed:
        return
    wrong = sorted(
        m for m in GRAPH[module] if part_of(m) != part and part_of(m) not in allowed | {"__init__"}
    )
    wrong += sorted(FILE_RULES.get(module, set()) & GRAPH[module])
    assert not wrong, f"{module} ({part}) may import only {sorted(allowed)}; it imports {wrong}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports in `graph`, or None. A package importing its own submodules (to
    re-export them) is not one."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"p": {"p.x"}, "p.x": set()}) is None


def test_no_import_cycle() -> None:
    """An import inside a function runs later, but it still ties two modules: it counts too."""
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_codec_imports_alone() -> None:
    """`import hirondelle.smpp.codec` works in a fresh interpreter, whatever the package's
    `__init__` imports first."""
    for module in ("hirondelle.smpp.codec", "hirondelle.smpp.connection", "hirondelle.smpp.pdu"):
        done = subprocess.run(
            [sys.executable, "-c", f"import {module}"], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
