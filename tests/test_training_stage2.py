"""SPARKLE stage 2: a hinted prompt reaches the model as its own assistant turn, continued.

The prompts are tokenized by the GRPO trainer itself, and the rewards are called by it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from spark_math.recipes import RECIPES_DIR as RECIPES
from spark_math.training import rewards
from spark_math.training.data import build_dataset
from spark_math.training.recipes import load_recipe
from spark_math.training.train import build_trainer, train


def stage2_recipe(model: Path, out: Path, *overrides: str):
    return load_recipe(
        RECIPES / "tiny-cpu-grpo.yaml",
        "grpo",
        [
            f"model={model}",
            f"output_dir={out}",
            "data.limit=2",
            "data.hard={samples: 2, max_new_tokens: 4, batch_size: 2}",
            "max_steps=1",
            *overrides,
        ],
    )


def test_the_trainer_tokenizes_a_hint_as_the_start_of_the_models_turn(tiny_model_dir, tmp_path):
    recipe = stage2_recipe(tiny_model_dir, tmp_path)
    rows = build_dataset(recipe)  # a random model fails every problem: all are hard
    hinted = next(r for r in rows if r["prompt"][-1]["role"] == "assistant")
    plain = next(r for r in rows if r["prompt"][-1]["role"] == "user")
    hint = hinted["prompt"][-1]["content"]
    assert hint.startswith("<think>\n") and hint.endswith("\n")

    trainer = build_trainer(recipe, rows)
    prompts = trainer.train_dataset["prompt"]
    assert all(isinstance(p, str) for p in prompts)  # rendered: TRL adds no generation prompt
    tokenizer = trainer.processing_class
    ids, _, _ = trainer._tokenize_prompts([prompts[rows.index(hinted)], prompts[rows.index(plain)]])
    hinted_text, plain_text = (tokenizer.decode(i) for i in ids)

    turn = "<|im_start|>assistant\n"
    assert hinted_text.endswith(turn + hint)  # the hint opens the model's turn ...
    assert hinted_text.count(turn) == 1 and "<|im_end|>" not in hinted_text.split(turn)[-1]
    assert plain_text.endswith(turn)  # ... and an unhinted prompt opens an empty one
    expected = tokenizer.apply_chat_template(
        hinted["prompt"], continue_final_message=True, tokenize=True, return_dict=True
    )["input_ids"]
    assert list(ids[0]) == list(expected)
    assert list(ids[1]) == list(
        tokenizer.apply_chat_template(
            plain["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True
        )["input_ids"]
    )


def test_rewards_score_the_completion_as_the_continuation_of_the_hint(
    tiny_model_dir, tmp_path, monkeypatch
):
    seen: list[dict] = []

    def spy(completions, prompts, **kwargs):
        seen.append({"completions": list(completions), "prompts": list(prompts), **kwargs})
        return [0.0] * len(completions)

    monkeypatch.setitem(rewards.REWARDS, "spy", spy)
    recipe = stage2_recipe(
        tiny_model_dir,
        tmp_path,
        "rewards=[{name: spy}, {name: length, mode: target, target: 40, unit: chars}]",
        "per_device_train_batch_size=32",  # 8 prompts x 4 samples: the whole dataset
    )
    train(recipe, echo=lambda _: None)
    (batch,) = seen
    assert all(isinstance(c, str) for c in batch["completions"])
    hinted = [p for p in batch["prompts"] if not p.endswith("<|im_start|>assistant\n")]
    assert len(hinted) == 6 * 4 and all(p.split("<|im_start|>assistant\n")[-1] for p in hinted)
    closing = "= 4\n</think>\n<answer>\n\\boxed{4}\n</answer>"
    reopened = "<think>\n" + closing
    n = len(hinted)
    kwargs = {"answer": ["4"] * n, "task": ["math"] * n, "answer_format": ["r1"] * n}
    fmt = rewards.build_reward("format", mode="strict")
    # A continuation owes only the closing tags; starting a new <think> breaks the format.
    assert fmt([closing] * n, prompts=hinted, **kwargs) == [1.0] * n
    assert fmt([reopened] * n, prompts=hinted, **kwargs) == [0.0] * n
    assert (
        rewards.build_reward("hierarchical")([closing] * n, prompts=hinted, **kwargs) == [2.0] * n
    )
