"""Training reads like a tool: a stage line each 10% of the steps and a summary off a terminal,
no TRL metric dicts, no escape codes, and a finished run says where its outputs are."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("trl")

from spark_math.training.progress import METRICS, TrainProgress


def test_off_a_terminal_a_line_each_tenth_of_the_steps_and_a_summary():
    said: list[str] = []
    progress = TrainProgress("[3/6] SFT", METRICS["sft"], said.append, terminal=False)
    state = SimpleNamespace(is_world_process_zero=True, global_step=0, max_steps=100)
    progress.on_train_begin(None, state, None)
    for step in range(1, 101):
        state.global_step = step
        progress.on_log(None, state, None, logs={"loss": 5.0 - step / 50, "grad_norm": 1.0})
        progress.on_step_end(None, state, None)
    progress.on_train_end(None, state, None)
    steps = [line for line in said if ": step " in line]
    assert [line.split()[3] for line in steps] == [f"{10 * i}/100" for i in range(1, 11)]
    assert steps[4].startswith("[3/6] SFT: step 50/100 (50%), loss 4; ") and " left" in steps[4]
    assert said[-1].startswith("[3/6] SFT: 100 steps in 0:00:00; loss 4.98 -> 3")
    assert not any("grad_norm" in line for line in said)


def test_the_train_command_prints_progress_lines_and_where_its_outputs_are(
    tiny_model_dir, tmp_path
):
    from typer.testing import CliRunner

    from spark_math.cli import app

    out = tmp_path / "run"
    args = ["train", "sft", "-c", "tiny-cpu-sft", f"model={tiny_model_dir}", f"output_dir={out}"]
    result = CliRunner().invoke(app, [*args, "max_steps=2", "logging_steps=1", "--eval-tasks="])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "{'loss'" not in output and "'grad_norm'" not in output  # TRL's dicts
    assert "\x1b[" not in output and "\r" not in output and "it/s]" not in output  # bars
    assert "SFT: step 2/2 (100%), loss " in output
    assert "SFT: 2 steps in " in output
    lines = output.splitlines()
    assert lines[-3:] == [
        f"final model: {out / 'final'}",
        f"training curves: {out / 'curves.png'}",
        f"evaluate it: lm_eval --model hf --model_args pretrained={out / 'final'},dtype=float32 "
        f"--tasks spark_math500 --apply_chat_template --output_path {out / 'eval'} "
        "--gen_kwargs max_gen_toks=8 --log_samples",
    ]
    assert (out / "curves.png").is_file() and (out / "final" / "model.safetensors").is_file()
    assert '"loss"' in (out / "log.jsonl").read_text()  # the metrics are all still logged
