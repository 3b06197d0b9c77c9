"""The `ui:` section: the prefix reserved from the gate, languages, return_to origins; and
which places a page may send the browser back to (`return_to`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from authgate.config import ConfigError, Settings, UiSettings, json_schema, load_settings
from authgate.gateway.config import GatewaySettings
from authgate.gateway.dispatch import with_gate
from authgate.reload import GatewayReloader, ReloadRefused
from authgate.ui.return_to import safe_return_to

ISSUER = "https://id.example"
APP = "https://app.example"
UI = UiSettings(return_to_origins=[APP])


def route(path: str, name: str = "r") -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "upstream": "u",
        "authenticate": ["anonymous"],
        "authorize": {"allow": True},
    }


def config(tmp_path: Path, routes: list[dict[str, Any]], ui: dict[str, Any] | None = None) -> Path:
    data: dict[str, Any] = {
        "gateway": {"upstreams": {"u": {"targets": ["http://127.0.0.1:9"]}}, "routes": routes}
    }
    if ui is not None:
        data["ui"] = ui
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


@pytest.mark.parametrize("path", ["/auth", "/auth/**", "/auth/login", "/auth/*/x"])
def test_the_gate_may_not_route_under_the_default_prefix(tmp_path: Path, path: str) -> None:
    (problem,) = problems(config(tmp_path, [route(path)]))
    assert problem.startswith("gateway.routes.0.path:")
    assert "ui.prefix" in problem


def test_the_gate_may_not_route_under_a_configured_prefix(tmp_path: Path) -> None:
    path = config(tmp_path, [route("/auth/x"), route("/pages/y", "p")], {"prefix": "/pages/in"})
    (problem,) = problems(path)
    assert problem.startswith("gateway.routes.1.path:")


def test_other_routes_are_not_refused(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, [route("/authors/**"), route("/**", "all")]))
    assert len(settings.gateway.routes) == 2


@pytest.mark.parametrize(
    "prefix", ["", "/", "auth", "/auth/", "//auth", "/a b", "/v1", "/oauth2/x"]
)
def test_a_bad_prefix_is_refused(tmp_path: Path, prefix: str) -> None:
    (problem,) = problems(config(tmp_path, [], {"prefix": prefix}))
    assert problem.startswith("ui.prefix:")


def test_a_language_without_a_catalogue_is_refused(tmp_path: Path) -> None:
    (problem,) = problems(config(tmp_path, [], {"languages": ["en", "fr"]}))
    assert problem.startswith("ui.languages:") and "'fr'" in problem


def test_a_language_catalogue_may_come_from_templates_dir(tmp_path: Path) -> None:
    (tmp_path / "messages" / "fr").mkdir(parents=True)
    (tmp_path / "messages" / "fr" / "login.json").write_text('{"login.title": "Connexion"}')
    ui = {"languages": ["fr", "en"], "templates_dir": str(tmp_path)}
    assert load_settings(config(tmp_path, [], ui)).ui.languages == ["fr", "en"]


def test_a_return_to_origin_must_be_an_origin(tmp_path: Path) -> None:
    (problem,) = problems(config(tmp_path, [], {"return_to_origins": ["https://a.example/x"]}))
    assert problem.startswith("ui.return_to_origins:")


def test_the_schema_describes_the_ui_section() -> None:
    ui = json_schema()["$defs"]["UiSettings"]["properties"]
    assert {"prefix", "templates_dir", "languages", "reauth_after", "return_to_origins"} <= set(ui)
    assert Settings().ui.reauth_after == 300


class _Gate:
    async def reload(self, new: GatewaySettings) -> None:
        self.loaded = new


def test_a_reload_may_not_route_the_running_prefix(tmp_path: Path) -> None:
    running = load_settings(config(tmp_path, []))
    path = config(tmp_path, [route("/auth/x")], {"prefix": "/elsewhere"})
    reloader = GatewayReloader(running, path, _Gate(), [])
    with pytest.raises(ReloadRefused) as caught:
        asyncio.run(reloader.reload())
    assert "gateway.routes.0.path" in caught.value.problems[0]


def test_the_prefix_goes_to_authgate_not_the_gate() -> None:
    seen: list[str] = []

    def app(name: str) -> Any:
        async def serve(scope: Any, receive: Any, send: Any) -> None:
            seen.append(name)

        return serve

    dispatch = with_gate(app("authgate"), app("gate"), frozenset({"pages"}))
    for path in ("/pages/login", "/v1/login", "/other"):
        asyncio.run(dispatch({"type": "http", "path": path}, None, None))  # type: ignore[arg-type]
    assert seen == ["authgate", "authgate", "gate"]


# -- return_to ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["/", "/auth/account", "/x?y=1#z", "/%2F%2Fevil", f"{ISSUER}/x", f"{APP}/after", f"{APP}"],
)
def test_own_paths_and_listed_origins_are_allowed(value: str) -> None:
    assert safe_return_to(value, ISSUER, UI) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "//evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "/\t/evil.example",
        "/ /x",
        "https://evil.example",
        "http://app.example",
        "https://app.example:444/",
        "https://app.example@evil.example",
        "https://user@app.example/",
        "javascript:alert(1)",
        "data:text/html,x",
        "evil.example",
        "https:/evil.example",
        "/\u00e9",
        "x" * 3000,
    ],
)
def test_everything_else_is_refused(value: str) -> None:
    assert safe_return_to(value, ISSUER, UI) is None


@given(st.text(max_size=80))
def test_an_allowed_return_to_never_leaves_the_allowed_origins(value: str) -> None:
    allowed = safe_return_to(value, ISSUER, UI)
    if allowed is None:
        return
    if allowed.startswith("/"):
        assert not allowed.startswith("//") and "\\" not in allowed
    else:
        assert allowed.startswith((f"{ISSUER}/", f"{APP}/")) or allowed in (ISSUER, APP)
    assert all(0x21 <= ord(c) <= 0x7E for c in allowed)


@given(st.sampled_from(["/", "//", "\\", "/\\", "https://", "http://", "@", ":", "evil.example"]))
def test_prefixes_of_other_hosts_are_refused(start: str) -> None:
    assert safe_return_to(f"{start}evil.example/x", ISSUER, UI) in (None, "/evil.example/x")
