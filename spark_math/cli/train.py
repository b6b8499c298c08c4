"""`spark-math train sft|grpo|dpo|plot` and `spark-math quickstart`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    no_args_is_help=True,
    help="Fine-tune with TRL (SFT, GRPO, DPO) from a recipe, then score the model with lm-eval.",
)

Config = Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML file.", exists=True)]
Overrides = Annotated[
    list[str] | None,
    typer.Argument(
        help="key=value overrides: recipe fields (lora.r=8, data.limit=100) or TRL config "
        "fields (learning_rate=1e-5, max_steps=10).",
        show_default=False,
    ),
]
EvalTasks = Annotated[
    str | None,
    typer.Option(
        "--eval-tasks",
        help="Comma-separated lm-eval tasks to run on the result (default: the recipe's "
        "eval.tasks; '' for none).",
    ),
]
NoMerge = Annotated[
    bool,
    typer.Option("--no-merge", help="Export the LoRA adapter alone instead of merging it."),
]
Resume = Annotated[bool, typer.Option(help="Resume from the run folder's last checkpoint, if any.")]


def run_recipe(
    trainer: str,
    config: Path,
    overrides: list[str] | None,
    eval_tasks: str | None,
    no_merge: bool,
    resume: bool,
) -> None:
    """Train a recipe, then export and evaluate the result if it names eval tasks."""
    from ..training.export import evaluate, export
    from ..training.recipes import RecipeError, load_recipe
    from ..training.train import train

    try:
        recipe = load_recipe(config, trainer, overrides or [])
    except RecipeError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if eval_tasks is not None:
        tasks = tuple(t for t in eval_tasks.split(",") if t)
        recipe = replace(recipe, eval=replace(recipe.eval, tasks=tasks))
    final = train(recipe, resume=resume)
    typer.echo(f"trained: {final}")
    if not recipe.eval.tasks:
        return
    exported = export(final, recipe.output_dir / "export", merge=not no_merge)
    spec = recipe.eval
    results = evaluate(
        exported,
        spec.tasks,
        recipe.output_dir / "eval",
        limit=spec.limit,
        samples=spec.samples,
        max_gen_toks=spec.max_gen_toks,
        batch_size=spec.batch_size,
        include_path=spec.include_path,
    )
    for task, metrics in results.items():
        shown = ", ".join(
            f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float) and "stderr" not in k
        )
        typer.echo(f"{task}: {shown}")
    typer.echo(f"exported: {exported}; lm-eval results under {recipe.output_dir / 'eval'}")


@app.command()
def sft(
    config: Config,
    overrides: Overrides = None,
    eval_tasks: EvalTasks = None,
    no_merge: NoMerge = False,
    resume: Resume = True,
) -> None:
    """Supervised fine-tuning on reference solutions written in the recipe's answer format."""
    run_recipe("sft", config, overrides, eval_tasks, no_merge, resume)


@app.command()
def grpo(
    config: Config,
    overrides: Overrides = None,
    eval_tasks: EvalTasks = None,
    no_merge: NoMerge = False,
    resume: Resume = True,
) -> None:
    """GRPO with the recipe's rewards (graded by spark_math.grading)."""
    run_recipe("grpo", config, overrides, eval_tasks, no_merge, resume)


@app.command()
def dpo(
    config: Config,
    overrides: Overrides = None,
    eval_tasks: EvalTasks = None,
    no_merge: NoMerge = False,
    resume: Resume = True,
) -> None:
    """DPO on pairs of graded-correct over graded-incorrect samples."""
    run_recipe("dpo", config, overrides, eval_tasks, no_merge, resume)


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (holds log.jsonl).")],
    out: Annotated[
        Path | None, typer.Option(help="PNG to write (default: RUN_DIR/curves.png).")
    ] = None,
) -> None:
    """Draw a run's training curves (GRPO: rewards, zero-variance groups, length, KL) as PNG."""
    from ..training.plot import plot_run

    try:
        typer.echo(str(plot_run(run_dir, out)))
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="RUN_DIR") from exc


def quickstart(
    out: Annotated[Path, typer.Option(help="Folder for the models, logs and leaderboard.")] = Path(
        "runs/quickstart"
    ),
    sft_steps: Annotated[int | None, typer.Option(help="SFT steps (default: built-in).")] = None,
    grpo_steps: Annotated[int | None, typer.Option(help="GRPO steps (default: built-in).")] = None,
    eval_limit: Annotated[
        int | None, typer.Option(help="Evaluate on the first N test problems only.")
    ] = None,
) -> None:
    """The whole loop on a CPU, offline: generate lineq, build a small model, SFT it, GRPO it,
    score every stage with lm-eval and write a leaderboard (about 10 minutes on 2 cores)."""
    from ..training.quickstart import run

    table = run(out, sft_steps=sft_steps, grpo_steps=grpo_steps, eval_limit=eval_limit)
    typer.echo(table)


if __name__ == "__main__":
    app()
