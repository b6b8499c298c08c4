"""The README's lm-eval section promises only what runs: every command in it is executed offline
(GPU models swapped for `spark-oracle`, hub data for ../shared/datasets), and every task it names
exists."""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")
from lm_eval.tasks import TaskManager  # noqa: E402
from lm_eval.utils import simple_parse_args_string  # noqa: E402

from spark_math.harness_tasks import TASKS_DIR  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Evaluating with lm-eval") : README.index("## Model backends")]
LOCAL_MODELS = README[README.index("### Local models") : README.index("## Re-scoring")]
NEEDS_HUB = ("spark-math data pull",)  # run by users with internet; here the hub is unreachable
GPU_BACKENDS = {"vllm"}
# `spark_`-names in the README that are not lm-eval tasks: metadata keys.
NOT_TASKS = {"spark_max_prompt_chars", "spark_run_name", "spark_data_dir"}


def commands(text: str) -> list[str]:
    """The shell commands of the ```bash blocks: continuations joined, comments dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def offline(command: str, data_dir: str, out: Path) -> list[str] | None:
    """The command as run here: GPU backends become `spark-oracle` on 2 documents, `/data/spark`
    the local data, output under `out`. None for a command that needs the hub."""
    if command.startswith(NEEDS_HUB):
        return None
    command = command.replace("/data/spark", data_dir)
    env_prefix = re.match(r"^((?:[A-Z_]+=\S+\s+)*)", command).group(1)
    argv = shlex.split(command[len(env_prefix) :])
    if "|" in argv:
        argv = argv[: argv.index("|")]
    if argv[0] != "lm_eval" or argv[1:2] == ["ls"]:
        return argv
    if "--model" in argv and argv[argv.index("--model") + 1] in GPU_BACKENDS:
        i = argv.index("--model")
        argv[i + 1] = "spark-oracle"
        if "--model_args" in argv:
            j = argv.index("--model_args")
            del argv[j : j + 2]
    if "--limit" not in argv:
        argv += ["--limit", "2"]
    if "--output_path" in argv:
        argv[argv.index("--output_path") + 1] = str(out)
    return argv


SECTION_COMMANDS = commands(SECTION)


def test_the_section_shows_commands_and_presets():
    assert any("spark_sparkle" in c for c in SECTION_COMMANDS)
    assert any("'spark_*'" in c for c in SECTION_COMMANDS)
    assert sum(c.startswith(NEEDS_HUB) for c in SECTION_COMMANDS) == 1


@pytest.mark.needs_data
@pytest.mark.parametrize("command", SECTION_COMMANDS)
def test_documented_lm_eval_command_runs(command, tmp_path, tiny_model_dir):
    data_dir = str(Path(os.environ["SPARK_MATH_DATA_DIR"]).resolve())  # the commands run elsewhere
    argv = offline(command.replace("/tmp/tiny", str(tiny_model_dir)), data_dir, tmp_path / "out")
    if argv is None:
        pytest.skip(f"needs the Hugging Face hub: {command}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["SPARK_MATH_DATA_DIR"] = data_dir
    if argv[0] == "spark-math" and argv[1] == "make-tiny-model":
        argv[2] = str(tmp_path / "tiny")
    exe = {
        "lm_eval": [sys.executable, "-m", "lm_eval"],
        "spark-math": [str(Path(sys.executable).with_name("spark-math"))],
    }
    proc = subprocess.run(
        exe[argv[0]] + argv[1:], capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path
    )
    assert proc.returncode == 0, f"{argv}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    if argv[:2] == ["lm_eval", "ls"]:
        assert "spark_sparkle" in proc.stdout and "spark_qwen_math" in proc.stdout


def _named_tasks(text: str) -> set[str]:
    """Task names in backticks, `{a,b}` alternatives expanded; placeholders (`<bench>`) skipped."""
    names = set()
    for token in re.findall(r"`(spark_[A-Za-z0-9_{},*]+)`", text):
        parts = [token]
        while any("{" in p for p in parts):
            expanded = []
            for p in parts:
                m = re.search(r"\{([^}]*)\}", p)
                if not m:
                    expanded.append(p)
                    continue
                expanded += [p[: m.start()] + alt + p[m.end() :] for alt in m.group(1).split(",")]
            parts = expanded
        names |= {n for p in parts for n in p.split(",") if "*" not in n and not n.endswith("_")}
    return names


def test_every_task_the_readme_names_exists():
    from spark_math.training.quickstart import TASKS_DIR as QUICKSTART_TASKS  # its own tasks

    manager = TaskManager(
        include_path=[str(TASKS_DIR), str(QUICKSTART_TASKS)], include_defaults=False
    )
    known = set(manager.all_tasks)
    named = _named_tasks(README)
    assert len(named) > 25
    missing = sorted(
        n for n in named - NOT_TASKS if n not in known and not n.startswith("spark_math")
    )
    assert not missing, missing


def _vllm_parameters() -> set[str]:
    """VLLM.__init__'s parameters, read from lm-eval's source (vLLM is not installed here)."""
    import lm_eval.models

    source = Path(lm_eval.models.__file__).with_name("vllm_causallms.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "VLLM":
            init = next(
                n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"
            )
            return {a.arg for a in init.args.args + init.args.kwonlyargs}
    raise AssertionError("no VLLM class in lm-eval")


def test_multi_gpu_model_args_parse_into_vllm_parameters():
    """The tensor- and data-parallel commands (run where a GPU is lent) use model_args that
    lm-eval parses to numbers and that its VLLM backend takes by name."""
    known = _vllm_parameters()
    gpu = [c for c in commands(LOCAL_MODELS) + SECTION_COMMANDS if "--model vllm" in c]
    parallel = [c for c in gpu if "parallel_size" in c]
    assert parallel
    for command in gpu:
        argv = shlex.split(command)
        args = simple_parse_args_string(argv[argv.index("--model_args") + 1])
        for name in ("tensor_parallel_size", "data_parallel_size", "max_model_len", "max_gen_toks"):
            if name in args:
                assert isinstance(args[name], int) and name in known, (name, command)
