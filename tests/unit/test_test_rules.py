"""The tests keep their promise (STYLE.md §4): none sleeps to wait for a timer — a test polls a
condition with a deadline or advances an injected clock — and large-volume tests live in
`tests/volume/`, so `tests/unit/` stays quick."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: From this many items a test is a volume test...
VOLUME = 10_000
#: ...except a sweep of every Unicode code point (pure and fast: no row is written).
CODE_POINTS = {0x10000, 0x110000}


def sources(folder: Path) -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(TESTS)), ast.parse(path.read_text(), str(path)))
        for path in sorted(folder.rglob("*.py"))
    ]


def is_sleep(call: ast.Call) -> bool:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else None
    return name == "sleep" and not (
        call.args and isinstance(call.args[0], ast.Constant) and call.args[0].value == 0
    )


def sleeps_outside_polling(tree: ast.Module) -> list[int]:
    """Lines of `*.sleep(n)` (n not 0: a plain event-loop turn is fine) outside a `while`/`for`
    loop: a sleep in a loop waits for a condition it re-checks, a lone one waits for time."""
    found: list[int] = []

    def visit(node: ast.AST, in_loop: bool) -> None:
        if isinstance(node, ast.Call) and is_sleep(node) and not in_loop:
            found.append(node.lineno)
        inner = in_loop or isinstance(node, ast.While | ast.For | ast.AsyncFor)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = False
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def large_ranges(tree: ast.Module) -> list[int]:
    """Lines of `range(n)` with a literal n of VOLUME or more (code-point sweeps aside)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and any(
            isinstance(a, ast.Constant)
            and isinstance(a.value, int)
            and a.value >= VOLUME
            and a.value not in CODE_POINTS
            for a in node.args
        )
    ]


def test_no_test_sleeps_to_wait_for_a_timer() -> None:
    found = {
        name: lines
        for name, tree in sources(TESTS)
        if (lines := sleeps_outside_polling(tree))
    }  # fmt: skip
    assert found == {}


def test_large_volume_tests_live_outside_unit() -> None:
    found = {name: lines for name, tree in sources(TESTS / "unit") if (lines := large_ranges(tree))}
    assert found == {}
    assert any(large_ranges(tree) for _, tree in sources(TESTS / "volume"))


def test_the_rules_see_what_they_forbid() -> None:
    tree = ast.parse(
        "async def t():\n    await asyncio.sleep(0.05)\n    [x for x in range(100_000)]\n"
        "    while not done():\n        await asyncio.sleep(0.01)\n    await asyncio.sleep(0)\n"
    )
    assert sleeps_outside_polling(tree) == [2]
    assert large_ranges(tree) == [3]
