"""The ``gemini`` lm-eval backend: the real google-genai client against a fake Gemini server."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.genai")
pytest.importorskip("tenacity")

from fake_gemini import FakeGemini, prompt_text, use_fake_key
from lm_eval.api.instance import Instance

from spark_math.models.gemini import GeminiError, GeminiLM

KEY = "AIzaFAKE-9c41e7d2-do-not-leak"
ROOT = Path(__file__).resolve().parents[1]
FAKE = Path(__file__).with_name("fake_gemini.py")


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_fake_key(monkeypatch, KEY, tmp_path / "cache-root")


def make_lm(fake: FakeGemini, cache: Path | str, **kwargs: Any) -> GeminiLM:
    args: dict[str, Any] = {"base_url": fake.url, "api_version": "v1beta", "retry_delay": 0.01}
    return GeminiLM(model="gemini-test", cache=cache, **(args | kwargs))


def inst(context: str, **gen_kwargs: Any) -> Instance:
    return Instance("generate_until", {}, (context, gen_kwargs), 0)


def bodies(fake: FakeGemini) -> list[dict[str, Any]]:
    return [r["body"] for r in fake.requests]


def test_generate_concurrently_with_mapped_fields(fake: FakeGemini, tmp_path: Path) -> None:
    fake.delay = 0.1
    lm = make_lm(fake, tmp_path / "c.jsonl", concurrency=4, thinking_budget=64)
    chat = lm.apply_chat_template(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "1+1? <<2>>"},
            {"role": "assistant", "content": "\\boxed{2}"},
            {"role": "user", "content": "2+2? <<4>>"},
        ]
    )
    until = ["S1", "S2", "S3", "S4", "S5", "never", "boxed"]  # the 7th only cuts client-side
    requests = [inst(chat, until=until, temperature=0.0, top_p=0.5, max_gen_toks=77)]
    requests += [inst(f"plain {i} <<{i}>>", until="\n\n", do_sample=False) for i in range(11)]

    answers = lm.generate_until(requests, disable_tqdm=True)

    assert answers[0] == "The answer is \\"
    assert answers[1:] == [f"The answer is \\boxed{{{i}}}." for i in range(11)]
    assert fake.peak_in_flight > 1
    assert all(r["headers"]["x-goog-api-key"] == KEY for r in fake.requests)
    assert {r["path"] for r in fake.requests} >= {"/v1beta/models/gemini-test:generateContent"}
    chat_body = next(b for b in bodies(fake) if "<<4>>" in prompt_text(b))
    assert chat_body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert [c["role"] for c in chat_body["contents"]] == ["user", "model", "user"]
    config = chat_body["generationConfig"]
    assert config["temperature"] == 0.0
    assert config["topP"] == 0.5
    assert config["maxOutputTokens"] == 77
    assert config["stopSequences"] == until[:5]
    assert config["thinkingConfig"] in ({"thinkingBudget": 64}, {"thinking_budget": 64})
    plain = next(b for b in bodies(fake) if prompt_text(b) == "plain 3 <<3>>")
    assert "systemInstruction" not in plain
    assert plain["generationConfig"]["temperature"] == 0.0  # do_sample=False
    assert "Let me think" not in "".join(answers)  # thought parts stay out


@pytest.mark.parametrize("header", [True, False], ids=["retry-after", "retry-info"])
def test_server_retry_delay_honoured(fake: FakeGemini, header: bool) -> None:
    fake.retry_after, fake.retry_header = 1, header
    fake.push("429")
    lm = make_lm(fake, "none")
    start = time.monotonic()
    assert lm.generate_until([inst("q <<5>>")], disable_tqdm=True) == ["The answer is \\boxed{5}."]
    assert time.monotonic() - start >= 1.0  # the backoff alone would be ~0.01 s
    assert len(fake.requests) == 2


def test_5xx_and_timeouts_retried(fake: FakeGemini) -> None:
    fake.slow_s = 1.5
    fake.push("500", 2)
    fake.push("503")
    fake.push("slow")
    lm = make_lm(fake, "none", timeout=0.5, concurrency=1)
    assert lm.generate_until([inst("q <<1>>")], disable_tqdm=True) == ["The answer is \\boxed{1}."]
    assert len(fake.requests) == 5
    assert lm.outcomes[0].reason is None


def test_give_up_records_empty_answers_and_run_continues(
    fake: FakeGemini, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake.retry_after = 0
    lm = make_lm(fake, tmp_path / "c.jsonl", max_retries=2, on_failure="exclude")
    prompts = ["[[fault:429]]", "[[fault:500]]", "[[fault:malformed]]", "[[fault:400]]", "ok <<9>>"]
    with caplog.at_level(logging.WARNING):
        answers = lm.generate_until([inst(p) for p in prompts], disable_tqdm=True)

    assert answers == ["", "", "", "", "The answer is \\boxed{9}."]
    reasons = [o.reason or "" for o in lm.outcomes]
    assert "429" in reasons[0] and "500" in reasons[1] and "malformed" in reasons[2]
    assert "400" in reasons[3] and "gave up" not in reasons[3]  # a 400 is not retried
    assert [o.failed for o in lm.outcomes] == [True, True, True, True, False]
    assert [a.status for a in answers] == ["failed"] * 4 + ["ok"]
    calls = Counter(prompt_text(b) for b in bodies(fake))
    assert [calls[p] for p in prompts] == [3, 3, 3, 1, 1]
    assert "answered empty" in caplog.text
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 1  # failures are not cached


def test_non_answers_are_retried_never_cached_and_stop_the_run(
    fake: FakeGemini, tmp_path: Path
) -> None:
    """Blocked and empty replies carry their status; empty ones (no candidates, an empty body)
    are asked again; none is cached as an answer; by default the run stops, saying what to do."""
    prompts = ["[[fault:safety]]", "[[fault:prompt_blocked]]", "[[fault:no_candidates]]", "<<3>>"]
    requests = [inst(p) for p in prompts]
    lm = make_lm(fake, tmp_path / "c.jsonl", max_retries=1, on_failure="exclude")
    answers = lm.generate_until(requests, disable_tqdm=True)
    assert answers == ["", "", "", "The answer is \\boxed{3}."]
    assert [a.status for a in answers] == ["blocked", "blocked", "empty", "ok"]
    assert [o.reason for o in lm.outcomes][:2] == ["blocked: SAFETY", "prompt blocked: SAFETY"]
    assert lm.outcomes[2].reason.startswith("no candidates (gave up after 1 retries)")
    calls = Counter(prompt_text(b) for b in bodies(fake))
    assert [calls[p] for p in prompts] == [1, 1, 2, 1]
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 1  # only the answer
    again = make_lm(fake, tmp_path / "c.jsonl", max_retries=0)
    with pytest.raises(GeminiError, match=r"3 of 5 requests got no answer \(2 blocked, 1 empty"):
        again.generate_until([*requests, inst("<<5>>")])
    assert Counter(prompt_text(b) for b in bodies(fake))["<<3>>"] == 1  # cached, not re-sent


def test_excluded_non_answers_are_counted_not_scored_wrong() -> None:
    """on_failure=exclude: a document's failed samples leave its accuracy and are counted."""
    from spark_math.harness_tasks.scoring import grade_samples, metric_names, sample_metrics
    from spark_math.models.generation import Generation

    answers = [
        Generation("The answer is \\boxed{3}.", status="ok"),
        Generation("", status="failed"),
        Generation("", status="blocked"),
        Generation("The answer is \\boxed{4}.", status="ok"),
    ]
    metrics = sample_metrics(grade_samples(answers, "3", "math"))
    assert metrics["pass@1"] == metrics["avg@4"] == 0.5  # over the 2 answers of 4 drawn
    assert metrics["pass@2"] == 1.0 and "pass@4" not in metrics  # pass@4 needs 4 answers
    assert set(metrics) <= set(metric_names(4))  # every name is in the task's metric_list
    assert (metrics["failed"], metrics["blocked"], metrics["empty"]) == (0.25, 0.25, 0.0)
    only_failures = [Generation("", status="failed")] * 2
    assert sample_metrics(grade_samples(only_failures, "3", "math")) == {
        "blocked": 0.0,
        "empty": 0.0,
        "failed": 1.0,
    }


def test_output_limit_is_marked_and_graded_unfinished(fake: FakeGemini, tmp_path: Path) -> None:
    """A MAX_TOKENS answer comes back as a `Generation` that says so (cached too), and the
    spark grader treats it as cut off."""
    from spark_math.harness_tasks.scoring import grade_samples

    requests = [inst("[[fault:max_tokens]] <<3>>"), inst("<<3>>")]
    answers = make_lm(fake, tmp_path / "c.jsonl").generate_until(requests, disable_tqdm=True)
    assert [(a.truncated, a.tokens) for a in answers] == [(True, 3), (False, 4)]
    again = make_lm(fake, tmp_path / "c.jsonl").generate_until(requests, disable_tqdm=True)
    assert [(a.truncated, a.tokens) for a in again] == [(True, 3), (False, 4)]
    verdicts = grade_samples(answers, "3", "math")
    assert [v["truncated"] for v in verdicts] == [True, False]
    assert not verdicts[0]["correct"] and verdicts[1]["correct"]


def test_aborts_after_consecutive_failures_and_resumes(fake: FakeGemini, tmp_path: Path) -> None:
    fake.push("ok", 3)
    fake.push("429", 5)  # then quota runs out
    lm = make_lm(fake, tmp_path / "c.jsonl", max_retries=0, concurrency=1)
    lm.max_consecutive_failures = 5
    requests = [inst(f"q{i} <<{i}>>") for i in range(30)]
    with pytest.raises(GeminiError, match=r"5 requests in a row failed.*rerun") as info:
        lm.generate_until(requests, disable_tqdm=True)
    assert "c.jsonl" in str(info.value)
    assert len(fake.requests) == 8  # stops at once, not after all 30
    answers = make_lm(fake, tmp_path / "c.jsonl").generate_until(requests, disable_tqdm=True)
    assert answers == [f"The answer is \\boxed{{{i}}}." for i in range(30)]
    assert len(fake.requests) == 8 + 27  # the first 3 answers came from the cache


def test_refuses_a_run_in_which_everything_failed(fake: FakeGemini, tmp_path: Path) -> None:
    lm = make_lm(fake, tmp_path / "c.jsonl", max_retries=1)
    with pytest.raises(GeminiError, match="all 3 requests sent failed"):
        lm.generate_until([inst(f"q{i} [[fault:500]]") for i in range(3)], disable_tqdm=True)


def test_key_never_leaks(
    fake: FakeGemini,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    lm = make_lm(fake, tmp_path / "c.jsonl", max_retries=1, concurrency=1, on_failure="exclude")
    lm.generate_until([inst("<<1>>"), inst("[[fault:400]]"), inst("[[fault:500]]")])
    with pytest.raises(GeminiError, match="refused") as info:
        lm.generate_until([inst("<<2>>"), inst("[[fault:leak]]"), inst("<<3>>")])

    assert fake.requests[-1]["headers"]["x-goog-api-key"] == KEY  # the server did echo it
    text = "".join(traceback.format_exception(info.value))
    assert "[REDACTED]" in text and KEY not in text
    assert KEY not in (tmp_path / "c.jsonl").read_text()
    assert KEY not in caplog.text and KEY not in json.dumps([o.__dict__ for o in lm.outcomes])
    assert KEY not in "".join(capsys.readouterr())


def test_a_key_in_model_args_is_refused_in_one_line_and_never_logged(tmp_path: Path) -> None:
    """lm-eval logs its model_args before the backend sees them: the plugin redacts the key in
    every log record, and the command ends in one line saying what to do."""
    lm_eval = Path(sys.executable).with_name("lm_eval")
    command = [str(lm_eval), "--model", "gemini", "--model_args", f"model=m,api_key={KEY}"]
    command += ["--tasks", "spark_gsm8k", "--limit", "1"]
    env = {**os.environ, "GEMINI_API_KEY": KEY, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 2
    assert KEY not in run.stdout + run.stderr
    assert "'api_key': '[REDACTED]'" in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: gemini: unknown model_args ['api_key']. The API key is read from "
        "GOOGLE_API_KEY or GEMINI_API_KEY only, never from model_args."
    ]
    assert "Traceback" not in run.stderr


def test_credentials_only_from_environment(
    fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(GeminiError, match="unknown model_args") as info:
        make_lm(fake, "none", api_key=KEY)
    assert KEY not in str(info.value)
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(GeminiError, match="GEMINI_API_KEY"):
        make_lm(fake, "none")
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    make_lm(fake, "none")  # Vertex AI: the SDK finds project, location and credentials
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    make_lm(fake, "none", batch_size=1, max_batch_size=None, device=None)


def test_model_args_from_the_command_line() -> None:
    extra = {"batch_size": 1, "max_batch_size": None, "device": None}
    lm = GeminiLM.create_from_arg_string(
        "model=gemini-2.5-flash,cache=none,concurrency=3,thinking_budget=0,timeout=30", extra
    )
    assert lm.model == "gemini-2.5-flash" and lm.cache_path is None
    assert (lm.concurrency, lm.thinking_budget, lm.timeout) == (3, 0, 30.0)
    assert GeminiLM(model="m/x", cache="/tmp/c").cache_path == Path("/tmp/c/m_x.jsonl")


def test_sampled_repeats_are_cached_and_resumed(fake: FakeGemini, tmp_path: Path) -> None:
    cache = tmp_path / "cache-dir"  # a folder: the file is <model>.jsonl
    requests = [inst("roll <<6>>", do_sample=True, temperature=0.7, until=["\n\n"])] * 4
    first = make_lm(fake, cache).generate_until(requests, disable_tqdm=True)
    assert len(set(first)) == 4
    assert len((cache / "gemini-test.jsonl").read_text().splitlines()) == 4
    again = make_lm(fake, cache).generate_until(requests, disable_tqdm=True)
    assert again == first
    assert len(fake.requests) == 4


def test_default_cache_location(fake: FakeGemini, tmp_path: Path) -> None:
    make_lm(fake, "auto").generate_until([inst("<<1>>")], disable_tqdm=True)
    assert (tmp_path / "cache-root" / "gemini" / "gemini-test.jsonl").is_file()


RUNNER = """
import json, sys
from pathlib import Path
from lm_eval.api.instance import Instance
from spark_math.models.gemini import GeminiLM

url, cache, prompts, out = sys.argv[1:]
lm = GeminiLM(model="gemini-test", base_url=url, api_version="v1beta", cache=cache,
              concurrency=2, retry_delay=0.01)
requests = [Instance("generate_until", {}, (p, {"until": ["Q:"], "do_sample": False}), i)
            for i, p in enumerate(json.loads(Path(prompts).read_text()))]
Path(out).write_text(json.dumps(lm.generate_until(requests, disable_tqdm=True)))
"""


def test_kill_and_resume(fake: FakeGemini, tmp_path: Path) -> None:
    prompts = [f"Question {i}: what is {i} times 7? <<{i * 7}>>" for i in range(20)]
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    (tmp_path / "runner.py").write_text(RUNNER)
    log, cache, out = tmp_path / "server.jsonl", tmp_path / "c.jsonl", tmp_path / "out.json"
    env = os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [sys.executable, FAKE, "--log", log, "--delay", "0.25", "--deadline", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().split()[1]}"  # type: ignore[union-attr]
        command = [sys.executable, tmp_path / "runner.py", url, cache, tmp_path / "prompts.json"]
        victim = subprocess.Popen([*command, out], env=env)
        deadline = time.monotonic() + 30
        while not log.exists() or len(log.read_text().splitlines()) < 6:
            assert time.monotonic() < deadline and victim.poll() is None
            time.sleep(0.02)
        victim.kill()
        assert victim.wait() == -9 and not out.exists()
        assert 0 < len(cache.read_text().splitlines()) < 20
        subprocess.run([*command, out], env=env, check=True, timeout=60)
    finally:
        server.kill()
        server.wait()

    answers = json.loads(out.read_text())
    assert answers == [f"The answer is \\boxed{{{i * 7}}}." for i in range(20)]
    sent = Counter(prompt_text(json.loads(line)["body"]) for line in log.read_text().splitlines())
    assert set(sent) == set(prompts)
    resent = [p for p, n in sent.items() if n > 1]
    assert len(resent) <= 2 and all(sent[p] == 2 for p in resent)  # at most `concurrency`
    assert len(cache.read_text().splitlines()) == 20
    assert KEY not in cache.read_text()
    uninterrupted = make_lm(fake, "none")
    requests = [inst(p, until=["Q:"], do_sample=False) for p in prompts]
    assert uninterrupted.generate_until(requests, disable_tqdm=True) == answers


TASK_YAML = r"""
task: tiny_gemini
custom_dataset: !function tiny_data.load
test_split: test
output_type: generate_until
doc_to_text: "Question: {{question}}\nAnswer:"
doc_to_target: "{{answer}}"
generation_kwargs:
  until: ["Question:"]
  do_sample: false
  max_gen_toks: 64
filter_list:
  - name: boxed
    filter:
      - {function: regex, regex_pattern: '\\boxed\{(.*?)\}'}
      - {function: take_first}
metric_list:
  - {metric: exact_match, aggregation: mean, higher_is_better: true}
"""

TASK_DATA = """
import datasets

ROWS = [
    {"question": "What is 3+4? <<7>>", "answer": "7"},
    {"question": "What is 5*5? <<25>>", "answer": "25"},
    {"question": "What is 9-1? <<8>>", "answer": "8"},
    {"question": "Unsafe? [[fault:safety]]", "answer": "1"},
]


def load(**_ignored):
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(ROWS)})
"""


def test_simple_evaluate_end_to_end(fake: FakeGemini, tmp_path: Path) -> None:
    import lm_eval
    from lm_eval.api.registry import get_model
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    assert get_model("gemini") is GeminiLM
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tiny_gemini.yaml").write_text(TASK_YAML)
    (tasks / "tiny_data.py").write_text(TASK_DATA)
    model_args = {
        "model": "gemini-test",
        "base_url": fake.url,
        "api_version": "v1beta",
        "cache": str(tmp_path / "c.jsonl"),
        "retry_delay": 0.01,
        "on_failure": "exclude",  # one document is blocked; a task not ours scores it wrong
    }
    tracker = EvaluationTracker(output_path=str(tmp_path / "out"))
    results = lm_eval.simple_evaluate(
        model="gemini",
        model_args=model_args,
        tasks=["tiny_gemini"],
        task_manager=TaskManager(include_path=str(tasks), include_defaults=False),
        apply_chat_template=True,
        system_instruction="Put the final answer in \\boxed{}.",
        log_samples=True,
        bootstrap_iters=0,
        evaluation_tracker=tracker,
    )
    assert results is not None
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    tracker.save_results_samples(task_name="tiny_gemini", samples=samples["tiny_gemini"])

    assert results["results"]["tiny_gemini"]["exact_match,boxed"] == 0.75
    written = {p.name.split("_")[0]: p.read_text() for p in (tmp_path / "out").rglob("*.json*")}
    assert set(written) == {"results", "samples"}
    assert json.loads(written["results"])["chat_template"] == "gemini-native"
    assert all(KEY not in text for text in written.values())
    body = bodies(fake)[0]
    assert body["systemInstruction"]["parts"][0]["text"] == "Put the final answer in \\boxed{}."
    assert [c["role"] for c in body["contents"]] == ["user"]


def test_missing_extra_names_the_install() -> None:
    """Without the `gemini` extra the backend says which pip install fixes it."""
    code = (
        "import sys; sys.modules['tenacity'] = None\n"
        "try:\n    import spark_math.models.gemini\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "pip install 'spark-math[gemini]'" in out.stdout


@pytest.mark.parametrize("batch", [False, True], ids=["online", "batch"])
def test_no_file_or_stream_of_a_cli_run_holds_the_key(
    fake: FakeGemini, tmp_path: Path, batch: bool
) -> None:
    """The real `lm_eval` command at DEBUG verbosity with samples logged, a retried 500, and then
    a server that echoes the key in a 403: the key is in no file either run writes (results,
    samples, cache, batch state) and in neither stream."""
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tiny_gemini.yaml").write_text(TASK_YAML)
    (tasks / "tiny_data.py").write_text(TASK_DATA)
    runs = tmp_path / "runs"
    args = f"model=gemini-test,base_url={fake.url},api_version=v1beta,retry_delay=0.01"
    args += ",on_failure=exclude" + (",batch=true,batch_poll_s=0.05" if batch else "")
    env = {**os.environ, "GEMINI_API_KEY": KEY, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}

    def lm_eval(cache: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name("lm_eval")), "--model", "gemini"]
        command += ["--model_args", f"{args},cache={runs / cache}", "--tasks", "tiny_gemini"]
        command += ["--include_path", str(tasks), "--apply_chat_template", "--log_samples"]
        command += ["--output_path", str(runs / "out"), "--verbosity", "DEBUG"]
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=300, cwd=runs
        )

    runs.mkdir()
    fake.push("500", 1)
    ok = lm_eval("cache")
    assert ok.returncode == 0, ok.stderr[-3000:]
    fake.push("leak", 1)
    refused = lm_eval("cache-2")
    assert refused.returncode == 2 and "[REDACTED]" in refused.stderr

    written = [p for p in runs.rglob("*") if p.is_file()]
    names = {p.name.split("_")[0] for p in written}
    assert {"results", "samples", "gemini-test.jsonl"} <= names
    assert [str(p) for p in written if KEY.encode() in p.read_bytes()] == []
    assert all(KEY not in run.stdout + run.stderr for run in (ok, refused))
    assert fake.requests and all(r["headers"]["x-goog-api-key"] == KEY for r in fake.requests)
