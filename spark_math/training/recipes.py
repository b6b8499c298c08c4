"""Training recipes: one YAML file names the model, data, format, rewards, LoRA and TRL config.

    model: Qwen/Qwen2.5-Math-1.5B
    data: {source: math, limit: 4000}
    format: r1
    rewards:
      - {name: hierarchical, weight: 1.0}
      - {name: length, weight: 0.1, mode: cosine, max_length: 3000}
    lora: {r: 16, alpha: 32}
    qlora: false     # true: the base in 4-bit NF4 under the adapter (bitsandbytes, CUDA)
    dtype: auto      # the weights: bfloat16 on a GPU, float32 on a CPU; or bfloat16|float16|float32
    eval: {tasks: [spark_math500]}
    args: {learning_rate: 1.0e-6, num_generations: 8, beta: 0.001}   # TRL's own config fields

`args` goes unchanged into TRL's `SFTConfig`, `GRPOConfig` or `DPOConfig`; its keys and value
types are checked against that class when the recipe loads, so a misspelt or removed field
(transformers 5 folded `warmup_ratio` into `warmup_steps`) fails in one line naming the key and
the file, before any model is loaded. Every error is one line naming the file, the key (with the
closest valid key for a misspelt one) and, for a wrong type, what was expected and what was
given. Overrides are
`key=value` strings with dotted keys (`lora.r=8`, `data.limit=100`, `rewards.0.weight=2`);
a key that is not a recipe field is a TRL field (`learning_rate=1e-5` sets `args.learning_rate`).
Values are parsed as YAML, with `1e-5` read as a number.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import inspect
import re
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

import spark_math.recipes
from spark_math.errors import SparkMathError
from spark_math.harness_tasks.formats import FormatTaskError, tasks_for_format

from .formats import FORMATS
from .rewards import REWARDS, reward_label

TRAINERS = ("sft", "grpo", "dpo")
DTYPES = ("auto", "bfloat16", "float16", "float32")
DATA_SOURCES = ("gsm8k", "math", "lineq", "jsonl")


class RecipeError(SparkMathError, ValueError):
    """A recipe or an override is invalid."""


def _unknown_key(key: str, known: typing.Iterable[str], prefix: str = "", note: str = "") -> str:
    """`unknown key 'lora.rank' (did you mean 'lora.r'?)`: the closest of `known` (keys under
    `prefix`), else the known keys when they are few; `note` says what the key is not."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
    if close:
        hint = f" (did you mean {prefix + close[0]!r}?)"
    elif len(known) <= 20:
        hint = f"; known: {', '.join(known)}"
    else:
        hint = ""
    return f"unknown key {prefix + key!r}{note}{hint}"


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `1e-5` as a string; this loader reads it as a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def parse_value(text: str) -> Any:
    """An override's value: YAML (numbers, booleans, lists, null) or else the string itself."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return text


@dataclass(frozen=True)
class GenerateSpec:
    """Sampling a model to build data: hard problems (stage 2) or DPO pairs."""

    model: str | None = None  # None: the recipe's model
    samples: int = 8
    max_new_tokens: int = 512
    temperature: float = 1.0
    batch_size: int = 16


@dataclass(frozen=True)
class DataSpec:
    """Where training problems come from and how they are turned into a dataset.

    `source`: a benchmark (`gsm8k`, `math`: its 4,500 non-MATH-500 test problems stand in for
    MATH train offline, `lineq`) or `jsonl` (`path`: rows with `problem`, `answer` and optional
    `solution`; or, for DPO, ready `prompt`/`chosen`/`rejected` rows). `lineq` takes generator
    options (`n`, `n_vars`, `coef_range`, `sol_range`, `seed`) in `lineq`. `hard` keeps the
    problems a model never solves in `hard.samples` tries and adds hinted copies whose reasoning
    starts with the first `hint_levels` fractions of the reference solution (SPARKLE stage 2).
    `pairs` builds DPO pairs by sampling and grading (the reference solution stands in for a
    correct sample when none is found and `reference_chosen` is set).
    """

    source: str
    split: str = "train"
    path: str | None = None
    limit: int | None = None
    shuffle_seed: int = 0
    lineq: dict[str, Any] = field(default_factory=dict)
    hard: GenerateSpec | None = None
    hint_levels: tuple[float, ...] = (0.25, 0.5, 0.75)
    pairs: GenerateSpec | None = None
    reference_chosen: bool = True


@dataclass(frozen=True)
class RewardSpec:
    """A reward by registered name, its weight and its parameters."""

    name: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return reward_label(self.name, self.params)


@dataclass(frozen=True)
class LoraSpec:
    """LoRA adapter settings (peft's LoraConfig)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: str | list[str] = "all-linear"


@dataclass(frozen=True)
class EvalSpec:
    """What to run through lm-eval after training."""

    tasks: tuple[str, ...] = ()
    limit: int | float | None = None  # lm-eval --limit: a count, or a fraction below 1
    max_gen_toks: int | None = None
    batch_size: str | int = "auto"
    samples: dict[str, list[int]] | None = None  # lm-eval --samples: doc indices per task
    include_path: str | None = None


@dataclass(frozen=True)
class Recipe:
    """A whole training run; `args` are TRL config fields."""

    trainer: str
    model: str
    data: DataSpec
    format: str = "boxed"
    system_prompt: str | None = None
    rewards: tuple[RewardSpec, ...] = ()
    lora: LoraSpec | None = None
    qlora: bool = False
    dtype: str = "auto"  # the weights' dtype: auto (bfloat16 on a GPU, float32 on a CPU) or a name
    eval: EvalSpec = EvalSpec()
    args: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the recipe file, for messages (not a YAML key)

    @property
    def output_dir(self) -> Path:
        return Path(self.args["output_dir"])


_TOP_KEYS = {f.name for f in fields(Recipe)} - {"source"}

# TRL/transformers fields that were removed or renamed, with what to write instead.
_MOVED_ARGS = {
    "warmup_ratio": "transformers 5 folded it into warmup_steps (a float below 1 is a ratio of "
    "the total steps: warmup_steps: 0.03)",
    "max_prompt_length": "TRL 1 removed it; keep prompts short in the data instead",
    "evaluation_strategy": "transformers renamed it eval_strategy",
}
_REWARD_COLUMNS = {"completions", "prompts", "answer", "task", "completion_ids", "kwargs"}


def recipe_path(config: str | Path) -> Path:
    """`config` when it is a file, else the packaged recipe it names (`sparkle-stage1-grpo`,
    with or without `.yaml`)."""
    path = Path(config)
    if path.is_file():
        return path
    name = path.name.removesuffix(".yaml")
    packaged = spark_math.recipes.packaged()
    if len(path.parts) == 1 and name in packaged:
        return packaged[name]
    raise RecipeError(
        f"{config}: no such file, nor a packaged recipe of that name "
        "(`spark-math train recipes` lists them)"
    )


def load_recipe(
    path: str | Path | None,
    trainer: str,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict[str, Any] | None = None,
) -> Recipe:
    """Read a recipe file (`path`: a file, or a packaged recipe's name; or start from `base`),
    apply `key=value` overrides, validate it. Every error is one line starting with the file's
    name (`recipe` without a file)."""
    if path is not None:
        path = recipe_path(path)
    where = str(path) if path is not None else "recipe"
    try:
        raw: dict[str, Any] = dict(base or {})
        if path is not None:
            with Path(path).open(encoding="utf-8") as handle:
                loaded = yaml.load(handle, Loader=_Loader)
            if not isinstance(loaded, dict):
                raise RecipeError("a recipe is a YAML mapping")
            raw.update(loaded)
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise RecipeError(f"override {item!r} is not key=value")
            dotted = key if key.split(".")[0] in _TOP_KEYS else f"args.{key}"
            try:
                set_path(raw, dotted, parse_value(value))
            except (LookupError, ValueError, TypeError, AttributeError):
                raise RecipeError(f"override {item!r}: the recipe has no {dotted}") from None
        args = raw.get("args")
        if path is not None and (args is None or isinstance(args, dict)):
            raw["args"] = {"output_dir": f"runs/{Path(path).stem}", **(args or {})}
        recipe = build_recipe(raw, trainer)
    except RecipeError as exc:
        raise RecipeError(f"{where}: {exc}") from None
    except (yaml.YAMLError, OSError) as exc:
        raise RecipeError(f"{where}: {' '.join(str(exc).split())}") from None
    return dataclasses.replace(recipe, source=str(path) if path is not None else None)


def set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `raw[a][b]...` for `a.b...`; numeric parts index lists."""
    *parents, last = dotted.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _build(cls: type, raw: Any, where: str) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RecipeError(f"{where}: expected a mapping, got {raw!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RecipeError(_unknown_key(unknown[0], known, prefix=f"{where}."))
    hints = typing.get_type_hints(cls)
    for key, value in raw.items():
        if not isinstance(value, GenerateSpec) and not _fits(value, hints[key]):
            raise RecipeError(_wrong_type(f"{where}.{key}", hints[key], value))
    return cls(**raw)


def _wrong_type(key: str, hint: Any, value: Any, note: str = "") -> str:
    """`lora.r: expected an integer, got 'eight'`."""
    return f"{key}: expected {_hint_text(hint)}{note}, got {value!r}"


def _data(raw: Any) -> DataSpec:
    if not isinstance(raw, dict):
        raise RecipeError(f"data: expected a mapping, got {raw!r}")
    raw = dict(raw)
    for key in ("hard", "pairs"):
        raw[key] = _build(GenerateSpec, raw.get(key), f"data.{key}")
    if "hint_levels" in raw:
        if not isinstance(raw["hint_levels"], list | tuple):
            raise RecipeError(_wrong_type("data.hint_levels", list, raw["hint_levels"]))
        raw["hint_levels"] = tuple(raw["hint_levels"])
    spec = _build(DataSpec, raw, "data")
    if spec.source not in DATA_SOURCES:
        raise RecipeError(f"data.source {spec.source!r}: expected one of {DATA_SOURCES}")
    if (spec.source == "jsonl") != (spec.path is not None):
        raise RecipeError("data.path goes with data.source: jsonl (and only with it)")
    if not all(0 < level < 1 for level in spec.hint_levels):
        raise RecipeError(f"data.hint_levels must lie in (0, 1), got {spec.hint_levels}")
    return spec


def _rewards(raw: Any) -> tuple[RewardSpec, ...]:
    specs = []
    for i, item in enumerate(raw or []):
        if not isinstance(item, dict) or "name" not in item:
            raise RecipeError(f"rewards.{i}: expected a mapping with a name, got {item!r}")
        item = dict(item)
        name, weight = item.pop("name"), item.pop("weight", 1.0)
        if name not in REWARDS:
            raise RecipeError(f"rewards.{i}: unknown reward {name!r}; known: {sorted(REWARDS)}")
        if not _fits(weight, float):
            raise RecipeError(_wrong_type(f"rewards.{i}.weight", float, weight))
        params = inspect.signature(REWARDS[name]).parameters
        known = {p for p in params if p not in _REWARD_COLUMNS}
        for key, value in item.items():
            if key not in known:
                note = f": not a parameter of the {name} reward"
                raise RecipeError(_unknown_key(key, known, prefix=f"rewards.{i}.", note=note))
            default = params[key].default
            if default is not inspect.Parameter.empty and not _fits(value, type(default)):
                raise RecipeError(_wrong_type(f"rewards.{i}.{key}", type(default), value))
        specs.append(RewardSpec(name, float(weight), item))
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise RecipeError(f"rewards: two rewards share a name in {labels}; give them modes")
    return tuple(specs)


def config_class(trainer: str) -> type | None:
    """TRL's config class for `trainer`, or None when TRL is not installed."""
    try:
        from trl import DPOConfig, GRPOConfig, SFTConfig
    except ImportError:
        return None
    return {"sft": SFTConfig, "grpo": GRPOConfig, "dpo": DPOConfig}[trainer]


def _fits(value: Any, hint: Any) -> bool:
    """Whether a YAML value can stand for a field of type `hint` (unknown hints pass)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, str | hint)
    if origin in (list, tuple):
        return isinstance(value, list | tuple)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def check_args(trainer: str, args: dict[str, Any]) -> None:
    """Every `args` key is a field of TRL's config class for `trainer`, with a value of its type."""
    cls = config_class(trainer)
    if cls is None:
        return
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation this Python cannot evaluate: check names only
        hints = {}
    for key, value in args.items():
        if key in _MOVED_ARGS:
            note = f": not a {cls.__name__} field; {_MOVED_ARGS[key]}"
            raise RecipeError(f"unknown key 'args.{key}'{note}")
        if key not in names:
            note = f": not a {cls.__name__} field"
            raise RecipeError(_unknown_key(key, names, prefix="args.", note=note))
        if key in hints and not _fits(value, hints[key]):
            note = f" ({cls.__name__}.{key})"
            raise RecipeError(_wrong_type(f"args.{key}", hints[key], value, note))


_TYPE_NAMES = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    tuple: "a list",
    dict: "a mapping",
    type(None): "null",
}


def _hint_text(hint: Any) -> str:
    """A type hint in words: `int | None` -> `an integer or null`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        words = [_hint_text(h) for h in typing.get_args(hint)]
        if "a number" in words:  # int | float
            words = [w for w in words if w != "an integer"]
        return " or ".join(dict.fromkeys(words))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return "a mapping"
    named = _TYPE_NAMES.get(origin or hint)
    return named or getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


# The types of the top-level keys that `build_recipe` does not check on its own.
_TOP_TYPES: dict[str, Any] = {
    "model": str | None,  # None: "the recipe needs `model`"
    "system_prompt": str | None,
    "rewards": list | None,
    "lora": dict | bool | None,
    "qlora": bool,
    "eval": dict | None,
    "args": dict | None,
}


def _unknown_top_key(key: str, trainer: str) -> str:
    """An unknown top-level key: a TRL field belongs under `args`; else the closest recipe key
    (or TRL field)."""
    cls = config_class(trainer)
    names = {f.name for f in dataclasses.fields(cls)} if cls is not None else set()
    if key in names:
        return f"unknown key {key!r}: a {cls.__name__} field goes under args (args.{key})"
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.7)
    if close and not difflib.get_close_matches(key, _TOP_KEYS, n=1, cutoff=0.7):
        return f"unknown key {key!r} (did you mean 'args.{close[0]}'?)"
    return _unknown_key(key, _TOP_KEYS)


def build_recipe(raw: dict[str, Any], trainer: str) -> Recipe:
    """Validate a recipe mapping for `trainer` (sft, grpo or dpo)."""
    if trainer not in TRAINERS:
        raise RecipeError(f"trainer {trainer!r}: expected one of {TRAINERS}")
    raw = dict(raw)
    if raw.setdefault("trainer", trainer) != trainer:
        raise RecipeError(f"this recipe is for `train {raw['trainer']}`, not `train {trainer}`")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise RecipeError(_unknown_top_key(unknown[0], trainer))
    for key, hint in _TOP_TYPES.items():
        if key in raw and not _fits(raw[key], hint):
            raise RecipeError(_wrong_type(key, hint, raw[key]))
    for key in ("model", "data"):
        if raw.get(key) is None:
            raise RecipeError(f"the recipe needs `{key}`")
    if raw.get("format", "boxed") not in FORMATS:
        raise RecipeError(f"format {raw['format']!r}: expected one of {sorted(FORMATS)}")
    args = dict(raw.get("args") or {})
    if "output_dir" not in args:
        raise RecipeError("the recipe needs args.output_dir (where checkpoints go)")
    lora = raw.get("lora")
    eval_raw = dict(raw.get("eval") or {})
    if isinstance(eval_raw.get("tasks"), str):
        eval_raw["tasks"] = eval_raw["tasks"].split(",")
    eval_raw["tasks"] = tuple(eval_raw.get("tasks") or ())
    recipe = Recipe(
        trainer=trainer,
        model=str(raw["model"]),
        data=_data(raw["data"]),
        format=raw.get("format", "boxed"),
        system_prompt=raw.get("system_prompt"),
        rewards=_rewards(raw.get("rewards")),
        lora=LoraSpec() if lora is True else _build(LoraSpec, lora or None, "lora"),
        qlora=bool(raw.get("qlora", False)),
        dtype=raw.get("dtype", "auto"),
        eval=_build(EvalSpec, eval_raw, "eval"),
        args=args,
    )
    if trainer == "grpo" and not recipe.rewards:
        raise RecipeError("a GRPO recipe needs at least one reward")
    if trainer != "grpo" and recipe.rewards:
        raise RecipeError(f"rewards are for GRPO; `train {trainer}` does not use them")
    if recipe.data.hard is not None and trainer != "grpo":
        raise RecipeError("data.hard (hinted hard problems) is for GRPO")
    if recipe.data.pairs is not None and trainer != "dpo":
        raise RecipeError("data.pairs (sampled preference pairs) is for DPO")
    if recipe.dtype not in DTYPES:
        raise RecipeError(f"dtype {recipe.dtype!r}: expected one of {DTYPES}")
    if recipe.qlora and recipe.lora is None:
        raise RecipeError("qlora trains a LoRA adapter on 4-bit weights: add a `lora` section")
    if "reward_weights" in args:
        raise RecipeError("give reward weights in `rewards`, not args.reward_weights")
    check_args(trainer, args)
    try:
        tasks_for_format(recipe.eval.tasks, recipe.format)
    except FormatTaskError as exc:
        raise RecipeError(f"eval.tasks: {exc}") from None
    return recipe
