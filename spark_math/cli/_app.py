"""The Typer app every `spark-math` command group is built with: one error policy for all.

A command's exception reaches the user as `errors.report` prints it (one or two lines; the
traceback with `--debug` or `SPARK_MATH_DEBUG=1`), never as a Rich traceback; usage errors keep
Typer's own format."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import report

try:  # typer >= 0.22 carries its own click
    from typer.exceptions import TyperException as UsageErrors
except ImportError:  # pragma: no cover - older typer on click
    from click import ClickException as UsageErrors


class ReportingGroup(TyperGroup):
    """A command group whose commands' exceptions are reported by `errors.report`."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UsageErrors, typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            debug = bool(ctx.find_root().params.get("debug")) or None
            raise typer.Exit(report(exc, debug)) from None


def typer_app(**kwargs: Any) -> typer.Typer:
    """A `typer.Typer` with the spark-math error policy."""
    return typer.Typer(cls=ReportingGroup, pretty_exceptions_enable=False, **kwargs)
