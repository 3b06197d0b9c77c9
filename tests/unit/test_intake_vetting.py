"""The intake service's vetting: formats, config rules, layer rules, each on a crafted archive.

Archives are built in memory by examples/intake/make_images.py (the same builders the
walk-through's script uses) and read by `vet` through an async iterator, as the service does.
"""

from __future__ import annotations

import gzip
import json
import tarfile

import pytest
from examples.intake.make_images import (
    AWS_EXAMPLE_KEY_ID,
    AWS_EXAMPLE_SECRET,
    HELLO,
    Entry,
    aws_key_image,
    docker_save,
    gzipped,
    image_of,
    layer_tar,
    oci_layout,
    ok_image,
    sha256,
)

from tests.unit.intake_archives import found, tar_of, verdict, zstd

COMPRESSIONS = {"plain": None, "gzip": gzipped, "zstd": zstd}
PRIVATE_KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)


def image_with(entries: list[Entry], compression: str = "gzip", **fields: object) -> bytes:
    return docker_save(image_of([layer_tar(HELLO + entries)], COMPRESSIONS[compression], **fields))


def env_image(*env: str) -> bytes:
    return docker_save(image_of([layer_tar(HELLO)], gzipped, env=list(env)))


# --- formats -----------------------------------------------------------------------------


async def test_the_walkthrough_ok_image_is_ok() -> None:
    result = await verdict(ok_image())
    assert result.status == "ok" and result.reason is None
    assert result.report["format"] == "docker-save"
    assert result.report["tags"] == ["intake-ok:latest"]
    assert [layer["entries"] for layer in result.report["layers"]] == [2]
    assert not {s for s, _ in found(result)} & {"high", "medium"}


async def test_the_walkthrough_aws_key_image_is_rejected_without_quoting_the_keys() -> None:
    result = await verdict(aws_key_image())
    assert result.status == "rejected"
    assert "aws-access-key-id" in result.reason and "aws-secret-access-key" in result.reason
    assert {("high", "aws-access-key-id"), ("high", "aws-secret-access-key")} <= found(result)
    text = json.dumps(result.report)
    assert AWS_EXAMPLE_KEY_ID not in text and AWS_EXAMPLE_SECRET not in text


async def test_high_findings_are_accepted_when_the_upload_asks() -> None:
    result = await verdict(aws_key_image(), accept_findings=True)
    assert result.status == "ok"
    assert result.report["accepted_findings"] is True
    assert ("high", "aws-access-key-id") in found(result)


@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
async def test_docker_save_layers_of_each_compression_are_walked(compression: str) -> None:
    result = await verdict(image_with([Entry("etc/id_rsa", PRIVATE_KEY)], compression))
    assert result.status == "rejected"
    assert result.report["layers"][0]["compression"] == (
        "tar" if compression == "plain" else compression
    )
    assert ("high", "ssh-private-key") in found(result)


@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
async def test_oci_layouts_with_layers_of_each_compression_are_walked(compression: str) -> None:
    layers = [
        layer_tar(HELLO),
        layer_tar([Entry("root/.aws/credentials", b"[default]\naws_secret_access_key = x\n")]),
    ]
    result = await verdict(oci_layout(image_of(layers, COMPRESSIONS[compression])))
    assert result.report["format"] == "oci-layout"
    assert result.report["tags"] == ["latest"]
    assert [layer["index"] for layer in result.report["layers"]] == [1, 2]
    assert ("high", "aws-credentials") in found(result)
    assert "layer 2: root/.aws/credentials" in {f["where"] for f in result.report["findings"]}


async def test_an_upload_gzipped_as_a_whole_is_read() -> None:
    result = await verdict(gzip.compress(ok_image()))
    assert result.status == "ok"


async def test_an_oci_layout_with_a_nested_index_and_an_attestation_is_read() -> None:
    image = image_of([layer_tar(HELLO)], gzipped)
    inner = oci_layout(image)
    with tarfile.open(fileobj=__import__("io").BytesIO(inner)) as tar:
        blobs = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    top = json.loads(blobs.pop("index.json"))
    attestation = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + "1" * 64,
        "size": 2,
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
    }
    nested = json.dumps(
        {"schemaVersion": 2, "manifests": [top["manifests"][0], attestation]}
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": sha256(nested),
                "size": len(nested),
            }
        ],
    }
    files = {
        **blobs,
        f"blobs/sha256/{sha256(nested)[7:]}": nested,
        "index.json": json.dumps(index).encode(),
    }
    result = await verdict(tar_of(files))
    assert result.status == "ok", result.reason


async def test_an_oci_layer_whose_content_is_not_its_digest_is_rejected() -> None:
    image = image_of([layer_tar(HELLO)], gzipped)
    forged = gzipped(layer_tar([Entry("app/hello.txt", b"something else")]))
    result = await verdict(oci_layout(image, blobs={sha256(image.layers[0])[7:]: forged}))
    assert result.status == "rejected"
    assert "digest" in result.reason


async def test_an_oci_config_whose_content_is_not_its_digest_is_rejected() -> None:
    image = image_of([layer_tar(HELLO)], gzipped)
    config = json.dumps(image.config(), separators=(",", ":"), sort_keys=True).encode()
    forged = config.replace(b"1000:1000", b"0000:1000")
    result = await verdict(oci_layout(image, blobs={sha256(config)[7:]: forged}))
    assert result.status == "rejected"
    assert "does not match its digest" in result.reason


async def test_a_docker_save_layer_that_is_not_its_diff_id_is_rejected() -> None:
    image = image_of([layer_tar(HELLO)], gzipped)
    image.layers = [gzipped(layer_tar([Entry("app/hello.txt", b"swapped")]))]
    result = await verdict(docker_save(image))
    assert result.status == "rejected"
    assert "diff_id" in result.reason


async def test_a_tarball_that_is_not_an_image_is_rejected() -> None:
    result = await verdict(tar_of({"README": b"hello", "src/main.c": b"int main;"}))
    assert result.status == "rejected"
    assert "not a container image" in result.reason


@pytest.mark.parametrize("data", [b"", b"just some text\n" * 100, b"PK\x03\x04zipfile"])
async def test_what_is_not_a_tar_is_rejected(data: bytes) -> None:
    result = await verdict(data)
    assert result.status == "rejected"
    assert result.reason


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
async def test_a_truncated_archive_is_rejected(fraction: float) -> None:
    whole = image_with([Entry("bin/tool", b"\x7fELF" + bytes(range(256)) * 400)])
    content = len(whole.rstrip(b"\0"))  # the end-of-archive padding aside
    result = await verdict(whole[: int(content * fraction)])
    assert result.status == "rejected"
    assert result.reason


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
async def test_a_corrupt_compressed_layer_is_rejected(compression: str) -> None:
    image = image_of(
        [layer_tar(HELLO + [Entry("data", bytes(range(256)) * 64)])], COMPRESSIONS[compression]
    )
    blob = bytearray(image.layers[0])
    blob[len(blob) // 2 : len(blob) // 2 + 16] = b"\xff" * 16
    image.layers = [bytes(blob)]
    result = await verdict(docker_save(image))
    assert result.status == "rejected"


async def test_a_layer_missing_from_the_archive_is_rejected() -> None:
    whole = ok_image()
    with tarfile.open(fileobj=__import__("io").BytesIO(whole)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if not m.name.endswith("layer.tar")}
    result = await verdict(tar_of(files))
    assert result.status == "rejected"
    assert "missing" in result.reason


async def test_an_archive_of_two_images_is_rejected() -> None:
    image = image_of([layer_tar(HELLO)])
    whole = docker_save(image)
    with tarfile.open(fileobj=__import__("io").BytesIO(whole)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar}
    manifest = json.loads(files["manifest.json"])
    files["manifest.json"] = json.dumps(manifest * 2).encode()
    result = await verdict(tar_of(files))
    assert result.status == "rejected"
    assert "2 images" in result.reason


async def test_a_source_that_fails_while_read_is_a_failure_not_a_rejection() -> None:
    from tests.unit.intake_archives import Source

    def chunks():
        yield ok_image()[:1024]
        raise OSError("disk on fire")

    result = await verdict(Source(chunks))
    assert result.status == "failed"
    assert "reading the upload failed" in result.reason


# --- config ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
        ("SESSION=ASIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
        (f"AWS_SECRET_ACCESS_KEY={AWS_EXAMPLE_SECRET}", "aws-secret-access-key"),
        ("TLS_KEY=" + PRIVATE_KEY.decode().replace("\n", "\\n"), "private-key"),
        ("GH=ghp_" + "a1B2" * 9, "github-token"),
        ("SLACK=xoxb-1234567890-abcdefghij", "slack-token"),
    ],
)
async def test_env_values_holding_known_secrets_are_high(env: str, kind: str) -> None:
    result = await verdict(env_image(env))
    assert result.status == "rejected"
    assert ("high", kind) in found(result)


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ("API_TOKEN=9f8e7d6c5b4a3210", "secret-in-env"),
        ("DB_PASSWORD=Tr0ub4dor&3xyz", "secret-in-env"),
        ("CLIENT_SECRET=s3cr3t-v4lu3-here", "secret-in-env"),
        ("DATABASE_URL=postgres://app:hunter2hunter2@db/app", "password-in-url"),
    ],
)
async def test_env_values_that_look_like_secrets_are_medium(env: str, kind: str) -> None:
    result = await verdict(env_image(env))
    assert result.status == "ok"
    assert ("medium", kind) in found(result)


@pytest.mark.parametrize(
    "env",
    [
        "API_TOKEN=",
        "DB_PASSWORD=changeme",
        "API_TOKEN=${TOKEN}",
        "SECRET=/run/secrets/x",
        "PWD=/app",
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
    ],
)
async def test_env_placeholders_and_ordinary_variables_are_not_flagged(env: str) -> None:
    result = await verdict(env_image(env))
    assert {k for s, k in found(result) if s != "info"} == set()


@pytest.mark.parametrize("user", ["", "root", "0", "0:0", "root:staff"])
async def test_running_as_root_is_medium(user: str) -> None:
    result = await verdict(image_with([], user=user))
    assert result.status == "ok"
    assert ("medium", "runs-as-root") in found(result)


async def test_a_non_root_user_is_not_flagged() -> None:
    result = await verdict(image_with([], user="app"))
    assert ("medium", "runs-as-root") not in found(result)
    assert result.report["config"]["user"] == "app"


async def test_exposed_ports_entrypoint_and_cmd_are_info() -> None:
    extra = {
        "config": {
            "User": "1",
            "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
            "Entrypoint": ["/app/server"],
            "Cmd": ["--port", "8080"],
        }
    }
    result = await verdict(image_with([], extra_config=extra))
    assert {("info", "exposed-ports"), ("info", "entrypoint"), ("info", "cmd")} <= found(result)
    assert result.report["config"]["exposed_ports"] == ["53/udp", "8080/tcp"]
    assert result.report["config"]["entrypoint"] == "/app/server"


async def test_a_secret_in_the_command_or_build_history_is_high_and_redacted() -> None:
    token = "ghp_" + "Z9y8" * 9
    extra = {
        "config": {"User": "1", "Cmd": ["sh", "-c", f"curl -H 'token {token}' x"]},
        "history": [{"created_by": f"RUN |1 AWS_KEY={AWS_EXAMPLE_KEY_ID} /bin/sh -c make"}],
    }
    result = await verdict(image_with([], extra_config=extra))
    assert ("high", "github-token") in found(result)
    assert ("high", "aws-access-key-id") in found(result)
    assert token not in json.dumps(result.report)


# --- layers ------------------------------------------------------------------------------

DIR = tarfile.DIRTYPE
SYM = tarfile.SYMTYPE
LNK = tarfile.LNKTYPE


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (Entry("../../etc/passwd", b"root::0:0::/:/bin/sh\n"), ("high", "path-traversal")),
        (Entry("app/../../../etc/passwd", b"x"), ("high", "path-traversal")),
        (Entry("/etc/passwd", b"x"), ("high", "absolute-path")),
        (Entry("escape", type=SYM, linkname="/"), ("high", "link-to-root")),
        (Entry("app/up", type=SYM, linkname="../.."), ("high", "link-outside-root")),
        (Entry("app/x", type=SYM, linkname="../../../etc/shadow"), ("high", "link-outside-root")),
        (Entry("app/h", type=LNK, linkname="../etc/shadow"), ("high", "link-outside-root")),
        (Entry("app/h", type=LNK, linkname="/etc/shadow"), ("high", "link-outside-root")),
        (Entry("app/tool", b"\x7fELF", mode=0o4777), ("high", "writable-setuid")),
    ],
)
async def test_dangerous_entries_are_high_and_reject(
    entry: Entry, expected: tuple[str, str]
) -> None:
    result = await verdict(image_with([entry]))
    assert result.status == "rejected"
    assert expected in found(result)


async def test_an_entry_written_through_a_symlink_is_high() -> None:
    entries = [
        Entry("app/etc", type=SYM, linkname="/etc"),
        Entry("app/etc/cron.d/job", b"* * * * * root sh\n"),
    ]
    result = await verdict(image_with(entries))
    assert ("high", "through-symlink") in found(result)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (Entry("usr/bin/passwd", b"\x7fELF", mode=0o4755), ("medium", "setuid")),
        (Entry("usr/bin/wall", b"\x7fELF", mode=0o2755), ("low", "setgid")),
        (Entry("dev/sda", type=tarfile.BLKTYPE, devmajor=8), ("medium", "device-file")),
        (Entry("dev/mem", type=tarfile.CHRTYPE, devmajor=1, devminor=1), ("medium", "device-file")),
        (Entry("app/./../app/x", b"x"), ("medium", "dotdot-path")),
    ],
)
async def test_notable_entries_are_reported_without_rejecting(
    entry: Entry, expected: tuple[str, str]
) -> None:
    result = await verdict(image_with([entry]))
    assert result.status == "ok"
    assert expected in found(result)


async def test_ordinary_links_and_directories_are_not_flagged() -> None:
    entries = [
        Entry("etc/", type=DIR, mode=0o755),
        Entry("etc/localtime", type=SYM, linkname="/usr/share/zoneinfo/UTC"),
        Entry("bin", type=SYM, linkname="usr/bin"),
        Entry("usr/lib/a.so.1", type=SYM, linkname="a.so.1.2"),
        Entry("usr/lib/b", type=LNK, linkname="usr/lib/a.so.1"),
        Entry("tmp/", type=DIR, mode=0o1777),
    ]
    result = await verdict(image_with(entries))
    assert {f for f in found(result) if f[0] != "info"} == set()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            Entry(
                "root/.aws/credentials",
                f"[default]\naws_access_key_id={AWS_EXAMPLE_KEY_ID}\n".encode(),
            ),
            ("high", "aws-credentials"),
        ),
        (Entry("root/.ssh/id_ed25519", PRIVATE_KEY), ("high", "ssh-private-key")),
        (Entry("root/.ssh/id_rsa", b"not a key, a note"), ("medium", "ssh-private-key")),
        (
            Entry("srv/tls/server.key", b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"),
            ("high", "private-key-file"),
        ),
        (
            Entry("srv/tls/server.pem", b"-----BEGIN EC PRIVATE KEY-----\nMHcC\n"),
            ("high", "private-key-file"),
        ),
        (
            Entry("app/.env", f"export AWS_ACCESS_KEY_ID={AWS_EXAMPLE_KEY_ID}\n".encode()),
            ("high", "aws-access-key-id"),
        ),
        (
            Entry("app/.env.production", b"STRIPE_API_KEY=sk_live_abcdef123456\n"),
            ("medium", "secret-in-env"),
        ),
        (Entry("app/.env", b"DEBUG=1\nPORT=8080\n"), ("low", "dotenv-file")),
        (
            Entry("root/.git-credentials", b"https://bob:s3cret@github.com\n"),
            ("high", "git-credentials"),
        ),
        (
            Entry("home/a/.npmrc", b"//registry.npmjs.org/:_authToken=abc123\n"),
            ("high", "npm-token"),
        ),
        (
            Entry("root/.docker/config.json", b'{"auths":{"r":{"auth":"Ym9iOnB3"}}}'),
            ("high", "docker-auth"),
        ),
    ],
)
async def test_files_holding_secrets_are_found(entry: Entry, expected: tuple[str, str]) -> None:
    result = await verdict(image_with([entry]))
    assert expected in found(result)


async def test_a_certificate_pem_is_not_a_secret() -> None:
    cert = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    result = await verdict(image_with([Entry("etc/ssl/certs/ca.pem", cert)]))
    assert result.status == "ok"
    assert {f for f in found(result) if f[0] != "info"} == set()


async def test_only_a_bounded_prefix_of_a_secret_looking_file_is_read() -> None:
    late = b"\n" * (128 * 1024) + f"AWS_ACCESS_KEY_ID={AWS_EXAMPLE_KEY_ID}\n".encode()
    result = await verdict(image_with([Entry("app/.env", late)]), secret_prefix_bytes=64 * 1024)
    assert ("high", "aws-access-key-id") not in found(result)
    assert ("low", "dotenv-file") in found(result)


async def test_a_secret_deleted_in_a_later_layer_is_still_found() -> None:
    first = layer_tar(HELLO + [Entry("root/.ssh/id_rsa", PRIVATE_KEY)])
    second = layer_tar([Entry("root/.ssh/.wh.id_rsa")])
    result = await verdict(docker_save(image_of([first, second], gzipped)))
    assert "layer 1: root/.ssh/id_rsa" in {f["where"] for f in result.report["findings"]}


async def test_findings_beyond_the_cap_are_counted_not_kept() -> None:
    entries = [Entry(f"bin/s{i}", b"x", mode=0o4755) for i in range(30)]
    result = await verdict(image_with(entries), max_findings=10)
    assert len(result.report["findings"]) == 10
    assert result.report["counts"]["medium"] == 30
    assert result.report["findings_dropped"] > 0
