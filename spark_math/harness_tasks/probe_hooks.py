"""Hooks of the SPARKLE probe tasks `spark_<bench>_{plan,knowledge,subproblems,hint25,hint50,
hint75}` (YAML files in `probes/`).

`load_probe` (the `custom_dataset`) joins the benchmark with its annotation file (checked for
schema and answer leaks, see `spark_math.probes.build.load`) and makes one document per problem,
or per subproblem for `subproblems`: `answer` is always what that document is graded against.
The subproblem task reports `exact_match` per subproblem plus two per-problem aggregates over its
rows, `ssr` (share of problems whose whole chain is solved) and `first_fail_step` (mean 1-based
position of the first failed subproblem, over the chains that fail; NaN when none fails). With
k samples per document, both average over the k samples.

Prompts longer than `spark_max_prompt_chars` (default 4000, about 1000 tokens; set it with
`--metadata`) are reported when the task loads: lm-eval's hf and vLLM backends cut prompts longer
than `max_length - max_gen_toks` from the left. `spark-math probes report` checks the real token
counts of logged prompts afterwards.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Sequence

import datasets

from spark_math.data import load_rows
from spark_math.harness_tasks.prompts import ZERO_SHOT_INSTRUCTION
from spark_math.harness_tasks.scoring import sample_metrics
from spark_math.probes.build import load

logger = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 4000
_RESULT_NAMES = re.compile(r"\br1\b")


def plan_prompt(doc: dict) -> str:
    """The problem, then the plan (GSM8K reference plans name results r1, r2, ...)."""
    names = (
        " (r1, r2, ... stand for results you compute)" if _RESULT_NAMES.search(doc["plan"]) else ""
    )
    return (
        f"{doc['problem']}\n\nHere is a plan for solving it{names}; follow it, or adapt it if "
        f"needed:\n{doc['plan']}\n\n{ZERO_SHOT_INSTRUCTION}"
    )


def knowledge_prompt(doc: dict) -> str:
    """The problem, then facts that may help."""
    return (
        f"{doc['problem']}\n\nSome facts that may help (use them only if you need them):\n"
        f"{doc['knowledge']}\n\n{ZERO_SHOT_INSTRUCTION}"
    )


def hint_prompt(doc: dict) -> str:
    """The problem, then the first steps of a reference solution to continue."""
    steps = "\n".join(doc["hints"])
    return (
        f"{doc['problem']}\n\nHere is the beginning of a solution:\n{steps}\n\n"
        f"Continue the solution from there. {ZERO_SHOT_INSTRUCTION}"
    )


def subproblem_prompt(doc: dict) -> str:
    """The problem, the earlier subproblems with their answers, then the current one."""
    done = "".join(
        f"Step {i}: {sub['question']}\nAnswer: {sub['answer']}\n\n"
        for i, sub in enumerate(doc["previous"], 1)
    )
    return (
        f"{doc['problem']}\n\nWe solve this problem one step at a time.\n\n{done}"
        f"Step {doc['step']}: {doc['question']}\n\nSolve only this step. {ZERO_SHOT_INSTRUCTION}"
    )


PROMPTS = {
    "plan": plan_prompt,
    "knowledge": knowledge_prompt,
    "hints": hint_prompt,
    "subproblems": subproblem_prompt,
}


def probe_docs(
    bench_rows: Sequence[dict],
    annotations: Sequence[dict],
    kind: str,
    hint_percent: int | None = None,
) -> list[dict]:
    """The task's documents, in benchmark order."""
    by_id = {row["id"]: row for row in bench_rows}
    docs = []
    for note in annotations:
        row = by_id[note["id"]]
        base = {"id": row["id"], "problem": row["problem"], "answer": row["answer"]}
        base["annotator"] = note["provenance"]["annotator"]
        if kind in ("plan", "knowledge"):
            docs.append(base | {kind: note[kind]})
        elif kind == "hints":
            if hint_percent is None:
                raise ValueError("hint tasks need spark_hint_percent")
            shown = min(math.ceil(hint_percent * note["total_steps"] / 100), len(note["hints"]))
            docs.append(base | {"hints": note["hints"][:shown], "total_steps": note["total_steps"]})
        else:
            subs = note["subproblems"]
            for step, sub in enumerate(subs, 1):
                docs.append(
                    base
                    | {
                        "id": f"{row['id']}#{step}",
                        "answer": sub["answer"],
                        "problem_id": row["id"],
                        "final_answer": row["answer"],
                        "step": step,
                        "n_steps": len(subs),
                        "previous": subs[: step - 1],
                        "question": sub["question"],
                    }
                )
    return docs


def load_probe(
    spark_benchmark: str,
    spark_probe: str,
    spark_hint_percent: int | None = None,
    spark_probes_dir: str | None = None,
    spark_data_dir: str | None = None,
    spark_max_prompt_chars: int = MAX_PROMPT_CHARS,
    **_ignored: object,
) -> datasets.DatasetDict:
    """lm-eval `custom_dataset` of a probe task (arguments from `dataset_kwargs`/`--metadata`)."""
    rows = load_rows(spark_benchmark, "test", spark_data_dir)
    notes = load(
        spark_benchmark, spark_probe, probes_root=spark_probes_dir, data_dir=spark_data_dir
    )
    docs = probe_docs(rows, notes, spark_probe, spark_hint_percent)
    _warn_long_prompts(docs, spark_probe, spark_benchmark, int(spark_max_prompt_chars))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def _warn_long_prompts(docs: list[dict], kind: str, bench: str, limit: int) -> None:
    lengths = [len(PROMPTS[kind](doc)) for doc in docs]
    long = [n for n in lengths if n > limit]
    if limit > 0 and long:
        logger.warning(
            "spark probes: %d of %d %s/%s prompts are longer than %d characters (longest %d). "
            "lm-eval's hf and vLLM backends cut prompts longer than max_length - max_gen_toks "
            "tokens from the LEFT, silently dropping the problem statement: raise max_length, "
            "lower max_gen_toks, and run `spark-math probes report` on the results, which checks "
            "the logged prompts' token counts (needs --log_samples).",
            len(long),
            len(docs),
            bench,
            kind,
            limit,
            max(long),
        )


def subproblem_results(doc: dict, results: list) -> dict:
    """Per-subproblem metrics plus this row's entry of the per-problem chain aggregates."""
    records = results[0]
    chain = [doc["problem_id"], doc["step"], doc["n_steps"], [bool(r["correct"]) for r in records]]
    return sample_metrics(records) | {"ssr": chain, "first_fail_step": chain}


def _complete_chains(items: Sequence[Sequence]) -> list[list[list[bool]]]:
    """Per problem, the per-sample correctness of each step, for chains with every step."""
    steps: dict[str, dict[int, list[bool]]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    for problem_id, step, n_steps, correct in items:
        steps[problem_id][int(step)] = list(correct)
        sizes[problem_id] = int(n_steps)
    chains = [
        [found[s] for s in sorted(found)]
        for pid, found in steps.items()
        if len(found) == sizes[pid]
    ]
    if len(chains) < len(steps):
        logger.warning(
            "spark probes: %d of %d subproblem chains are incomplete (cut by --limit?) and left "
            "out of ssr and first_fail_step",
            len(steps) - len(chains),
            len(steps),
        )
    return chains


def ssr(items: Sequence[Sequence]) -> float:
    """Share of problems whose every subproblem is solved (averaged over the k samples)."""
    chains = _complete_chains(items)
    if not chains:
        return math.nan
    solved = [sum(map(all, zip(*chain, strict=True))) / len(chain[0]) for chain in chains]
    return sum(solved) / len(solved)


def first_fail_step(items: Sequence[Sequence]) -> float:
    """Mean 1-based position of the first failed subproblem over the (chain, sample) pairs that
    fail; NaN when none fails."""
    depths = [
        next(i for i, ok in enumerate(sample, 1) if not ok)
        for chain in _complete_chains(items)
        for sample in zip(*chain, strict=True)
        if not all(sample)
    ]
    return sum(depths) / len(depths) if depths else math.nan
