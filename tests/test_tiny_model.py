"""Tiny random models: loading, tokenizer, chat template, determinism, lm-eval's `hf` backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import AutoModelForCausalLM, AutoTokenizer
from typer.testing import CliRunner

from spark_math.cli.tiny import app
from spark_math.models.tiny import build_tokenizer, folder_size, make_tiny_model

ARCHS = ["qwen2", "llama"]
TEXTS = [
    r"What is $\frac{1}{2} + \frac{1}{3}$? The answer is $\boxed{\frac{5}{6}}$.",
    "1234567890 + 0.001 = -42, 3,141,592",
    "π ≈ 3.14159, x² + y² ≤ r², ∫₀¹ f(x) dx, é, 数学, 🙂",
    "  leading spaces\ttabs\r\nand\n\nnewlines  ",
    r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} <|im_end|>",
]


@pytest.fixture(scope="module", params=ARCHS)
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp(request.param), arch=request.param)


def test_loads_and_generates(model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.config.tie_word_embeddings
    assert model.config.max_position_embeddings >= 4096
    assert tokenizer.model_max_length == model.config.max_position_embeddings
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.bos_token is None
    inputs = tokenizer(["Question: What is 2+2?\nAnswer:"], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1] :]
    assert 0 < len(new) <= 5
    assert isinstance(tokenizer.decode(new), str)
    generation = json.loads((model_dir / "generation_config.json").read_text())
    assert generation["pad_token_id"] == tokenizer.pad_token_id
    assert tokenizer.eos_token_id in generation["eos_token_id"]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_roundtrip(model_dir: Path, text: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    # The loaded tokenizer splits text exactly as the trained one (transformers rebuilds
    # Qwen2Tokenizer's pre-tokenizer on load).
    assert ids == build_tokenizer()(text)["input_ids"]


def test_tokenizer_is_small_byte_level_bpe() -> None:
    tokenizer = build_tokenizer()
    assert 900 <= len(tokenizer) <= 1100
    assert tokenizer.tokenize("12345") == ["1", "2", "3", "4", "5"]
    ids = tokenizer("<|im_start|>user<|im_end|>")["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[-1] == tokenizer.eos_token_id


def test_chat_template(model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    user = [{"role": "user", "content": "What is 1+1?"}]
    assert tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
    )
    chat = [
        {"role": "system", "content": "Think step by step."},
        *user,
        {"role": "assistant", "content": "2"},
    ]
    assert tokenizer.apply_chat_template(chat, tokenize=False) == (
        "<|im_start|>system\nThink step by step.<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n2<|im_end|>\n"
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_seed_determinism(tmp_path: Path, arch: str) -> None:
    def weights(name: str, seed: int) -> bytes:
        return (
            make_tiny_model(tmp_path / name, arch=arch, seed=seed) / "model.safetensors"
        ).read_bytes()

    first = weights("a", 0)
    assert weights("b", 0) == first
    assert weights("c", 1) != first
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        tmp_path / "c" / "tokenizer.json"
    ).read_bytes()


def test_size(model_dir: Path) -> None:
    assert folder_size(model_dir) < 2 * 1024 * 1024


def test_hflm_generate_until(model_dir: Path) -> None:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(model_dir), device="cpu", dtype="float32", batch_size=2)
    assert lm.max_length >= 4096
    chat = lm.apply_chat_template([{"role": "user", "content": "What is 1+1?"}])
    assert chat.endswith("<|im_start|>assistant\n")
    kwargs = {"until": ["\n\n"], "max_gen_toks": 8, "do_sample": False}
    requests = [
        Instance(request_type="generate_until", doc={}, arguments=(prompt, kwargs), idx=0)
        for prompt in (chat, "Question: What is 2+2?\nAnswer:")
    ]
    outputs = lm.generate_until(requests)
    assert len(outputs) == 2
    assert all(isinstance(out, str) for out in outputs)
    assert any(outputs)  # the random weights still produce some text


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "tiny"
    result = runner.invoke(app, [str(target), "--arch", "llama", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output and "KiB" in result.output
    assert json.loads((target / "config.json").read_text())["model_type"] == "llama"
    result = runner.invoke(app, [str(target)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "is not empty; pass --force" in result.output
    assert runner.invoke(app, [str(target), "--force"]).exit_code == 0
    assert json.loads((target / "config.json").read_text())["model_type"] == "qwen2"


def test_session_fixture(tiny_model_dir: Path) -> None:
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2"
    assert (tiny_model_dir / "tokenizer.json").is_file()
