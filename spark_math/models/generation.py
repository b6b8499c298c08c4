"""`Generation`: a response text that also says how its generation ended.

lm-eval hands a backend's strings to the task's filters unchanged, so a `str` subclass carries
what the text alone cannot say: whether the response hit the token budget (`truncated`) and how
many tokens the model generated (`tokens`). Every spark-math backend returns these, and the
plugin (`spark_math._lmeval_hook`) makes lm-eval's own `hf` and `vllm` backends return them
too. The spark tasks' grading filter reads them; any other consumer sees a plain string.
"""

from __future__ import annotations

from typing import Any

STATUSES = ("ok", "failed", "blocked", "empty")
NOT_ANSWERED = frozenset(STATUSES[1:])


class Generation(str):
    """A response; `truncated` is True when generation stopped at the token budget, None when
    the backend cannot tell; `tokens` is the number of generated tokens, None when unknown;
    `status` (API backends) is "ok", or why there is no answer: "failed" (the request failed
    after its retries), "blocked" (a safety block), "empty" (the model returned nothing)."""

    truncated: bool | None
    tokens: int | None
    status: str | None

    def __new__(
        cls,
        text: str = "",
        *,
        truncated: bool | None = None,
        tokens: int | None = None,
        status: str | None = None,
    ) -> Generation:
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown generation status {status!r}; known: {STATUSES}")
        self = super().__new__(cls, text)
        self.truncated = truncated
        self.tokens = tokens
        self.status = status
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # lm-eval's --use_cache pickles responses
        return _rebuild, (str(self), self.truncated, self.tokens, self.status)

    def with_text(self, text: str) -> Generation:
        """This generation after post-processing cut `text` out of it: thinking removed from the
        front keeps the verdict on the end; a stop string cut from the end means it did not end
        at the budget."""
        kept_end = text == self or (bool(text) and self.endswith(text))
        truncated = self.truncated if kept_end or not self.truncated else False
        return Generation(text, truncated=truncated, tokens=self.tokens, status=self.status)


def _rebuild(
    text: str, truncated: bool | None, tokens: int | None, status: str | None = None
) -> Generation:
    return Generation(text, truncated=truncated, tokens=tokens, status=status)


def finish_of(response: str) -> tuple[bool | None, int | None]:
    """(truncated, tokens) of a response: what a `Generation` knows, (None, None) otherwise."""
    return getattr(response, "truncated", None), getattr(response, "tokens", None)


def status_of(response: str) -> str | None:
    """A `Generation`'s status (None for plain strings and local backends)."""
    return getattr(response, "status", None)
