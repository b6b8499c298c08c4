"""The `qwen25-math-cot` preset: prompts, decoding and data equal Qwen2.5-Math's evaluation.

Upstream is QwenLM/Qwen2.5-Math at commit a45202bd16f1ec06f433442dc1152d0074773465. The
constants below restate what its files say; the tests rebuild Qwen's prompt from them (the
`construct_prompt` logic of `evaluation/utils.py`, written here independently of the task hooks)
and compare it with what lm-eval renders from our YAML files.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time

import pytest

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402

from spark_math.data import BENCHMARKS, load_rows  # noqa: E402
from spark_math.grading import grade  # noqa: E402
from spark_math.harness_tasks import TASKS_DIR  # noqa: E402
from spark_math.harness_tasks.qwen25_math_cot import prompts  # noqa: E402
from spark_math.models.oracle import OracleLM  # noqa: E402

COMMIT = "a45202bd16f1ec06f433442dc1152d0074773465"

# evaluation/utils.py, PROMPT_TEMPLATES["qwen25-math-cot"] (input template, output, splitter),
# with `{{}}` already read by str.format as `{}`.
QWEN25_MATH_COT = (
    "<|im_start|>system\nPlease reason step by step, and put your final answer within "
    "\\boxed{{}}.<|im_end|>\n<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n",
    "{output}",
    "\n\n",
)
# evaluation/utils.py, load_prompt: the example set each data set borrows.
EXAMPLE_SET = {"sat_math": "mmlu_stem", "aime24": "math", "amc23": "math"} | dict.fromkeys(
    ("gaokao2024_I", "gaokao2024_II", "gaokao_math_qa", "gaokao2024_mix", "cn_middle_school"),
    "gaokao",
)
# evaluation/utils.py, construct_prompt: the sets `--adapt_few_shot` gives 5 shots.
ADAPT_FEW_SHOT = (
    "gaokao2024_I",
    "gaokao2024_II",
    "gaokao_math_qa",
    "gaokao2024_mix",
    "cn_middle_school",
)
# evaluation/examples.py (blob 6ed25659346f0eb319a812ab01dd4757b984395b): sha256 of
# json.dumps([list(pair) for pair in get_examples()[name][:5]], ensure_ascii=False), computed
# from upstream's file, and the start of the first question.
EXAMPLES_SHA256 = {
    "aqua": (
        "b069abf0ec271a48fafaeee8c672cf34e383f5394d421ceebc4307e172b60440",
        "John found that the average of 15 numbers is 40.",
    ),
    "mmlu_stem": (
        "272b3466f8f79df8b651f8a6344e43afc92d1ade80bccb5db03021d9f949930d",
        "Simplify and write the result with a rational denominator:",
    ),
    "gaokao": (
        "2c0d8e437d756c6fd423d3ffa86d07b13ae8eb1e24309fe2b8cbf91de134bca1",
        "已知 $\\alpha, \\beta, \\gamma$ 是互不相同的锐角",
    ),
}
# evaluation/sh/eval.sh: the data sets of each call of math_eval.py and its flags. Every call
# passes --seed 0 --temperature 0 --n_sampling 1 --top_p 1 and no --max_tokens_per_call.
EVAL_SH = {
    "English open datasets": (
        "gsm8k,math,svamp,asdiv,mawps,carp_en,tabmwp,minerva_math,gaokao2023en,olympiadbench,"
        "college_math",
        "--seed 0 --temperature 0 --n_sampling 1 --top_p 1",
    ),
    "English multiple-choice datasets": (
        "aqua,sat_math,mmlu_stem",
        "--seed 0 --temperature 0 --n_sampling 1 --top_p 1 --num_shots 5",
    ),
    "Chinese gaokao collections": (
        "gaokao2024_I,gaokao2024_II,gaokao2024_mix,gaokao_math_cloze,gaokao_math_qa",
        "--seed 0 --temperature 0 --n_sampling 1 --top_p 1 --adapt_few_shot",
    ),
    "Chinese other datasets": (
        "cmath,cn_middle_school",
        "--seed 0 --temperature 0 --n_sampling 1 --top_p 1 --adapt_few_shot",
    ),
    "English competition datasets": (
        "aime24,amc23",
        "--seed 0 --temperature 0 --n_sampling 1 --top_p 1",
    ),
}
# evaluation/math_eval.py: parse_args defaults, and the stop words of a qwen25-math-cot run
# (the prompt type adds none; stop_token_ids 151645/151643 are <|im_end|> and <|endoftext|>).
MATH_EVAL_DEFAULTS = {"max_tokens_per_call": 2048, "num_shots": 0}
STOP_WORDS = ["</s>", "<|im_end|>", "<|endoftext|>"]

# Qwen2.5-Math-Instruct's chat template (tokenizer_config.json of Qwen/Qwen2.5-Math-*-Instruct)
# less its `tools` branch, which lm-eval never takes.
QWEN25_MATH_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "{%- else %}\n"
    "    {{- '<|im_start|>system\\nPlease reason step by step, and put your final answer within"
    " \\\\boxed{}.<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or '
    '(message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>'"
    " + '\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)

DATA_SETS = {name: group for group, (names, _) in EVAL_SH.items() for name in names.split(",")}
OURS = [name for name in DATA_SETS if name != "tabmwp"]  # tabmwp is not in ../shared/datasets
TASKS = [f"spark_qwen_{name}" for name in OURS]
GROUPS = {
    "spark_qwen25_math_en": [
        "gsm8k",
        "math",
        "minerva_math",
        "gaokao2023en",
        "olympiadbench",
        "college_math",
        "mmlu_stem",
    ],
    "spark_qwen25_math_zh": ["gaokao2024_mix", "cmath", "cn_middle_school"],
    "spark_qwen25_math_competition": ["aime24", "amc23"],
}


def flags(name: str) -> dict[str, str | bool]:
    """The math_eval.py arguments eval.sh passes for `name`."""
    out: dict[str, str | bool] = {}
    for flag in re.finditer(r"--(\w+)(?: (?!--)(\S+))?", EVAL_SH[DATA_SETS[name]][1]):
        out[flag.group(1)] = flag.group(2) if flag.group(2) is not None else True
    return out


def qwen_prompt(problem: str, gold: str, name: str, examples: dict[str, list]) -> str:
    """Qwen's `construct_prompt` for prompt type qwen25-math-cot, from the constants above."""
    question = problem.strip()  # evaluation/parser.py, parse_question: `return question.strip()`
    args = flags(name)
    adapt = args.get("adapt_few_shot", False)
    shots = 5 if adapt and name in ADAPT_FEW_SHOT else int(args.get("num_shots", 0))
    demos = examples.get(EXAMPLE_SET.get(name, name), [])[:shots] if shots else []
    template, _, splitter = QWEN25_MATH_COT
    demo_prompt = splitter.join(q + "\n" + a for q, a in demos)
    if not demo_prompt or (adapt and gold not in ["A", "B", "C", "D", "E"]):
        full = template.format(input=question)
    else:
        full = template.format(input=demo_prompt + splitter + question)
    return full.strip(" ")


@pytest.fixture(scope="module")
def examples() -> dict[str, list]:
    """Qwen's worked examples as the preset stores them, checked against upstream's text."""
    data = json.loads(prompts.EXAMPLES_FILE.read_text(encoding="utf-8"))
    assert COMMIT in data["source"]
    return data["examples"]


def test_stored_examples_are_qwens(examples):
    assert {name: len(pairs) for name, pairs in examples.items()} == {
        "aqua": 4,  # examples.py has 4; load_prompt's [:5] keeps them all
        "mmlu_stem": 5,
        "gaokao": 5,
    }
    for name, (digest, start) in EXAMPLES_SHA256.items():
        assert examples[name][0][0].startswith(start), name
        text = json.dumps(examples[name], ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == digest, name


@pytest.fixture(scope="module")
def task_manager() -> TaskManager:
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def load_task(task_manager: TaskManager, name: str):
    return task_manager.load([name])["tasks"][name]


@pytest.fixture(scope="module")
def qwen_tokenizer(tiny_model_dir):
    """A tokenizer whose chat template is Qwen2.5-Math-Instruct's."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = QWEN25_MATH_CHAT_TEMPLATE
    return tokenizer


def render(task, doc: dict, tokenizer) -> str:
    """The prompt lm-eval builds for `doc` with --apply_chat_template (as HFLM renders it)."""

    def chat_template(history, add_generation_prompt=True):
        return tokenizer.apply_chat_template(
            history, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    return task.fewshot_context(
        doc, num_fewshot=0, apply_chat_template=True, chat_template=chat_template
    )


def sample_docs(task) -> list[dict]:
    """Some documents of each kind: the first ones, one with a letter gold and one with a value
    gold (the adaptive sets prompt them differently), one whose problem has surrounding space."""
    docs = list(task.test_docs())
    picked = docs[:3]
    letter = next((d for d in docs if d["answer"] in "ABCDE" and len(d["answer"]) == 1), None)
    value = next((d for d in docs if not re.fullmatch(r"[A-E]+", d["answer"])), None)
    spaced = next((d for d in docs if d["problem"] != d["problem"].strip()), None)
    return picked + [d for d in (letter, value, spaced) if d is not None]


@pytest.mark.needs_data
@pytest.mark.parametrize("name", OURS)
def test_lm_eval_prompt_equals_qwens(task_manager, qwen_tokenizer, examples, name):
    task = load_task(task_manager, f"spark_qwen_{name}")
    for doc in sample_docs(task):
        expected = qwen_prompt(doc["problem"], doc["answer"], name, examples)
        assert render(task, doc, qwen_tokenizer) == expected, (name, doc["id"])


@pytest.mark.needs_mirror  # gaokao2024_I: not on the hub
def test_adaptive_few_shot_follows_the_gold(task_manager, qwen_tokenizer):
    task = load_task(task_manager, "spark_qwen_gaokao2024_I")
    by_type = {}
    for doc in task.test_docs():
        by_type.setdefault(doc["type"], render(task, doc, qwen_tokenizer))
    assert "答案是 C" in by_type["single"]  # 5 gaokao examples before a single-choice problem
    assert "答案是" not in by_type["multi"] and "答案是" not in by_type["blank"]
    assert by_type["blank"].startswith("<|im_start|>system\nPlease reason step by step")


@pytest.mark.needs_data
def test_hf_run_sends_qwens_prompt(
    tiny_model_dir, qwen_tokenizer, task_manager, tmp_path, examples
):
    """End to end: lm-eval's hf backend with --apply_chat_template sends Qwen's string."""
    pytest.importorskip("torch")
    model_dir = tmp_path / "tiny-qwen25-math"
    shutil.copytree(tiny_model_dir, model_dir)
    qwen_tokenizer.save_pretrained(model_dir)
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model_dir},dtype=float32",
        device="cpu",
        tasks=["spark_qwen_gsm8k", "spark_qwen_aqua"],
        task_manager=task_manager,
        limit=1,
        apply_chat_template=True,
        gen_kwargs={"max_gen_toks": 2},
        log_samples=True,
        bootstrap_iters=0,
    )
    for task in ("spark_qwen_gsm8k", "spark_qwen_aqua"):
        sample = out["samples"][task][0]
        prompt = sample["arguments"][0][0]  # (context, generation kwargs)
        name = task.removeprefix("spark_qwen_")
        expected = qwen_prompt(sample["doc"]["problem"], sample["doc"]["answer"], name, examples)
        assert prompt == expected


@pytest.mark.needs_data
def test_without_chat_template_the_instruction_is_glued_to_the_problem(task_manager):
    """Documented behaviour without --apply_chat_template: no separator (not the protocol)."""
    task = load_task(task_manager, "spark_qwen_svamp")
    doc = {"id": "0", "problem": "What is 1 + 1?", "answer": "2"}
    assert task.fewshot_context(doc, num_fewshot=0) == (f"{prompts.INSTRUCTION}What is 1 + 1?")


@pytest.mark.needs_data
@pytest.mark.parametrize("name", OURS)
def test_decoding_equals_eval_sh(task_manager, name):
    """Each task's generation settings are those eval.sh gives math_eval.py for its set."""
    config = load_task(task_manager, f"spark_qwen_{name}").config
    args = flags(name)
    gen = config.generation_kwargs
    assert float(args["temperature"]) == gen["temperature"] == 0.0
    assert gen["do_sample"] is False
    assert float(args["top_p"]) == gen["top_p"] == 1.0
    assert int(args["n_sampling"]) == config.repeats == 1
    assert "max_tokens_per_call" not in args
    assert gen["max_gen_toks"] == MATH_EVAL_DEFAULTS["max_tokens_per_call"]
    assert gen["until"] == STOP_WORDS
    assert config.num_fewshot == 0  # Qwen's examples sit inside the user turn
    assert config.description == prompts.INSTRUCTION
    assert config.dataset_kwargs["spark_benchmark"] == name


def test_every_preset_file_cites_its_source():
    folder = TASKS_DIR / "qwen25_math_cot"
    for path in [*sorted(folder.glob("spark_*.yaml")), folder / "_qwen25_math_cot_template_yaml"]:
        text = path.read_text(encoding="utf-8")
        assert "qwen25-math-cot" in text and COMMIT in text, path.name


@pytest.mark.needs_data
def test_groups_mirror_qwens_tables(task_manager):
    for group, members in GROUPS.items():
        loaded = task_manager.load([group])
        assert loaded["group_map"][group] == [f"spark_qwen_{m}" for m in members], group
    assert set(TASKS) <= set(task_manager.all_tasks)


@pytest.mark.needs_data
@pytest.mark.parametrize("name", [*OURS, "math", "minerva_math"])
def test_every_gold_is_graded_correct_by_its_task_profile(task_manager, name):
    """The whole data set, not a sample: a response boxing the gold scores 1 under the profile
    its task grades with (what spark-oracle answers)."""
    task = f"spark_qwen_{name}"
    rows = load_rows(name)
    assert len(rows) == BENCHMARKS[name].splits["test"].rows
    profile = _task_profile(task_manager, task)
    failed = [
        r["id"]
        for r in rows
        if not grade(
            f"So the answer is $\\boxed{{{r['answer']}}}$.", r["answer"], task=profile
        ).correct
    ]
    assert failed == []


def _task_profile(task_manager, task: str) -> str:
    config = load_task(task_manager, task).config
    return config.filter_list[0]["filter"][0]["filter_fn"].__name__.removeprefix("grade_")


@pytest.mark.needs_data
def test_oracle_scores_one_on_every_new_task_and_group(task_manager):
    grouped = {f"spark_qwen_{m}" for members in GROUPS.values() for m in members}
    ungrouped = [t for t in TASKS if t not in grouped]
    tasks = [*GROUPS, *ungrouped, "spark_hendrycks_math", "spark_minerva_math"]
    out = lm_eval.simple_evaluate(
        model=OracleLM(mode="gold"),
        tasks=tasks,
        task_manager=task_manager,
        limit=25,
        log_samples=False,
        bootstrap_iters=0,
    )
    for task in [*TASKS, "spark_hendrycks_math", "spark_minerva_math"]:
        assert out["results"][task]["exact_match,grader"] == 1.0, task
    for group in GROUPS:
        assert out["groups"][group]["pass@1,grader"] == 1.0, group
    garbage = lm_eval.simple_evaluate(
        model=OracleLM(mode="garbage"),
        tasks=TASKS,
        task_manager=task_manager,
        limit=3,
        log_samples=False,
        bootstrap_iters=0,
    )
    for task in TASKS:
        assert garbage["results"][task]["exact_match,grader"] == 0.0, task


def test_option_letter_answers_are_read_in_linear_time():
    """`choice`/`gaokao` read a response as a set of letters; a long run of letters that is not
    one (`A A A ... x`) must not backtrack exponentially."""
    for response in ("A " * 40 + "x", "A, " * 40 + "x", "(A)" * 40 + "x", "A" * 5000):
        start = time.monotonic()
        verdict = grade(f"The answer is $\\boxed{{{response}}}$.", "ACD", task="gaokao")
        assert not verdict.correct
        assert time.monotonic() - start < 2.0
