"""`spark-math train sft|grpo|dpo|plot` and `spark-math quickstart`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ._app import typer_app

app = typer_app(
    no_args_is_help=True,
    help="Fine-tune with TRL (SFT, GRPO, DPO) from a recipe, then score the model with lm-eval.",
)

Config = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        help="Recipe: a YAML file, or a packaged recipe's name (`spark-math train recipes`).",
    ),
]
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
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Train a finished run again from step 0 (deleting its checkpoints), then export "
        "and evaluate anew. Without it a finished run is neither trained, exported nor "
        "evaluated again.",
    ),
]


def _load(trainer: str, config: Path, overrides: list[str] | None, eval_tasks: str | None):
    """The recipe with its `--eval-tasks`, checked as far as it can be before a model loads
    (an error names the file and the key, and the command prints it in one line)."""
    from ..harness_tasks.formats import FormatTaskError, tasks_for_format
    from ..training.recipes import RecipeError, load_recipe
    from ..training.train import trl_config

    recipe = load_recipe(config, trainer, overrides or [])
    if eval_tasks is not None:
        tasks = tuple(t for t in eval_tasks.split(",") if t)
        try:
            tasks_for_format(tasks, recipe.format)
        except FormatTaskError as exc:
            raise RecipeError(f"--eval-tasks: {exc}") from None
        recipe = replace(recipe, eval=replace(recipe.eval, tasks=tasks))
    trl_config(recipe)  # what only TRL checks (ranges, bf16 without a GPU), before any model
    model = Path(recipe.model).expanduser()
    if recipe.model.startswith((".", "/", "~")) and not model.is_dir():
        raise RecipeError(
            f"{recipe.source}: model: {recipe.model} is not a folder; give a model folder or a "
            "hub id (Qwen/Qwen2.5-Math-1.5B)"
        )
    return recipe


def run_recipe(
    trainer: str,
    config: Path,
    overrides: list[str] | None,
    eval_tasks: str | None,
    no_merge: bool,
    resume: bool,
    force: bool = False,
) -> None:
    """Train a recipe, then export and evaluate the result if it names eval tasks; a rerun
    resumes an unfinished run and redoes nothing of a finished one (unless `force`).

    Under a multi-GPU launch (`accelerate launch`), every rank trains; the export and lm-eval run
    on the main process only, in a child process that sees one process of its own (lm-eval and
    vLLM would otherwise join the launch's process group), while the other ranks wait."""
    import subprocess
    import sys

    from ..training.export import (
        distributed_state,
        free_gpu_memory,
        run_on_main,
        single_process_environ,
    )
    from ..training.train import finished_run, train

    recipe = _load(trainer, config, overrides, eval_tasks)
    was_finished = finished_run(recipe) is not None and not force
    final = train(recipe, resume=resume, force=force, echo=typer.echo)
    state = distributed_state()
    if state is None:
        finish_run(recipe, was_finished, no_merge, force)
        say_outputs(recipe, final)
        return
    if not recipe.eval.tasks:
        if state.is_main_process:
            say_outputs(recipe, final)
        return
    command = [sys.executable, "-m", "spark_math.cli.train", "finish", trainer]
    command += ["--config", str(config), *(overrides or [])]
    if eval_tasks is not None:
        command.append(f"--eval-tasks={eval_tasks}")
    command += [*(["--no-merge"] if no_merge else []), *(["--force"] if force else [])]
    command += ["--was-finished"] if was_finished else []

    def export_and_evaluate() -> int:
        free_gpu_memory()  # the trainer's cached memory, for vLLM in the child
        env = single_process_environ()
        env.setdefault("CUDA_VISIBLE_DEVICES", str(state.local_process_index))
        return subprocess.run(command, env=env, check=True).returncode

    run_on_main(export_and_evaluate, recipe.output_dir / ".export-eval.done")
    if state.is_main_process:
        say_outputs(recipe, final)


def say_outputs(recipe, final: Path) -> None:
    """Where a finished run's outputs are: the final model, the training curves (drawn now)
    and the `lm_eval` command that scores the model (the export when there is one)."""
    import shlex

    from ..harness_tasks.formats import tasks_for_format
    from ..training.export import model_args
    from ..training.plot import plot_run

    typer.echo(f"final model: {final}")
    try:
        typer.echo(f"training curves: {plot_run(recipe.output_dir)}")
    except (OSError, ValueError) as exc:  # no step logged
        typer.echo(f"training curves: none ({exc})")
    exported = recipe.output_dir / "export"
    model = exported if exported.is_dir() else final
    spec = recipe.eval
    tasks = tasks_for_format(spec.tasks or ("spark_math500",), recipe.format)
    args = ",".join(f"{key}={value}" for key, value in model_args(model, "hf").items())
    command = ["lm_eval", "--model", "hf", "--model_args", args, "--tasks", ",".join(tasks)]
    command += ["--apply_chat_template", "--output_path", str(recipe.output_dir / "eval")]
    command += ["--include_path", spec.include_path] if spec.include_path else []
    command += ["--gen_kwargs", f"max_gen_toks={spec.max_gen_toks}"] if spec.max_gen_toks else []
    typer.echo(f"evaluate it: {shlex.join([*command, '--log_samples'])}")


def finish_run(recipe, was_finished: bool, no_merge: bool, force: bool) -> None:
    """Export the run's final model and score it with the recipe's eval tasks, skipping what a
    finished run already has (unless `force`)."""
    import shutil

    from ..harness_tasks.formats import tasks_for_format
    from ..training.export import evaluate_checkpoint, export, read_training_record
    from ..training.progress import quiet_libraries
    from ..training.train import FINAL_DIR

    if not recipe.eval.tasks:
        return
    out, spec = recipe.output_dir, recipe.eval
    final = out / FINAL_DIR
    exported, eval_dir = out / "export", out / "eval"
    record = read_training_record(final)
    if was_finished and record is not None and read_training_record(exported) == record:
        typer.echo(f"{exported}: already exported (--force exports again)")
    else:
        with quiet_libraries():
            export(final, exported, merge=not no_merge)
        if eval_dir.exists():  # results of the model this export replaced
            shutil.rmtree(eval_dir)
    tasks = tasks_for_format(spec.tasks, (record or {}).get("format") or recipe.format)
    done = _results_covering(eval_dir, tasks)
    if done is not None and not force:
        typer.echo(f"{', '.join(tasks)}: already evaluated in {done} (--force evaluates again)")
        return
    typer.echo(f"scoring {exported} with lm-eval on {', '.join(tasks)}")
    with quiet_libraries():
        results = evaluate_checkpoint(
            exported,
            spec.tasks,
            eval_dir,
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
    typer.echo(f"exported: {exported}; lm-eval results under {eval_dir}")


def _results_covering(eval_dir: Path, tasks: list[str]) -> Path | None:
    """The newest lm-eval results file under `eval_dir` that holds every task, or None."""
    from ..leaderboard.results import covered_tasks

    for path in sorted(eval_dir.rglob("results*.json"), reverse=True):
        if set(tasks) <= covered_tasks(path):
            return path
    return None


@app.command()
def sft(
    config: Config,
    overrides: Overrides = None,
    eval_tasks: EvalTasks = None,
    no_merge: NoMerge = False,
    resume: Resume = True,
    force: Force = False,
) -> None:
    """Supervised fine-tuning on reference solutions written in the recipe's answer format."""
    run_recipe("sft", config, overrides, eval_tasks, no_merge, resume, force)


@app.command()
def grpo(
    config: Config,
    overrides: Overrides = None,
    eval_tasks: EvalTasks = None,
    no_merge: NoMerge = False,
    resume: Resume = True,
    force: Force = False,
) -> None:
    """GRPO with the recipe's rewards (graded by spark_math.grading)."""
    run_recipe("grpo", config, overrides, eval_tasks, no_merge, resume, force)


@app.command()
def dpo(
    config: Config,
    overrides: Overrides = None,
    eval_tasks: EvalTasks = None,
    no_merge: NoMerge = False,
    resume: Resume = True,
    force: Force = False,
) -> None:
    """DPO on pairs of graded-correct over graded-incorrect samples."""
    run_recipe("dpo", config, overrides, eval_tasks, no_merge, resume, force)


@app.command(hidden=True)
def finish(
    trainer: Annotated[str, typer.Argument(help="sft, grpo or dpo.")],
    config: Config,
    overrides: Overrides = None,
    eval_tasks: EvalTasks = None,
    no_merge: NoMerge = False,
    force: Force = False,
    was_finished: Annotated[
        bool, typer.Option("--was-finished", help="The run was finished before this command.")
    ] = False,
) -> None:
    """Export and evaluate a trained run (what a multi-GPU launch's main process runs alone)."""
    recipe = _load(trainer, config, overrides, eval_tasks)
    finish_run(recipe, was_finished, no_merge, force)


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


@app.command()
def recipes(
    copy: Annotated[
        Path | None,
        typer.Option(
            "--copy", help="Copy them all into this folder to edit (launch configs: accelerate/)."
        ),
    ] = None,
) -> None:
    """List the packaged recipes and `accelerate launch` configs with their paths; `--config`
    takes a recipe's name."""
    from ..recipes import copy_to, packaged

    if copy is not None:
        copied = copy_to(copy)
        typer.echo(f"copied {len(copied)} files into {copy}")
        return
    files = packaged()
    width = max(map(len, files))
    for name, path in files.items():
        typer.echo(f"{name:<{width}}  {path}")


def quickstart(
    out: Annotated[Path, typer.Option(help="Folder for the models, logs and leaderboard.")] = Path(
        "runs/quickstart"
    ),
    sft_steps: Annotated[int | None, typer.Option(help="SFT steps (default: built-in).")] = None,
    grpo_steps: Annotated[int | None, typer.Option(help="GRPO steps (default: built-in).")] = None,
    eval_limit: Annotated[
        int | None, typer.Option(help="Evaluate on the first N test problems only.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Redo every stage; a rerun otherwise redoes only what is missing."
        ),
    ] = False,
) -> None:
    """The whole loop on a CPU, offline: generate sums of digits, build a small model, SFT it,
    GRPO it, score every stage with lm-eval (greedy, pass@1 and pass@8 on held-out sums; the
    trained stages also on a longer, untrained form) and write a leaderboard (about 7 minutes
    on 2 cores)."""
    from ..training.quickstart import run

    run(
        out,
        sft_steps=sft_steps,
        grpo_steps=grpo_steps,
        eval_limit=eval_limit,
        force=force,
        echo=typer.echo,
    )


if __name__ == "__main__":
    app()
