"""The gateway's modules import one another in one direction: no circle, not even one
hidden behind `TYPE_CHECKING` (a circle means two modules are one job split in two)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "src" / "authgate" / "gateway"
PREFIX = "authgate.gateway."


def gateway_imports(path: Path) -> set[str]:
    """The gateway modules `path` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.removeprefix(PREFIX) for name in found if name.startswith(PREFIX)}


def test_the_gateway_modules_import_without_a_circle() -> None:
    modules = {path.stem: path for path in GATEWAY.glob("*.py") if path.stem != "__init__"}
    graph = {name: gateway_imports(path) & modules.keys() for name, path in modules.items()}
    assert len(graph) > 20
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as circle:
        raise AssertionError(f"import circle: {' -> '.join(circle.args[1])}") from None
