"""The two image formats: which blobs are the config and the layers, in order.

`docker save` writes `manifest.json` (`[{Config, RepoTags, Layers}]`, paths in the archive);
an OCI image layout has `oci-layout` and `index.json`, whose descriptors name blobs under
`blobs/sha256/` by digest, through an optional nested index down to one image manifest.
Docker 25+ writes both; `manifest.json` is then read, and blob names still give digests.
Every document read here is capped and every blob named by digest is verified against it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from examples.intake.vetting.limits import LimitExceeded, Rejected, VetLimits
from examples.intake.vetting.paths import normalise

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
CONFIG_TYPES = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
TOP_LEVEL = ("manifest.json", "index.json", "oci-layout")
MAX_INDEX_DEPTH = 2
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_BLOB_NAME = re.compile(r"blobs/sha256/([0-9a-f]{64})")
_CLASSIC_CONFIG = re.compile(r"([0-9a-f]{64})\.json")


@dataclass(frozen=True)
class BlobRef:
    """A member of the archive, with the digest and size its format promises, if any."""

    name: str
    digest: str | None = None
    size: int | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class ImagePlan:
    format: Literal["docker-save", "oci-layout"]
    config: BlobRef
    layers: list[BlobRef]
    tags: list[str]


Fetch = Callable[[list[BlobRef]], Mapping[str, bytes]]
"""Reads the named blobs (verified) from the archive: from what is at hand or by another pass."""


def parse_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        raise Rejected(f"{name}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(f"{name}: not valid JSON ({exc})") from None


def verify(data: bytes, ref: BlobRef) -> None:
    """The blob is what its reference promises (size, then SHA-256)."""
    if ref.size is not None and len(data) != ref.size:
        raise Rejected(f"{ref.name}: {len(data)} bytes where {ref.size} were announced")
    if ref.digest is not None and "sha256:" + hashlib.sha256(data).hexdigest() != ref.digest:
        raise Rejected(f"{ref.name}: content does not match its digest {ref.digest}")


def plan_image(top: Mapping[str, bytes], fetch: Fetch, limits: VetLimits) -> ImagePlan:
    """The image's config and layers from the archive's top-level documents."""
    if "manifest.json" in top:
        return _docker_save(parse_json(top["manifest.json"], "manifest.json"), limits)
    if "index.json" in top and "oci-layout" in top:
        layout = parse_json(top["oci-layout"], "oci-layout")
        if not isinstance(layout, dict) or not isinstance(layout.get("imageLayoutVersion"), str):
            raise Rejected("oci-layout: no imageLayoutVersion")
        return _oci(parse_json(top["index.json"], "index.json"), fetch, limits)
    raise Rejected(
        "not a container image: neither manifest.json (docker save) nor oci-layout and "
        "index.json (OCI image layout) at the top of the archive"
    )


def _archive_path(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"manifest.json: {what} is not a path")
    path = normalise(value)
    if path.escapes or path.absolute or not path.path:
        raise Rejected(f"manifest.json: {what} {value!r} points outside the archive")
    return path.path


def _by_name(name: str) -> str | None:
    """The digest a `blobs/sha256/<hex>` or classic `<hex>.json` name promises."""
    match = _BLOB_NAME.fullmatch(name) or _CLASSIC_CONFIG.fullmatch(name)
    return f"sha256:{match.group(1)}" if match else None


def _docker_save(manifest: Any, limits: VetLimits) -> ImagePlan:
    if not isinstance(manifest, list) or not manifest:
        raise Rejected("manifest.json: no image in it")
    if len(manifest) > 1:
        raise Rejected(f"manifest.json: {len(manifest)} images; upload one image per archive")
    entry = manifest[0]
    if not isinstance(entry, dict):
        raise Rejected("manifest.json: the image entry is not an object")
    layers = entry.get("Layers")
    if not isinstance(layers, list):
        raise Rejected("manifest.json: Layers is not a list")
    _check_layer_count(len(layers), limits)
    config = _archive_path(entry.get("Config"), "Config")
    names = [_archive_path(layer, f"layer {i + 1}") for i, layer in enumerate(layers)]
    tags = entry.get("RepoTags") or []
    return ImagePlan(
        "docker-save",
        BlobRef(config, _by_name(config)),
        [BlobRef(name, _by_name(name)) for name in names],
        [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
    )


def _check_layer_count(count: int, limits: VetLimits) -> None:
    if count > limits.max_layers:
        raise LimitExceeded("max_layers", f"{count} layers (at most {limits.max_layers})")


def descriptor(value: Any, where: str) -> BlobRef:
    """An OCI descriptor, checked: a sha256 digest, a size, a media type."""
    if not isinstance(value, dict):
        raise Rejected(f"{where}: a descriptor is not an object")
    digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise Rejected(f"{where}: digest {digest!r} is not a sha256 digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise Rejected(f"{where}: size {size!r} is not a size")
    if media_type is not None and not isinstance(media_type, str):
        raise Rejected(f"{where}: mediaType is not a string")
    return BlobRef(f"blobs/sha256/{digest[7:]}", digest, size, media_type)


def _is_attestation(value: Mapping[str, Any]) -> bool:
    """BuildKit's provenance/SBOM manifests sit in the index beside the image: not images."""
    annotations = value.get("annotations")
    return isinstance(annotations, dict) and "vnd.docker.reference.type" in annotations


def _oci(index: Any, fetch: Fetch, limits: VetLimits) -> ImagePlan:
    tags: list[str] = []
    for depth in range(MAX_INDEX_DEPTH + 1):
        where = "index.json" if depth == 0 else "nested index"
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise Rejected(f"{where}: no manifests list")
        images = [m for m in index["manifests"] if not (isinstance(m, dict) and _is_attestation(m))]
        if len(images) != 1:
            raise Rejected(f"{where}: {len(images)} images; upload one image per archive")
        ref = descriptor(images[0], where)
        tag = (images[0].get("annotations") or {}).get("org.opencontainers.image.ref.name")
        if isinstance(tag, str):
            tags.append(tag)
        doc = parse_json(fetch([ref])[ref.name], ref.name)
        kind = ref.media_type or (doc.get("mediaType") if isinstance(doc, dict) else None)
        if kind in INDEX_TYPES:
            index = doc
            continue
        if kind not in MANIFEST_TYPES:
            raise Rejected(f"{ref.name}: {kind!r} is not an image manifest")
        return _oci_manifest(doc, ref.name, tags, limits)
    raise Rejected(f"index.json: indexes nested more than {MAX_INDEX_DEPTH} deep")


def _oci_manifest(doc: Any, name: str, tags: list[str], limits: VetLimits) -> ImagePlan:
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise Rejected(f"{name}: no layers list")
    _check_layer_count(len(doc["layers"]), limits)
    config = descriptor(doc.get("config"), f"{name} config")
    if config.media_type not in CONFIG_TYPES:
        raise Rejected(f"{name}: config type {config.media_type!r} is not a container image")
    layers = [descriptor(layer, f"{name} layer {i + 1}") for i, layer in enumerate(doc["layers"])]
    return ImagePlan("oci-layout", config, layers, tags)
