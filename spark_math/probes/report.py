"""`spark-math probes report RESULTS_DIR`: per model, each probe's score next to the plain task's
on the same problems, and the gain (plan gain, knowledge gain, hint gains, decomposition gain).

An lm-eval task cannot see another task's results, so the gains are computed here from the
results files that `lm_eval --output_path` writes (`results*.json`, any depth, read by
`spark_math.leaderboard.results`; runs of the same backend and model_args are merged, later files
winning). The scores and gains are the leaderboard's (`spark_math.leaderboard.gains`): with
`--log_samples` paired, both scores over the problems both tasks scored; without samples the
difference of the task scores, marked unpaired. For subproblems the score is SSR (a problem
counts when its whole chain is solved) and the gain is SSR minus plain accuracy.

Prompt truncation: for `hf`/`vllm` runs with logged samples, every logged prompt is tokenized
with the run's tokenizer and compared with `max_length - max_gen_toks`; prompts over it were cut
from the left by the backend, and the report says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from ..leaderboard.gains import Gain, probe_gains, read_samples
from ..leaderboard.results import Run, headline_key, load_runs, parse_task

PROBES = ("plan", "knowledge", "hint25", "hint50", "hint75", "subproblems")
BENCHES = ("gsm8k", "math500", "aime24")


@dataclass(frozen=True)
class Line(Gain):
    """One row of the report: a probe's gain on one benchmark, with a note."""

    bench: str
    probe: str
    note: str = ""


def find_runs(root: str | Path, skipped: list[str] | None = None) -> list[Run]:
    """Every model's results under `root`: the runs of one backend and model_args merged, later
    files (by name) winning; files that cannot be read are listed in `skipped`. Raises
    `LeaderboardError` when there is none."""
    runs, unread = load_runs([Path(root).expanduser()])
    if skipped is not None:
        skipped.extend(unread)
    runs.sort(key=lambda r: r.path.name)
    merged: dict[str, Run] = {}
    for run in runs:
        key = json.dumps([run.backend, run.args], sort_keys=True, default=str)
        merged[key] = _merge(merged[key], run) if key in merged else run
    return list(merged.values())


def _merge(earlier: Run, later: Run) -> Run:
    """`later` plus the tasks of `earlier` that it did not run again."""
    kept = set(earlier.results) - set(later.results)
    return replace(
        later,
        max_length=later.max_length or earlier.max_length,
        scores=tuple(s for s in earlier.scores if s.task in kept) + later.scores,
        results=earlier.results | later.results,
        configs=earlier.configs | later.configs,
        samples={t: p for t, p in earlier.samples.items() if t in kept} | later.samples,
    )


def _chain_note(metrics: dict) -> str:
    depth = float(metrics["first_fail_step,grader"])
    shown = "none fails" if math.isnan(depth) else f"{depth:.2f}"
    if math.isnan(float(metrics["ssr,grader"])):
        shown = "- (no complete chain: raise --limit)"
    return f"step acc {metrics[headline_key(metrics)]:.3f}, first failing step {shown}"


def lines(run: Run) -> list[Line]:
    """The report's rows for one model: every probe task it ran, per benchmark."""
    gains, out = probe_gains(run), []
    for task in sorted(gains, key=_order):
        protocol, bench, probe = parse_task(task)
        found = gains[task]
        notes = [_chain_note(run.results[task])] if probe == "subproblems" else []
        notes += [] if found.paired else ["unpaired (no samples)"]
        shown = bench if protocol == "spark" else f"{protocol}/{bench}"  # SPARKLE's own prompts
        out.append(Line(**vars(found), bench=shown, probe=probe, note="; ".join(notes)))
    return out


def _order(task: str) -> tuple:
    protocol, bench, probe = parse_task(task)
    rank = BENCHES.index(bench) if bench in BENCHES else len(BENCHES)
    return protocol != "spark", protocol, rank, bench, PROBES.index(probe)


def truncated(run: Run) -> dict[str, tuple[int, int, int]] | None:
    """Task -> (prompts cut, prompts, token budget) for hf/vLLM runs with samples; None when
    the run cannot be checked (another backend, no max length, no tokenizer)."""
    source = run.args.get("tokenizer") or run.args.get("pretrained")
    max_length = run.max_length or run.args.get("max_length") or run.args.get("max_model_len")
    if run.backend not in ("hf", "vllm") or not source or not max_length:
        return None
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception:  # no transformers, or the tokenizer is not reachable from here
        return None
    found = {}
    for task, path in run.samples.items():
        gen = run.configs.get(task, {}).get("generation_kwargs", {})
        budget = int(max_length) - int(gen.get("max_gen_toks", 256))
        prompts = [s["arguments"]["gen_args_0"]["arg_0"] for s in read_samples(path)]
        sizes = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        found[task] = (sum(n > budget for n in sizes), len(sizes), budget)
    return found
