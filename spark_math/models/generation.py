"""`Generation`: a response text that also says how its generation ended.

lm-eval hands a backend's strings to the task's filters unchanged, so a `str` subclass carries
what the text alone cannot say: whether the response hit the token budget (`truncated`) and how
many tokens the model generated (`tokens`). Every spark-math backend returns these, and the
plugin (`spark_math._lmeval_hook`) makes lm-eval's own `hf` and `vllm` backends return them
too. The spark tasks' grading filter reads them; any other consumer sees a plain string.
"""

from __future__ import annotations

from typing import Any


class Generation(str):
    """A response; `truncated` is True when generation stopped at the token budget, None when
    the backend cannot tell; `tokens` is the number of generated tokens, None when unknown."""

    truncated: bool | None
    tokens: int | None

    def __new__(
        cls, text: str = "", *, truncated: bool | None = None, tokens: int | None = None
    ) -> Generation:
        self = super().__new__(cls, text)
        self.truncated = truncated
        self.tokens = tokens
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # lm-eval's --use_cache pickles responses
        return _rebuild, (str(self), self.truncated, self.tokens)

    def with_text(self, text: str) -> Generation:
        """This generation after post-processing cut `text` out of it: thinking removed from the
        front keeps the verdict on the end; a stop string cut from the end means it did not end
        at the budget."""
        kept_end = text == self or (bool(text) and self.endswith(text))
        truncated = self.truncated if kept_end or not self.truncated else False
        return Generation(text, truncated=truncated, tokens=self.tokens)


def _rebuild(text: str, truncated: bool | None, tokens: int | None) -> Generation:
    return Generation(text, truncated=truncated, tokens=tokens)


def finish_of(response: str) -> tuple[bool | None, int | None]:
    """(truncated, tokens) of a response: what a `Generation` knows, (None, None) otherwise."""
    return getattr(response, "truncated", None), getattr(response, "tokens", None)
