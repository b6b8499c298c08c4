"""The prompts of SPARKLE's lm-eval fork, character for character.

Source: github.com/sparkle-reasoning/sparkle at c3581c9 (Dec 2025),
`eval/lm-evaluation-harness/lm_eval/tasks/sparkle/utils.py`: `doc_to_text` (the R1-Zero prompt
of every SPARKLE task), `doc_to_text_plan` and `doc_to_text_knowledge` (the plan and knowledge
probes, which no fork YAML uses). The fork reads the plan from `planning`; our probe documents
(`probe_hooks.load_probe`) carry it as `plan`. tests/test_protocol_sparkle.py checks these
against the fork's construction.

The string is the whole prompt with its own `User:`/`Assistant:` turns; SPARKLE runs it with
`--apply_chat_template`, which wraps it in the model's user turn (as verl does in training).
"""

from __future__ import annotations

R1_ZERO_INSTRUCTION = (
    "A conversation between User and Assistant. The user asks a math question, and the Assistant "
    "solves it step by step. The Assistant first thinks about the complete reasoning process in "
    "the mind enclosed within <think> </think> tags. Then the Assistant provides a clear, concise "
    "answer to the user within <answer> </answer> tags, with the final result enclosed in "
    "\\boxed{} notation.\n\nFor example:\n<think>\nreasoning process here\n</think>\n<answer>\n"
    "The answer is \\boxed{...}.\n</answer>"
)
PLAN_LEAD = (
    "Consider the following planning skeleton to guide your reasoning. You may adapt or extend "
    "this outline as needed based on your analysis of the problem:"
)
KNOWLEDGE_LEAD = (
    "The following is a reference knowledge base for concepts you might not be familiar with. "
    "If you already understand these concepts, you don't need to rely on this information. "
    "Otherwise, you can refer to this as needed:"
)


def r1_zero(doc: dict) -> str:
    """SPARKLE's evaluation prompt (fork `doc_to_text`)."""
    return f"{R1_ZERO_INSTRUCTION}\n\nUser: {doc['problem']} Assistant:"


def plan(doc: dict) -> str:
    """The plan probe (fork `doc_to_text_plan`): the plan on its own lines after the problem."""
    return (
        f"{R1_ZERO_INSTRUCTION}\n\nUser: {doc['problem']}\n{PLAN_LEAD}\n{doc['plan']}\nAssistant:"
    )


def knowledge(doc: dict) -> str:
    """The knowledge probe (fork `doc_to_text_knowledge`)."""
    return (
        f"{R1_ZERO_INSTRUCTION}\n\nUser: {doc['problem']}\n{KNOWLEDGE_LEAD}\n"
        f"{doc['knowledge']}\nAssistant:"
    )
