"""deploy/envoy/envoy.yaml read as Envoy's v3 API (Bootstrap), since no Envoy runs here.

envoy-data-plane holds Python classes generated from Envoy's protos: parsing the file with
them refuses an unknown field or enum value anywhere, including inside each
`typed_config` (the HTTP connection manager, ext_authz, the router), as Envoy would.
What the filter does with authgate's answers is tests/integration/test_envoy_ext_authz.py.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

# Importing a filter's module registers its type URL, so `typed_config` can be unpacked.
import envoy_data_plane.envoy.extensions.filters.http.ext_authz.v3 as ext_authz
import envoy_data_plane.envoy.extensions.filters.http.router.v3 as router
import envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3 as hcm
import pytest
import yaml
from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap

ENVOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "envoy" / "envoy.yaml"


def load() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(ENVOY_YAML.read_text())
    return config


def manager_of(bootstrap: Bootstrap) -> hcm.HttpConnectionManager:
    [listener] = bootstrap.static_resources.listeners
    manager = listener.filter_chains[0].filters[0].typed_config.unpack()
    assert isinstance(manager, hcm.HttpConnectionManager)
    return manager


def test_envoy_yaml_is_a_valid_bootstrap_without_deprecated_fields() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        bootstrap = Bootstrap.from_dict(load())
    manager = manager_of(bootstrap)
    filters = [f.typed_config.unpack() for f in manager.http_filters]
    assert isinstance(filters[0], ext_authz.ExtAuthz)
    assert isinstance(filters[-1], router.Router)
    assert filters[0].http_service.path_prefix == "/_authgate/envoy"
    assert filters[0].failure_mode_allow is False
    assert filters[0].allowed_headers is not None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("merge_slashes: true", "merge_slash: true"),
        ("path_prefix: /_authgate/envoy", "prefix: /_authgate/envoy"),
        ("action: REJECT_REQUEST", "action: REJECT"),
    ],
    ids=["manager_field", "ext_authz_field", "enum_value"],
)
def test_a_misspelling_in_envoy_yaml_would_fail(old: str, new: str) -> None:
    text = ENVOY_YAML.read_text()
    assert old in text
    with pytest.raises((KeyError, ValueError, TypeError)):
        manager_of(Bootstrap.from_dict(yaml.safe_load(text.replace(old, new, 1))))
