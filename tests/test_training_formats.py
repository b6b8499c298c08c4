"""A checkpoint is evaluated with a prompt asking for the answer format it was trained in."""

from __future__ import annotations

import pytest

from spark_math.harness_tasks import formats
from spark_math.harness_tasks.formats import (
    FormatTaskError,
    _generate,
    task_for_format,
    tasks_for_format,
)
from spark_math.harness_tasks.prompts import ZERO_SHOT_INSTRUCTION
from spark_math.harness_tasks.sparkle.prompts import R1_ZERO_INSTRUCTION
from spark_math.recipes import RECIPES_DIR as RECIPES
from spark_math.training.formats import FORMATS


def test_each_format_maps_a_benchmark_to_a_task_asking_for_it():
    assert task_for_format("spark_gsm8k", "boxed") == "spark_gsm8k"
    assert task_for_format("spark_gsm8k", "r1") == "spark_sparkle_gsm8k"
    assert task_for_format("spark_lineq", "r1") == "spark_r1_lineq"  # no SPARKLE preset
    assert task_for_format("spark_gsm8k", "xml") == "spark_xml_gsm8k"
    assert task_for_format("spark_aime25", "special-tokens") == "spark_special_tokens_aime25"
    assert task_for_format("spark_xml_gsm8k", "xml") == "spark_xml_gsm8k"
    assert task_for_format("spark_sparkle_amc23", "r1") == "spark_sparkle_amc23"
    assert task_for_format("my_own_task", "xml") == "my_own_task"
    assert tasks_for_format(["spark_core"], "boxed") == ["spark_core"]
    assert tasks_for_format(["spark_core", "spark_gsm8k"], "xml") == [
        f"spark_xml_{b}" for b in ("gsm8k", "math500", "aime24", "aime25", "amc23", "olympiadbench")
    ]
    for task, fmt in [("spark_qwen_gsm8k", "xml"), ("spark_xml_gsm8k", "r1"), ("spark_x", "r1")]:
        with pytest.raises(FormatTaskError, match=task):
            task_for_format(task, fmt)


def test_generated_format_tasks_are_up_to_date():
    on_disk = {p.name: p.read_text() for p in formats.FORMATS_DIR.glob("spark_*.yaml")}
    assert on_disk == _generate.files()


def test_format_task_prompts_are_the_training_instructions():
    from spark_math.harness_tasks.formats import prompts

    doc = {"problem": "What is 2 + 2?"}
    assert prompts.xml(doc) == FORMATS["xml"].user_message("What is 2 + 2?")
    assert prompts.r1(doc).endswith(FORMATS["r1"].instruction)
    assert prompts.special_tokens(doc).endswith(FORMATS["special-tokens"].instruction)


# ---- end to end: train in a format, export, evaluate through lm-eval ----

INSTRUCTIONS = {  # what the prompt asks for -> the format
    R1_ZERO_INSTRUCTION: "r1",
    FORMATS["r1"].instruction: "r1",
    FORMATS["xml"].instruction: "xml",
    FORMATS["special-tokens"].instruction: "special-tokens",
    ZERO_SHOT_INSTRUCTION: "boxed",
}


@pytest.fixture(scope="module")
def format_echo():
    """An lm-eval model that answers the gold answer in whichever format its prompt asks for
    (nothing, when it asks for none), and remembers the formats it was asked for."""
    pytest.importorskip("lm_eval")
    from lm_eval.api.model import LM
    from lm_eval.api.registry import MODEL_REGISTRY, register_model

    asked: list[str] = []

    class FormatEcho(LM):
        tokenizer_name = "format-echo"

        def __init__(self, **_kwargs: object) -> None:
            super().__init__()

        def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
            out = []
            for request in requests:
                prompt = request.args[0]
                fmt = next((f for text, f in INSTRUCTIONS.items() if text in prompt), None)
                asked.append(fmt)
                gold = str(request.doc["answer"])
                out.append(FORMATS[fmt].completion("Work.", gold) if fmt else "no idea")
            return out

        def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
            return "\n".join(f"{m['role']}: {m['content']}" for m in chat_history)

        def chat_template(self, chat_template=False) -> str:
            return "format-echo"

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    if "spark-test-format-echo" not in MODEL_REGISTRY:
        register_model("spark-test-format-echo")(FormatEcho)
    else:
        MODEL_REGISTRY["spark-test-format-echo"] = FormatEcho
    return asked


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_checkpoint_is_scored_in_the_format_it_was_trained_in(
    fmt, format_echo, tiny_model_dir, tmp_path
):
    pytest.importorskip("trl")
    from spark_math.training.export import evaluate_checkpoint, export, training_format
    from spark_math.training.recipes import load_recipe
    from spark_math.training.train import train

    recipe = load_recipe(
        RECIPES / "tiny-cpu-sft.yaml",
        "sft",
        [f"model={tiny_model_dir}", f"output_dir={tmp_path}", f"format={fmt}", "max_steps=1"],
    )
    exported = export(train(recipe, echo=lambda _: None), tmp_path / "export")
    assert training_format(exported) == fmt  # recorded next to the weights
    format_echo.clear()
    results = evaluate_checkpoint(
        exported, ["spark_lineq"], tmp_path / "eval", limit=2, backend="spark-test-format-echo"
    )
    (task,) = results
    assert task == task_for_format("spark_lineq", fmt)
    assert format_echo == [fmt, fmt]  # the prompt asked for the trained format ...
    assert results[task]["exact_match,grader"] == 1.0  # ... and the grader read its answer


@pytest.mark.needs_data
def test_an_r1_checkpoint_is_scored_with_the_sparkle_preset(format_echo, tmp_path):
    from spark_math.training.export import evaluate_checkpoint, write_training_record

    write_training_record(tmp_path, {"format": "r1", "global_step": 1})
    format_echo.clear()
    results = evaluate_checkpoint(
        tmp_path, ["spark_gsm8k"], tmp_path / "eval", limit=1, backend="spark-test-format-echo"
    )
    assert list(results) == ["spark_sparkle_gsm8k"]
    assert format_echo == ["r1"] * 8  # SPARKLE's 8 samples, R1-Zero prompt
    assert results["spark_sparkle_gsm8k"]["exact_match,grader"] == 1.0


def test_baselines_score_an_exported_checkpoint_in_its_format(tmp_path):
    from spark_math.baselines.matrix import Entry
    from spark_math.baselines.runner import run_matrix
    from spark_math.training.export import write_training_record

    folder = tmp_path / "export"
    folder.mkdir()
    write_training_record(folder, {"format": "xml", "global_step": 3})
    entries = [
        Entry(
            "mine", "hf", ("spark_core", "spark_lineq", "spark_probes"), {"pretrained": str(folder)}
        ),
        Entry("hub", "hf", ("spark_core",), {"pretrained": "Qwen/Qwen2.5-Math-1.5B"}),
    ]
    said: list[str] = []
    mine, hub = run_matrix(entries, tmp_path / "out", dry_run=True, echo=said.append)
    assert "--tasks spark_xml_gsm8k,spark_xml_math500," in mine.detail
    assert ",spark_xml_lineq,spark_probes " in mine.detail
    assert any("spark_probes has no xml variant" in line for line in said)
    assert "--tasks spark_core " in hub.detail


def test_format_tasks_keep_their_benchmarks_data_grader_and_decoding():
    pytest.importorskip("lm_eval")
    from lm_eval.tasks._yaml_loader import load_yaml

    from spark_math.harness_tasks import TASKS_DIR

    for task, (fmt, bench) in formats.generated_tasks().items():
        config = load_yaml(formats.FORMATS_DIR / f"{task}.yaml", resolve_func=False)
        base = load_yaml(TASKS_DIR / f"spark_{bench}.yaml", resolve_func=False)
        assert config["task"] == task and config["tag"] == [f"spark_formats_{formats.HOOKS[fmt]}"]
        assert str(config["doc_to_text"]).endswith(f"formats.prompts.{formats.HOOKS[fmt]}")
        for key in ("dataset_kwargs", "filter_list", "generation_kwargs", "repeats"):
            assert repr(config.get(key)) == repr(base.get(key)), (task, key)
