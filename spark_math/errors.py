"""`SparkMathError`: the base of every error whose message alone tells the user what is wrong
and how to fix it. Command lines (ours, and `lm_eval` through the plugin) print such an error as
one line and exit 2; `SPARK_MATH_DEBUG=1` shows the traceback instead."""

from __future__ import annotations

import os

DEBUG_VAR = "SPARK_MATH_DEBUG"


class SparkMathError(Exception):
    """An error the user can act on from its message alone."""


def debugging() -> bool:
    """Whether `$SPARK_MATH_DEBUG` asks for tracebacks."""
    return os.environ.get(DEBUG_VAR, "").lower() in {"1", "true", "yes"}
