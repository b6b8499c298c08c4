"""Reward functions for GRPO, registered by name, with TRL's signature.

Each reward is `f(completions, **kwargs) -> list[float | None]`; TRL passes every dataset column
as a keyword list (`answer`, `task`, `answer_format`, ...) plus `prompts` and `completion_ids`.
Completions may be plain strings or conversational (`[{"role": "assistant", "content": ...}]`).

- `correctness`: 1 if `spark_math.grading.grade` accepts the final answer, else 0.
- `format`: 1 if the response follows its answer format (`mode`: strict or soft) and states an
  answer, else 0.
- `hierarchical`: SPARKLE's -1 wrong, +1 correct but malformed, +2 correct and well formed.
- `length`: `mode="target"` peaks at `target` tokens; `mode="cosine"` is open-r1's
  cosine-scaled reward (short correct answers and long wrong ones score best).
- `xml_count`: 1/n for each of the format's n tags written exactly once, less 0.001 per
  character after the last tag; 0 without an answer.
- `repetition_penalty`: open-r1's `max_penalty` times the share of repeated word n-grams.
- `arithmetic`: right calculations (`48/2 = 24`, `3*4-2 = 10`) less wrong ones, over the number
  the reference solution writes (`reference_steps` column, else `min_steps`); each distinct
  calculation counts once and trivial ones (`1=1`, `4*1=4`) not at all, so fewer, repeated or
  trivial steps never score more. A dense step-level signal for small models.

Format credit needs an answer: `format` and `xml_count` pay nothing unless the grader
(`spark_math.grading.extract_answer`) finds a final answer that is not an abstention and, when
the gold answer is a value, not bare words ("banana"); so an empty, unanswered or
`<answer>\boxed{}</answer>` reply earns no format reward.

Format-aware rewards read the `answer_format` column (`spark_math.training.formats`) and are
scaffold-aware: when the prompt already opened the reasoning block (SPARKLE stage 2: the prompt
ends inside the assistant turn, after the hint), the completion continues it and owes only the
closing tags.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

from spark_math.grading import extract_answer, grade
from spark_math.grading.normalize import analyze

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


def states_answer(text: str, gold: str | None = None, task: str | None = None) -> bool:
    """Whether a response states a final answer the grader can read: one is extracted, it is no
    abstention, and it is not bare words where the gold answer is a value."""
    extracted = extract_answer(text, task)
    if extracted is None or not extracted.strip() or _ABSTENTION.match(extracted):
        return False
    if gold is not None and analyze(extracted).kind == "words":
        return analyze(str(gold)).kind == "words"
    return True


def _answered(completions: Sequence[Any], kwargs: dict[str, Any]) -> list[bool]:
    n = len(completions)
    golds, tasks = _column(kwargs.get("answer"), n), _column(kwargs.get("task"), n)
    return [
        states_answer(completion_text(c), gold, task)
        for c, gold, task in zip(completions, golds, tasks, strict=True)
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
    """1.0 when the response follows its answer format (`strict` or `soft`) and states an
    answer (`states_answer`), else 0.0."""
    if mode not in ("strict", "soft"):
        raise ValueError(f"format reward mode must be 'strict' or 'soft', got {mode!r}")
    formats = _formats(kwargs)
    scaffolds = _scaffolds(kwargs, formats)
    return [
        float(
            answered
            and (fmt.is_strict if mode == "strict" else fmt.is_soft)(completion_text(c), scaffold)
        )
        for c, fmt, scaffold, answered in zip(
            completions, formats, scaffolds, _answered(completions, kwargs), strict=True
        )
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
    """Partial credit per tag written exactly once, less 0.001 per character after the last tag;
    0 for a response that states no answer (`states_answer`)."""
    formats = _formats(kwargs)
    scores = []
    for c, fmt, scaffold, answered in zip(
        completions,
        formats,
        _scaffolds(kwargs, formats),
        _answered(completions, kwargs),
        strict=True,
    ):
        text = completion_text(c)
        if not answered:
            scores.append(0.0)
            continue
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


_EXPR = r"[-+*/()\d \t.]*\d[-+*/()\d \t.]*"  # one line: a calculation never spans lines
_CALCULATION = re.compile(rf"{_EXPR}(?:={_EXPR})+")
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


def _work(node: ast.AST) -> int:
    """The operations of an expression that change a value: `x*1`, `x/1`, `x+0`, `x-0`, `0*x`
    and `x*0` are no work (a bare number is none either)."""
    if isinstance(node, ast.UnaryOp):
        return _work(node.operand)
    if not isinstance(node, ast.BinOp):
        return 0
    left, right = node.left, node.right
    consts = {
        side: _value(n) if isinstance(n, ast.Constant) else None
        for side, n in (("l", left), ("r", right))
    }
    identity = (
        (isinstance(node.op, ast.Mult) and (consts["l"] in (0, 1) or consts["r"] in (0, 1)))
        or (isinstance(node.op, ast.Div) and consts["r"] == 1)
        or (isinstance(node.op, ast.Add) and 0 in (consts["l"], consts["r"]))
        or (isinstance(node.op, ast.Sub) and consts["r"] == 0)
    )
    return int(not identity) + _work(left) + _work(right)


def calculations(text: str) -> dict[tuple[str, str], bool]:
    """Every distinct non-trivial written `lhs = rhs` between two arithmetic expressions, and
    whether it holds. A chain `a = b = c` is two calculations; one in which neither side does
    any work (`1 = 1`, `4*1 = 4`) or whose sides are the same text is trivial and left out."""
    found: dict[tuple[str, str], bool] = {}
    for match in _CALCULATION.finditer(text):
        sides = []
        for side in match.group().split("="):
            side = side.strip(" \t\n.")  # sentence periods are not decimal points
            try:
                if len(side) > 64:
                    raise ValueError("too long")
                node = ast.parse(side, mode="eval").body
                sides.append(("".join(side.split()), _value(node), _work(node)))
            except (SyntaxError, ValueError, ZeroDivisionError, RecursionError, TypeError):
                sides.append(None)
        for left, right in itertools.pairwise(sides):
            if left is None or right is None or left[0] == right[0] or left[2] + right[2] == 0:
                continue
            holds = math.isclose(left[1], right[1], rel_tol=1e-9, abs_tol=1e-9)
            found.setdefault((left[0], right[0]), holds)
    return found


def count_calculations(text: str) -> int:
    """The number of distinct non-trivial calculations `text` writes (a reference solution's
    `reference_steps`)."""
    return len(calculations(text))


@register("arithmetic")
def arithmetic(
    completions: Sequence[Any],
    min_steps: int = 1,
    reference_steps: Sequence[int | None] | None = None,
    **kwargs: Any,
) -> list[float]:
    """(right - wrong) / needed, floored at 0 and at most 1, over the distinct non-trivial
    calculations the response writes (`calculations`); `needed` is the larger of the reference
    solution's count (`reference_steps`, when the dataset has it), `min_steps` and the number
    written. Dropping a right step, repeating one or writing `1 = 1` never raises it."""
    needed = _column(reference_steps, len(completions))
    scores = []
    for c, reference in zip(completions, needed, strict=True):
        claims = calculations(completion_text(c))
        right = sum(claims.values())
        wrong = len(claims) - right
        total = max(len(claims), min_steps, reference or 0, 1)
        scores.append(max(0, right - wrong) / total)
    return scores
