"""Every shell command that README.md and docs/**/*.md show runs here, offline, or is named in
tests/documented_commands.yaml with the reason it cannot (GPU, key, internet, install, ...).

Commands come from ```bash fences, read at collection time: continuations joined, comments
dropped; `NAME=value` lines of a block are kept and run before each later command of the block.
Each document's commands run in order in one scratch copy of the checkout (so `probes report`
finds what the probes run wrote), with the venv's executables first on PATH and these stand-ins:
`/data/spark` and `../shared/` are the local data, `$F` the published generations,
`/tmp/tiny` a folder of the scratch copy; `--model vllm|hf` with any model but the tiny one is
`spark-oracle` (model_args dropped; `--model vllm` commands are listed, and lm-eval's parser and
VLLM's signature check them instead), a tiny model writes at
most 16 tokens, an evaluation takes at most 2 documents, a benchmark script a small sample
(QUICK), and `tox -e ENV` is tox.ini's command for ENV, run in this venv.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIDELITY_DIR = Path(os.environ.get("SPARK_MATH_FIDELITY_DIR") or SHARED / "fidelity")
LISTED = Path(__file__).with_name("documented_commands.yaml")
REASONS = {"gpu", "key", "internet", "install", "self", "long", "input"}
# What the runner starts: the venv's own executables (`python` is the venv's interpreter).
PROGRAMS = {"spark-math", "lm_eval", "python", "tox"}
OTHER_SHELL_FENCES = {"sh", "shell", "console", "zsh", "shell-session"}
COMMAND_WORDS = re.compile(r"^\s*(spark-math|lm_eval|lm-eval|python|pip|tox|accelerate|vllm|git)\s")
ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_]\w*)=(.*)$")
SHELL_WORD = r"(?:'[^']*'|\"[^\"]*\"|[^\s'\"])+"
VLLM_OWN = {"tensor_parallel_size", "data_parallel_size", "max_model_len", "max_gen_toks"}
MAX_GEN_TOKS = 16
LIMIT = 2
# Measurement scripts run small: flags appended (argparse keeps the last of a repeated flag).
QUICK = {
    "benchmarks/grader_bench.py": "--limit 40",
    "benchmarks/fidelity.py": "--limit 40",
    "benchmarks/gemini_throughput.py": "--concurrency 8 --rounds 5",
    "benchmarks/train_step.py": "--steps 2 --warmup 1",
}


def documents() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _name(doc: Path) -> str:
    return doc.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Command:
    """One documented command: where it is, its text and the block's assignments before it."""

    doc: str
    line: int
    text: str
    setup: tuple[str, ...]  # the block's `NAME=value` lines before it
    key: str  # the text, literal variables substituted and whitespace collapsed

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def bare(self) -> str:
        """The key without its leading `NAME=value` words."""
        words = self.key.split(" ")
        while words and ASSIGNMENT.match(words[0]):
            words.pop(0)
        return " ".join(words)

    @property
    def program(self) -> str:
        return self.bare.split(" ")[0]


def _strip_comment(line: str) -> str:
    """The line without its trailing `# comment` (a `#` inside quotes is kept)."""
    for match in re.finditer(r"(?:^|\s)#", line):
        head = line[: match.start()]
        try:
            shlex.split(head)
        except ValueError:  # the `#` is inside quotes
            continue
        return head.rstrip()
    return line.rstrip()


def _logical_lines(content: str, first_line: int) -> list[tuple[int, str]]:
    """(line number, text) of each command line: `\\` continuations joined, comments dropped."""
    lines, start, parts = [], None, []
    for number, raw in enumerate(content.splitlines(), first_line):
        if start is None:
            start = number
        if raw.rstrip().endswith("\\"):
            parts.append(raw.rstrip()[:-1].strip())
            continue
        parts.append(raw.strip())
        text = _strip_comment(" ".join(p for p in parts if p))
        if text:
            lines.append((start, text))
        start, parts = None, []
    return lines


def _is_assignment(text: str) -> re.Match[str] | None:
    """The match of a line that only sets a variable (`F=...`, `export X=...`, `IDS=$(...)`)."""
    match = ASSIGNMENT.match(text)
    if not match:
        return None
    value = match.group(2)
    if value.startswith("$(") and value.endswith(")"):
        return match
    try:
        return match if len(shlex.split(value)) <= 1 else None
    except ValueError:
        return None


def block_commands(doc: str, content: str, first_line: int) -> list[Command]:
    """The commands of one ```bash block, each with the assignments made before it."""
    commands, setup, literals = [], [], {}
    for line, text in _logical_lines(content, first_line):
        if match := _is_assignment(text):
            setup.append(text)
            name, value = match.groups()
            if "$(" not in value:
                literals[name] = shlex.split(value)[0] if value else ""
            continue
        key = text
        for name, value in literals.items():
            key = re.sub(rf"\$(?:{name}\b|\{{{name}\}})", lambda _, v=value: v, key)
        commands.append(Command(doc, line, text, tuple(setup), " ".join(key.split())))
    return commands


def _code_blocks(doc: Path) -> list[tuple[str, str, int]]:
    """(info, content, line of the first content line) of each code block of a Markdown file."""
    tokens = MarkdownIt("commonmark").parse(doc.read_text(encoding="utf-8"))
    blocks = []
    for token in tokens:
        if token.type == "fence":
            blocks.append((token.info.strip(), token.content, token.map[0] + 2))
        elif token.type == "code_block":
            blocks.append(("(indented)", token.content, token.map[0] + 1))
    return blocks


@functools.cache
def documented_commands() -> tuple[Command, ...]:
    """Every command of every ```bash block of README.md and docs/, in document order."""
    found = []
    for doc in documents():
        for info, content, line in _code_blocks(doc):
            if info == "bash":
                found += block_commands(_name(doc), content, line)
    return tuple(found)


def misfenced_blocks() -> list[str]:
    """`file:line` of shell code outside ```bash fences: ```sh/```console, or an unlabelled or
    indented block that starts with a command."""
    found = []
    for doc in documents():
        for info, content, line in _code_blocks(doc):
            shell = info in OTHER_SHELL_FENCES
            bare = info in {"", "(indented)"} and COMMAND_WORDS.match(content)
            if shell or bare:
                found.append(f"{_name(doc)}:{line}: {info or 'unlabelled'} block")
    return found


@dataclass(frozen=True)
class Entry:
    """A documented command that is not run here, and why."""

    reason: str
    command: str | None = None
    prefix: str | None = None
    note: str = ""
    covered_by: str | None = None
    line: int = 0  # in the list file

    def matches(self, command: Command) -> bool:
        if self.command is not None:
            return command.bare == " ".join(self.command.split())
        return command.bare.startswith(" ".join(self.prefix.split()))

    def __str__(self) -> str:
        return f"{LISTED.name}:{self.line}: {self.reason}: {self.command or self.prefix + '...'}"


@functools.cache
def listed() -> tuple[Entry, ...]:
    text = LISTED.read_text(encoding="utf-8")
    lines = [node.start_mark.line + 1 for node in yaml.compose(text).value]
    return tuple(
        Entry(**entry, line=line) for entry, line in zip(yaml.safe_load(text), lines, strict=True)
    )


def entry_for(command: Command) -> Entry | None:
    return next((entry for entry in listed() if entry.matches(command)), None)


def to_run(doc: str) -> list[Command]:
    """The commands of one document that run here, in order."""
    return [c for c in documented_commands() if c.doc == doc and entry_for(c) is None]


# --- the list is in sync with the documents ---------------------------------------------------


def test_the_readme_and_the_docs_show_commands():
    docs = {c.doc for c in documented_commands()}
    assert "README.md" in docs and len(docs) > 5 and len(documented_commands()) > 30, docs


def test_shell_code_is_in_bash_fences():
    assert not misfenced_blocks(), "put commands in ```bash fences:\n" + "\n".join(
        misfenced_blocks()
    )


def test_list_entries_are_well_formed():
    for entry in listed():
        assert entry.reason in REASONS, f"{entry}: reason must be one of {sorted(REASONS)}"
        assert (entry.command is None) != (entry.prefix is None), f"{entry}: command or prefix"
        if entry.reason == "long":
            assert entry.covered_by or entry.note, f"{entry}: name the test that runs its fast "
            "equivalent (covered_by), or say in a note why there is none"


def test_every_list_entry_matches_a_documented_command():
    stale = [str(e) for e in listed() if not any(e.matches(c) for c in documented_commands())]
    assert not stale, "stale entries (no such command in README.md or docs/):\n" + "\n".join(stale)


def test_every_command_is_run_or_listed():
    unknown = [
        f"{c.where}: {c.text}"
        for c in documented_commands()
        if entry_for(c) is None and c.program not in PROGRAMS
    ]
    assert not unknown, (
        f"documented commands this test cannot run; run them with {sorted(PROGRAMS)} or list "
        f"them in {LISTED.name} with a reason:\n" + "\n".join(unknown)
    )


def test_covering_tests_exist():
    for entry in listed():
        if not entry.covered_by:
            continue
        path, _, name = entry.covered_by.partition("::")
        assert (ROOT / path).is_file(), f"{entry}: no {path}"
        if name:
            assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), entry.covered_by


# --- lm-eval commands, run or not, parse as lm-eval reads them -------------------------------


def _lm_eval_argv(command: Command) -> list[str]:
    words = shlex.split(command.bare)
    return words[1 : words.index("|")] if "|" in words else words[1:]


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


def test_lm_eval_commands_parse_and_name_real_tasks_and_vllm_arguments():
    """lm-eval's own parser takes every documented `lm_eval` evaluation, its tasks exist, and
    the sizes in `--model vllm` model_args (never used here) are numbers VLLM takes by name (the
    rest go on to vLLM's engine, which is not installed here)."""
    pytest.importorskip("lm_eval")
    from lm_eval._cli import HarnessCLI
    from lm_eval.tasks import TaskManager

    from spark_math.harness_tasks import TASKS_DIR
    from spark_math.training.quickstart import TASKS_DIR as QUICKSTART_TASKS

    known = set(
        TaskManager(
            include_path=[str(TASKS_DIR), str(QUICKSTART_TASKS)], include_defaults=False
        ).all_tasks
    )
    vllm = _vllm_parameters()
    commands = [c for c in documented_commands() if c.program == "lm_eval" and "--tasks" in c.key]
    assert any("--model vllm" in c.key for c in commands)
    problems = []
    for command in commands:
        try:
            args = HarnessCLI()._parser.parse_args(["run", *_lm_eval_argv(command)])
        except SystemExit:
            problems.append(f"{command.where}: lm-eval cannot parse: {command.text}")
            continue
        tasks = {t for t in ",".join(args.tasks).split(",") if "*" not in t}
        problems += [f"{command.where}: no task {t}" for t in sorted(tasks - known)]
        if args.model == "vllm":
            for name in VLLM_OWN & set(args.model_args):
                if name not in vllm or not isinstance(args.model_args[name], int):
                    problems.append(f"{command.where}: {name} is not VLLM's number argument")
    assert not problems, "\n".join(problems)


# --- everything else runs ---------------------------------------------------------------------


def _tox_command(words: list[str]) -> str:
    """tox.ini's command for `tox -e ENV [-- ARGS]`, with ARGS in place of {posargs}."""
    env = words[words.index("-e") + 1]
    posargs = words[words.index("--") + 1 :] if "--" in words else []
    config = ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return config[f"testenv:{env}"]["commands"].strip().replace("{posargs}", shlex.join(posargs))


def _cap(match: re.Match[str], most: int) -> str:
    return f"{match.group(1)}{min(int(match.group(2)), most)}"


def offline(text: str, work: Path, data_dir: Path) -> str:
    """A documented command or assignment as it runs here (see the module docstring)."""
    text = text.replace("/data/spark", str(data_dir))
    text = text.replace("../shared/datasets", str(data_dir))
    text = text.replace("../shared/fidelity", str(FIDELITY_DIR))
    text = text.replace("../shared/", f"{SHARED}/").replace("/tmp/tiny", str(work / "tiny"))
    words = shlex.split(text) if re.match(r"^(\S+=\S+\s+)*(lm_eval|tox)\s", text) else []
    if words[:2] == ["tox", "-e"]:
        return _tox_command(words)
    if script := next((s for s in QUICK if s in text), None):
        return f"{text} {QUICK[script]}"
    if "lm_eval" not in words or "--tasks" not in words:
        return text
    model_args = re.search(rf"\s--model_args\s+({SHELL_WORD})", text)
    if re.search(r"--model\s+(vllm|hf)\b", text) and str(work / "tiny") not in text:
        text = re.sub(r"--model\s+(vllm|hf)\b", "--model spark-oracle", text)
        text = text.replace(model_args.group(0), "") if model_args else text
    text = re.sub(r"(max_gen_toks=)(\d+)", lambda m: _cap(m, MAX_GEN_TOKS), text)
    text = re.sub(r"(--limit\s+)(\d+)", lambda m: _cap(m, LIMIT), text)
    if "--limit" not in text and "--samples" not in text:
        text += f" --limit {LIMIT}"
    return text


def _checkout_copy(work: Path) -> None:
    """The checkout's files that commands read (benchmarks/, recipes/, tests/, tox.ini, ...),
    copied so that what a command writes stays here; outputs of earlier runs are left out."""
    skip = {"spark_math", "docs", "out", "runs", "results", "build", "dist"}
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in skip or entry.name.endswith(".egg-info"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, work / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(entry, work / entry.name)


def _check_output(command: Command, work: Path, stdout: str, start: float) -> str | None:
    """What is wrong with a command's output, where that is cheap to see; None if nothing."""
    words = shlex.split(command.key)
    if command.program == "lm_eval" and "--output_path" in words:
        out = work / words[words.index("--output_path") + 1]
        if not any(f.stat().st_mtime >= start for f in out.rglob("results_*.json")):
            return f"no new results_*.json under {out}"
    if command.text.startswith("spark-math rescore $F/"):  # the published sets
        agreements = [float(a) for a in re.findall(r"agreement ([\d.]+)% of", stdout)]
        labelled = any(w.startswith("--label") for w in words)
        if labelled and not (agreements and min(agreements) >= 99.5):
            return f"agreement with the published labels below 99.5%: {agreements}"
        if not labelled and "no labels to compare with" not in stdout:
            return "no 'no labels to compare with' line for a set without labels"
    return None


Outcome = tuple[list[str], list[str]]  # failure messages; where the commands not run are


def _needs_published_sets(command: Command) -> bool:
    return any("$F" in t or "../shared/fidelity" in t for t in (*command.setup, command.text))


def run_document(doc: str, work: Path, data_dir: Path) -> Outcome:
    """Run a document's commands in order in `work`: one message per failure, and where the
    commands are that need the published sets when there are none."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "SPARK_MATH_DATA_DIR": str(data_dir),
        "SPARK_MATH_CACHE_DIR": str(work / ".cache"),
        "F": str(FIDELITY_DIR),
        "SPARK_MATH_FIDELITY_DIR": str(FIDELITY_DIR),
        "COLUMNS": "200",
    }
    failures, not_run, done = [], [], set()
    for command in to_run(doc):
        if _needs_published_sets(command) and not FIDELITY_DIR.is_dir():
            not_run.append(command.where)
            continue
        script = "\n".join(offline(t, work, data_dir) for t in (*command.setup, command.text))
        if script in done:
            continue
        start = time.time()
        try:
            proc = subprocess.run(
                ["bash", "-c", script],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.TimeoutExpired:
            failures.append(f"{command.where}: {command.text}\n  ran past 600 s: {script}")
            continue
        problem = (
            f"exit {proc.returncode}"
            if proc.returncode
            else _check_output(command, work, proc.stdout, start)
        )
        if problem:
            tail = (proc.stdout[-1500:] + "\n" + proc.stderr[-2500:]).strip()
            failures.append(
                f"{command.where}: {command.text}\n  ran: {script}\n  {problem}\n{tail}"
            )
        else:
            done.add(script)
    return failures, not_run


RUN_DOCS = sorted({c.doc for c in documented_commands() if entry_for(c) is None})


@pytest.fixture(scope="module")
def runs_by_document(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """`run_document` of every selected document: documents side by side, one per core, each
    in its own scratch copy of the checkout."""
    data_dir = Path(os.environ["SPARK_MATH_DATA_DIR"]).resolve()
    selected = {
        item.callspec.params["doc"]
        for item in request.session.items
        if item.originalname == "test_documented_commands_run"
    }

    def run(doc: str) -> Outcome:
        work = tmp_path_factory.mktemp(doc.replace("/", "-"))
        _checkout_copy(work)
        return run_document(doc, work, data_dir)

    docs = sorted(selected, key=lambda d: -len(to_run(d)))  # the longest start first
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip(docs, pool.map(run, docs), strict=True))


@pytest.mark.needs_mirror  # the commands get SPARK_MATH_DATA_DIR
@pytest.mark.parametrize("doc", RUN_DOCS)
def test_documented_commands_run(doc: str, runs_by_document: dict[str, Outcome]):
    failures, not_run = runs_by_document[doc]
    assert not failures, f"{len(failures)} documented command(s) failed:\n\n" + "\n\n".join(
        failures
    )
    if not_run:
        pytest.skip(f"no published sets at {FIDELITY_DIR}: {', '.join(not_run)} not run")
