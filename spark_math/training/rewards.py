"""Reward functions for GRPO, registered by name, with TRL's signature.

Each reward is `f(completions, **kwargs) -> list[float | None]`; TRL passes every dataset column
as a keyword list (`answer`, `task`, `answer_format`, ...) plus `prompts` and `completion_ids`.
Completions may be plain strings or conversational (`[{"role": "assistant", "content": ...}]`).

- `correctness`: 1 if `spark_math.grading.grade` accepts the final answer, else 0.
- `format`: 1 if the response follows its answer format (`mode`: strict or soft), else 0.
- `hierarchical`: SPARKLE's -1 wrong, +1 correct but malformed, +2 correct and well formed.
- `length`: `mode="target"` peaks at `target` tokens; `mode="cosine"` is open-r1's
  cosine-scaled reward (short correct answers and long wrong ones score best).
- `xml_count`: 1/n for each of the format's n tags written exactly once, less 0.001 per
  character after the last tag.
- `repetition_penalty`: open-r1's `max_penalty` times the share of repeated word n-grams.
- `arithmetic`: the share of the response's written calculations that are right
  (`48/2 = 24`, `3*4-2 = 10`), a dense step-level signal for small models.

Format-aware rewards read the `answer_format` column (`spark_math.training.formats`) and are
scaffold-aware: when the prompt already opened the reasoning block, only the closing tags count.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from spark_math.grading import grade

from .formats import AnswerFormat, get_format, scaffolded

RewardFunc = Callable[..., list[float | None]]
REWARDS: dict[str, RewardFunc] = {}

# What a model writes when it declines to answer (checked on the extracted answer only).
_ABSTENTION = re.compile(
    r"^\W*(?:i\s+(?:do\s*n[o']?t|cannot|can't)\s+know|unknown|not\s+sure|cannot\s+(?:be\s+)?"
    r"(?:determined|solved|answer)|no\s+idea|n/?a|unsure|idk)\W*$",
    re.IGNORECASE,
)


def register(name: str) -> Callable[[RewardFunc], RewardFunc]:
    """Add a reward function to `REWARDS` under `name`."""

    def add(func: RewardFunc) -> RewardFunc:
        REWARDS[name] = func
        return func

    return add


def reward_label(name: str, params: dict[str, Any]) -> str:
    """The name TRL logs a reward under: `name`, or `name_mode` when a mode is given."""
    return f"{name}_{params['mode']}" if "mode" in params else name


class BoundReward:
    """A registered reward with its parameters bound. TRL names a reward by its `__name__`
    (and unwraps `functools.partial`), so this picklable callable carries its own name."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        try:
            self.func = REWARDS[name]
        except KeyError:
            raise ValueError(f"unknown reward {name!r}; known: {', '.join(REWARDS)}") from None
        self.params = dict(params)
        self.__name__ = reward_label(name, params)

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        return self.func(completions, **self.params, **kwargs)


def build_reward(name: str, **params: Any) -> BoundReward:
    """The reward called `name` with its parameters bound, named by `reward_label`."""
    return BoundReward(name, params)


def completion_text(completion: str | Sequence[dict[str, str]]) -> str:
    """The text of a plain or conversational completion."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion if m.get("role", "assistant") == "assistant")


def _column(values: Sequence[Any] | None, n: int, default: Any = None) -> list[Any]:
    return list(values) if values is not None else [default] * n


def _formats(kwargs: dict[str, Any]) -> list[AnswerFormat]:
    names = kwargs.get("answer_format")
    if names is None:
        raise ValueError("format-aware rewards need an `answer_format` dataset column")
    return [get_format(name) for name in names]


def _scaffolds(kwargs: dict[str, Any], formats: list[AnswerFormat]) -> list[bool]:
    prompts = _column(kwargs.get("prompts"), len(formats), "")
    return [scaffolded(p, f) for p, f in zip(prompts, formats, strict=True)]


def _verdicts(completions: Sequence[Any], answer: Sequence[str], task: Sequence[str] | None):
    tasks = _column(task, len(completions))
    return [
        grade(completion_text(c), gold, task=t)
        for c, gold, t in zip(completions, answer, tasks, strict=True)
    ]


@register("correctness")
def correctness(
    completions: Sequence[Any],
    answer: Sequence[str],
    task: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """1.0 when the grader accepts the response's final answer, else 0.0."""
    return [float(v.correct) for v in _verdicts(completions, answer, task)]


@register("format")
def format_reward(completions: Sequence[Any], mode: str = "strict", **kwargs: Any) -> list[float]:
    """1.0 when the response follows its answer format (`strict` or `soft`), else 0.0."""
    if mode not in ("strict", "soft"):
        raise ValueError(f"format reward mode must be 'strict' or 'soft', got {mode!r}")
    formats = _formats(kwargs)
    scaffolds = _scaffolds(kwargs, formats)
    return [
        float((fmt.is_strict if mode == "strict" else fmt.is_soft)(completion_text(c), scaffold))
        for c, fmt, scaffold in zip(completions, formats, scaffolds, strict=True)
    ]


@register("hierarchical")
def hierarchical(
    completions: Sequence[Any],
    answer: Sequence[str],
    task: Sequence[str] | None = None,
    abstain: float = -1.0,
    **kwargs: Any,
) -> list[float]:
    """SPARKLE's reward: -1 wrong, +1 correct but malformed, +2 correct and strictly formed.

    An abstention ("I don't know" as the answer) scores `abstain`. SPARKLE gives it 0, which
    pays a model to abstain rather than try; the default scores it as a wrong answer.
    """
    formats = _formats(kwargs)
    scaffolds = _scaffolds(kwargs, formats)
    scores = []
    for c, verdict, fmt, scaffold in zip(
        completions, _verdicts(completions, answer, task), formats, scaffolds, strict=True
    ):
        if verdict.correct:
            scores.append(2.0 if fmt.is_strict(completion_text(c), scaffold) else 1.0)
        elif verdict.extracted is not None and _ABSTENTION.match(verdict.extracted):
            scores.append(abstain)
        else:
            scores.append(-1.0)
    return scores


def _lengths(
    completions: Sequence[Any], completion_ids: Sequence[Sequence[int]] | None, unit: str
) -> list[int]:
    if unit not in ("tokens", "chars"):
        raise ValueError(f"length unit must be 'tokens' or 'chars', got {unit!r}")
    if unit == "tokens" and completion_ids is not None:
        return [len(ids) for ids in completion_ids]
    return [len(completion_text(c)) for c in completions]


@register("length")
def length(
    completions: Sequence[Any],
    mode: str = "target",
    target: int = 256,
    max_length: int = 1000,
    min_correct: float = 0.5,
    max_correct: float = 1.0,
    min_wrong: float = -1.0,
    max_wrong: float = -0.5,
    unit: str = "tokens",
    answer: Sequence[str] | None = None,
    task: Sequence[str] | None = None,
    completion_ids: Sequence[Sequence[int]] | None = None,
    **kwargs: Any,
) -> list[float]:
    """A length reward in `unit`s: tokens (characters when TRL gives no ids) or chars.

    `target`: 1 - |len - target| / target, floored at 0. `cosine` (open-r1's cosine-scaled
    reward, needs `answer`): correct responses go from `max_correct` at length 0 to
    `min_correct` at `max_length`; wrong ones from `min_wrong` to `max_wrong`.
    """
    lengths = _lengths(completions, completion_ids, unit)
    if mode == "target":
        return [max(0.0, 1.0 - abs(n - target) / target) for n in lengths]
    if mode != "cosine":
        raise ValueError(f"length reward mode must be 'target' or 'cosine', got {mode!r}")
    if answer is None:
        raise ValueError("the cosine length reward needs an `answer` column")
    scores = []
    for n, verdict in zip(lengths, _verdicts(completions, answer, task), strict=True):
        cosine = math.cos(min(n, max_length) / max_length * math.pi)
        start, end = (max_correct, min_correct) if verdict.correct else (min_wrong, max_wrong)
        scores.append(end + 0.5 * (start - end) * (1.0 + cosine))
    return scores


@register("xml_count")
def xml_count(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """Partial credit per tag written exactly once, less 0.001 per character after the last tag."""
    formats = _formats(kwargs)
    scores = []
    for c, fmt, scaffold in zip(completions, formats, _scaffolds(kwargs, formats), strict=True):
        text = completion_text(c)
        tags = fmt.required_tags(scaffold)
        if not tags:  # the boxed format has no tags
            scores.append(float(text.count("\\boxed{") == 1))
            continue
        score = sum(text.count(tag) == 1 for tag in tags) / len(tags)
        last = text.rfind(tags[-1])
        if last >= 0:
            score -= 0.001 * len(text[last + len(tags[-1]) :].strip())
        scores.append(score)
    return scores


@register("repetition_penalty")
def repetition_penalty(
    completions: Sequence[Any], ngram_size: int = 3, max_penalty: float = -1.0, **kwargs: Any
) -> list[float]:
    """`max_penalty` (<= 0) times the share of repeated word n-grams (open-r1)."""
    if max_penalty > 0:
        raise ValueError(f"max_penalty must be <= 0, got {max_penalty}")
    scores = []
    for c in completions:
        words = completion_text(c).lower().split()
        if len(words) < ngram_size:
            scores.append(0.0)
            continue
        ngrams = [tuple(words[i : i + ngram_size]) for i in range(len(words) - ngram_size + 1)]
        scores.append((1.0 - len(set(ngrams)) / len(ngrams)) * max_penalty)
    return scores


_CALCULATION = re.compile(r"[-+*/()\d\s.]*\d[-+*/()\d\s.]*(?:=[-+*/()\d\s.]*\d[-+*/()\d\s.]*)+")
_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _value(node: ast.AST) -> float:
    """The value of a small arithmetic expression (numbers, + - * /, parentheses)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _value(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_value(node.left), _value(node.right))
    raise ValueError("not arithmetic")


def _claims(text: str) -> list[bool]:
    """Whether each written `lhs = rhs` between two arithmetic expressions holds."""
    results = []
    for match in _CALCULATION.finditer(text):
        values = []
        for side in match.group().split("="):
            side = side.strip(" \t\n.")  # sentence periods are not decimal points
            try:
                if len(side) > 64:
                    raise ValueError("too long")
                values.append(_value(ast.parse(side, mode="eval").body))
            except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
                values.append(None)
        for left, right in itertools.pairwise(values):
            if left is not None and right is not None:
                results.append(math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9))
    return results


@register("arithmetic")
def arithmetic(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """The share of the calculations written in the response that are right (0 if none)."""
    scores = []
    for c in completions:
        claims = _claims(completion_text(c))
        scores.append(sum(claims) / len(claims) if claims else 0.0)
    return scores
