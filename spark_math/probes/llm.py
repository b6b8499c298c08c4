"""The `gemini` annotator (any lm-eval `LM` works): a strong model writes plans, knowledge and
subproblems from the problem, its reference solution and its answer.

An answer that cannot be parsed, fails the schema or states the final answer is asked for again
with the reason added to the prompt; after `retries` such rounds the problem is dropped and
reported. The prompts are deterministic, so with the backend's response cache (GeminiLM caches
every answer on disk) a rerun sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .schema import Row, Skip, leak, make_row, schema_error
from .steps import same_value

if TYPE_CHECKING:
    from lm_eval.api.model import LM

PROMPT_VERSION = "llm-1"
KINDS = ("plan", "knowledge", "subproblems")
GEN_KWARGS = {"until": [], "do_sample": False, "temperature": 0.0, "max_gen_toks": 2048}

_TASKS = {
    "plan": (
        "Write a plan a student could follow to solve the problem: 3 to 8 short numbered steps "
        "that say what to do and in which order, without the values that come out. Never write "
        "the final answer or anything equal to it, and box nothing. Put the plan between <plan> "
        "and </plan>."
    ),
    "knowledge": (
        "List the definitions, theorems and formulas a student needs for this problem, each "
        "stated in general form (no numbers from this problem) on its own line starting with "
        '"- ". Never write the final answer or anything equal to it. Put the list between '
        "<knowledge> and </knowledge>."
    ),
    "subproblems": (
        "Break the solution into 2 to 5 ordered subproblems. Each is a question with a short "
        "answer (a number or an expression) that later subproblems build on; the last one asks "
        "the original question and its answer is the final answer. No question may contain its "
        "own answer or the final answer. Write each as "
        "<subproblem><question>...</question><answer>...</answer></subproblem>."
    ),
}
_TAG = {kind: re.compile(rf"<{kind}>(.*?)</{kind}>", re.S) for kind in ("plan", "knowledge")}
_SUB = re.compile(
    r"<subproblem>\s*<question>(.*?)</question>\s*<answer>(.*?)</answer>\s*</subproblem>", re.S
)


def prompt(kind: str, row: Row, rejected: list[str]) -> str:
    """The request for one problem; `rejected` holds why earlier answers were refused."""
    text = (
        "You write study material for one math problem. You are given the problem, its reference "
        f"solution and its final answer.\n\nProblem:\n{row['problem']}\n\nReference solution:\n"
        f"{row['solution']}\n\nFinal answer: {row['answer']}\n\n{_TASKS[kind]}"
    )
    for attempt, reason in enumerate(rejected, 2):
        text += f"\n\nAttempt {attempt}: an earlier answer was refused ({reason}). Fix that."
    return text


def parse(kind: str, response: str) -> dict | str:
    """The payload in a model response, or why there is none."""
    if kind in _TAG:
        found = _TAG[kind].findall(response)
        return {kind: found[-1].strip()} if found and found[-1].strip() else f"no <{kind}> block"
    subs = [{"question": q.strip(), "answer": a.strip()} for q, a in _SUB.findall(response)]
    return {"subproblems": subs} if subs else "no <subproblem> blocks"


def _refusal(kind: str, payload: dict | str, row: Row, bench: str) -> str | None:
    if isinstance(payload, str):
        return payload
    candidate = make_row(bench, kind, row, payload, {"annotator": "check", "prompt_version": "-"})
    if error := schema_error(candidate, bench, kind):
        return error
    last = payload["subproblems"][-1]["answer"] if kind == "subproblems" else row["answer"]
    if not same_value(last, row["answer"]):
        return "the last subproblem's answer is not the final answer"
    if found := leak(candidate, row):
        return f"it states the answer: {found}"
    return None


def annotate(
    lm: LM,
    bench: str,
    kind: str,
    rows: list[Row],
    retries: int = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict | Skip]:
    """Benchmark id -> payload (or Skip with the last refusal) for every row with a solution."""
    from lm_eval.api.instance import Instance  # lm-eval loads slowly; only this annotator needs it

    results: dict[str, dict | Skip] = {}
    rejected: dict[str, list[str]] = {row["id"]: [] for row in rows if row.get("solution")}
    for row in rows:
        if row["id"] not in rejected:
            results[row["id"]] = Skip("no reference solution")
    todo = [row for row in rows if row["id"] in rejected]
    for round_ in range(retries + 1):
        if not todo:
            break
        requests = [
            Instance("generate_until", row, (prompt(kind, row, rejected[row["id"]]), GEN_KWARGS), i)
            for i, row in enumerate(todo)
        ]
        answers = lm.generate_until(requests, disable_tqdm=progress is None)
        again = []
        for row, answer in zip(todo, answers, strict=True):
            payload = parse(kind, answer)
            reason = _refusal(kind, payload, row, bench)
            if reason is None:
                results[row["id"]] = payload
            else:
                rejected[row["id"]].append(reason)
                again.append(row)
        if progress:
            progress(f"round {round_ + 1}: {len(todo) - len(again)} accepted, {len(again)} refused")
        todo = again
    for row in todo:
        results[row["id"]] = Skip(f"refused {retries + 1} times", rejected[row["id"]][-1])
    return results
