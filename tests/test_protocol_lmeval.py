"""The lm-eval few-shot preset (`spark_lmeval_*`) against lm-eval's own installed tasks.

Upstream is the lm-eval installed here: `lm_eval/tasks/gsm8k/gsm8k-cot.yaml` (task `gsm8k_cot`)
and `lm_eval/tasks/minerva_math/` (`minerva_math_algebra.yaml` and the other subjects,
`minerva_math500.yaml`, `utils.py`), read with lm-eval's own YAML loader. The hub is offline,
so the upstream tasks are built from their own configs with the dataset swapped for the same
documents in the upstream schema (`question`/`answer` for GSM8K, `problem`/`solution` for MATH);
both prompts are then rendered by lm-eval's `fewshot_context`, delimiters included.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.api.task import ConfigurableTask  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

from spark_math.harness_tasks import TASKS_DIR  # noqa: E402
from spark_math.harness_tasks.lmeval_fewshot import prompts  # noqa: E402
from spark_math.models.oracle import OracleLM  # noqa: E402

LM_EVAL_TASKS = Path(lm_eval.__file__).parent / "tasks"
UPSTREAM = {
    "spark_lmeval_gsm8k_cot": LM_EVAL_TASKS / "gsm8k" / "gsm8k-cot.yaml",
    "spark_lmeval_math_4shot": LM_EVAL_TASKS / "minerva_math" / "minerva_math_algebra.yaml",
    "spark_lmeval_math500_4shot": LM_EVAL_TASKS / "minerva_math" / "minerva_math500.yaml",
}
MINERVA_SUBJECTS = LM_EVAL_TASKS / "benchmarks" / "minerva_math.yaml"
TASKS = list(UPSTREAM)
# Settings that make up the protocol, compared between our task and lm-eval's.
PROTOCOL_KEYS = (
    "output_type",
    "num_fewshot",
    "target_delimiter",
    "fewshot_delimiter",
    "generation_kwargs",
    "repeats",
    "description",
)


def upstream_config(task: str) -> dict:
    """lm-eval's own config of the task, read by lm-eval's loader (includes and `!function`)."""
    return load_yaml(UPSTREAM[task])


def upstream_doc(task: str, doc: dict) -> dict:
    """One of our documents in the schema of the upstream data set."""
    if task == "spark_lmeval_gsm8k_cot":  # openai/gsm8k: the answer is the worked solution
        return {"question": doc["problem"], "answer": doc["solution"]}
    return {"problem": doc["problem"], "solution": doc["solution"]}  # hendrycks_math, MATH-500


def upstream_task(task: str, docs: list[dict]) -> ConfigurableTask:
    """lm-eval's task with its data set replaced by `docs` (upstream schema)."""
    config = upstream_config(task)
    for key in ("dataset_path", "dataset_name", "training_split", "validation_split"):
        config.pop(key, None)
    config["test_split"] = "test"
    config["custom_dataset"] = lambda **_: datasets.DatasetDict(
        {"test": datasets.Dataset.from_list(docs)}
    )
    return ConfigurableTask(config=config)


@pytest.fixture(scope="module")
def task_manager() -> TaskManager:
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


@pytest.fixture(scope="module")
def ours(task_manager) -> dict:
    return task_manager.load(TASKS)["tasks"]


# --- prompts ----------------------------------------------------------------------------------


def test_exemplars_equal_lm_evals():
    """The copied exemplars against the installed lm-eval's, character for character."""
    from lm_eval.tasks.minerva_math import utils as minerva

    gsm8k = upstream_config("spark_lmeval_gsm8k_cot")["fewshot_config"]["samples"]
    assert [(s["problem"], s["target"]) for s in prompts.gsm8k_cot_samples()] == [
        (s["question"], s["target"]) for s in gsm8k
    ]
    assert [(s["problem"], s["solution"]) for s in prompts.minerva_math_samples()] == [
        (s["problem"], s["solution"]) for s in minerva.list_fewshot_samples()
    ]


@pytest.mark.needs_data
@pytest.mark.parametrize("task", TASKS)
def test_lm_eval_renders_the_upstream_prompt(ours, task):
    """Our task's rendered prompt equals lm-eval's own task's on the same documents: exemplars,
    `Q:`/`A:` and `Problem:`/`Solution:` layout, one space between a prompt and its target, a
    blank line between exemplars and none after the final `A:` / `Solution:`."""
    obj = ours[task]
    docs = list(obj.test_docs())
    picked = [docs[i] for i in sorted({0, 1, len(docs) // 2, len(docs) - 1})]
    upstream = upstream_task(task, [upstream_doc(task, d) for d in picked])
    for doc, theirs in zip(picked, upstream.test_docs(), strict=True):
        prompt = obj.fewshot_context(doc, obj.config.num_fewshot)
        assert prompt == upstream.fewshot_context(theirs, upstream.config.num_fewshot)
        assert "A:  " not in prompt and "Solution:  " not in prompt  # the old double space


@pytest.mark.needs_data
@pytest.mark.parametrize("task", TASKS)
def test_chat_rendering_equals_upstream_too(ours, tiny_model_dir, task):
    """With --apply_chat_template (and --fewshot_as_multiturn) the turns match as well."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(tiny_model_dir), device="cpu", dtype="float32")
    obj = ours[task]
    doc = next(iter(obj.test_docs()))
    upstream = upstream_task(task, [upstream_doc(task, doc)])
    theirs = next(iter(upstream.test_docs()))
    for multiturn in (False, True):
        kwargs = {
            "apply_chat_template": True,
            "fewshot_as_multiturn": multiturn,
            "chat_template": lm.apply_chat_template,
        }
        assert obj.fewshot_context(
            doc, obj.config.num_fewshot, **kwargs
        ) == upstream.fewshot_context(theirs, upstream.config.num_fewshot, **kwargs)


def test_expected_layout_of_one_exemplar():
    """A hand-written check of what the comparison above pins (guards against both sides drifting
    together): one space after `A:`, no double space (the old spark_gsm8k_fewshot had two)."""
    shot = prompts.gsm8k_cot_samples()[0]
    assert prompts.gsm8k_cot(shot) + " " + prompts.gsm8k_cot_target(shot) == (
        "Q: There are 15 trees in the grove. Grove workers will plant trees in the grove today. "
        "After they are done, there will be 21 trees. How many trees did the grove workers plant "
        "today?\nA: There are 15 trees originally. Then there were 21 trees after some more were "
        "planted. So there must have been 21 - 15 = 6. The answer is 6."
    )
    assert prompts.minerva_math({"problem": "P"}) == "Problem:\nP\n\nSolution:"


# --- decoding, budget, k ----------------------------------------------------------------------


@pytest.mark.needs_data
@pytest.mark.parametrize("task", TASKS)
def test_decoding_settings_equal_upstream(ours, task):
    """Generation kwargs (stop strings, greedy, no max_gen_toks: the backend default of 256 in
    both), shots, delimiters and repeats, as lm-eval's own task config sets them."""
    upstream = upstream_task(task, [upstream_doc(task, {"problem": "p", "solution": "\\boxed{1}"})])
    mine = ours[task].config
    for key in PROTOCOL_KEYS:
        assert getattr(mine, key) == getattr(upstream.config, key), key
    fewshot = ("sampler", "target_delimiter", "fewshot_delimiter", "gen_prefix")
    for key in fewshot:
        assert getattr(ours[task].fewshot_cfg, key) == getattr(upstream.fewshot_cfg, key), key
    assert "max_gen_toks" not in mine.generation_kwargs


def test_raw_yaml_generation_kwargs_equal_upstream():
    """The same, from the YAML files themselves (no data needed)."""
    for task, path in UPSTREAM.items():
        mine = load_yaml(TASKS_DIR / "lmeval_fewshot" / f"{task}.yaml")
        theirs = load_yaml(path)
        assert mine["generation_kwargs"] == theirs["generation_kwargs"], task
        assert mine["num_fewshot"] == theirs["num_fewshot"], task
        assert mine["fewshot_config"]["sampler"] == theirs["fewshot_config"]["sampler"], task
        assert mine.get("repeats", 1) == theirs.get("repeats", 1), task
        for key in ("target_delimiter", "fewshot_delimiter", "description"):
            assert key not in mine and key not in theirs, (task, key)


def test_math_4shot_covers_minerva_math_subjects():
    """minerva_math is seven subject tasks with one config (the algebra file's), aggregated
    weighted by size: one task over the 5000 MATH test problems is the same mean."""
    group = load_yaml(MINERVA_SUBJECTS)
    assert len(group["task"]) == 7
    assert all(a["weight_by_size"] for a in group["aggregate_metric_list"])
    base = load_yaml(UPSTREAM["spark_lmeval_math_4shot"])
    for name in group["task"]:
        subject = load_yaml(LM_EVAL_TASKS / "minerva_math" / f"{name}.yaml")
        assert subject["dataset_path"] == "EleutherAI/hendrycks_math"
        differing = {k for k in subject.keys() | base.keys() if subject.get(k) != base.get(k)}
        assert differing <= {"task", "dataset_name"}, (name, differing)


# --- end to end with the oracle ---------------------------------------------------------------


@pytest.mark.needs_data
def test_every_task_scores_one_with_gold_answers(task_manager):
    out = lm_eval.simple_evaluate(
        model=OracleLM(mode="gold"),
        tasks=["spark_lmeval_fewshot"],
        task_manager=task_manager,
        limit=5,
        log_samples=True,
        bootstrap_iters=0,
    )
    for task in TASKS:
        assert out["results"][task]["exact_match,grader"] == 1.0, task
        assert out["configs"][task]["num_fewshot"] == {"spark_lmeval_gsm8k_cot": 8}.get(task, 4)
    sizes = {t: out["n-samples"][t]["original"] for t in TASKS}
    assert sizes == {
        "spark_lmeval_gsm8k_cot": 1319,
        "spark_lmeval_math_4shot": 5000,
        "spark_lmeval_math500_4shot": 500,
    }
