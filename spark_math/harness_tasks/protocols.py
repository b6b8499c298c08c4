"""The protocol presets: which published evaluation protocol a spark task reproduces.

A task's protocol follows from its name prefix, so results files, the leaderboard and the
baselines need nothing else to tell a SPARKLE number from a Qwen2.5-Math one. Details of each
preset (prompt, chat layout, decoding, budget, k, headline metric) are in its task YAML files
and docs/protocols.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    """A family of tasks `<prefix><benchmark>` evaluated the way `source` does."""

    name: str
    prefix: str
    source: str
    summary: str


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "sparkle",
            "spark_sparkle_",
            "SPARKLE (arXiv 2506.04723), github.com/sparkle-reasoning/sparkle eval/ and "
            "scripts/eval/eval_all_vllm.sh",
            "R1-Zero prompt in the user turn, T=0.6, top_p=1.0, 8 samples, 31,768 new tokens, "
            "avg@8",
        ),
        Protocol(
            "qwen25-math-cot",
            "spark_qwen_",
            "Qwen2.5-Math evaluation/ (prompt `qwen25-math-cot`), github.com/QwenLM/Qwen2.5-Math",
            "instruction as the system message, problem alone in the user turn, greedy, one sample",
        ),
        Protocol(
            "lm-eval-fewshot",
            "spark_lmeval_",
            "lm-evaluation-harness tasks gsm8k_cot (Wei et al. 8-shot) and minerva_math (4-shot)",
            "few-shot prompt for base models, greedy, one sample",
        ),
        Protocol(
            "spark",
            "spark_",
            "spark-math defaults",
            "problem + 'Please reason step by step, and put your final answer within \\boxed{}.' "
            "in the user turn; greedy (AIME/AMC: T=0.6, top_p=0.95, 8 samples), 2048 new tokens "
            "(3072 for AIME/AMC), headline pass@1",
        ),
    )
}


def protocol_of(task: str) -> tuple[Protocol | None, str]:
    """(protocol, the rest of the name) of a task: `spark_sparkle_aime24` -> (sparkle, "aime24");
    `spark_aime24_k8` -> (spark, "aime24_k8"); a task that is not a spark task -> (None, task)."""
    for protocol in PROTOCOLS.values():  # the bare `spark_` prefix last
        if task.startswith(protocol.prefix):
            return protocol, task.removeprefix(protocol.prefix)
    return None, task
