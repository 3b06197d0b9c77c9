"""The suite's property tests draw fresh examples in every run, on CI too, and print the
seed that replays a run (tests/conftest.py). Hypothesis's own CI profile derandomizes, so a
CI run would only ever try the same examples and never find a failure a laptop finds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

RECORD = os.environ.get("AUTHGATE_TEST_HYPOTHESIS_RECORD")
REPO = Path(__file__).resolve().parents[2]


@given(st.integers())
def test_draws_integers(number: int) -> None:
    """A property every integer has; run by the tests below, it notes what it was given."""
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as record:
            record.write(f"{number}\n")
    assert isinstance(number, int)


def run_on_ci(tmp_path: Path, name: str, seed: str | None = None) -> tuple[list[str], str]:
    """The property test above in a pytest of its own, as CI runs it: what it drew, and
    what pytest printed."""
    record = tmp_path / name
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_SEED"}
    env.update(CI="true", AUTHGATE_TEST_HYPOTHESIS_RECORD=str(record))
    if seed is not None:
        env["HYPOTHESIS_SEED"] = seed
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + [f"{Path(__file__).relative_to(REPO)}::test_draws_integers"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return record.read_text().splitlines(), result.stdout


def printed_seed(output: str) -> str:
    found = re.search(r"hypothesis seed (\d+): replay with HYPOTHESIS_SEED=\1", output)
    assert found, output
    return found.group(1)


def test_two_runs_on_ci_draw_different_examples(tmp_path: Path) -> None:
    first, _ = run_on_ci(tmp_path, "first")
    second, _ = run_on_ci(tmp_path, "second")

    assert first != second


def test_the_printed_seed_replays_the_same_examples(tmp_path: Path) -> None:
    drawn, output = run_on_ci(tmp_path, "drawn")

    replayed, again = run_on_ci(tmp_path, "replayed", seed=printed_seed(output))

    assert replayed == drawn
    assert printed_seed(again) == printed_seed(output)
