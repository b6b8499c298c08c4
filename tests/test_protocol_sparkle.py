"""The SPARKLE preset (`spark_sparkle_*`) against SPARKLE's own protocol.

Upstream: github.com/sparkle-reasoning/sparkle at commit
c3581c9d5cd47559439b04d1a6aa3efd8a41dfeb (Dec 2025):
- `eval/lm-evaluation-harness/lm_eval/tasks/sparkle/utils.py`: `doc_to_text`, `doc_to_text_plan`,
  `doc_to_text_knowledge` (prompts), `extract_solution` (answer extraction);
- `eval/lm-evaluation-harness/lm_eval/tasks/sparkle/{aime2024,amc2023,gsm8k_spk,math500,
  olympiad_bench}.yaml`: `generation_kwargs`;
- `scripts/eval/eval_all_vllm.sh`: `--model_args ...,max_gen_toks=31768,max_model_len=32768,...
  --apply_chat_template`.

The fork's construction is rebuilt below from constants transcribed from those files (the prompt
as the fork writes it: one template string, `.format`ted). When a clone of the fork is at hand
(`SPARKLE_GIT_DIR`, a git directory), the constants themselves are checked against it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402

from spark_math.grading import extract_answer, grade  # noqa: E402
from spark_math.harness_tasks import TASKS_DIR  # noqa: E402
from spark_math.harness_tasks.sparkle import prompts  # noqa: E402
from spark_math.models.oracle import OracleLM  # noqa: E402

SPARKLE_COMMIT = "c3581c9d5cd47559439b04d1a6aa3efd8a41dfeb"
SPARKLE_DIR = TASKS_DIR / "sparkle"

# utils.py, `instruction` in doc_to_text / doc_to_text_plan / doc_to_text_knowledge (identical in
# the three), written as the fork's triple-quoted string evaluates.
FORK_INSTRUCTION = r"""A conversation between User and Assistant. The user asks a math question, and the Assistant solves it step by step. The Assistant first thinks about the complete reasoning process in the mind enclosed within <think> </think> tags. Then the Assistant provides a clear, concise answer to the user within <answer> </answer> tags, with the final result enclosed in \boxed{} notation.

For example:
<think>
reasoning process here
</think>
<answer>
The answer is \boxed{...}.
</answer>"""  # noqa: E501
# utils.py, the f-strings that build `prompt` (the plan comes from the fork's `planning` field).
FORK_TEMPLATES = {
    "plain": "{instruction}\n\nUser: {question} Assistant:",
    "plan": (
        "{instruction}\n\nUser: {question}\nConsider the following planning skeleton to guide your "
        "reasoning. You may adapt or extend this outline as needed based on your analysis of the "
        "problem:\n{planning}\nAssistant:"
    ),
    "knowledge": (
        "{instruction}\n\nUser: {question}\nThe following is a reference knowledge base for "
        "concepts you might not be familiar with. If you already understand these concepts, you "
        "don't need to rely on this information. Otherwise, you can refer to this as needed:\n"
        "{knowledge}\nAssistant:"
    ),
}
FORK_FUNCTIONS = {
    "plain": "doc_to_text",
    "plan": "doc_to_text_plan",
    "knowledge": "doc_to_text_knowledge",
}
# The five task YAMLs: generation_kwargs (no max_gen_toks, no repeats, no stop strings) ...
FORK_GENERATION_KWARGS = {"until": [], "do_sample": True, "temperature": 0.6, "top_p": 1.0}
FORK_TASKS = {
    "aime24": "aime2024",
    "amc23": "amc2023",
    "math500": "math500",
    "gsm8k": "gsm8k_spk",
    "olympiadbench": "olympiad_bench",
}
# ... and eval_all_vllm.sh's model_args: the budget every request gets (the YAMLs set none).
FORK_MAX_GEN_TOKS = 31768
FORK_MAX_MODEL_LEN = 32768
# Avg@8: the paper's tables report the mean over 8 samples per problem.
SPARKLE_K = 8
PROBE_BENCHES = ("gsm8k", "math500", "aime24")


def fork_prompt(doc: dict, kind: str = "plain") -> str:
    """The fork's prompt for one of our documents (our `plan` is the fork's `planning`)."""
    return FORK_TEMPLATES[kind].format(
        instruction=FORK_INSTRUCTION,
        question=doc["problem"],
        planning=doc.get("plan"),
        knowledge=doc.get("knowledge"),
    )


def fork_chat_prompt(tokenizer, doc: dict, kind: str = "plain") -> str:
    """The fork's lm-eval 0.4.8 with --apply_chat_template and no few-shot: the prompt is the one
    user turn (`append_target_question`), rendered with a generation prompt."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": fork_prompt(doc, kind)}],
        tokenize=False,
        add_generation_prompt=True,
    )


@pytest.fixture(scope="module")
def task_manager() -> TaskManager:
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def _yaml(name: str) -> dict:
    return yaml.load((SPARKLE_DIR / f"{name}.yaml").read_text(encoding="utf-8"), Loader=_Loader)


class _Loader(yaml.SafeLoader):
    """Reads task YAML with `!function` tags as plain strings."""


_Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


# --- prompts ----------------------------------------------------------------------------------


SAMPLE_DOCS = [
    {
        "problem": "Find $x$ if $2x + 3 = 11$.",
        "plan": "1. Subtract 3.\n2. Divide by 2.",
        "knowledge": "Linear equations: do the same to both sides.",
    },
    {
        "problem": "  A {brace} and a backslash \\frac12,\nover two lines.  ",
        "plan": "Step {1}: $\\sqrt{x}$",
        "knowledge": "",
    },
]


@pytest.mark.parametrize("kind", ["plain", "plan", "knowledge"])
@pytest.mark.parametrize("doc", SAMPLE_DOCS)
def test_prompt_functions_equal_the_fork(doc, kind):
    ours = {"plain": prompts.r1_zero, "plan": prompts.plan, "knowledge": prompts.knowledge}[kind]
    assert ours(doc) == fork_prompt(doc, kind)


def _fork_utils_source() -> str | None:
    git_dir = os.environ.get("SPARKLE_GIT_DIR", "/work/.mirror/sparkle-reasoning+sparkle/repo")
    if not Path(git_dir).is_dir():
        return None
    path = "eval/lm-evaluation-harness/lm_eval/tasks/sparkle/utils.py"
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{SPARKLE_COMMIT}:{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout if proc.returncode == 0 else None


def test_transcribed_constants_equal_the_fork_source():
    """Runs the fork's own doc_to_text functions (only those, lifted out of utils.py, which
    imports sympy and pylatexenc at the top) and compares with the transcription above."""
    source = _fork_utils_source()
    if source is None:
        pytest.skip("no SPARKLE clone (set SPARKLE_GIT_DIR to its git directory)")
    with warnings.catch_warnings():  # its regexes have invalid escapes
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = ast.parse(source)
    wanted = set(FORK_FUNCTIONS.values())
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    assert {f.name for f in funcs} == wanted
    namespace: dict = {}
    exec(compile(ast.Module(body=funcs, type_ignores=[]), "sparkle_utils", "exec"), namespace)
    for doc in SAMPLE_DOCS:
        fork_doc = {
            "problem": doc["problem"],
            "planning": doc["plan"],
            "knowledge": doc["knowledge"],
        }
        for kind, name in FORK_FUNCTIONS.items():
            assert namespace[name](fork_doc) == fork_prompt(doc, kind), name


@pytest.mark.needs_data
@pytest.mark.parametrize(
    ("task", "kind"),
    [
        *((f"spark_sparkle_{b}", "plain") for b in FORK_TASKS),
        *((f"spark_sparkle_{b}_{p}", p) for b in PROBE_BENCHES for p in ("plan", "knowledge")),
    ],
)
def test_lm_eval_renders_the_fork_prompt(task_manager, tiny_model_dir, task, kind):
    """What lm-eval sends (fewshot_context, with and without the chat template) equals the fork's
    construction on the same documents."""
    from lm_eval.models.huggingface import HFLM

    lm = _tiny_lm(tiny_model_dir)
    obj = task_manager.load([task])["tasks"][task]
    docs = list(obj.test_docs())
    for index in sorted({0, 1, len(docs) // 2, len(docs) - 1}):
        doc = docs[index]
        plain = obj.fewshot_context(doc, obj.config.num_fewshot)
        assert plain == fork_prompt(doc, kind)
        chat = obj.fewshot_context(
            doc,
            obj.config.num_fewshot,
            apply_chat_template=True,
            chat_template=lm.apply_chat_template,
        )
        assert chat == fork_chat_prompt(lm.tokenizer, doc, kind)
        assert chat.count("User: ") == 1 and isinstance(lm, HFLM)


_LM_CACHE: dict = {}


def _tiny_lm(path):
    if path not in _LM_CACHE:
        from lm_eval.models.huggingface import HFLM

        _LM_CACHE[path] = HFLM(pretrained=str(path), device="cpu", dtype="float32")
    return _LM_CACHE[path]


@pytest.mark.needs_data
def test_logged_prompt_of_a_real_run_is_the_fork_chat_prompt(task_manager, tiny_model_dir):
    """End to end: lm-eval with the hf backend and --apply_chat_template sends the fork's prompt
    in the user turn, 8 samples per problem."""
    out = lm_eval.simple_evaluate(
        model=_tiny_lm(tiny_model_dir),
        tasks=["spark_sparkle_amc23"],
        task_manager=task_manager,
        limit=1,
        apply_chat_template=True,
        gen_kwargs="max_gen_toks=2",
        log_samples=True,
        bootstrap_iters=0,
    )
    sample = out["samples"]["spark_sparkle_amc23"][0]
    assert len(sample["resps"][0]) == SPARKLE_K
    assert sample["arguments"][0][0] == fork_chat_prompt(
        _tiny_lm(tiny_model_dir).tokenizer, sample["doc"]
    )
    kwargs = sample["arguments"][0][1]
    assert (kwargs["temperature"], kwargs["top_p"], kwargs["do_sample"]) == (0.6, 1.0, True)


# --- decoding, budget, k ----------------------------------------------------------------------


@pytest.mark.parametrize("bench", FORK_TASKS)
def test_yaml_decoding_equals_the_fork(bench):
    config = _yaml(f"spark_sparkle_{bench}")
    expected = {**FORK_GENERATION_KWARGS, "max_gen_toks": FORK_MAX_GEN_TOKS}
    assert config["generation_kwargs"] == expected
    assert config["repeats"] == SPARKLE_K
    assert config["doc_to_text"] == "spark_math.harness_tasks.sparkle.prompts.r1_zero"
    assert config["include"] == "../_sampled_template_yaml"
    assert config["dataset_kwargs"] == {"spark_benchmark": bench}
    assert (
        f"tasks/sparkle/{FORK_TASKS[bench]}.yaml"
        in (SPARKLE_DIR / f"spark_sparkle_{bench}.yaml").read_text()
    )


def test_budget_fits_the_fork_context():
    """eval_all_vllm.sh leaves max_model_len - max_gen_toks = 1000 tokens for the prompt; the R1
    instruction alone takes about 100 of them."""
    assert FORK_MAX_MODEL_LEN - FORK_MAX_GEN_TOKS == 1000


def test_fork_yaml_and_script_settings_from_the_source():
    """The transcribed decoding settings against the fork's files, when a clone is at hand."""
    git_dir = os.environ.get("SPARKLE_GIT_DIR", "/work/.mirror/sparkle-reasoning+sparkle/repo")
    if _fork_utils_source() is None:
        pytest.skip("no SPARKLE clone (set SPARKLE_GIT_DIR to its git directory)")

    def show(path: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", f"{SPARKLE_COMMIT}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    for fork_name in FORK_TASKS.values():
        text = show(f"eval/lm-evaluation-harness/lm_eval/tasks/sparkle/{fork_name}.yaml")
        config = yaml.load(text, Loader=_Loader)
        assert config["generation_kwargs"] == FORK_GENERATION_KWARGS, fork_name
        assert config["doc_to_text"] == "utils.doc_to_text"
        assert "repeats" not in config and config["output_type"] == "generate_until"
    script = show("scripts/eval/eval_all_vllm.sh")
    model_args = re.search(r"--model_args (\S+)", script).group(1)
    assert f"max_gen_toks={FORK_MAX_GEN_TOKS}" in model_args.split(",")
    assert f"max_model_len={FORK_MAX_MODEL_LEN}" in model_args.split(",")
    assert "--apply_chat_template" in script


def test_probe_tasks_only_swap_data_and_prompt():
    for bench in PROBE_BENCHES:
        for probe in ("plan", "knowledge"):
            config = _yaml(f"spark_sparkle_{bench}_{probe}")
            assert config["include"] == f"spark_sparkle_{bench}.yaml"
            assert config["custom_dataset"] == "spark_math.harness_tasks.probe_hooks.load_probe"
            assert config["dataset_kwargs"] == {"spark_benchmark": bench, "spark_probe": probe}
            assert config["doc_to_text"] == f"spark_math.harness_tasks.sparkle.prompts.{probe}"
            assert set(config) == {
                "include",
                "task",
                "tag",
                "custom_dataset",
                "dataset_kwargs",
                "doc_to_text",
            }


def test_groups_list_every_task():
    assert _yaml("spark_sparkle")["task"] == [f"spark_sparkle_{b}" for b in FORK_TASKS]
    assert _yaml("spark_sparkle_probes")["task"] == [
        f"spark_sparkle_{b}_{p}" for b in PROBE_BENCHES for p in ("plan", "knowledge")
    ]


# --- answer extraction on R1-format responses --------------------------------------------------

# (response, what the fork's extract_solution takes). Its order: the last brace-matched \boxed{}
# anywhere; else the last <answer>...</answer> (narrowed by an "answer is"/"Answer:" pattern
# inside); else the first "Final answer:"/"Answer:"/"The answer is" line.
R1_AGREE = [
    ("<think>\n2x = 8, so x = 4.\n</think>\n<answer>\nThe answer is \\boxed{4}.\n</answer>", "4"),
    (
        "<think>\nFirst guess \\boxed{3}; no, recheck.\n</think>\n<answer>\n"
        "The answer is \\boxed{\\frac{1}{2}}.\n</answer>",
        "\\frac{1}{2}",
    ),
    ("<think>\nsum is 12\n</think>\n<answer>12</answer>", "12"),
    ("<think>\nsum is 12\n</think>\n<answer>\nAnswer: 12\n</answer>", "12"),
    ("<think>\nsum is 12\n</think>\n<answer>\n\\boxed{(1, 2)}\n</answer>", "(1, 2)"),
    (" Let me compute. 5 + 7 = 12.\nThe answer is \\boxed{12}.", "12"),
    ("<think>\n5 + 7 = 12\n</think>\nThe answer is: 12", "12"),
    ("<think>\nx = 3\n</think>\n<answer>\nThe answer is \\boxed{x^{2}+1}.\n</answer>", "x^{2}+1"),
]
# "The answer is X" inside a one-line <answer>...</answer>: the closing tag is not part of X
# (it once was: "12</answer>", which failed for pairs and expressions).
R1_ONE_LINE_TAGS = [
    ("<think>\nsum is 12\n</think>\n<answer>The answer is 12.</answer>", "12"),
    ("<think>\nx = 1, y = 2\n</think>\n<answer>The answer is (1, 2)</answer>", "(1, 2)"),
    ("<think>\nexpand\n</think>\n<answer>The answer is x^2+1</answer>", "x^2+1"),
]
# Where our grader differs on purpose: it reads only what follows the last </think> and gives no
# answer for a response cut off inside <think>; the fork takes a box from the thinking.
# And with no box and no tag, the fork takes the first "Answer:" line, ours the last.
R1_DIFFER = [
    # (response, the fork's answer, ours)
    ("<think>\nSo far \\boxed{7} but let me check the", "7", None),
    ("<think>\nMaybe \\boxed{7}.\n</think>\n<answer>\n9\n</answer>", "7", "9"),
    (
        "<think>\nfirst try\n</think>\nAnswer: 3\nSecond method:\nAnswer: 5",
        "3",
        "5",
    ),
]


@pytest.mark.parametrize(("response", "sparkle"), R1_AGREE)
@pytest.mark.parametrize("task", ["math", "aime", "gsm8k"])
def test_extraction_agrees_with_sparkle_on_r1_responses(response, sparkle, task):
    assert extract_answer(response, task) == sparkle
    assert grade(response, sparkle, task=task).correct


@pytest.mark.parametrize(("response", "sparkle"), R1_ONE_LINE_TAGS)
def test_one_line_answer_tags_lose_their_closing_tag(response, sparkle):
    assert extract_answer(response, "math") == sparkle
    assert grade(response, sparkle, task="math").correct


@pytest.mark.parametrize(("response", "sparkle", "ours"), R1_DIFFER)
def test_extraction_differs_from_sparkle_only_where_documented(response, sparkle, ours):
    assert extract_answer(response, "math") == ours != sparkle


def test_gsm8k_takes_the_last_number_where_sparkle_takes_nothing():
    """GSM8K's profile falls back to the last number of a finished response; the fork's
    extract_solution has no fallback and scores such a response wrong."""
    response = "<think>\n9 * 2 = 18\n</think>\nShe makes 18 dollars a day."
    assert extract_answer(response, "gsm8k") == "18"
    assert extract_answer(response, "math") is None


# --- end to end with the oracle ---------------------------------------------------------------


@pytest.mark.needs_data
def test_every_task_scores_one_with_gold_answers(task_manager):
    out = lm_eval.simple_evaluate(
        model=OracleLM(mode="gold"),
        tasks=["spark_sparkle", "spark_sparkle_probes"],
        task_manager=task_manager,
        limit=3,
        apply_chat_template=True,
        log_samples=False,
        bootstrap_iters=0,
    )
    tasks = [*_yaml("spark_sparkle")["task"], *_yaml("spark_sparkle_probes")["task"]]
    for task in tasks:
        metrics = out["results"][task]
        assert metrics["exact_match,grader"] == 1.0, task
        assert metrics[f"avg@{SPARKLE_K},grader"] == 1.0, task
        assert out["configs"][task]["repeats"] == SPARKLE_K
        assert out["configs"][task]["generation_kwargs"]["max_gen_toks"] == FORK_MAX_GEN_TOKS
    assert out["groups"]["spark_sparkle"][f"avg@{SPARKLE_K},grader"] == 1.0
