"""deploy/docker and deploy/compose, checked statically: the Dockerfile parsed with
dockerfile-parse, compose.yaml with PyYAML, authgate's configurations with its own loader."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from authgate.config import ConfigError, load_settings
from tests.unit.deploy_support import DEPLOY, ROOT, looks_secret

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
CONFIGS = [DEPLOY / "compose" / "authgate.yaml", DEPLOY / "kubernetes" / "authgate.yaml"]
VOLUME = "/var/lib/authgate"


@pytest.fixture(autouse=True)
def no_authgate_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No AUTHGATE_* variable of the machine running the tests changes what a file says."""
    for name in list(os.environ):
        if name.startswith("AUTHGATE_"):
            monkeypatch.delenv(name)
    yield


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage (FROM first)."""
    found: list[list[dict[str, Any]]] = []
    for instruction in DockerfileParser(str(DOCKERFILE)).structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found and instruction["instruction"] != "COMMENT":
            found[-1].append(instruction)
    return found


def values(stage: list[dict[str, Any]], name: str) -> list[str]:
    return [str(i["value"]) for i in stage if i["instruction"] == name]


def final_stage() -> list[dict[str, Any]]:
    return stages()[-1]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def authgate_replicas() -> dict[str, dict[str, Any]]:
    """Services running the authgate image's default command (`serve`)."""
    return {
        name: service
        for name, service in services().items()
        if service.get("build", {}).get("target") == "authgate" and "command" not in service
    }


# --- Dockerfile --------------------------------------------------------------------------


def test_dockerfile_builds_wheels_in_a_first_stage() -> None:
    found = stages()
    assert len(found) >= 2
    assert any("pip wheel" in run for run in values(found[0], "RUN"))


def test_dockerfile_base_images_are_pinned_to_a_version() -> None:
    names: set[str] = set()
    for stage in stages():
        image, _, alias = values(stage, "FROM")[0].partition(" AS ")
        if image not in names:
            tag = image.partition("@")[0].rpartition(":")[2] if ":" in image else ""
            assert "@sha256:" in image or re.match(r"\d+\.\d+\.\d+", tag), image
            assert tag != "latest", image
        names.add(alias.strip())


def test_dockerfile_final_stage_runs_as_a_non_root_user() -> None:
    users = [u for stage in stages() for u in values(stage, "USER")]
    final_users = values(final_stage(), "USER")
    assert final_users, "the final stage sets its user itself"
    user = final_users[-1].split(":")[0]
    assert users[-1] == final_users[-1]
    assert user.isdigit() and int(user) >= 1000, user


def test_dockerfile_final_stage_has_a_healthcheck_without_curl() -> None:
    (check,) = values(final_stage(), "HEALTHCHECK")
    assert "CMD" in check and "/healthz" in check
    assert "curl" not in check and "wget" not in check


def test_dockerfile_entrypoint_is_authgate_serving_the_mounted_config() -> None:
    assert json.loads(values(final_stage(), "ENTRYPOINT")[-1]) == ["authgate"]
    command = json.loads(values(final_stage(), "CMD")[-1])
    assert command == ["serve", "--config", "/etc/authgate/authgate.yaml"]


def test_dockerfile_has_no_secret_looking_arg_or_env() -> None:
    parser = DockerfileParser(str(DOCKERFILE))
    for stage in stages():
        for instruction in stage:
            if instruction["instruction"] in ("ARG", "ENV"):
                for word in re.split(r"\s+", instruction["value"].replace("\\", " ")):
                    name, _, value = word.partition("=")
                    assert not looks_secret(name, value), instruction["content"]
    assert not any(looks_secret(k, v) for k, v in parser.envs.items())


def test_dockerfile_copies_no_local_state_into_the_image() -> None:
    for stage in stages():
        for source in values(stage, "COPY") + values(stage, "ADD"):
            assert ".authgate" not in source and ".venv" not in source
            assert "secrets" not in source, source


def test_dockerignore_excludes_local_state_and_vcs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".authgate", "**/node_modules"} <= ignored
    assert "deploy/compose/secrets" in ignored


def test_dockerfile_writes_only_to_the_volume_and_tmpdir() -> None:
    final = final_stage()
    assert any(VOLUME in volume for volume in values(final, "VOLUME"))
    environment = " ".join(v for stage in stages() for v in values(stage, "ENV"))
    assert "TMPDIR=/tmp" in environment
    assert "PYTHONDONTWRITEBYTECODE=1" in environment


# --- authgate's configurations -----------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_deploy_config_loads_with_authgates_loader(path: Path) -> None:
    settings = load_settings(path)
    assert settings.database.migrate_on_start is False
    assert settings.data_dir.is_relative_to(VOLUME)
    assert settings.mail.outbox_dir.is_relative_to(VOLUME)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_deploy_config_takes_every_shared_secret_from_a_mounted_file(path: Path) -> None:
    settings = load_settings(path)
    for reference in (
        settings.database.url,
        settings.secrets.key_encryption_key,
        settings.admin.token,
    ):
        assert reference.startswith("file:/run/secrets/"), reference


def test_a_typo_in_a_deploy_config_key_fails_the_loader(tmp_path: Path) -> None:
    text = CONFIGS[0].read_text(encoding="utf-8").replace("migrate_on_start", "migrate_on_strat")
    broken = tmp_path / "authgate.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(broken)
    assert any("migrate_on_strat" in problem for problem in caught.value.problems)


# --- compose -----------------------------------------------------------------------------


def test_compose_every_service_has_a_healthcheck_or_is_a_one_shot() -> None:
    for name, service in services().items():
        check = service.get("healthcheck", {})
        if service.get("restart") == "no":
            continue
        assert check.get("test") and not check.get("disable"), name


def test_compose_environment_holds_no_secret() -> None:
    for name, service in services().items():
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            assert not looks_secret(key, value), f"{name}: {key}"


def test_compose_secrets_come_from_ignored_files() -> None:
    declared = compose()["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"}, name
        assert secret["file"].startswith("./secrets/"), name
    ignore = (DEPLOY / "compose" / ".gitignore").read_text(encoding="utf-8").split()
    assert "secrets/" in ignore
    for name, service in services().items():
        for used in service.get("secrets", []):
            assert (used if isinstance(used, str) else used["source"]) in declared, name


def test_compose_replicas_read_every_secret_reference_from_a_mounted_secret() -> None:
    settings = load_settings(DEPLOY / "compose" / "authgate.yaml")
    references = [settings.database.url, settings.secrets.key_encryption_key, settings.admin.token]
    for name, service in authgate_replicas().items():
        mounted = {f"file:/run/secrets/{secret}" for secret in service["secrets"]}
        assert set(references) <= mounted, name


def test_compose_runs_two_authgate_replicas_behind_nginx() -> None:
    replicas = authgate_replicas()
    assert len(replicas) == 2
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text(encoding="utf-8")
    for name in replicas:
        assert f"server {name}:8080" in nginx
    assert "auth_request /_authgate/forward;" in nginx
    assert "8080" in str(services()["nginx"]["ports"])
    assert all("ports" not in service for service in replicas.values())


def test_compose_nginx_is_the_only_trusted_proxy() -> None:
    settings = load_settings(DEPLOY / "compose" / "authgate.yaml")
    address = services()["nginx"]["networks"]["backend"]["ipv4_address"]
    assert [str(net) for net in settings.gateway.trusted_proxies] == [f"{address}/32"]


def test_compose_replicas_wait_for_the_migration_and_healthy_stores() -> None:
    for name, service in authgate_replicas().items():
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_compose_migration_is_a_one_shot_authgate_migrate() -> None:
    migrate = services()["migrate"]
    assert migrate["command"][0] == "migrate"
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_authgate_containers_run_read_only_without_privileges() -> None:
    for name, service in {**authgate_replicas(), "migrate": services()["migrate"]}.items():
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert any(volume.endswith(f":{VOLUME}") for volume in service["volumes"]), name
