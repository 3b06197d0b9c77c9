"""Secret-bearing settings: one marker for every such key, and one resolver for them all.

A secret-bearing key takes its value literally, or by reference: `env:NAME` (an environment
variable) or `file:PATH` (a file's content, surrounding whitespace dropped). Keys are marked
with `SecretRef` in the settings models, so `secret_keys` can list every one of them (the
tests hold each to taking references) and the JSON schema says which they are. References
stay unresolved in the settings, so printing a configuration never prints a secret; each
is resolved where it is used, and a missing one is an error naming the key and the file or
variable.

A module of its own so that section models in other packages (the gateway's) can mark
their keys without an import cycle through `authgate.config`.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field

SECRET_MARK = "x-secret-reference"
"""The JSON schema keyword on every secret-bearing key."""

SecretRef = Annotated[
    str,
    Field(
        min_length=1,
        json_schema_extra={SECRET_MARK: True},
        description="Secret: a value, or a reference env:NAME or file:PATH.",
    ),
]
"""A secret-bearing setting: a literal value, `env:NAME` or `file:PATH`."""


class SecretReferenceError(Exception):
    """A reference that cannot be resolved; names the key and the variable or file."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}")


def is_reference(value: str) -> bool:
    return value.startswith(("env:", "file:"))


def reference_file(value: str) -> Path | None:
    """The file a `file:` reference names, else None."""
    return Path(value[5:]) if value.startswith("file:") else None


def resolve(value: str, key: str) -> str:
    """The secret `value` stands for; `key` is the dotted settings key, for errors."""
    if value.startswith("env:"):
        name = value[4:]
        found = os.environ.get(name)
        if found is None:
            raise SecretReferenceError(key, f"environment variable {name} is not set ({value})")
        return found
    path = reference_file(value)
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretReferenceError(key, f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SecretReferenceError(key, f"{path} is not UTF-8 text") from None
    return value


def _marked(extra: Any) -> bool:
    return isinstance(extra, dict) and extra.get(SECRET_MARK) is True


def _holds_secret(annotation: Any) -> bool:
    """Whether an annotation is SecretRef, or a union with it (`SecretRef | None`)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return any(_marked(getattr(m, "json_schema_extra", None)) for m in annotation.__metadata__)
    if origin in (Union, types.UnionType):
        return any(_holds_secret(arg) for arg in typing.get_args(annotation))
    return False


def _is_secret(field: Any) -> bool:
    return _marked(field.json_schema_extra) or _holds_secret(field.annotation)


def _models(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The models an annotation holds, with the key part they sit under ("" or "*")."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [found for arg in typing.get_args(annotation) for found in _models(arg)]
    if origin in (dict, list, tuple):
        inner = typing.get_args(annotation)[-1]  # a dict's values, a list's items
        return [("*" + part, model) for part, model in _models(inner)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    return []


def secret_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every secret-bearing key of `model`, dotted (`*` for any name or index)."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        if _is_secret(field):
            keys.append(key)
        for part, inner in _models(field.annotation):
            keys.extend(secret_keys(inner, f"{key}.{part}." if part else f"{key}."))
    return keys


def _values_at(node: Any, parts: list[str], key: str) -> Iterator[tuple[str, Any]]:
    """The values under a key pattern in dumped settings, each with its own key."""
    if not parts:
        yield key, node
        return
    head, rest = parts[0], parts[1:]
    if isinstance(node, list) and head == "*":
        children: Any = enumerate(node)
    elif isinstance(node, dict):
        children = node.items() if head == "*" else [(head, node.get(head))]
    else:
        return
    for name, child in children:
        yield from _values_at(child, rest, f"{key}.{name}" if key else str(name))


def unresolvable(
    values: dict[str, Any],
    keys: list[str],
    generated_later: Callable[[str, Path], bool] = lambda key, path: False,
) -> list[str]:
    """Every reference under `keys` (patterns) in `values` (dumped settings) that cannot
    be resolved now, except a missing file that `generated_later(pattern, path)` excuses."""
    problems: list[str] = []
    for pattern in keys:
        for key, value in _values_at(values, pattern.split("."), ""):
            if not isinstance(value, str):
                continue
            path = reference_file(value)
            if path is not None and not path.exists() and generated_later(pattern, path):
                continue
            try:
                resolve(value, key)
            except SecretReferenceError as exc:
                problems.append(str(exc))
    return problems
