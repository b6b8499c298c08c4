"""SFT, GRPO (LoRA) and DPO on the tiny model: a few CPU steps each, a checkpoint lm-eval
scores, the GRPO step log and its plot, and resuming after a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from spark_math.models.tiny import build_tokenizer
from spark_math.recipes import RECIPES_DIR as RECIPES
from spark_math.training.data import prompt_text
from spark_math.training.export import evaluate, export, is_adapter
from spark_math.training.formats import get_format
from spark_math.training.plot import plot_run, read_log
from spark_math.training.recipes import load_recipe
from spark_math.training.train import LOG_FILE, last_checkpoint, train


def test_prompt_text_opens_or_continues_the_assistant_turn():
    tokenizer, r1 = build_tokenizer(), get_format("r1")
    assert prompt_text(tokenizer, "Question: 2 + 2?") == "Question: 2 + 2?"
    asked = prompt_text(tokenizer, r1.prompt("What is 2 + 2?"))
    assert "What is 2 + 2?" in asked and asked.endswith("<|im_end|>\n<|im_start|>assistant\n")
    scaffold = prompt_text(tokenizer, r1.prompt("What is 2 + 2?", scaffold="Two plus two"))
    assert scaffold.endswith("<|im_start|>assistant\n<think>\nTwo plus two\n")


def tiny_recipe(trainer: str, model: Path, out: Path, *overrides: str):
    return load_recipe(
        RECIPES / f"tiny-cpu-{trainer}.yaml",
        trainer,
        [f"model={model}", f"output_dir={out}", *overrides],
    )


def lm_eval_scores(model_dir: Path, out: Path) -> float:
    """Run lm-eval's hf backend on two spark_lineq problems; return exact_match."""
    results = evaluate(
        model_dir, ["spark_lineq"], out, limit=2, max_gen_toks=8, batch_size="2", backend="hf"
    )
    assert len(list(out.glob("*/results_*.json"))) == 1
    assert len(list(out.glob("*/samples_spark_lineq_*.jsonl"))) == 1
    return results["spark_lineq"]["exact_match,grader"]


def test_sft_checkpoint_is_scored_by_lm_eval(tiny_model_dir, tmp_path):
    final = train(tiny_recipe("sft", tiny_model_dir, tmp_path / "run"))
    assert (final / "model.safetensors").is_file() and not is_adapter(final)
    log = read_log(tmp_path / "run")
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert log[-1]["loss"] < log[0]["loss"]
    assert lm_eval_scores(export(final, tmp_path / "export"), tmp_path / "eval") == 0.0


def test_grpo_with_lora_logs_every_metric_and_exports_merged(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    run = tmp_path / "run"
    final = train(tiny_recipe("grpo", tiny_model_dir, run))
    assert is_adapter(final)
    lora_b = [t for k, t in load_file(final / "adapter_model.safetensors").items() if "lora_B" in k]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # LoRA B starts at zero
    log = read_log(run)
    assert [r["step"] for r in log] == [1, 2, 3]
    for name in ("correctness", "format_soft", "length_target"):
        assert all(f"rewards/{name}/mean" in r and f"rewards/{name}/std" in r for r in log)
    for key in ("frac_reward_zero_std", "completions/mean_length", "kl_start", "elapsed_s"):
        assert all(key in r for r in log), key
    assert min(r["frac_reward_zero_std"] for r in log) < 1.0
    assert all(r["kl_start"] >= 0 for r in log) and log[-1]["kl_start"] > 0
    png = plot_run(run)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    merged = export(final, tmp_path / "export")
    assert (merged / "model.safetensors").is_file() and not is_adapter(merged)
    assert lm_eval_scores(merged, tmp_path / "eval") == 0.0


def test_grpo_logs_trl_kl_when_beta_is_set(tiny_model_dir, tmp_path):
    train(tiny_recipe("grpo", tiny_model_dir, tmp_path, "beta=0.1", "max_steps=1"))
    (record,) = read_log(tmp_path)
    assert "kl" in record and "kl_start" not in record
    assert not (tmp_path / "kl_probe.pt").exists()


def test_stage2_mines_hard_problems_and_trains_on_hinted_prompts(tiny_model_dir, tmp_path):
    from spark_math.training.data import build_dataset

    recipe = tiny_recipe(
        "grpo",
        tiny_model_dir,
        tmp_path,
        "data.limit=2",
        "data.hard={samples: 2, max_new_tokens: 4, batch_size: 2}",
        "max_steps=1",
    )
    rows = build_dataset(recipe)  # a random model fails every problem: all of them are hard
    hinted = [r for r in rows if r["prompt"][-1]["role"] == "assistant"]
    assert len(rows) == 8 and len(hinted) == 6
    assert all(r["prompt"][-1]["content"].startswith("<think>\n") for r in hinted)
    train(recipe)
    assert [r["step"] for r in read_log(tmp_path)] == [1]


def test_dpo_on_sampled_pairs_exports_the_adapter_alone(tiny_model_dir, tmp_path):
    final = train(tiny_recipe("dpo", tiny_model_dir, tmp_path / "run"))
    log = read_log(tmp_path / "run")
    assert len(log) == 3 and all("rewards/margins" in r for r in log)
    adapter = export(final, tmp_path / "export", merge=False)
    assert is_adapter(adapter) and not (adapter / "model.safetensors").exists()
    assert lm_eval_scores(adapter, tmp_path / "eval") == 0.0


def test_training_resumes_after_the_process_is_killed(tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "spark_math.cli.train",
        "sft",
        "--config",
        str(RECIPES / "tiny-cpu-sft.yaml"),
        f"model={tiny_model_dir}",
        f"output_dir={run}",
        "max_steps=30",
        "save_steps=3",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    try:
        while not (run / "checkpoint-6" / "trainer_state.json").exists():
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within the time limit"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = int(Path(last_checkpoint(run)).name.split("-")[1])
    assert 6 <= killed_at < 30 and not (run / "final").exists()

    said: list[str] = []
    final = train(
        tiny_recipe("sft", tiny_model_dir, run, "max_steps=30", "save_steps=3"), echo=said.append
    )
    assert said[0] == f"{run}: resuming from step {killed_at} ({run / f'checkpoint-{killed_at}'})"
    lines = [json.loads(line) for line in (run / LOG_FILE).read_text().splitlines()]
    resumed = [r for r in lines if "resumed_from" in r]
    assert [r["step"] for r in resumed] == [killed_at]
    steps = [r["step"] for r in read_log(run)]
    assert steps == list(range(1, 31))  # each step once: before the kill, then after resuming
    state = json.loads((run / "checkpoint-30" / "trainer_state.json").read_text())
    assert state["global_step"] == 30 and (final / "model.safetensors").is_file()
