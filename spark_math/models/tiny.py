"""Tiny random-weight causal LMs for tests and smoke runs, built fully offline.

In the spirit of the hub's ``hf-internal-testing/tiny-random-*`` models: the real architecture
and tokenizer plumbing (byte-level BPE, ChatML template, eos/pad ids) at a size of well under
1 MB, so that loaders, lm-eval's ``hf`` backend and training loops can be exercised on a CPU
in seconds. The weights are random: the generated text is gibberish.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable

    from transformers import PretrainedConfig, PreTrainedTokenizerFast

Arch = Literal["qwen2", "llama"]

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)

VOCAB_SIZE = 1024
# Qwen2's pre-tokenisation: single digits, words with one leading non-letter, punctuation runs.
_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CONTEXT_LENGTH = 4096

# Qwen2.5-Instruct's template, less the tool-calling branches.
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- set loop_messages = messages[1:] %}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- set loop_messages = messages %}"
    "{%- endif %}"
    "{%- for message in loop_messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)

_CORPUS = r"""
Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many
clips in May. How many clips did Natalia sell altogether in April and May?
Answer: Natalia sold 48 / 2 = 24 clips in May. Altogether she sold 48 + 24 = 72 clips.
#### 72
Problem: What is the value of $\frac{1}{2} + \frac{1}{3}$? Express your answer as a fraction.
Solution: We have $\frac{1}{2} + \frac{1}{3} = \frac{3}{6} + \frac{2}{6} = \frac{5}{6}$.
The final answer is $\boxed{\frac{5}{6}}$.
Let $f(x) = x^2 - 4x + 3$. Find all real $x$ such that $f(x) = 0$.
Factoring gives $(x - 1)(x - 3) = 0$, so $x = 1$ or $x = 3$. Therefore the answer is $\boxed{1, 3}$.
Compute $\sqrt{2} \cdot \sqrt{8}$. Since $\sqrt{2} \cdot \sqrt{8} = \sqrt{16} = 4$, the answer is 4.
The area of a circle with radius $r$ is $\pi r^2$; its circumference is $2 \pi r$.
If $\sin \theta = \frac{3}{5}$ and $\cos \theta > 0$, then $\cos \theta = \frac{4}{5}$ and
$\tan \theta = \frac{3}{4}$.
The sum $\sum_{k=1}^{n} k = \frac{n(n+1)}{2}$ and $\int_0^1 x^2 \, dx = \frac{1}{3}$.
Let $A = \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}$. Then $\det A = 1 \cdot 4 - 2 \cdot 3 = -2$.
The interval $[0, 1)$ is contained in $(-\infty, \infty)$, and $x \in \mathbb{R}$.
The probability of rolling a sum of 7 with two fair dice is $\frac{6}{36} = \frac{1}{6}$.
How many positive divisors does 360 have? Since $360 = 2^3 \cdot 3^2 \cdot 5$, it has
$(3+1)(2+1)(1+1) = 24$ divisors. The answer is 24.
A train travels 120 miles in 2 hours. What is its average speed in miles per hour?
The speed is 120 / 2 = 60 miles per hour. So the answer is 60.
Find the remainder when $2^{100}$ is divided by 7. Since $2^3 \equiv 1 \pmod{7}$, we get
$2^{100} = 2 \cdot (2^3)^{33} \equiv 2 \pmod{7}$. The remainder is 2.
Simplify $\left( \frac{a}{b} \right)^{-1} \times \frac{b^2}{a}$ for nonzero $a$ and $b$.
Jan has 3 times as many apples as Tom. Together they have 36 apples. How many does Tom have?
Let Tom have $t$ apples; then $t + 3t = 36$, so $4t = 36$ and $t = 9$. Tom has 9 apples.
Therefore, the final answer is: $\boxed{9}$. I hope it is correct.
The roots satisfy $x_1 + x_2 = -\frac{b}{a}$ and $x_1 x_2 = \frac{c}{a}$, where $a \neq 0$.
We know that $\log_2 8 = 3$, $e^{i \pi} + 1 = 0$, and $\lim_{x \to 0} \frac{\sin x}{x} = 1$.
Angles: $\angle ABC = 90^\circ$, so by Pythagoras $AC^2 = AB^2 + BC^2 = 9 + 16 = 25$.
Unicode maths: π ≈ 3.14159, √2 ≈ 1.41421, x² + y² ≤ r², ∞, ∑, ∫, ≠, ≥, ×, ÷, −, °, α, β, γ, Δ.
The price went from \$12.50 to \$15.00, an increase of 20\%. That is $\frac{2.50}{12.50} = 0.2$.
"""


_WORDS = (
    "add subtract multiply divide sum difference product quotient remainder integer rational "
    "irrational real complex number digit prime factor multiple divisor fraction decimal percent "
    "ratio proportion equation inequality expression variable constant coefficient polynomial "
    "quadratic linear cubic root square cube exponent logarithm function domain range graph slope "
    "intercept point line segment angle triangle circle radius diameter area perimeter volume "
    "surface rectangle polygon vertex edge face parallel perpendicular probability expected value "
    "mean median mode sequence series arithmetic geometric term limit derivative integral matrix "
    "vector determinant maximum minimum positive negative even odd solve find compute determine "
    "simplify evaluate express prove show therefore hence thus answer solution problem question "
    "step first second third next finally total each every many much how what which"
)
_LATEX = (
    r"\frac \dfrac \sqrt \cdot \times \div \pm \le \ge \neq \approx \infty \pi \theta "
    r"\alpha \beta \sum \prod \int \lim \log \ln \sin \cos \tan \boxed \text \left "
    r"\right \binom \mathbb \in \cup \cap \emptyset \angle \triangle \circ \equiv \pmod"
)


def _corpus() -> list[str]:
    """The training text: the built-in passage plus deterministic drills over maths vocabulary."""
    lines = [line for line in _CORPUS.splitlines() if line]
    words, commands = _WORDS.split(), _LATEX.split()
    for i, word in enumerate(words):
        other = words[(7 * i + 3) % len(words)]
        cmd = commands[i % len(commands)]
        lines.append(f"The {word} of the {other} is {i * 37 % 1000}. {word.capitalize()} it.")
        lines.append(f"${cmd}{{{i}}}{{{i + 1}}} = {i}^{{2}}$, so the {word} is $\\boxed{{{i}}}$.")
    return lines


def build_tokenizer(
    corpus: Iterable[str] | None = None, model_max_length: int = CONTEXT_LENGTH
) -> PreTrainedTokenizerFast:
    """Train a Qwen2-style byte-level BPE (NFC, Qwen2 split regex, no BOS) on `corpus` (the
    built-in maths text by default) and wrap it with the ChatML template.

    The normaliser and pre-tokeniser are exactly those ``Qwen2Tokenizer`` rebuilds on load, so
    ``AutoTokenizer`` reproduces the trained tokeniser for both architectures.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_corpus() if corpus is None else corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START, IM_END],
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE,
    )


def _config(arch: Arch, vocab_size: int, eos_id: int, pad_id: int) -> PretrainedConfig:
    """A two-layer, 64-wide config of the given architecture.

    The init is 10x the usual 0.02: with tied embeddings a near-zero network echoes the last
    prompt token (a newline after a chat prompt, so ``until=["\\n\\n"]`` stops at once); at 0.2
    greedy decoding yields varied gibberish that exercises stop sequences and answer extraction.
    """
    from transformers import LlamaConfig, Qwen2Config

    common = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=CONTEXT_LENGTH,
        tie_word_embeddings=True,
        initializer_range=0.2,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    if arch == "qwen2":
        return Qwen2Config(num_key_value_heads=2, use_sliding_window=False, **common)
    if arch == "llama":
        return LlamaConfig(num_key_value_heads=4, **common)
    raise ValueError(f"unknown arch {arch!r}; expected 'qwen2' or 'llama'")


def _model_card(arch: Arch, seed: int) -> str:
    return (
        "---\nlibrary_name: transformers\ntags:\n- tiny-random\n- testing\n---\n\n"
        f"# tiny-random {arch} (seed {seed})\n\n"
        "Random weights, for tests and smoke runs only: its output is gibberish. "
        "Built offline by `spark_math.models.tiny.make_tiny_model`.\n"
    )


def make_tiny_model(path: str | Path, arch: Arch = "qwen2", seed: int = 0) -> Path:
    """Write a random-initialised tiny causal LM with its tokenizer to ``path`` and return it.

    The same ``seed`` gives byte-identical weights; files already in ``path`` are overwritten.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out = Path(path)
    tokenizer = build_tokenizer()
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    pad_id = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = _config(arch, len(tokenizer), eos_id, pad_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=[eos_id, pad_id], pad_token_id=pad_id, bos_token_id=None
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(_model_card(arch, seed), encoding="utf-8")
    return out


def folder_size(path: str | Path) -> int:
    """Total size in bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
