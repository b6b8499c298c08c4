"""The benchmark corpus (GSM8K test and MATH-500 golds, correct and near-miss answers) as a test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import load_benchmark

DATA_DIR = os.environ.get("SPARK_MATH_DATA_DIR")

pytestmark = pytest.mark.needs_mirror


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("grader_bench")


def test_spark_grader_makes_no_error_on_the_realistic_corpus(bench) -> None:
    data_dir = Path(DATA_DIR)
    items = bench.gsm8k_items(bench.load(data_dir, "gsm8k"))
    items += bench.math_items(bench.load(data_dir, "math500"))
    assert len(items) == 2 * (1319 + 500)
    row = bench.measure("spark-math", bench.spark_grader(), items)
    assert (row["FP"], row["FN"]) == (0, 0), row
