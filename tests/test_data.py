"""Benchmark data: the offline copies, their checks, the hub path and `pull` (hub faked)."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spark_math.cli.data import app
from spark_math.data import (
    BENCHMARKS,
    DataError,
    check,
    load_rows,
    loading,
    normalize,
    pull,
    verify,
)
from spark_math.data.benchmarks import HubSource

SHARED = os.environ.get("SPARK_MATH_DATA_DIR")
FILE_SPLITS = [
    (name, split)
    for name, benchmark in BENCHMARKS.items()
    for split, spec in benchmark.splits.items()
    if spec.sha256
]
# Upstream files under raw/ whose normalisation the hub path must reproduce byte for byte (the
# Qwen2.5-Math sets without a hub twin have no normaliser: their only copy is the offline one).
REPRODUCIBLE = [s for s in FILE_SPLITS if s[0] != "math" and BENCHMARKS[s[0]].normalise]
QWEN_SETS = {
    "gaokao2023en": 383,
    "college_math": 2818,
    "asdiv": 2215,
    "svamp": 1000,
    "mawps": 2065,
    "carp_en": 976,
    "sat_math": 32,
    "aqua": 254,
    "mmlu_stem": 3018,
    "cmath": 600,
    "cn_middle_school": 101,
    "gaokao2024_I": 14,
    "gaokao2024_II": 14,
    "gaokao2024_mix": 91,
    "gaokao_math_cloze": 118,
    "gaokao_math_qa": 351,
}
HUB_TWINS = {"asdiv", "svamp", "mmlu_stem"}  # the hub sources Qwen's data_loader.py names


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def shared() -> Path:
    return Path(SHARED)


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("SPARK_MATH_DATA_DIR", raising=False)


def copy_file(shared: Path, tmp_path: Path, rel: str) -> Path:
    target = tmp_path / rel
    target.parent.mkdir(parents=True)
    shutil.copyfile(shared / rel, target)
    return target


@pytest.mark.needs_data
@pytest.mark.parametrize(("name", "split"), FILE_SPLITS)
def test_offline_copy_counts_and_schema(name, split):
    rows = load_rows(name, split)
    assert len(rows) == BENCHMARKS[name].splits[split].rows
    for row in rows:
        assert list(row)[:4] == ["id", "problem", "answer", "solution"]
        assert isinstance(row["problem"], str) and row["problem"].strip()
        assert isinstance(row["answer"], str) and row["answer"].strip()
        assert row["solution"] is None or isinstance(row["solution"], str)
    assert len({row["id"] for row in rows}) == len(rows)


@pytest.mark.needs_mirror
def test_known_values(shared):
    math = load_rows("math", data_dir=shared)
    assert sum(row["in_math500"] for row in math) == 500
    assert load_rows("gsm8k")[0]["answer"] == "18"
    assert load_rows("amc23")[0]["answer"] == "27"


@pytest.mark.needs_mirror
def test_rows_are_cached_but_fresh(shared):
    first = load_rows("aime24", data_dir=shared)
    first[0]["answer"] = "changed"
    assert load_rows("aime24", data_dir=shared)[0]["answer"] != "changed"


@pytest.mark.needs_mirror
def test_shared_copy_verifies_clean(shared):
    assert verify(shared) == []
    assert verify() == []  # the env var
    files = {entry.file for entry in check(shared)}
    assert {f"{n}/{s}.jsonl" for n, s in FILE_SPLITS} <= files
    assert "math/raw/test.jsonl" in files  # listed in SHA256SUMS


@pytest.mark.needs_mirror
@pytest.mark.parametrize(("name", "split"), REPRODUCIBLE)
def test_normalisers_reproduce_the_reference_copies(shared, name, split):
    raw = read_jsonl(shared / name / "raw" / f"{split}.jsonl")
    rows = BENCHMARKS[name].normalise(split, raw)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    assert hashlib.sha256(data).hexdigest() == BENCHMARKS[name].splits[split].sha256


@pytest.mark.needs_mirror
def test_math_normaliser_matches_all_but_unrecoverable_ids(shared):
    raw = read_jsonl(shared / "math" / "raw" / "test.jsonl")
    math500 = read_jsonl(shared / "math500" / "raw" / "test.jsonl")
    rows = normalize.hendrycks_math("test", raw, math500)
    reference = load_rows("math", data_dir=shared)
    for ours, ref in zip(rows, reference, strict=True):
        assert list(ours) == list(ref)
        assert {k: v for k, v in ours.items() if k not in ("id", "unique_id")} == {
            k: v for k, v in ref.items() if k not in ("id", "unique_id")
        }
        if ref["in_math500"]:
            assert ours["id"] == ref["id"]


def test_last_boxed():
    assert normalize.last_boxed(r"so \boxed{1} or \boxed{\frac{1}{2}}.") == r"\frac{1}{2}"
    assert normalize.last_boxed(r"\boxed{\{1, 2\}}") == r"\{1, 2\}"
    assert normalize.last_boxed(r"\boxed{3") is None
    assert normalize.last_boxed("no box") is None


@pytest.mark.needs_mirror
def test_edited_byte_is_a_sha_problem(shared, tmp_path, monkeypatch, caplog):
    """`data verify` and every load refuse a file whose bytes differ from the pinned ones (an
    edited gold changes every score), unless the user says to use it anyway."""
    path = copy_file(shared, tmp_path, "aime25/test.jsonl")
    path.write_bytes(path.read_bytes().replace(b"integer bases", b"integer basis", 1))
    problems = verify(tmp_path, only_present=True)
    assert [p.file for p in problems] == ["aime25/test.jsonl"]
    assert "sha256" in problems[0].message
    with pytest.raises(
        DataError, match=r"aime25/test.jsonl: sha256 \w+\.\.\. differs from the pinned"
    ):
        load_rows("aime25", data_dir=tmp_path)
    monkeypatch.setenv("SPARK_MATH_ALLOW_MODIFIED_DATA", "1")
    with caplog.at_level("WARNING", logger="spark_math.data.loading"):
        assert len(load_rows("aime25", data_dir=tmp_path)) == 30
    assert "used anyway" in caplog.text


@pytest.mark.needs_mirror
def test_truncated_file_is_a_count_problem(shared, tmp_path):
    path = copy_file(shared, tmp_path, "amc23/test.jsonl")
    path.write_text("".join(path.read_text(encoding="utf-8").splitlines(True)[:-1]))
    messages = [p.message for p in verify(tmp_path, only_present=True)]
    assert "39 rows, expected 40" in messages
    with pytest.raises(DataError, match="39 rows, expected 40"):
        load_rows("amc23", data_dir=tmp_path)


def test_missing_files_are_problems_unless_only_present(tmp_path):
    assert verify(tmp_path, only_present=True) == []
    problems = verify(tmp_path)
    assert {p.file for p in problems} == {f"{n}/{s}.jsonl" for n, s in FILE_SPLITS}
    assert all("missing" in p.message for p in problems)


def test_missing_file_says_where_and_how_to_fix(tmp_path):
    with pytest.raises(DataError) as err:
        load_rows("gsm8k", "test", data_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "gsm8k" / "test.jsonl") in message
    assert "spark-math data pull --to" in message and "SPARK_MATH_DATA_DIR" in message
    assert "\n" not in message


def write_rows(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name / "test.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def aime_lines(n: int = 30) -> list[str]:
    return [
        json.dumps({"id": str(i), "problem": "p", "answer": "1", "solution": None})
        for i in range(n)
    ]


def test_invalid_json_line_is_named(tmp_path):
    lines = aime_lines()
    lines[2] = '{"id": "2", "problem": '
    path = write_rows(tmp_path, "aime24", lines)
    with pytest.raises(DataError, match=r"line 3: invalid JSON") as err:
        load_rows("aime24", data_dir=tmp_path)
    assert str(path) in str(err.value)
    assert "line 3: invalid JSON" in verify(tmp_path, only_present=True)[0].message


def test_row_without_answer_is_named(tmp_path):
    lines = aime_lines()
    lines[4] = json.dumps({"id": "4", "problem": "p"})
    write_rows(tmp_path, "aime24", lines)
    with pytest.raises(DataError, match=r"line 5: the row lacks answer"):
        load_rows("aime24", data_dir=tmp_path)


def test_cache_notices_a_rewritten_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_MATH_ALLOW_MODIFIED_DATA", "1")  # synthetic rows, not the pinned
    path = write_rows(tmp_path, "aime24", aime_lines())
    assert load_rows("aime24", data_dir=tmp_path)[0]["problem"] == "p"
    path.write_text(path.read_text().replace('"p"', '"q2"'))
    assert load_rows("aime24", data_dir=tmp_path)[0]["problem"] == "q2"


def test_unknown_name_or_split_lists_the_valid_ones():
    with pytest.raises(DataError, match="known: gsm8k, math500"):
        load_rows("gsm8")
    with pytest.raises(DataError, match=r"splits: test$"):
        load_rows("aime24", "train")


def fake_gsm8k(source: HubSource) -> list[dict]:
    n = BENCHMARKS["gsm8k"].splits[source.split].rows
    return [
        {
            "question": f"{source.split} question {i}?",
            "answer": f"So {i * 1000}.\n#### {i * 1000:,}",
        }
        for i in range(n)
    ]


def test_hub_failure_becomes_a_data_error(monkeypatch, no_env):
    def offline(source):
        raise ConnectionError(f"Couldn't reach '{source.path}' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(loading, "hub_rows", offline)
    with pytest.raises(DataError) as err:
        load_rows("gsm8k")
    message = str(err.value)
    assert "openai/gsm8k" in message and "SPARK_MATH_DATA_DIR" in message
    assert "spark-math data pull" in message and "\n" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_hub_path_normalises(monkeypatch, no_env):
    monkeypatch.setattr(loading, "hub_rows", fake_gsm8k)
    rows = load_rows("gsm8k", "train")
    assert len(rows) == 7473
    assert rows[1234] == {
        "id": "train-1234",
        "problem": "train question 1234?",
        "answer": "1234000",
        "solution": "So 1234000.\n#### 1,234,000",
    }


def test_hub_with_a_wrong_count_is_a_data_error(monkeypatch, no_env):
    monkeypatch.setattr(loading, "hub_rows", lambda source: fake_gsm8k(source)[:10])
    with pytest.raises(DataError, match="has 10 rows, expected 1319"):
        load_rows("gsm8k")


def test_pull_writes_a_folder_that_loads_and_verifies(monkeypatch, tmp_path):
    monkeypatch.setattr(loading, "hub_rows", fake_gsm8k)
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  notes/other.txt\n")
    written = pull(tmp_path, ["gsm8k"], progress=False)
    assert written == [tmp_path / "gsm8k" / "train.jsonl", tmp_path / "gsm8k" / "test.jsonl"]
    sums = dict(
        reversed(line.split("  ")) for line in (tmp_path / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) == {"gsm8k/test.jsonl", "gsm8k/train.jsonl", "notes/other.txt"}
    for path in written:
        assert (
            sums[path.relative_to(tmp_path).as_posix()]
            == hashlib.sha256(path.read_bytes()).hexdigest()
        )
    monkeypatch.setenv("SPARK_MATH_ALLOW_MODIFIED_DATA", "1")  # fake rows: not the pinned bytes
    assert load_rows("gsm8k", data_dir=tmp_path)[5]["answer"] == "5000"
    # Fake rows: counts and schema pass, the pinned reference sha256 does not.
    problems = verify(tmp_path, only_present=True)
    assert {p.file for p in problems} == {"gsm8k/test.jsonl", "gsm8k/train.jsonl"}
    assert all("pinned" in p.message for p in problems)


@pytest.mark.needs_mirror
def test_pull_from_upstream_rows_reproduces_the_reference(monkeypatch, shared, tmp_path):
    by_path = {"HuggingFaceH4/aime_2024": "aime24", "yentinglin/aime_2025": "aime25"}
    monkeypatch.setattr(
        loading, "hub_rows", lambda s: read_jsonl(shared / by_path[s.path] / "raw" / "test.jsonl")
    )
    pull(tmp_path, ["aime24", "aime25"], progress=False)
    assert verify(tmp_path, only_present=True) == []


def test_pull_refuses_unknown_and_generated(tmp_path):
    with pytest.raises(DataError, match="cannot pull lineq, nope"):
        pull(tmp_path, ["lineq", "nope"], progress=False)


def test_sums_listed_annotation_file_is_verified(tmp_path):
    path = tmp_path / "annotations" / "gsm8k.jsonl"
    path.parent.mkdir()
    path.write_text('{"id": "test-0"}\n')
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "SHA256SUMS").write_text(f"{digest}  annotations/gsm8k.jsonl\n")
    assert verify(tmp_path, only_present=True) == []
    path.write_text('{"id": "test-1"}\n')
    problems = verify(tmp_path, only_present=True)
    assert [(p.file, "SHA256SUMS" in p.message) for p in problems] == [
        ("annotations/gsm8k.jsonl", True)
    ]


runner = CliRunner()


@pytest.mark.needs_mirror
def test_cli_verify_shared(shared):
    result = runner.invoke(app, ["verify", str(shared)])
    assert result.exit_code == 0, result.output
    assert "gsm8k/test.jsonl" in result.output and "1319" in result.output


@pytest.mark.needs_mirror
def test_cli_verify_reports_problems(shared, tmp_path):
    path = copy_file(shared, tmp_path, "aime25/test.jsonl")
    path.write_bytes(path.read_bytes() + b"\n")
    result = runner.invoke(app, ["verify", str(tmp_path), "--only-present"])
    assert result.exit_code == 1
    assert "aime25/test.jsonl" in result.output and "sha256" in result.output


def test_cli_verify_without_a_folder(no_env):
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "SPARK_MATH_DATA_DIR" in result.output


def test_cli_pull(monkeypatch, tmp_path):
    monkeypatch.setattr(loading, "hub_rows", fake_gsm8k)
    result = runner.invoke(app, ["pull", "--to", str(tmp_path), "--only", "gsm8k"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gsm8k" / "test.jsonl").is_file()
    assert "note: gsm8k/test.jsonl differs from the reference copy" in result.output
    result = runner.invoke(app, ["pull", "--to", str(tmp_path), "--only", "lineq"])
    assert result.exit_code == 1 and "cannot pull lineq" in result.output


def test_qwen_sets_are_registered_with_the_shared_sums():
    for name, rows in QWEN_SETS.items():
        spec = BENCHMARKS[name].splits["test"]
        assert spec.rows == rows, name
        assert bool(spec.hub) == (name in HUB_TWINS) == bool(BENCHMARKS[name].normalise), name
    if SHARED:
        sums = dict(
            reversed(line.split("  "))
            for line in (Path(SHARED) / "SHA256SUMS").read_text().splitlines()
        )
        for name in QWEN_SETS:
            assert BENCHMARKS[name].splits["test"].sha256 == sums[f"{name}/test.jsonl"], name


def test_set_without_hub_says_to_use_a_data_folder(no_env):
    with pytest.raises(DataError) as err:
        load_rows("cmath")
    message = str(err.value)
    assert "cmath/test has no Hugging Face hub source" in message
    assert "SPARK_MATH_DATA_DIR" in message and "spark_data_dir" in message
    assert "\n" not in message
    with pytest.raises(DataError, match="cannot pull cmath"):
        pull("unused", ["cmath"], progress=False)


@pytest.mark.needs_mirror
def test_svamp_hub_twin_is_train_then_test(shared):
    """ChilleD/SVAMP comes as two splits; Qwen's loader (and ours) concatenates train and test."""
    raw = read_jsonl(shared / "svamp" / "raw" / "test.jsonl")
    for row in raw:
        del row["idx"]  # the hub rows have no index; the position gives it
    rows = normalize.svamp("test", raw[:700], raw[700:])
    assert rows == load_rows("svamp", data_dir=shared)


@pytest.mark.needs_mirror
def test_hub_twins_drop_what_qwen_drops(shared):
    asdiv = read_jsonl(shared / "asdiv" / "raw" / "test.jsonl")
    multi = {**asdiv[0], "answer": "3 (apples); 4 (pears)"}
    assert len(normalize.asdiv("test", [multi, *asdiv])) == 2215
    mmlu = read_jsonl(shared / "mmlu_stem" / "raw" / "test.jsonl")
    hub = [{"subject": r.pop("type"), **r} for r in mmlu[:3]]
    other = {**hub[0], "subject": "world_religions"}
    rows = normalize.mmlu_stem("test", [hub[0], other, hub[1], hub[2]])
    assert [r["id"] for r in rows] == ["test-0", "test-1", "test-2"]
    assert rows == load_rows("mmlu_stem", data_dir=shared)[:3]
