"""Benchmark data: hub loaders, offline JSON Lines copies (SPARK_MATH_DATA_DIR), checks.

    >>> from spark_math.data import load_rows
    >>> rows = load_rows("math500")  # doctest: +SKIP
    >>> rows[0]["id"], rows[0]["answer"]  # doctest: +SKIP
    ('test/precalculus/807.json', '\\\\left( 3, \\\\frac{\\\\pi}{2} \\\\right)')

Every row starts with `id`, `problem`, `answer` (str) and `solution` (str or None), then the
source's own fields. With `SPARK_MATH_DATA_DIR` set (or `data_dir=` given) rows come from
`<dir>/<name>/<split>.jsonl`; otherwise from the Hugging Face hub, normalised the same way.
`spark-math data pull --to DIR` writes such a folder; `spark-math data verify` checks one.
"""

from .benchmarks import BENCHMARKS, Benchmark, DataError, HubSource, Split
from .loading import data_dir, load_rows
from .store import FileCheck, Problem, check, pull, verify

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "DataError",
    "FileCheck",
    "HubSource",
    "Problem",
    "Split",
    "check",
    "data_dir",
    "load_rows",
    "pull",
    "verify",
]
