"""`authgate policies`, run as an operator runs it.

The commands share the database of a running server (the `server` fixture), as an operator's
CLI shares the database of the deployment; the server's admin API sets up what the CLI has no
command for (group membership). Each test names its own policies, so they do not meet.

On SQLite only: each command is a process start (about 3 s), and the storage it reaches is
the policy service's, which tests/integration/test_policies_admin.py runs on both backends.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import unique_email
from tests.integration.harness import AuthgateServer
from tests.integration.test_cli import authgate, json_out, ok

PASSWORD = "lemon tree 4 harbour"
HYDRA = {
    "description": "Api readonly policy.",
    "subjects": ["3094A219-52B1-4900-91F7-514C4392D8C3"],
    "actions": ["read"],
    "effect": "allow",
    "resources": ["resources:orders:<.*>"],
}
HYDRA_SUBJECT = HYDRA["subjects"][0]


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def config(server: AuthgateServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CLI configuration on the server's database, key-encryption key and admin token."""
    workdir = tmp_path_factory.mktemp("cli")
    settings = {
        "data_dir": str(workdir / "data"),
        "issuer": server.public,
        "admin": {"token": f"file:{server.data_dir / 'admin-token'}"},
        "database": {"url": server.database_url},
        "secrets": {"key_encryption_key": f"file:{server.data_dir / 'kek'}"},
        "mail": {"sender": "file", "outbox_dir": str(workdir / "outbox")},
    }
    path = workdir / "authgate.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture(scope="module")
def hydra_id(config: Path) -> str:
    """The Hydra document of issue 5, imported once, unchanged (it carries no id)."""
    path = config.parent / "hydra.json"
    path.write_text(json.dumps(HYDRA))
    before = {d["id"] for d in export(config)}
    ok(policies(config, "import", str(path)))
    (new_id,) = {d["id"] for d in export(config)} - before
    return new_id


def policies(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return authgate(config.parent, "policies", *args, config=config)


def export(config: Path) -> list[dict[str, Any]]:
    exported: list[dict[str, Any]] = json_out(policies(config, "export"))
    return exported


def write(config: Path, documents: Any, name: str = "policies.json") -> str:
    path = config.parent / f"{secrets.token_hex(4)}-{name}"
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(d) + "\n" for d in documents))
    else:
        path.write_text(json.dumps(documents))
    return str(path)


def tag() -> str:
    return secrets.token_hex(4)


def policy(policy_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": policy_id,
        "subjects": [f"users:{tag()}"],
        "actions": ["read"],
        "resources": ["resources:orders:<.*>"],
        "effect": "allow",
        **fields,
    }


def check(config: Path, subject: str, action: str, resource: str, *extra: str) -> Any:
    """The `check --json` answer and the exit code."""
    result = policies(
        config,
        "check",
        "--subject",
        subject,
        "--action",
        action,
        "--resource",
        resource,
        "--json",
        *extra,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout), result.returncode


def test_the_hydra_document_is_exported_as_it_was_imported(config: Path, hydra_id: str) -> None:
    (exported,) = [d for d in export(config) if d["id"] == hydra_id]
    assert {key: exported[key] for key in HYDRA} == HYDRA


def test_an_export_imports_again_unchanged(config: Path, hydra_id: str) -> None:
    first = policies(config, "export")
    ok(policies(config, "import", write(config, json.loads(first.stdout))))
    assert ok(policies(config, "export")).stdout == first.stdout


def test_the_hydra_document_allows_its_subject_to_read_an_order(
    config: Path, hydra_id: str
) -> None:
    answer, code = check(config, HYDRA_SUBJECT, "read", "resources:orders:123")
    assert code == 0
    assert answer["allowed"] is True
    assert answer["reason"] == hydra_id


@pytest.mark.parametrize(
    ("subject", "action", "resource"),
    [
        ("another-subject", "read", "resources:orders:123"),
        (HYDRA_SUBJECT, "read", "resources:invoices:123"),
        (HYDRA_SUBJECT, "delete", "resources:orders:123"),
    ],
    ids=["other-subject", "other-resource", "other-action"],
)
def test_the_hydra_document_denies_what_it_does_not_name(
    config: Path, hydra_id: str, subject: str, action: str, resource: str
) -> None:
    answer, code = check(config, subject, action, resource)
    assert code == 1
    assert answer == {"allowed": False, "reason": "no_match", "subjects": [subject], "matches": []}


def test_check_prints_the_decision_and_every_matching_policy(config: Path) -> None:
    subject = f"users:{tag()}"
    allow, deny = f"allow-{tag()}", f"deny-{tag()}"
    documents = [
        policy(allow, subjects=[subject]),
        policy(deny, subjects=[subject], effect="deny", resources=["resources:orders:9"]),
    ]
    ok(policies(config, "import", write(config, documents)))
    result = policies(
        config,
        "check",
        "--subject",
        subject,
        "--action",
        "read",
        "--resource",
        "resources:orders:9",
    )
    assert result.returncode == 1
    assert "denied" in result.stdout
    assert f"reason: {deny}" in result.stdout
    assert allow in result.stdout
    assert deny in result.stdout


def test_check_tells_whether_a_matching_policy_held_its_conditions(config: Path) -> None:
    subject, policy_id = f"users:{tag()}", f"office-{tag()}"
    conditions = {"remoteIP": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}}
    document = policy(policy_id, subjects=[subject], conditions=conditions)
    ok(policies(config, "import", write(config, [document])))
    outside, code = check(config, subject, "read", "resources:orders:1")
    assert code == 1
    assert outside["matches"] == [{"id": policy_id, "effect": "allow", "conditions_held": False}]
    inside, code = check(
        config, subject, "read", "resources:orders:1", "--context", '{"remoteIP": "10.1.2.3"}'
    )
    assert code == 0
    assert inside["matches"] == [{"id": policy_id, "effect": "allow", "conditions_held": True}]


def test_check_counts_the_groups_given(config: Path) -> None:
    group, policy_id = f"support-{tag()}", f"group-{tag()}"
    ok(policies(config, "import", write(config, [policy(policy_id, subjects=[f"group:{group}"])])))
    answer, code = check(config, f"users:{tag()}", "read", "resources:orders:1", "--group", group)
    assert code == 0
    assert answer["reason"] == policy_id


def test_check_counts_the_current_groups_of_a_user_of_the_pool(
    config: Path, server: AuthgateServer
) -> None:
    group, policy_id = f"support-{tag()}", f"group-{tag()}"
    with server.admin_client() as admin:
        user = admin.post("/admin/users", json={"email": unique_email(), "password": PASSWORD})
        sub = user.json()["sub"]
        assert admin.post("/admin/groups", json={"name": group}).status_code == 201
        assert admin.put(f"/admin/groups/{group}/members/{sub}").status_code == 204
    ok(policies(config, "import", write(config, [policy(policy_id, subjects=[f"group:{group}"])])))
    answer, code = check(config, sub, "read", "resources:orders:1")
    assert code == 0
    assert answer["subjects"] == [sub, f"group:{group}"]
    assert answer["reason"] == policy_id


def test_an_import_with_a_bad_document_writes_nothing_and_names_each(config: Path) -> None:
    good = policy(f"good-{tag()}")
    unknown = policy(f"bad-{tag()}", conditions={"x": {"type": "NoSuchCondition"}})
    bad_pattern = policy(f"bad-{tag()}", resources=["<(unclosed>"])
    result = policies(config, "import", write(config, [good, unknown, bad_pattern]))
    assert result.returncode == 1
    assert "[1] conditions.x" in result.stderr
    assert "[2] resources[0]" in result.stderr
    ids = {d["id"] for d in export(config)}
    assert not ids & {good["id"], unknown["id"], bad_pattern["id"]}


def test_an_import_with_one_id_twice_writes_nothing(config: Path) -> None:
    twice = f"twice-{tag()}"
    result = policies(config, "import", write(config, [policy(twice), policy(twice)]))
    assert result.returncode == 1
    assert "[1] id" in result.stderr
    assert twice not in {d["id"] for d in export(config)}


def test_json_lines_import(config: Path) -> None:
    documents = [policy(f"line-{tag()}"), policy(f"line-{tag()}")]
    result = ok(policies(config, "import", write(config, documents, "policies.jsonl")))
    assert "imported 2 policies" in result.stdout
    assert {d["id"] for d in documents} <= {d["id"] for d in export(config)}


def test_a_single_document_import(config: Path) -> None:
    document = policy(f"single-{tag()}")
    ok(policies(config, "import", write(config, document)))
    assert document["id"] in {d["id"] for d in export(config)}


def test_an_import_replaces_the_policy_with_the_same_id(config: Path) -> None:
    policy_id = f"replaced-{tag()}"
    ok(policies(config, "import", write(config, [policy(policy_id, description="one")])))
    ok(policies(config, "import", write(config, [policy(policy_id, description="two")])))
    (found,) = [d for d in export(config) if d["id"] == policy_id]
    assert found["description"] == "two"


def test_a_file_that_is_not_json_is_refused_with_its_line(config: Path) -> None:
    path = config.parent / f"{tag()}-broken.jsonl"
    path.write_text(json.dumps(policy(f"ok-{tag()}")) + "\n{not json\n")
    result = policies(config, "import", str(path))
    assert result.returncode == 1
    assert "line 2" in result.stderr


def test_list_by_subject_matches_patterns(config: Path) -> None:
    prefix = f"tenant-{tag()}"
    matching = policy(f"tenant-{tag()}", subjects=[f"{prefix}:<[0-9]+>"])
    other = policy(f"other-{tag()}", subjects=[f"{prefix}:admin"])
    ok(policies(config, "import", write(config, [matching, other])))
    listed = json_out(policies(config, "list", "--subject", f"{prefix}:42", "--json"))
    assert [d["id"] for d in listed] == [matching["id"]]
