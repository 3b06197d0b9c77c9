"""The import rules of ARCHITECTURE.md, checked on the source so they stay true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from authgate import errors
from authgate.api.errors import STATUS
from authgate.policy.errors import ALL_POLICY_ERRORS

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "authgate"
DOMAIN = ("identity", "tokens", "policy")
ADAPTERS = ("api", "oauth", "ui", "gateway")
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


def test_the_rule_finds_modules_to_check() -> None:
    assert len(modules_in(*DOMAIN)) >= 10


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
    assert 400 <= STATUS[error] < 500


def test_the_error_list_names_every_domain_error() -> None:
    defined = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type)
        and issubclass(obj, errors.DomainError)
        and obj is not errors.DomainError
    }
    assert defined == set(errors.ALL_DOMAIN_ERRORS)
