"""The import rules of ARCHITECTURE.md, checked on the source so they stay true.

Besides the adapter -> domain -> store direction, no two top-level packages may import each
other, directly or round a longer loop, and no two modules either: a cycle means neither can
be understood (or moved) without the other. Imports inside functions and behind
`TYPE_CHECKING` count too: moving an import there hides a circle, it does not remove it.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from authgate import errors
from authgate.api.errors import STATUS
from authgate.policy.errors import ALL_POLICY_ERRORS

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "authgate"
DOMAIN = ("identity", "tokens", "policy", "clients", "federation")
ADAPTERS = ("api", "oauth", "ui", "gateway", "hooks", "cognito")
WEB = ("starlette", "fastapi", "uvicorn")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_in(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (PACKAGE / package).rglob("*.py"))


def top_level_packages() -> list[str]:
    return sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def package_graph() -> dict[str, set[str]]:
    """Which top-level package imports which (its own modules' imports, self-imports aside)."""
    packages = top_level_packages()
    graph: dict[str, set[str]] = {}
    for package in packages:
        names = {name for path in modules_in(package) for name in imports_of(path)}
        targets = {n.split(".")[1] for n in names if n.startswith("authgate.")}
        graph[package] = {t for t in targets if t in packages and t != package}
        graph[package] |= _from_imports_of_packages(package, packages)
    return graph


def _from_imports_of_packages(package: str, packages: list[str]) -> set[str]:
    """`from authgate import tokens` names a package through its parent's import."""
    found: set[str] = set()
    for path in modules_in(package):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "authgate" and node.level == 0:
                found.update(a.name for a in node.names if a.name in packages and a.name != package)
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each import loop once, as the packages along it (first one repeated at the end)."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for target in sorted(graph.get(path[-1], ())):
            if target == path[0]:
                if frozenset(path) not in seen:
                    seen.add(frozenset(path))
                    found.append([*path, target])
            elif target not in path and target > path[0]:
                walk([*path, target])

    for start in sorted(graph):
        walk([start])
    return found


def test_the_rule_finds_modules_to_check() -> None:
    assert len(modules_in(*DOMAIN)) >= 10


def test_the_rule_sees_every_top_level_package() -> None:
    assert {*DOMAIN, *ADAPTERS, "store"} <= set(top_level_packages())
    assert package_graph()["oauth"] >= {"tokens", "clients"}


def test_no_import_cycle_between_top_level_packages() -> None:
    loops = cycles(package_graph())
    assert not loops, "import cycles: " + "; ".join(" -> ".join(loop) for loop in loops)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Which authgate module imports which: `from authgate.api import admin_auth` names the
    module `admin_auth`. A module importing its own parent package is not a circle."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {
            t for t in targets & modules.keys() if t != name and not name.startswith(f"{t}.")
        }
    return graph


def import_circle(graph: Mapping[str, set[str]]) -> list[str]:
    """One import circle of `graph` (first module repeated at the end), or []."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as circle:
        return list(reversed(circle.args[1]))
    return []


def test_the_module_graph_reads_imports_of_modules_by_their_package() -> None:
    graph = module_graph()
    assert "authgate.api.admin_auth" in graph["authgate.api.admin_policies"]
    assert "authgate.gateway.cors_values" in graph["authgate.gateway.cors"]


def test_the_circle_finder_finds_a_circle_of_modules() -> None:
    assert import_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) in (
        ["a", "b", "c", "a"],
        ["b", "c", "a", "b"],
        ["c", "a", "b", "c"],
    )
    assert import_circle({"a": {"b"}, "c": {"a", "b"}}) == []


def test_no_import_circle_between_modules() -> None:
    circle = import_circle(module_graph())
    assert not circle, "import circle: " + " -> ".join(circle)


def test_identity_may_use_tokens_but_tokens_not_identity() -> None:
    graph = package_graph()
    assert "tokens" in graph["identity"]
    assert "identity" not in graph["tokens"]


def test_cycle_finder_finds_a_direct_cycle() -> None:
    assert cycles({"identity": {"tokens"}, "tokens": {"identity"}}) == [
        ["identity", "tokens", "identity"]
    ]


def test_cycle_finder_finds_a_longer_cycle_once() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_cycle_finder_passes_a_graph_with_shared_dependencies() -> None:
    graph = {
        "oauth": {"tokens", "clients"},
        "identity": {"tokens", "clients"},
        "tokens": {"clients"},
    }
    assert cycles(graph) == []


def test_cycle_finder_reads_function_level_and_package_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from authgate.tokens.grants import x\nimport authgate.store\n")
    assert imports_of(module) == {"authgate.tokens.grants", "authgate.store"}


@pytest.mark.parametrize("path", modules_in(*DOMAIN), ids=lambda p: p.name)
def test_domain_imports_no_web_framework(path: Path) -> None:
    web = {name for name in imports_of(path) if name.split(".")[0] in WEB}
    assert not web, f"{path.name} imports {web}"


@pytest.mark.parametrize("path", modules_in(*DOMAIN), ids=lambda p: p.name)
def test_domain_imports_no_adapter(path: Path) -> None:
    adapters = {
        name
        for name in imports_of(path)
        if name.startswith(tuple(f"authgate.{a}" for a in ADAPTERS))
    }
    assert not adapters, f"{path.name} imports {adapters}"


@pytest.mark.parametrize(
    "path",
    [p for p in PACKAGE.rglob("*.py") if "store" not in p.relative_to(PACKAGE).parts],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_only_store_speaks_sql(path: Path) -> None:
    sql = {name for name in imports_of(path) if name.split(".")[0] in ("sqlalchemy", "alembic")}
    assert not sql, f"{path.relative_to(PACKAGE)} imports {sql}"


@pytest.mark.parametrize("path", modules_in("store"), ids=lambda p: p.name)
def test_store_imports_no_domain_or_adapter(path: Path) -> None:
    upward = {
        name
        for name in imports_of(path)
        if name.startswith(tuple(f"authgate.{p}" for p in (*DOMAIN, *ADAPTERS)))
    }
    assert not upward, f"{path.name} imports {upward}"


@pytest.mark.parametrize(
    "error", (*errors.ALL_DOMAIN_ERRORS, *ALL_POLICY_ERRORS), ids=lambda e: e.__name__
)
def test_every_domain_error_has_a_rest_status(error: type[errors.DomainError]) -> None:
    # the database, or a hook, not the request
    server_side = error in (errors.StorageUnavailable, errors.HookFailed)
    assert STATUS[error] in (range(500, 600) if server_side else range(400, 500))


def test_the_error_list_names_every_domain_error() -> None:
    defined = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type)
        and issubclass(obj, errors.DomainError)
        and obj is not errors.DomainError
    }
    assert defined == set(errors.ALL_DOMAIN_ERRORS)
