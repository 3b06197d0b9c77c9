"""The REST adapters import one another without a circle (issue 9, part C).

`api/admin.py` once imported `admin_gateway` and `admin_policies`, which imported it back
for the admin-auth dependency (hidden in a function to dodge the circle). The shared admin
dependencies now live in `api/admin_auth.py`; this keeps any new circle from coming back.
Imports inside functions count too: moving an import into a function hides a circle, it
does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "authgate"
API = PACKAGE / "api"


def api_imports(path: Path) -> set[str]:
    """The `authgate.api.*` modules a module imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "authgate.api":
                found.update(f"authgate.api.{alias.name}" for alias in node.names)
            elif node.module.startswith("authgate.api."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("authgate.api."))
    return found


def graph() -> dict[str, set[str]]:
    modules = {f"authgate.api.{p.stem}": p for p in API.glob("*.py") if p.stem != "__init__"}
    return {name: api_imports(path) & set(modules) for name, path in modules.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(edges[node]):
            if nxt in trail:
                found.append([*trail[trail.index(nxt) :], nxt])
            elif nxt > trail[0]:
                visit(nxt, [*trail, nxt])

    for start in sorted(edges):
        visit(start, [start])
    return found


def test_the_graph_is_read() -> None:
    assert "authgate.api.admin_auth" in graph()["authgate.api.admin_policies"]


def test_the_rule_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]


def test_the_api_modules_import_one_another_without_a_circle() -> None:
    assert circles(graph()) == []
