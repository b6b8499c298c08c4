"""The benchmark corpus (GSM8K test and MATH-500 golds, correct and near-miss answers) as a test."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "benchmarks" / "grader_bench.py"
DATA_DIR = os.environ.get("SPARK_MATH_DATA_DIR")

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("grader_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_spark_grader_makes_no_error_on_the_realistic_corpus(bench) -> None:
    data_dir = Path(DATA_DIR)
    items = bench.gsm8k_items(bench.load(data_dir, "gsm8k"))
    items += bench.math_items(bench.load(data_dir, "math500"))
    assert len(items) == 2 * (1319 + 500)
    row = bench.measure("spark-math", bench.spark_grader(), items)
    assert (row["FP"], row["FN"]) == (0, 0), row
