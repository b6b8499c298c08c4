"""The spark_* lm-eval tasks, run through lm-eval itself with instant models."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from math import comb
from pathlib import Path

import pytest
import yaml

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402

from spark_math.harness_tasks import TASKS_DIR, _generate_k_variants  # noqa: E402
from spark_math.harness_tasks.scoring import (  # noqa: E402
    grade_samples,
    majority_correct,
    pass_at_k,
    sample_metrics,
)
from spark_math.models.oracle import OracleLM  # noqa: E402

CORE_TASKS = yaml.safe_load((TASKS_DIR / "spark_core.yaml").read_text(encoding="utf-8"))["task"]
OTHER_TASKS = ["spark_lineq", "spark_lmeval_gsm8k_cot", "spark_lmeval_math500_4shot"]
BASE_TASKS = [*CORE_TASKS, *OTHER_TASKS]
SAMPLED = {"spark_aime24", "spark_aime25", "spark_amc23"}


@pytest.fixture(scope="module")
def task_manager() -> TaskManager:
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def evaluate(task_manager, tasks, limit=None, **oracle):
    return lm_eval.simple_evaluate(
        model=OracleLM(**oracle),
        tasks=tasks,
        task_manager=task_manager,
        limit=limit,
        log_samples=True,
        bootstrap_iters=0,
    )


def test_every_task_yaml_is_indexed(task_manager):
    """lm-eval skips YAML it cannot parse without a word; the index must hold every task."""
    variants = {name.removesuffix(".yaml") for name in _generate_k_variants.render()}
    found = {t for t in task_manager.all_tasks if t.startswith("spark")}
    expected = set(BASE_TASKS) | variants | {"spark_core"}
    assert expected <= found, expected - found


def test_k_variant_files_match_generator():
    files = {p.name: p.read_text() for p in _generate_k_variants.OUT_DIR.glob("*.yaml")}
    assert files == _generate_k_variants.render()


def test_pass_at_k_matches_enumeration():
    for n, c, k in itertools.product(range(1, 7), range(7), range(1, 7)):
        if c > n or k > n:
            continue
        subsets = list(itertools.combinations([i < c for i in range(n)], k))
        brute = sum(any(s) for s in subsets) / comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(brute)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_majority_groups_equivalent_answers():
    records = grade_samples(
        [r"\boxed{0.5}", r"\boxed{\frac12}", r"\boxed{3}", r"\boxed{3}", r"\boxed{3}", "no idea"],
        r"\frac{1}{2}",
        "math",
    )
    assert [r["group"] for r in records] == [0, 0, 1, 1, 1, None]
    assert [r["reason"] for r in records][-1] == "no-answer"
    assert not majority_correct(records)  # 3 votes for "3" beat 2 for one half
    tie = grade_samples([r"\boxed{7}", r"\boxed{1/2}"], "1/2", "math")
    assert not majority_correct(tie)  # a tie goes to the class seen first
    metrics = sample_metrics(records)
    assert metrics == {
        "exact_match": 1.0,
        "pass@1": pytest.approx(2 / 6),
        "pass@2": pytest.approx(1 - comb(4, 2) / comb(6, 2)),
        "pass@4": pytest.approx(1 - comb(4, 4) / comb(6, 4)),
        "pass@6": 1.0,
        "avg@6": pytest.approx(2 / 6),
        "maj@6": 0.0,
        "no_answer": pytest.approx(1 / 6),
        "reasoning": 0.0,
    }


@pytest.mark.needs_data
def test_gold_answers_score_one_on_every_task(task_manager):
    out = evaluate(task_manager, ["spark_core", *OTHER_TASKS], mode="gold")
    assert out["group_subtasks"]["spark_core"] == CORE_TASKS
    for task in BASE_TASKS:
        metrics = out["results"][task]
        assert metrics["exact_match,grader"] == 1.0, task
        if task in SAMPLED:
            assert metrics["avg@8,grader"] == metrics["pass@8,grader"] == 1.0
            assert metrics["maj@8,grader"] == 1.0
    assert out["groups"]["spark_core"]["pass@1,grader"] == 1.0
    sizes = {t: out["n-samples"][t]["effective"] for t in ("spark_gsm8k", "spark_math500")}
    assert sizes == {"spark_gsm8k": 1319, "spark_math500": 500}


@pytest.mark.needs_data
def test_garbage_scores_zero_and_logs_the_reason(task_manager):
    out = evaluate(task_manager, BASE_TASKS, limit=5, mode="garbage")
    for task in BASE_TASKS:
        assert out["results"][task]["exact_match,grader"] == 0.0, task
    sample = out["samples"]["spark_math500"][0]
    verdict = sample["filtered_resps"][0][0]
    assert verdict == {
        "correct": False,
        "extracted": None,
        "reason": "no-answer",
        "group": None,
        "truncated": None,
        "tokens": None,
        "reasoning": False,
    }


@pytest.mark.needs_data
@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.5, {"exact_match": 0.0, "avg@8": 0.5, "pass@1": 0.5, "pass@8": 1.0, "maj@8": 1.0}),
        (0.125, {"exact_match": 0.0, "avg@8": 0.125, "pass@8": 1.0, "maj@8": 0.0}),
        (0.0, {"exact_match": 0.0, "avg@8": 0.0, "pass@8": 0.0, "maj@8": 0.0}),
    ],
)
def test_k_sample_metrics(task_manager, fraction, expected):
    """Half of k=8 samples right: avg@8 0.5; the 4 equal right answers outvote 4 distinct wrong
    ones. One of 8 right: it ties with each wrong answer and loses to the first one seen."""
    out = evaluate(task_manager, ["spark_aime24"], mode="mixed", correct_fraction=fraction)
    metrics = out["results"]["spark_aime24"]
    assert {m: metrics[f"{m},grader"] for m in expected} == expected
    sample = out["samples"]["spark_aime24"][0]
    assert len(sample["resps"][0]) == 8
    assert sum(v["correct"] for v in sample["filtered_resps"][0]) == round(8 * fraction)
    assert out["configs"]["spark_aime24"]["generation_kwargs"]["temperature"] == 0.6


@pytest.mark.needs_data
def test_k_variant_and_group_stderr(task_manager):
    out = lm_eval.simple_evaluate(
        model=OracleLM(mode="mixed", correct_fraction=0.25),
        tasks=["spark_gsm8k_k4"],
        task_manager=task_manager,
        limit=10,
    )
    metrics = out["results"]["spark_gsm8k_k4"]
    assert metrics["avg@4,grader"] == 0.25
    assert metrics["pass@4,grader"] == 1.0
    assert metrics["avg@4_stderr,grader"] == 0.0  # every problem scores 0.25 exactly


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **env}
    return subprocess.run(
        [sys.executable, "-c", *args], capture_output=True, text=True, env=environ, timeout=300
    )


LIST_TASKS = (
    "from lm_eval.tasks import TaskManager; from lm_eval.api.registry import get_model;"
    "import sys; tm = TaskManager(include_defaults=False, include_path=sys.argv[1:] or None);"
    "print(sorted(t for t in tm.all_tasks if t.startswith('spark_g')));"
    "print(get_model('hf').__name__, get_model('dummy').__name__)"
)


needs_plugin = pytest.mark.skipif(
    not any(Path(sys.prefix).glob("lib/python*/site-packages/spark_math_lmeval.pth")),
    reason="spark-math is not pip-installed in this interpreter's environment",
)


@needs_plugin
def test_startup_hook_registers_tasks_and_keeps_builtin_models():
    proc = _run([LIST_TASKS])
    assert proc.returncode == 0, proc.stderr
    assert "'spark_gsm8k'" in proc.stdout and "HFLM DummyLM" in proc.stdout
    proc = _run([LIST_TASKS], SPARK_MATH_NO_PLUGIN="1")
    assert proc.returncode == 0 and "spark_gsm8k" not in proc.stdout, proc.stderr
    proc = _run([LIST_TASKS, str(TASKS_DIR)], SPARK_MATH_NO_PLUGIN="1")  # the explicit route
    assert "'spark_gsm8k'" in proc.stdout, proc.stderr


@pytest.mark.needs_data
@needs_plugin
def test_python_api_finds_spark_tasks_without_a_task_manager():
    """`simple_evaluate(tasks=["spark_gsm8k"])` builds lm-eval's own TaskManager: the hook must
    reach it, and the spark-oracle model must resolve by name."""
    code = (
        "import lm_eval; out = lm_eval.simple_evaluate(model='spark-oracle', "
        "tasks=['spark_gsm8k'], limit=3); print(out['results']['spark_gsm8k'])"
    )
    proc = _run([code])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "'exact_match,grader': 1.0" in proc.stdout


@pytest.mark.needs_data
def test_lm_eval_cli_with_tiny_hf_model(tiny_model_dir, tmp_path):
    """The README's offline smoke run: real lm_eval CLI, real hf backend, a tiny random model."""
    proc = subprocess.run(
        [
            sys.executable, "-m", "lm_eval",
            "--model", "hf",
            "--model_args", f"pretrained={tiny_model_dir},dtype=float32",
            "--device", "cpu",
            "--tasks", "spark_gsm8k,spark_math500",
            "--limit", "2",
            "--gen_kwargs", "max_gen_toks=8",
            "--apply_chat_template",
            "--log_samples",
            "--output_path", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next(tmp_path.rglob("results_*.json")).read_text())
    for task in ("spark_gsm8k", "spark_math500"):
        assert 0.0 <= results["results"][task]["exact_match,grader"] <= 1.0
        assert results["configs"][task]["generation_kwargs"]["max_gen_toks"] == 8
    lines = next(tmp_path.rglob("samples_spark_gsm8k_*.jsonl")).read_text().splitlines()
    verdict = json.loads(json.loads(lines[0])["filtered_resps"][0][0])
    assert set(verdict) == {
        "correct",
        "extracted",
        "reason",
        "group",
        "truncated",
        "tokens",
        "reasoning",
    }
    assert isinstance(verdict["tokens"], int) and isinstance(verdict["truncated"], bool)
