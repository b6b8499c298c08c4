"""`SparkTask`: lm-eval's `ConfigurableTask`, with the budget and sampling the user asked for.

The templates name it with `class:`, so every spark task is one. Plain lm-eval lets a task's
own `max_gen_toks` silently win over `--model_args ...,max_gen_toks=N`, and resets a
`--gen_kwargs temperature=0.7` to greedy when the task says `do_sample: false`. Here:

- `max_gen_toks` in `--model_args` (or `--metadata`) replaces every spark task's budget, and
  the log says so; `--gen_kwargs max_gen_toks=N` still wins over both;
- a temperature above 0 (or top_p/top_k) given to a greedy task turns sampling on, with a
  warning; an explicit `do_sample=false` together with a temperature above 0 is refused.
"""

from __future__ import annotations

import logging
from typing import Any

from lm_eval.api.task import ConfigurableTask

from spark_math.errors import SparkMathError

logger = logging.getLogger("lm_eval.spark_tasks")
SAMPLING_KEYS = ("temperature", "top_p", "top_k")


class GenerationSettingsError(SparkMathError, ValueError):
    """Generation settings that contradict each other."""


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise GenerationSettingsError(f"expected a number, got {value!r}") from None


def _asks_for_sampling(settings: dict[str, Any]) -> str | None:
    """The setting that only makes sense when sampling (`temperature=0.7`), if any."""
    if "temperature" in settings and _number(settings["temperature"]) > 0:
        return f"temperature={settings['temperature']}"
    if "top_p" in settings and _number(settings["top_p"]) < 1:
        return f"top_p={settings['top_p']}"
    if "top_k" in settings and _number(settings["top_k"]) > 0:
        return f"top_k={settings['top_k']}"
    return None


class SparkTask(ConfigurableTask):
    """A spark task (see the module docstring for what differs from `ConfigurableTask`)."""

    def __init__(self, config: dict | None = None, **kwargs: Any) -> None:
        config = {k: v for k, v in (config or {}).items() if k != "class"}
        super().__init__(config=config, **kwargs)
        budget = (self.config.metadata or {}).get("max_gen_toks")
        settings = self.config.generation_kwargs
        if budget is not None and settings is not None:
            budget = int(_number(budget))
            if settings.get("max_gen_toks") != budget:
                logger.info(
                    "%s: max_gen_toks=%d from --model_args replaces the task's %s",
                    self.config.task,
                    budget,
                    settings.get("max_gen_toks"),
                )
                settings["max_gen_toks"] = budget

    def set_config(self, key: str, value: Any, update: bool = False) -> None:
        if key == "generation_kwargs" and update and isinstance(value, dict):
            value = self._with_sampling(dict(value))
        super().set_config(key, value, update)

    def _with_sampling(self, value: dict[str, Any]) -> dict[str, Any]:
        """`--gen_kwargs` as the user meant them: sampling settings turn sampling on."""
        asked = _asks_for_sampling(value)
        if asked is None:
            return value
        task = self.config.task
        do_sample = value.get("do_sample")
        if do_sample is not None and str(do_sample).lower() in {"false", "0"}:
            raise GenerationSettingsError(
                f"{task}: --gen_kwargs sets do_sample=false and {asked}: greedy decoding "
                f"ignores {asked.split('=')[0]}. Drop one of them."
            )
        if not (self.config.generation_kwargs or {}).get("do_sample") and do_sample is None:
            logger.warning(
                "%s: %s turns sampling on (do_sample=true); this task decodes greedily by "
                "default. It still draws %d sample(s) per problem: for k samples use a "
                "`_k<k>` variant.",
                task,
                asked,
                self.config.repeats or 1,
            )
            value["do_sample"] = True
        return value
