"""`make run` serves the walk-through in the README exactly as written.

The quickstart runs as `make run` runs it: the `run` recipe of the Makefile itself (the whoami
demo upstream in the background, `authgate serve --config examples/quickstart/authgate.yaml`
in front), in a fresh directory, so on the dev ports (127.0.0.1:8080, :8081, whoami on :9001
and the intake service on :9002, data in ./.authgate). The walk-through's shell blocks then
run verbatim from that same directory, one shell for all of them, as a reader types them into
one terminal (with the repository on PYTHONPATH, as a reader's `python3 -m examples...` from
the clone has it).

The demo upstream on its own: test_whoami_example.py.
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
import yaml

from authgate.gateway.config import GatewaySettings

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MAKEFILE = REPO / "Makefile"
DEV_PORTS = (8080, 8081, 9001, 9002)


def walk_through_blocks(readme: str) -> str:
    """Every ```sh block of the section '## A first walk-through', in order, as one script."""
    _, heading, after = readme.partition("\n## A first walk-through\n")
    assert heading, "README has no '## A first walk-through' section"
    section = re.split(r"^## ", after, maxsplit=1, flags=re.MULTILINE)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert blocks, "no ```sh block in '## A first walk-through'"
    return "\n".join(blocks)


def make_recipe(makefile: str, target: str, variables: dict[str, str]) -> str:
    """The shell command make runs for `target` (a one-line recipe), variables expanded."""
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line[1:])
    assert recipe, f"the Makefile has no recipe for {target}"
    assert all(line.endswith("\\") for line in recipe[:-1]), "expected one shell command"
    text = "\n".join(recipe).lstrip("@")

    def expand(found: re.Match[str]) -> str:
        return "$" if found.group(0) == "$$" else variables[found.group(1)]

    return re.sub(r"\$\$|\$\((\w+)\)", expand, text)


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` (SO_REUSEADDR, as uvicorn binds, so that
    connections still in TIME_WAIT from an earlier run do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def json_documents(text: str) -> list[Any]:
    """The JSON values printed one after another (curl adds no newline between them); a line
    that is no JSON (make_images prints the files it wrote) is skipped."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return documents
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            end = text.find("\n", position)
            position = len(text) if end < 0 else end
            continue
        documents.append(document)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_until_up(process: subprocess.Popen[bytes], urls: list[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not all(answers(url) for url in urls):
        if process.poll() is not None:
            pytest.fail(f"`make run` exited at start:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"`make run` did not answer in time:\n{log.read_text()}")
        time.sleep(0.1)


def start_make_run(workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """The `run` recipe in `workdir`, as make runs it, in a process group of its own."""
    taken = [port for port in DEV_PORTS if not port_is_free(port)]
    if taken:
        pytest.skip(f"the dev default port(s) {taken} are already in use on this machine")
    variables = {"BIN": str(Path(sys.executable).parent), "CURDIR": str(REPO)}
    command = make_recipe(MAKEFILE.read_text(encoding="utf-8"), "run", variables)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    log = workdir.parent / f"{workdir.name}-make-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["sh", "-c", command],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    urls = ["http://127.0.0.1:8080/healthz", "http://127.0.0.1:8081/healthz"]
    try:
        upstreams = ["http://127.0.0.1:9001/health", "http://127.0.0.1:9002/health"]
        wait_until_up(process, [*urls, *upstreams], log)
    except BaseException:
        stop(process, signal.SIGKILL)
        raise
    return process, log


def stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> int:
    """`sig` to the whole group, as Ctrl-C sends SIGINT to a terminal's foreground group."""
    try:
        os.killpg(process.pid, sig)
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()
    except ProcessLookupError:
        return process.wait()


@pytest.fixture
def quickstart(tmp_path: Path) -> Iterator[Path]:
    """`make run` in a fresh directory; yields that directory."""
    process, _ = start_make_run(tmp_path)
    try:
        yield tmp_path
    finally:
        stop(process, signal.SIGINT)


def test_the_walk_through_runs_as_written_against_make_run(quickstart: Path) -> None:
    script = walk_through_blocks(README.read_text(encoding="utf-8"))

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=quickstart,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    printed = json_documents(result.stdout)
    me = next(d for d in printed if isinstance(d, dict) and "email_verified" in d)
    assert me["email"] == "alice@example.com"
    assert me["email_verified"] is True
    seen = [d for d in printed if isinstance(d, dict) and d.get("verified") is True]
    assert [d["path"] for d in seen] == ["/hello", "/admin-area/reports"]
    assert [d["username"] for d in seen] == ["alice@example.com"] * 2
    assert [d["sub"] for d in seen] == [me["sub"]] * 2
    assert [d["groups"] for d in seen] == [[], ["admin"]]
    statuses = [d for d in printed if isinstance(d, int)]
    assert statuses == [401, 403, 204, 404, 401]
    order = [d if isinstance(d, int) else d.get("path") for d in printed]
    assert order.index("/hello") < order.index(401) < order.index(403)
    assert order.index(204) < order.index("/admin-area/reports")
    uploaded = [d for d in printed if isinstance(d, dict) and d.get("status") == "received"]
    assert len(uploaded) == 2 and len({d["id"] for d in uploaded}) == 2
    listed = [d for d in printed if isinstance(d, dict) and "images" in d]
    assert [[i["id"] for i in d["images"]] for d in listed] == [[d["id"] for d in uploaded], []]
    reports = {d["id"]: d for d in printed if isinstance(d, dict) and "report" in d}
    hello, baked = (reports[d["id"]] for d in uploaded)
    assert hello["status"] == "ok", hello
    assert baked["status"] == "rejected", baked
    assert any(f["severity"] == "high" for f in baked["report"]["findings"])


def test_ctrl_c_on_make_run_stops_authgate_and_the_demo_upstream(tmp_path: Path) -> None:
    process, log = start_make_run(tmp_path)

    stop(process, signal.SIGINT)

    still_up = [port for port in DEV_PORTS if accepts_connections(port)]
    assert still_up == [], f"still listening after Ctrl-C: {still_up}\n{log.read_text()}"


def children(pid: int) -> dict[int, str]:
    """The child processes of `pid` with their command lines (Linux /proc)."""
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(stat.parent.name)] = cmdline.decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_when_authgate_stops_make_run_stops_the_demo_upstream_too(tmp_path: Path) -> None:
    process, log = start_make_run(tmp_path)
    try:
        serving = [pid for pid, cmd in children(process.pid).items() if "authgate serve" in cmd]
        assert len(serving) == 1, children(process.pid)

        os.kill(serving[0], signal.SIGTERM)
        process.wait(timeout=30)

        assert not accepts_connections(9001), log.read_text()
        assert not accepts_connections(9002), log.read_text()
    finally:
        stop(process, signal.SIGKILL)


def test_the_walk_through_block_is_the_one_of_the_readme() -> None:
    script = walk_through_blocks(README.read_text(encoding="utf-8"))

    assert "/v1/signup" in script
    assert "/v1/me" in script
    assert "127.0.0.1:8080/whoami/" in script
    assert "examples.intake.make_images" in script
    assert "127.0.0.1:8080/images" in script


def test_the_annotated_gateway_config_in_the_readme_is_valid() -> None:
    readme = README.read_text(encoding="utf-8")
    _, heading, after = readme.partition("\n## The gate\n")
    assert heading, "README has no '## The gate' section"
    shown = re.search(r"^```yaml\n(.*?)^```$", after, re.DOTALL | re.MULTILINE)
    assert shown, "no ```yaml block in '## The gate'"

    gateway = GatewaySettings.model_validate(yaml.safe_load(shown.group(1))["gateway"])

    assert gateway.routes and gateway.upstreams


def test_the_quickstart_config_is_valid() -> None:
    config = yaml.safe_load((REPO / "examples/quickstart/authgate.yaml").read_text())
    gateway = GatewaySettings.model_validate(config["gateway"])
    assert {route.name for route in gateway.routes} == {"whoami", "whoami-admin", "images"}


def test_the_readme_names_the_two_commands() -> None:
    readme = README.read_text(encoding="utf-8")

    assert "make run" in readme
    assert "make test" in readme
