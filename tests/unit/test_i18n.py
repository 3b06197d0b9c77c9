"""The hosted pages' message catalogues and the pick of a language from Accept-Language."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.config import ConfigError, Settings
from authgate.ui.i18n import PACKAGED, CatalogueError, Catalogues, read_language
from authgate.ui.pages import Pages

SHIPPED = sorted(p.name for p in PACKAGED.iterdir() if p.is_dir())


def fields_of(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_english_and_german_are_shipped() -> None:
    assert {"en", "de"} <= set(SHIPPED)


@pytest.mark.parametrize("language", [tag for tag in SHIPPED if tag != "en"])
def test_every_shipped_language_has_exactly_the_keys_of_english(language: str) -> None:
    english = read_language(PACKAGED / "en")
    other = read_language(PACKAGED / language)
    assert sorted(set(english) - set(other)) == [], "missing"
    assert sorted(set(other) - set(english)) == [], "not in English"


@pytest.mark.parametrize("language", SHIPPED)
def test_every_text_names_the_same_fields_as_english(language: str) -> None:
    english = read_language(PACKAGED / "en")
    other = read_language(PACKAGED / language)
    wrong = [k for k in english if k in other and fields_of(other[k]) != fields_of(english[k])]
    assert wrong == []


@pytest.mark.parametrize("language", SHIPPED)
def test_every_key_is_namespaced_by_its_file(language: str) -> None:
    for path in (PACKAGED / language).glob("*.json"):
        keys = json.loads(path.read_text(encoding="utf-8"))
        assert all("." in key for key in keys), path


def test_a_key_defined_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"x.one": "1"}')
    (tmp_path / "b.json").write_text('{"x.one": "2"}')
    with pytest.raises(CatalogueError, match="x.one"):
        read_language(tmp_path)


def test_a_catalogue_that_is_not_flat_strings_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"x.one": {"nested": "no"}}')
    with pytest.raises(CatalogueError):
        read_language(tmp_path)


def test_templates_dir_overrides_and_adds_words(tmp_path: Path) -> None:
    own = tmp_path / "messages" / "en"
    own.mkdir(parents=True)
    (own / "mine.json").write_text('{"login.title": "Log on", "mine.extra": "Hi {name}"}')
    t = Catalogues.load(["en"], tmp_path).translator("en")
    assert t("login.title") == "Log on"
    assert t("mine.extra", name="Ann") == "Hi Ann"


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("de", "de"),
        ("de-CH, en;q=0.5", "de"),
        ("en;q=0.4, de;q=0.9", "de"),
        ("fr, de;q=0.1", "de"),
        ("fr", "en"),
        ("de;q=0, en", "en"),
        ("*", "en"),
        ("", "en"),
        ("DE", "de"),
    ],
)
def test_the_language_is_picked_by_accept_language(header: str, chosen: str) -> None:
    assert Catalogues.load(["en", "de"], None).pick(header) == chosen


def test_the_first_listed_language_is_the_fallback() -> None:
    assert Catalogues.load(["de", "en"], None).pick("fr") == "de"


@given(st.text(max_size=200))
def test_any_accept_language_picks_an_offered_language(header: str) -> None:
    assert Catalogues.load(["en", "de"], None).pick(header) in ("en", "de")


def test_a_missing_key_falls_back_to_english_then_to_the_key() -> None:
    catalogues = Catalogues.load(["de"], None)
    catalogues.messages["de"].pop("login.title")
    t = catalogues.translator("de")
    assert t("login.title") == "Sign in"
    assert t("no.such.key") == "no.such.key"


def test_a_key_defined_twice_in_templates_dir_stops_the_start(tmp_path: Path) -> None:
    own = tmp_path / "messages" / "en"
    own.mkdir(parents=True)
    (own / "a.json").write_text('{"x.twice": "1"}')
    (own / "b.json").write_text('{"x.twice": "2"}')
    with pytest.raises(ConfigError, match="x.twice"):
        Pages(Settings(ui={"templates_dir": tmp_path}))
