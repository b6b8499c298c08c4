"""The test command in a fresh clone: without benchmark data, the data tests skip in one summary
line that says how to get the data; with the hub, only what the mirror alone has skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = """
import pytest

@pytest.mark.needs_data
def test_rows(): pass

@pytest.mark.needs_data
@pytest.mark.parametrize("name", ["gsm8k", "gaokao2023en"])
def test_by_benchmark(name): pass

@pytest.mark.needs_mirror
def test_files(): pass

def test_plain(): pass
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_x.py").write_text(TESTS)
    return tmp_path


def summary(suite: Path, **env: str) -> list[str]:
    """The `-ra` skip lines and the counts line of a run of `suite` under `env` (no mirror and
    no hub unless given)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_MATH_", "HF_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", str(suite)],
        env=base | env,
        capture_output=True,
        text=True,
        cwd=suite,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    return [line for line in lines if line.startswith("SKIPPED")] + lines[-1:]


def test_without_data_every_data_test_skips_in_one_line(suite):
    [skipped, counts] = summary(suite)
    assert skipped.startswith("SKIPPED [4] conftest.py:")
    assert "set SPARK_MATH_DATA_DIR to a local mirror (`spark-math data pull --to DIR`" in skipped
    assert "HF_HUB_OFFLINE=0" in skipped and counts.startswith("1 passed, 4 skipped")


def test_with_the_hub_only_the_mirror_only_tests_skip(suite):
    [skipped, counts] = summary(suite, HF_HUB_OFFLINE="0")
    assert skipped.startswith("SKIPPED [2] conftest.py:") and "local data mirror" in skipped
    assert counts.startswith("3 passed, 2 skipped")


def test_with_a_mirror_everything_runs(suite, tmp_path):
    [counts] = summary(suite, SPARK_MATH_DATA_DIR=str(tmp_path))
    assert counts.startswith("5 passed")
