"""Make lm-eval's own `hf` and `vllm` backends say how each generation ended.

lm-eval returns plain strings, so a response cut off by the token budget looks like any other.
These patches (applied by `spark_math._lmeval_hook` when lm-eval loads the backend module) wrap
each response in a `Generation` carrying `truncated` and `tokens`:

- `vllm`: from vLLM's own `finish_reason == "length"` and the generated token ids;
- `hf`: a row of `generate()`'s output hit the budget when it holds `max_gen_toks` new tokens
  and no end-of-sequence token (rows that stopped early are padded or end in EOS). `hf` also
  accepts `max_gen_toks` in `--model_args`, as `vllm` does (plain lm-eval passes it on to
  `from_pretrained`, which fails).

Post-processing (stop strings, thinking removal) keeps the record; a response whose end a stop
string cut did not end at the budget. Nothing else in lm-eval changes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from types import ModuleType
from typing import Any

from spark_math.models.generation import Generation

_PATCHED = "_spark_math_finish"


def _keep_finish(postprocess: Callable[..., str]) -> Callable[..., str]:
    @wraps(postprocess)
    def postprocess_generated_text(generation: str, *args: Any, **kwargs: Any) -> str:
        text = postprocess(generation, *args, **kwargs)
        return generation.with_text(text) if isinstance(generation, Generation) else text

    setattr(postprocess_generated_text, _PATCHED, True)
    return postprocess_generated_text


def _patch_postprocess(module: ModuleType) -> None:
    original = getattr(module, "postprocess_generated_text", None)
    if original is not None and not getattr(original, _PATCHED, False):
        module.postprocess_generated_text = _keep_finish(original)


def hf_finish(rows: list[list[int]], context_len: int, budget: int, stops: set[int]) -> dict:
    """Continuation tokens (as `generate_until` slices them) -> (hit the budget, tokens made)."""
    finish = {}
    for row in rows:
        continuation = row[context_len:]
        made = next((i for i, t in enumerate(continuation) if t in stops), len(continuation))
        hit = made == len(continuation) and made >= budget
        finish[tuple(continuation)] = (hit, made + (made < len(continuation)))
    return finish


def patch_hf(module: ModuleType) -> None:
    """Wrap `HFLM._model_generate` (record each row's end) and `tok_decode` (attach it)."""
    cls = module.HFLM
    if getattr(cls._model_generate, _PATCHED, False):
        return
    generate, decode, init = cls._model_generate, cls.tok_decode, cls.__init__
    default_budget = cls.max_gen_toks

    @wraps(init)
    def __init__(self, *args: Any, max_gen_toks: int | None = None, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._spark_max_gen_toks = None if max_gen_toks is None else int(max_gen_toks)

    def budget(self) -> int:
        own = getattr(self, "_spark_max_gen_toks", None)
        return default_budget.fget(self) if own is None else own

    @wraps(generate)
    def _model_generate(self, context, max_length: int, stop: list[str], **kwargs: Any):
        out = generate(self, context, max_length, stop, **kwargs)
        tokenizer = self.tokenizer
        stops = {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}
        context_len = context.shape[1]
        self._spark_finish = hf_finish(out.tolist(), context_len, max_length - context_len, stops)
        return out

    @wraps(decode)
    def tok_decode(self, tokens, skip_special_tokens: bool = True):
        text = decode(self, tokens, skip_special_tokens=skip_special_tokens)
        finish = getattr(self, "_spark_finish", None)
        if finish and isinstance(tokens, list) and (end := finish.get(tuple(tokens))):
            return Generation(text, truncated=end[0], tokens=end[1])
        return text

    setattr(_model_generate, _PATCHED, True)
    cls._model_generate, cls.tok_decode = _model_generate, tok_decode
    cls.__init__, cls.max_gen_toks = __init__, property(budget)
    _patch_postprocess(module)


def patch_vllm(module: ModuleType) -> None:
    """Wrap `VLLM._model_generate`: each output's text becomes a `Generation`."""
    cls = module.VLLM
    if getattr(cls._model_generate, _PATCHED, False):
        return
    generate = cls._model_generate

    @wraps(generate)
    def _model_generate(self, requests, generate_: bool = False, *args: Any, **kwargs: Any):
        if "generate" in kwargs:
            generate_ = kwargs.pop("generate")
        outputs = generate(self, requests, generate_, *args, **kwargs)
        if generate_:
            for output in outputs:
                completion = output.outputs[0]
                completion.text = Generation(
                    completion.text,
                    truncated=completion.finish_reason == "length",
                    tokens=len(completion.token_ids),
                )
        return outputs

    setattr(_model_generate, _PATCHED, True)
    cls._model_generate = _model_generate
    _patch_postprocess(module)
