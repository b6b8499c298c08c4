"""Answer formats: how a prompt asks for an answer and how a well-formed response writes it.

    >>> FORMATS["r1"].completion("2 + 2 = 4", "4")
    '<think>\\n2 + 2 = 4\\n</think>\\n<answer>\\n\\\\boxed{4}\\n</answer>'

Every format's answers are read by `spark_math.grading` (a final `\\boxed{}`, `<answer>` or
`<SOLUTION>` tags), so training rewards and the harness grade the same text the same way.
A *scaffolded* prompt ends inside an open reasoning block (SPARKLE's stage 2: the assistant turn
is prefilled with the opening tag and part of a reference solution); the completion then owes
only the closing tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spark_math.harness_tasks.prompts import ZERO_SHOT_INSTRUCTION

_BOX = "\\boxed{"

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class AnswerFormat:
    """One answer format: its instruction and the tags around reasoning and answer."""

    name: str
    instruction: str
    reasoning_tags: tuple[str, str] | None  # (open, close), None: free-form reasoning
    answer_tags: tuple[str, str] | None  # None: the answer is a final \boxed{}
    boxed_answer: bool  # the answer (inside its tags, if any) is written as \boxed{...}

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags of a well-formed response, in order."""
        return (*(self.reasoning_tags or ()), *(self.answer_tags or ()))

    def required_tags(self, scaffolded: bool) -> tuple[str, ...]:
        """The tags a completion must write (a scaffolded prompt already opened the reasoning)."""
        return self.tags[1:] if scaffolded and self.reasoning_tags else self.tags

    def user_message(self, problem: str) -> str:
        """The problem followed by this format's instruction."""
        return f"{problem}\n{self.instruction}"

    def prompt(
        self, problem: str, system: str | None = None, scaffold: str | None = None
    ) -> Messages:
        """A conversational prompt; `scaffold` prefills the assistant's reasoning (stage 2)."""
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": self.user_message(problem)})
        if scaffold is not None:
            opener = self.reasoning_tags[0] + "\n" if self.reasoning_tags else ""
            messages.append({"role": "assistant", "content": f"{opener}{scaffold.strip()}\n"})
        return messages

    def completion(self, reasoning: str, answer: str, scaffolded: bool = False) -> str:
        """A well-formed response with this reasoning and final answer."""
        reasoning = reasoning.strip()
        final = f"{_BOX}{answer}}}" if self.boxed_answer else answer
        if self.answer_tags is None:
            if _BOX in (reasoning.splitlines() or [""])[-1]:
                return reasoning
            return f"{reasoning}\nThe final answer is ${final}$." if reasoning else f"${final}$"
        text = ""
        if self.reasoning_tags:
            opened, closed = self.reasoning_tags
            text = f"{reasoning}\n{closed}\n"
            if not scaffolded:
                text = f"{opened}\n{text}"
        opened, closed = self.answer_tags
        return f"{text}{opened}\n{final}\n{closed}"

    def is_strict(self, completion: str, scaffolded: bool = False) -> bool:
        """Exactly the format: each tag once, in order, nothing before the first or after the last,
        and a box inside the answer where the format boxes it."""
        text = completion.strip()
        if self.answer_tags is None:
            boxes = text.count(_BOX)
            return boxes == 1 and _BOX in text.splitlines()[-1]
        tags = self.required_tags(scaffolded)
        if scaffolded and self.reasoning_tags and self.reasoning_tags[0] in text:
            return False
        if any(text.count(tag) != 1 for tag in tags):
            return False
        positions = [text.index(tag) for tag in tags]
        if positions != sorted(positions) or not text.endswith(tags[-1]):
            return False
        if not scaffolded and not text.startswith(tags[0]):
            return False
        return self._answer_ok(text)

    def is_soft(self, completion: str, scaffolded: bool = False) -> bool:
        """The format's parts in order, with anything around or between them."""
        if self.answer_tags is None:
            return _BOX in completion
        tags = self.required_tags(scaffolded)
        pattern = ".*?".join(re.escape(tag) for tag in tags)
        return re.search(pattern, completion, re.DOTALL) is not None and self._answer_ok(completion)

    def _answer_ok(self, text: str) -> bool:
        assert self.answer_tags is not None
        opened, closed = self.answer_tags
        start = text.rfind(opened)
        body = text[start + len(opened) : text.find(closed, start)].strip()
        return bool(body) and (_BOX in body if self.boxed_answer else True)


R1_INSTRUCTION = (
    "Think it through inside <think> </think> tags, then write the final answer inside "
    "<answer> </answer> tags, with the result in \\boxed{}."
)
XML_INSTRUCTION = (
    "Respond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>"
)
SPECIAL_TOKENS_INSTRUCTION = (
    "Work the problem out between <start_working_out> and <end_working_out>, then give your "
    "solution between <SOLUTION> and </SOLUTION>."
)

FORMATS: dict[str, AnswerFormat] = {
    f.name: f
    for f in (
        AnswerFormat("boxed", ZERO_SHOT_INSTRUCTION, None, None, boxed_answer=True),
        AnswerFormat(
            "r1", R1_INSTRUCTION, ("<think>", "</think>"), ("<answer>", "</answer>"), True
        ),
        AnswerFormat(
            "xml",
            XML_INSTRUCTION,
            ("<reasoning>", "</reasoning>"),
            ("<answer>", "</answer>"),
            boxed_answer=False,
        ),
        AnswerFormat(
            "special-tokens",
            SPECIAL_TOKENS_INSTRUCTION,
            ("<start_working_out>", "<end_working_out>"),
            ("<SOLUTION>", "</SOLUTION>"),
            False,
        ),
    )
}


def get_format(name: str) -> AnswerFormat:
    """The format called `name`; ValueError naming the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown answer format {name!r}; known: {', '.join(FORMATS)}") from None


def scaffolded(prompt: str | Messages, fmt: AnswerFormat) -> bool:
    """Whether `prompt` ends inside this format's open reasoning block (a prefilled scaffold)."""
    if fmt.reasoning_tags is None:
        return False
    if isinstance(prompt, list):
        if not prompt or prompt[-1].get("role") != "assistant":
            return False
        prompt = prompt[-1]["content"]
    opened, closed = fmt.reasoning_tags
    return prompt.rfind(opened) > prompt.rfind(closed)
