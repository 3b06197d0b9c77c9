"""Hostile archives against the vetting's limits: each is rejected naming the limit, read
only as far as needed, in bounded memory — never a crash, never an unbounded read.

The bombs are streams made as the vetting reads them (tests/unit/intake_archives.py), so
neither the test nor the vetting ever holds one whole; limits are lowered to keep the tests
quick, the defaults are checked to stop the same archives.
"""

from __future__ import annotations

import io
import json
import tarfile
import tracemalloc

import zstandard
from examples.intake.make_images import HELLO, Entry, docker_save, image_of, layer_tar, oci_layout
from examples.intake.vetting import VetLimits

from tests.unit.intake_archives import (
    RepeatedGzip,
    entries_chunk,
    source_of,
    streamed_docker_save,
    tar_of,
    upload_bomb,
    verdict,
    zeros_bomb,
)

MiB = 1 << 20
BOUNDED = 48 * MiB
"""Peak traced memory a vetting may reach on a bomb: a few chunks and buffers, far below it."""


def files_of(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


async def traced_verdict(data, **limits):
    tracemalloc.start()
    try:
        result = await verdict(data, **limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_the_default_limits_stop_the_bombs_below() -> None:
    defaults = VetLimits()
    assert defaults.max_uncompressed_bytes < 10 * 1024 * MiB
    assert defaults.max_entries_per_layer < 1_000_000


async def test_a_gzip_bomb_layer_is_rejected_at_the_limit_in_bounded_memory() -> None:
    bomb = zeros_bomb(gib=10)
    source = streamed_docker_save(bomb)
    result, peak = await traced_verdict(source, max_uncompressed_bytes=256 * MiB)
    assert result.status == "rejected"
    assert result.report["limit"] == "max_uncompressed_bytes"
    assert "limit max_uncompressed_bytes exceeded: the layers" in result.reason
    assert peak < BOUNDED
    assert source.pulled < 3 * bomb.size  # two passes at most, the second cut short


async def test_an_upload_that_is_itself_a_gzip_bomb_is_rejected_at_the_limit() -> None:
    source = upload_bomb(gib=10)
    result, peak = await traced_verdict(source, max_uncompressed_bytes=64 * MiB)
    assert result.status == "rejected"
    assert "limit max_uncompressed_bytes exceeded: the upload" in result.reason
    assert peak < BOUNDED


async def test_a_zstd_bomb_layer_is_rejected_at_the_limit() -> None:
    compressor = zstandard.ZstdCompressor().compressobj()
    blob = b"".join(compressor.compress(b"\0" * MiB) for _ in range(512)) + compressor.flush()
    image = image_of([layer_tar(HELLO)])
    image.layers = [blob]
    result, peak = await traced_verdict(docker_save(image), max_uncompressed_bytes=64 * MiB)
    assert result.status == "rejected"
    assert result.report["limit"] == "max_uncompressed_bytes"
    assert peak < BOUNDED


async def test_a_layer_of_a_million_entries_is_rejected_at_the_entries_limit() -> None:
    chunk = entries_chunk(128)
    layer = RepeatedGzip(chunk, 1_000_000 // 128 + 1, tail=b"\0" * 1024)
    source = streamed_docker_save(layer)
    result, peak = await traced_verdict(source, max_entries_per_layer=10_000)
    assert result.status == "rejected"
    assert result.report["limit"] == "max_entries_per_layer"
    assert "layer 1 has more than 10000 entries" in result.reason
    assert peak < BOUNDED


async def test_an_image_of_too_many_layers_is_rejected() -> None:
    image = image_of([layer_tar([Entry(f"f{i}", b"x")]) for i in range(6)])
    result = await verdict(docker_save(image), max_layers=5)
    assert result.status == "rejected"
    assert result.report["limit"] == "max_layers"


async def test_an_oci_manifest_of_too_many_layers_is_rejected() -> None:
    image = image_of([layer_tar([Entry(f"f{i}", b"x")]) for i in range(6)])
    result = await verdict(oci_layout(image), max_layers=5)
    assert result.report["limit"] == "max_layers"


async def test_an_archive_of_too_many_members_is_rejected() -> None:
    files = {f"junk/{i}": b"" for i in range(200)}
    result = await verdict(tar_of(files), max_archive_entries=100)
    assert result.status == "rejected"
    assert result.report["limit"] == "max_archive_entries"


async def test_a_manifest_over_the_json_cap_is_rejected_before_it_is_parsed() -> None:
    files = files_of(docker_save(image_of([layer_tar(HELLO)])))
    manifest = json.loads(files["manifest.json"])
    manifest[0]["RepoTags"] = ["t" * 100] * 20_000
    files["manifest.json"] = json.dumps(manifest).encode()
    result = await verdict(tar_of(files), max_json_bytes=1 * MiB)
    assert result.status == "rejected"
    assert result.report["limit"] == "max_json_bytes"
    assert "manifest.json" in result.reason


async def test_a_config_over_the_json_cap_is_rejected() -> None:
    image = image_of([layer_tar(HELLO)], extra_config={"padding": "x" * (64 * 1024)})
    result = await verdict(docker_save(image), max_json_bytes=32 * 1024)
    assert result.status == "rejected"
    assert result.report["limit"] == "max_json_bytes"


async def test_json_nested_too_deeply_is_rejected_not_a_crash() -> None:
    files = files_of(docker_save(image_of([layer_tar(HELLO)])))
    files["manifest.json"] = b"[" * 200_000 + b"]" * 200_000
    result = await verdict(tar_of(files), max_json_bytes=1 * MiB)
    assert result.status == "rejected"
    assert "nested too deeply" in result.reason


async def test_a_rejected_upload_is_not_read_to_its_end() -> None:
    source = upload_bomb(gib=10)
    await verdict(source, max_uncompressed_bytes=16 * MiB)
    assert source.opened == 1
    assert source.pulled < 1 * MiB  # of some 10 MiB compressed


async def test_an_ordinary_upload_is_read_in_at_most_three_passes() -> None:
    source = source_of(oci_layout(image_of([layer_tar(HELLO)])))
    result = await verdict(source)
    assert result.status == "ok"
    assert source.opened <= 3


async def test_a_huge_long_name_header_is_refused_before_tarfile_reads_it() -> None:
    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = tarfile.GNUTYPE_LONGNAME, 512 * MiB
    layer = RepeatedGzip(b"a" * MiB, 512, tail=b"\0" * 1024, head=header.tobuf(tarfile.GNU_FORMAT))
    result, peak = await traced_verdict(streamed_docker_save(layer))
    assert result.status == "rejected"
    assert "tar header" in result.reason
    assert peak < BOUNDED
