"""The hosted pages' words: one message catalogue per language, picked by Accept-Language.

A catalogue is every `messages/<lang>/*.json` file (flat `{"key": "text"}`) of the package,
merged; a key defined in two files is an error at start, so two areas can never fight over
one key unnoticed. `templates_dir/messages/<lang>/*.json` may then override any key or add
new ones (also whole languages). Texts are `str.format` templates with named fields:
`t("signup.sent", email=...)`. A key missing in the chosen language falls back to the first
configured language, then to English, then to the key itself (a page never fails on words).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

PACKAGED = Path(__file__).parent / "messages"
_RANGE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*|\*")
_QUALITY = re.compile(r"q=(0(\.[0-9]{0,3})?|1(\.0{0,3})?)")
MAX_ACCEPT_LANGUAGE = 512


class CatalogueError(Exception):
    """A catalogue that cannot be used: unreadable, not flat strings, or a key defined twice."""


class Translate(Protocol):
    def __call__(self, key: str, /, **values: Any) -> str: ...


def read_language(folder: Path) -> dict[str, str]:
    """Every `*.json` of one language folder, merged; a key in two files is an error."""
    merged: dict[str, str] = {}
    origin: dict[str, Path] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CatalogueError(f"{path}: cannot be read as JSON: {exc}") from None
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
        ):
            raise CatalogueError(f"{path}: must be one flat object of strings")
        for key, value in entries.items():
            if key in merged:
                raise CatalogueError(f"{path}: key {key!r} is already defined in {origin[key]}")
            merged[key] = value
            origin[key] = path
    return merged


@dataclass(frozen=True)
class Catalogues:
    """The words of every offered language, the first being the fallback."""

    languages: tuple[str, ...]
    messages: dict[str, dict[str, str]]

    @classmethod
    def load(cls, languages: Iterable[str], templates_dir: Path | None) -> Catalogues:
        offered = tuple(languages)
        messages: dict[str, dict[str, str]] = {}
        for tag in {*offered, "en"}:
            words = read_language(PACKAGED / tag) if (PACKAGED / tag).is_dir() else {}
            own = templates_dir / "messages" / tag if templates_dir is not None else None
            if own is not None and own.is_dir():
                words = {**words, **read_language(own)}
            messages[tag] = words
        return cls(offered, messages)

    def pick(self, accept_language: str | None) -> str:
        """The offered language the browser prefers most (RFC 9110 12.5.4, RFC 4647 3.3.1)."""
        for wanted in _preferences(accept_language):
            if wanted == "*":
                return self.languages[0]
            for tag in self.languages:
                lowered = tag.lower()
                if lowered == wanted or lowered.startswith(f"{wanted}-"):
                    return tag
                if wanted.startswith(f"{lowered}-"):
                    return tag
        return self.languages[0]

    def translator(self, language: str) -> Translate:
        chain = [self.messages.get(language, {}), self.messages[self.languages[0]]]
        chain.append(self.messages["en"])

        def t(key: str, /, **values: Any) -> str:
            for words in chain:
                if key in words:
                    text = words[key]
                    return text.format(**values) if values else text
            return key

        return t


def _preferences(header: str | None) -> list[str]:
    """The language ranges of an Accept-Language header, most wanted first (q=0 dropped)."""
    if not header or len(header) > MAX_ACCEPT_LANGUAGE:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        parts = [p.strip() for p in item.split(";")]
        tag = parts[0]
        if not _RANGE.fullmatch(tag):
            continue
        quality = 1.0
        for parameter in parts[1:]:
            match = _QUALITY.fullmatch(parameter.replace(" ", ""))
            quality = float(match.group(1)) if match else 0.0
        if quality > 0:
            ranked.append((-quality, position, tag.lower()))
    return [tag for _, _, tag in sorted(ranked)]
