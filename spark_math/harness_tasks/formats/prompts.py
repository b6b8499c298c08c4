"""Prompt hooks of the format tasks: the problem followed by the instruction of a training
answer format, the very text `spark_math.training.formats` puts in the training prompt's user
turn (one source of truth for the wording)."""

from __future__ import annotations

from spark_math.training.formats import get_format


def r1(doc: dict) -> str:
    """The problem with the r1 instruction (`<think>`, then `<answer>` holding `\\boxed{}`)."""
    return get_format("r1").user_message(doc["problem"])


def xml(doc: dict) -> str:
    """The problem with the xml instruction (`<reasoning>`, then `<answer>`)."""
    return get_format("xml").user_message(doc["problem"])


def special_tokens(doc: dict) -> str:
    """The problem with the special-tokens instruction (`<start_working_out>`, `<SOLUTION>`)."""
    return get_format("special-tokens").user_message(doc["problem"])
