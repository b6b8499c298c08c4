"""The `spark-math` command."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .. import __version__
from . import baselines, data, leaderboard, probes
from ._app import typer_app
from .rescore import rescore
from .tiny import make_tiny_model
from .train import app as train_app
from .train import quickstart

app = typer_app(no_args_is_help=True, help="spark-math: math evaluation and training toolkit.")


@app.callback()
def main(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an error, show the full traceback (also: SPARK_MATH_DEBUG=1) instead of "
            "one line saying what is wrong.",
        ),
    ] = False,
) -> None:
    """spark-math: math evaluation and training toolkit for small language models."""


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@app.command()
def grade(
    prediction: Annotated[
        str, typer.Argument(help="The model response, or - to read it from stdin.")
    ],
    gold: Annotated[str, typer.Argument(help="The gold answer, e.g. '\\frac{1}{2}'.")],
    task: Annotated[
        str | None, typer.Option(help="Answer conventions: gsm8k, math, aime, ...")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Hard wall-time bound in seconds.")] = 2.0,
) -> None:
    """Grade one response against a gold answer and print the verdict as JSON."""
    from ..grading import grade as grade_answer

    if prediction == "-":
        prediction = typer.get_text_stream("stdin").read()
    try:
        verdict = grade_answer(prediction, gold, task=task, timeout=timeout)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--task") from exc
    typer.echo(json.dumps(verdict.__dict__))
    raise typer.Exit(0 if verdict.correct else 1)


@app.command("tasks-dir")
def tasks_dir() -> None:
    """Print the folder of the spark task YAMLs (for `lm_eval --include_path`)."""
    from ..harness_tasks import TASKS_DIR

    typer.echo(str(TASKS_DIR))


app.command("make-tiny-model")(make_tiny_model)
app.add_typer(data.app, name="data")
app.add_typer(probes.app, name="probes")
app.add_typer(baselines.app, name="baselines")
app.command("leaderboard")(leaderboard.leaderboard)
app.command("rescore")(rescore)
app.add_typer(train_app, name="train")
app.command()(quickstart)
