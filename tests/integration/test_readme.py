"""`make run` serves the walk-through in the README exactly as written.

The server runs as `make run` runs it: `authgate serve` with no configuration at all, in a
fresh directory, so on the dev defaults (127.0.0.1:8080 and :8081, data in ./.authgate).
The walk-through's shell block is then run verbatim from that same directory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
DEV_PORTS = (8080, 8081)


def walk_through_block(readme: str) -> str:
    """The first ```sh block after the heading '## A first walk-through'."""
    _, heading, after = readme.partition("\n## A first walk-through\n")
    assert heading, "README has no '## A first walk-through' section"
    match = re.search(r"^```sh\n(.*?)^```$", after, re.DOTALL | re.MULTILINE)
    assert match, "no ```sh block after '## A first walk-through'"
    return match.group(1)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def json_documents(text: str) -> list[Any]:
    """The JSON values printed one after another (curl adds no newline between them)."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return documents
        document, position = decoder.raw_decode(text, position)
        documents.append(document)


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[Path]:
    """`authgate serve` on the dev defaults in a fresh directory; yields that directory."""
    taken = [port for port in DEV_PORTS if not port_is_free(port)]
    if taken:
        pytest.skip(f"the dev default port(s) {taken} are already in use on this machine")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    log_path = tmp_path.parent / f"{tmp_path.name}-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "authgate", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"authgate serve exited at start:\n{log_path.read_text()}")
            try:
                if all(
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                    for port in DEV_PORTS
                ):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"authgate serve did not answer in time:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield tmp_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_walk_through_runs_as_written_against_make_run(dev_server: Path) -> None:
    block = walk_through_block(README.read_text(encoding="utf-8"))

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=dev_server,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    last_line = result.stdout.rstrip("\n").splitlines()[-1]
    me = json_documents(last_line)[-1]
    assert me["email"] == "alice@example.com"
    assert me["email_verified"] is True


def test_the_walk_through_block_is_the_one_of_the_readme() -> None:
    block = walk_through_block(README.read_text(encoding="utf-8"))

    assert "/v1/signup" in block
    assert "/v1/me" in block


def test_the_readme_names_the_two_commands() -> None:
    readme = README.read_text(encoding="utf-8")

    assert "make run" in readme
    assert "make test" in readme
