"""Tiny container images built without Docker, for the walk-through and the tests.

`python -m examples.intake.make_images OUTDIR` writes OUTDIR/ok.tar (one layer with a small
file, a non-root User) and OUTDIR/aws-key.tar (the same with AWS's documented example keys
baked into ENV, as the original service's Dockerfile did). Both are `docker save` archives
(`docker load` accepts them). The builders are also a library for tests: layers from file
specs, `docker save` and OCI image layouts from layers and a config. Standard library only;
every timestamp is fixed, so the same image is the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EPOCH = 1_700_000_000
AWS_EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass
class Entry:
    """One entry of a layer: a file (with `data`), a directory, a link or a device."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    mode: int = 0o644
    linkname: str = ""
    uid: int = 0
    gid: int = 0
    devmajor: int = 0
    devminor: int = 0


def tar_entry(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.type = entry.type
    info.mode = entry.mode
    info.linkname = entry.linkname
    info.uid, info.gid = entry.uid, entry.gid
    info.devmajor, info.devminor = entry.devmajor, entry.devminor
    info.mtime = EPOCH
    info.size = len(entry.data) if entry.type == tarfile.REGTYPE else 0
    return info


def layer_tar(entries: list[Entry]) -> bytes:
    """An uncompressed layer tar (PAX format, as BuildKit writes them)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            tar.addfile(tar_entry(entry), io.BytesIO(entry.data) if entry.data else None)
    return out.getvalue()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Image:
    """An image to write: layer blobs (as stored, maybe compressed) and their diff_ids."""

    layers: list[bytes]
    diff_ids: list[str]
    env: list[str] = field(default_factory=lambda: ["PATH=/usr/local/bin:/usr/bin:/bin"])
    user: str = "1000:1000"
    cmd: list[str] = field(default_factory=lambda: ["cat", "/app/hello.txt"])
    extra_config: dict[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {
            "architecture": "amd64",
            "os": "linux",
            "created": "2023-11-14T22:13:20Z",
            "config": {"User": self.user, "Env": self.env, "Cmd": self.cmd, "WorkingDir": "/app"},
            "rootfs": {"type": "layers", "diff_ids": self.diff_ids},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "COPY hello.txt /app/"}],
            **self.extra_config,
        }


def image_of(layer_tars: list[bytes], compress: Any = None, **fields: Any) -> Image:
    """An Image of uncompressed layer tars, stored as `compress` makes them (default: as is)."""
    blobs = [compress(t) if compress else t for t in layer_tars]
    return Image(blobs, [sha256(t) for t in layer_tars], **fields)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
    tar.addfile(info, io.BytesIO(data))


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def docker_save(image: Image, tag: str = "intake-example:latest") -> bytes:
    """The classic `docker save` layout: `<id>/layer.tar`, `<config digest>.json`, manifest."""
    config = _json(image.config())
    config_name = sha256(config)[7:] + ".json"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        names = []
        for layer, diff_id in zip(image.layers, image.diff_ids, strict=True):
            name = f"{diff_id[7:]}/layer.tar"
            names.append(name)
            _add(tar, name, layer)
        _add(tar, config_name, config)
        manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": names}]
        _add(tar, "manifest.json", _json(manifest))
    return out.getvalue()


def descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def layer_media_type(blob: bytes) -> str:
    if blob.startswith(b"\x1f\x8b"):
        return "application/vnd.oci.image.layer.v1.tar+gzip"
    if blob.startswith(b"\x28\xb5\x2f\xfd"):
        return "application/vnd.oci.image.layer.v1.tar+zstd"
    return "application/vnd.oci.image.layer.v1.tar"


def oci_manifest(image: Image) -> tuple[bytes, bytes]:
    """The image's config and OCI manifest documents."""
    config = _json(image.config())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor(layer_media_type(blob), blob) for blob in image.layers],
    }
    return config, _json(manifest)


def oci_layout(image: Image, tag: str = "latest", blobs: dict[str, bytes] | None = None) -> bytes:
    """An OCI image layout: `oci-layout`, `index.json`, `blobs/sha256/<hex>` (extra `blobs`
    by name replace the computed ones: how tests plant a wrong digest)."""
    config, manifest = oci_manifest(image)
    entry = descriptor("application/vnd.oci.image.manifest.v1+json", manifest)
    entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "manifests": [entry]}
    contents = {sha256(b)[7:]: b for b in [*image.layers, config, manifest]}
    contents.update(blobs or {})
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for hexdigest, blob in contents.items():
            _add(tar, f"blobs/sha256/{hexdigest}", blob)
        _add(tar, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
        _add(tar, "index.json", _json(index))
    return out.getvalue()


HELLO = [
    Entry("app/", type=tarfile.DIRTYPE, mode=0o755),
    Entry("app/hello.txt", b"hello from a tiny image built without Docker\n"),
]


def ok_image() -> bytes:
    return docker_save(image_of([layer_tar(HELLO)], gzipped), "intake-ok:latest")


def aws_key_image() -> bytes:
    env = [
        "PATH=/usr/local/bin:/usr/bin:/bin",
        f"AWS_ACCESS_KEY_ID={AWS_EXAMPLE_KEY_ID}",
        f"AWS_SECRET_ACCESS_KEY={AWS_EXAMPLE_SECRET}",
    ]
    return docker_save(image_of([layer_tar(HELLO)], gzipped, env=env), "intake-aws-key:latest")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("outdir", type=Path, help="where ok.tar and aws-key.tar are written")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    for name, data in (("ok.tar", ok_image()), ("aws-key.tar", aws_key_image())):
        (args.outdir / name).write_bytes(data)
        print(args.outdir / name)


if __name__ == "__main__":
    main()
