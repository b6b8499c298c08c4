"""`SparkMathError`: the base of every error whose message alone tells the user what is wrong
and how to fix it. Command lines (ours, and `lm_eval` through the plugin) print such an error as
one line and exit 2; `--debug` or `SPARK_MATH_DEBUG=1` shows the traceback instead (`report`: the
policy of every `spark-math` command). `redact` keeps API keys out of every message and log
line."""

from __future__ import annotations

import os
import re
import sys
import traceback

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


def is_user_error(exc: BaseException) -> bool:
    """Whether `exc` is something the user can fix (a bad value, file or setting) rather than a
    bug: a `SparkMathError`, `ValueError` (pydantic's validation errors too), `OSError` (a
    missing or unreadable file) or a YAML syntax error."""
    import yaml

    return isinstance(exc, SparkMathError | ValueError | OSError | yaml.YAMLError)


def error_message(exc: BaseException) -> str:
    """`exc` in one line, without API keys (`x.yaml: no such file or directory` for a missing
    file)."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
    else:
        text = str(exc) or type(exc).__name__
    return redact(" ".join(text.split()))


def report(exc: BaseException, debug: bool | None = None) -> int:
    """Print `exc` to stderr for a person and return the exit code: 2 for a user error (one
    line; a second with the `--debug` hint when the message is not ours), 1 for a bug (its type
    and message, and the hint). With `debug` (default: `$SPARK_MATH_DEBUG`), the traceback."""
    user = is_user_error(exc)
    if debugging() if debug is None else debug:
        print(redact("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
        return 2 if user else 1
    hint = "rerun with --debug for the traceback"
    if isinstance(exc, SparkMathError):
        print(f"spark-math: error: {error_message(exc)}", file=sys.stderr)
    elif user:
        print(f"spark-math: error: {error_message(exc)}\n{hint}", file=sys.stderr)
    else:
        message = f"{type(exc).__name__}: {error_message(exc)}"
        print(f"spark-math: unexpected error (a bug): {message}\n{hint}", file=sys.stderr)
    return 2 if user else 1
