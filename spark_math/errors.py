"""`SparkMathError`: the base of every error whose message alone tells the user what is wrong
and how to fix it. Command lines (ours, and `lm_eval` through the plugin) print such an error as
one line and exit 2; `SPARK_MATH_DEBUG=1` shows the traceback instead. `redact` keeps API keys
out of every message and log line."""

from __future__ import annotations

import os
import re

DEBUG_VAR = "SPARK_MATH_DEBUG"
API_KEY_VARS = ("GOOGLE_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY")
_SECRET_ARG = re.compile(r"""(api[_-]?key['"]?\s*[:=]\s*['"]?)([^'",\s}]+)""", re.IGNORECASE)


class SparkMathError(Exception):
    """An error the user can act on from its message alone."""


def debugging() -> bool:
    """Whether `$SPARK_MATH_DEBUG` asks for tracebacks."""
    return os.environ.get(DEBUG_VAR, "").lower() in {"1", "true", "yes"}


def redact(text: str) -> str:
    """`text` without API keys: the values of the key variables (8 characters or more: a real
    key, not a test's "x"), and whatever follows an `api_key=` or `'api_key': `."""
    for var in API_KEY_VARS:
        if (secret := os.environ.get(var)) and len(secret) >= 8:
            text = text.replace(secret, "[REDACTED]")
    return _SECRET_ARG.sub(r"\1[REDACTED]", text)
