"""What a run of the spark tasks reports and honours: metrics next to accuracy, budgets and
sampling the user asked for, globs, byte-stable results, and budget hits marked per backend."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

from spark_math import _lmeval_hook  # noqa: E402
from spark_math.harness_tasks import TASKS_DIR  # noqa: E402
from spark_math.harness_tasks.scoring import (  # noqa: E402
    grade_samples,
    has_reasoning,
    metric_names,
    pass_ks,
    sample_metrics,
)
from spark_math.harness_tasks.task import GenerationSettingsError  # noqa: E402
from spark_math.models.generation import Generation  # noqa: E402
from spark_math.models.lmeval_backends import hf_finish, patch_vllm  # noqa: E402
from spark_math.models.oracle import OracleLM  # noqa: E402

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def task_manager() -> TaskManager:
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def _task_configs() -> dict[str, dict]:
    configs = {}
    for path in sorted(TASKS_DIR.rglob("*.yaml")):
        config = load_yaml(path, resolve_func=False, recursive=True)
        if isinstance(config, dict) and "task" in config and "group" not in config:
            configs[config["task"]] = config
    return configs


def test_pass_at_k_from_more_samples_than_k():
    assert pass_ks(1) == [1]
    assert pass_ks(8) == [1, 2, 4, 8]
    assert pass_ks(6) == [1, 2, 4, 6]
    records = [{"correct": i < 2, "extracted": "1", "group": 0} for i in range(8)]
    metrics = sample_metrics(records)
    assert metrics["pass@1"] == metrics["avg@8"] == 0.25
    assert metrics["pass@2"] == pytest.approx(1 - (6 * 5) / (8 * 7))
    assert metrics["pass@8"] == 1.0
    assert "truncated" not in metrics and "response_tokens" not in metrics  # unknown: left out


def test_budget_hits_tokens_and_reasoning_are_reported():
    responses = [
        Generation(
            "<think>\nadd them\n</think><answer>\\boxed{4}</answer>", truncated=False, tokens=12
        ),
        Generation("<think>\n</think>\\boxed{4}", truncated=False, tokens=6),
        Generation(
            "Let me compute 2 + 2 by counting up from two, which", truncated=True, tokens=16
        ),
    ]
    records = grade_samples(responses, "4", "math")
    assert [r["truncated"] for r in records] == [False, False, True]
    assert [r["reasoning"] for r in records] == [True, False, False]
    assert records[2]["reason"] == "no-answer"
    metrics = sample_metrics(records)
    assert metrics["truncated"] == pytest.approx(1 / 3)
    assert metrics["no_answer"] == pytest.approx(1 / 3)
    assert metrics["reasoning"] == pytest.approx(1 / 3)
    assert metrics["response_tokens"] == pytest.approx(34 / 3)


def test_a_cut_off_response_is_graded_unfinished():
    """A budget hit mid-sentence is not an answer, even where a finished text would be one."""
    finished = grade_samples([Generation("so the total is 42", truncated=False)], "42", "gsm8k")
    cut = grade_samples([Generation("so the total is 42", truncated=True)], "42", "gsm8k")
    assert finished[0]["correct"] and not cut[0]["correct"]


def test_reasoning_needs_working_not_just_an_answer():
    assert not has_reasoning("The answer is \\boxed{5}.")
    assert has_reasoning("First, 2 + 3 = 5.\nSo the answer is \\boxed{5}.")
    assert has_reasoning("<think>2 + 3 = 5</think><answer>5</answer>")
    assert not has_reasoning("<think> </think><answer>5</answer>")


def test_generation_survives_pickling_and_post_processing():
    text = Generation("<think>x</think>The answer is 5.\nQ: next", truncated=True, tokens=9)
    copy = pickle.loads(pickle.dumps(text))
    assert (copy, copy.truncated, copy.tokens) == (text, True, 9)
    assert text.with_text("The answer is 5.\nQ: next").truncated is True  # front cut: still hit
    assert text.with_text("<think>x</think>The answer is 5.\n").truncated is False  # stop cut


def test_hf_rows_that_hit_the_budget():
    eos, pad = 2, 0
    rows = [[7, 7, 5, 6, 8], [7, 7, 5, 2, 0], [7, 7, 2, 0, 0]]  # 2 context tokens, budget 3
    finish = hf_finish(rows, 2, 3, {eos, pad})
    assert finish[(5, 6, 8)] == (True, 3)
    assert finish[(5, 2, 0)] == (False, 2)
    assert finish[(2, 0, 0)] == (False, 1)


def test_vllm_finish_reason_marks_the_text():
    completions = [
        SimpleNamespace(text="cut", finish_reason="length", token_ids=[1, 2, 3]),
        SimpleNamespace(text="done", finish_reason="stop", token_ids=[1]),
    ]

    class VLLM:
        def _model_generate(self, requests, generate=False, sampling_params=None):
            return [SimpleNamespace(outputs=[c]) for c in completions]

    module = SimpleNamespace(VLLM=VLLM, postprocess_generated_text=lambda g, stop, t: g)
    patch_vllm(module)
    outputs = VLLM()._model_generate([[1]], generate=True, sampling_params=[None])
    texts = [module.postprocess_generated_text(o.outputs[0].text, [], None) for o in outputs]
    assert [(t, t.truncated, t.tokens) for t in texts] == [("cut", True, 3), ("done", False, 1)]


def test_every_task_reports_the_metric_set_of_its_sample_count():
    configs = _task_configs()
    assert len(configs) > 90
    for name, config in configs.items():
        metrics = [m["metric"] for m in config.get("metric_list", [])]
        expected = metric_names(config.get("repeats", 1))
        assert metrics[: len(expected)] == expected, name


def test_every_spark_group_averages_pass_at_1():
    """Group headlines compare like with like: each task's pass@1 (= avg@k where it samples;
    SPARKLE's group names it avg@8, as the paper does)."""
    for path in TASKS_DIR.rglob("*.yaml"):
        config = load_yaml(path, resolve_func=False, recursive=True)
        for entry in (config or {}).get("aggregate_metric_list") or []:
            assert re.fullmatch(r"pass@1|avg@\d+", entry["metric"]), path


@pytest.mark.needs_data  # loading a task reads its documents
def test_glob_runs_each_task_once(task_manager):
    names = task_manager.match_tasks(["spark_*"])
    assert "spark_core" in names and "spark_aime24_k8" in names
    seen: dict[str, str] = {}
    for name in names:
        for task in _lmeval_hook._members(task_manager, name) or {name}:
            assert task not in seen, f"{task} in both {seen.get(task)} and {name}"
            seen[task] = name
    loaded = task_manager.load(task_manager.match_tasks(["spark_sparkle*"]))
    assert "spark_sparkle" in loaded["groups"]


@pytest.mark.needs_data
def test_temperature_on_a_greedy_task_turns_sampling_on(task_manager):
    out = lm_eval.simple_evaluate(
        model=OracleLM(),
        tasks=["spark_gsm8k"],
        task_manager=task_manager,
        limit=1,
        gen_kwargs="temperature=0.7",
    )
    settings = out["configs"]["spark_gsm8k"]["generation_kwargs"]
    assert settings["do_sample"] is True and settings["temperature"] == 0.7
    with pytest.raises(GenerationSettingsError, match=r"do_sample=false and temperature=0\.7"):
        lm_eval.simple_evaluate(
            model=OracleLM(),
            tasks=["spark_gsm8k"],
            task_manager=task_manager,
            limit=1,
            gen_kwargs="temperature=0.7,do_sample=false",
        )


def _lm_eval(args: list[str], out: Path) -> dict:
    command = [sys.executable, "-m", "lm_eval", *args, "--output_path", str(out), "--log_samples"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(next(out.rglob("results_*.json")).read_text(encoding="utf-8"))


def _env() -> dict[str, str]:
    import os

    return {**os.environ, **OFFLINE}


@pytest.mark.needs_data
def test_results_are_byte_stable_apart_from_timestamps(tmp_path):
    args = ["--model", "spark-oracle", "--tasks", "spark_gsm8k,spark_aime24", "--limit", "2"]
    first, second = _lm_eval(args, tmp_path / "a"), _lm_eval(args, tmp_path / "b")
    assert " at 0x" not in json.dumps(first)
    timestamps = {"date", "total_evaluation_time_seconds"}
    assert {k: v for k, v in first.items() if k not in timestamps} == {
        k: v for k, v in second.items() if k not in timestamps
    }
    samples = [
        sorted(p.read_bytes() for p in d.rglob("samples_*.jsonl"))
        for d in (tmp_path / "a", tmp_path / "b")
    ]
    assert samples[0] == samples[1]


@pytest.mark.needs_data
def test_model_args_budget_is_honoured_and_hits_are_marked(tiny_model_dir, tmp_path):
    """`max_gen_toks` in --model_args wins over the task's 2048; the hf backend marks each
    response that hit it, and spark-replay carries the marks over."""
    model_args = f"pretrained={tiny_model_dir},dtype=float32,max_gen_toks=8"
    args = ["--model", "hf", "--model_args", model_args, "--device", "cpu"]
    results = _lm_eval([*args, "--tasks", "spark_gsm8k", "--limit", "2"], tmp_path / "hf")
    assert results["configs"]["spark_gsm8k"]["generation_kwargs"]["max_gen_toks"] == 8
    metrics = results["results"]["spark_gsm8k"]
    assert metrics["response_tokens,grader"] <= 8
    sample = json.loads(
        next((tmp_path / "hf").rglob("samples_*.jsonl")).read_text().splitlines()[0]
    )
    verdict = json.loads(sample["filtered_resps"][0][0])
    assert verdict["tokens"] <= 8 and verdict["truncated"] == (verdict["tokens"] == 8)
    replay = ["--model", "spark-replay", "--model_args", f"samples={tmp_path / 'hf'}"]
    replayed = _lm_eval([*replay, "--tasks", "spark_gsm8k", "--limit", "2"], tmp_path / "replay")
    for metric in ("truncated,grader", "response_tokens,grader", "no_answer,grader"):
        assert replayed["results"]["spark_gsm8k"][metric] == metrics[metric]
