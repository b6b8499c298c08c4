"""Gemini Batch Mode (``batch=true``): the real google-genai client against the fake server's
``batchGenerateContent`` and ``batches/{id}`` endpoints."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("google.genai")
pytest.importorskip("tenacity")

from fake_gemini import FakeGemini, gold_answers, prompt_text, use_fake_key
from lm_eval.api.instance import Instance

from spark_math.models._gemini_request import build_request
from spark_math.models.gemini import GeminiError, GeminiLM
from spark_math.models.gemini_batch import _size, split_jobs, state_path

KEY = "AIzaFAKE-batch-71c3-do-not-leak"
ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_fake_key(monkeypatch, KEY, tmp_path / "cache-root")


def make_lm(fake: FakeGemini, cache: Path | str, **kwargs: Any) -> GeminiLM:
    args: dict[str, Any] = {"base_url": fake.url, "api_version": "v1beta", "retry_delay": 0.01}
    args |= {"batch": True, "batch_poll_s": 0.05}
    return GeminiLM(model="gemini-test", cache=cache, **(args | kwargs))


def inst(context: str, **gen_kwargs: Any) -> Instance:
    return Instance("generate_until", {}, (context, gen_kwargs), 0)


def bounded(call: Callable[[], T], timeout: float = 60) -> T:
    """`call()` in a daemon thread: the test fails, instead of hanging, if it never returns."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s"
    if "error" in result:
        raise result["error"]
    return result["value"]


def creates(fake: FakeGemini) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["path"].endswith(":batchGenerateContent")]


def recorded_jobs(cache: Path) -> list[dict[str, Any]]:
    return json.loads(state_path(cache).read_text())["jobs"]


def requests_of_every_kind(lm: GeminiLM) -> list[Instance]:
    chat = lm.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2? <<4>>"}]
    )
    until = ["S1", "S2", "S3", "S4", "S5", "never", "boxed"]  # the 7th only cuts client-side
    requests = [inst(chat, until=until, temperature=0.0, top_p=0.5, max_gen_toks=77)]
    requests += [inst(f"plain {i} <<{i}>>", until="\n\n", do_sample=False) for i in range(6)]
    return requests + [inst("roll <<6>>", do_sample=True, temperature=0.7)] * 2


@pytest.mark.parametrize(
    ("metadata", "shuffle"), [(True, True), (False, False)], ids=["by-key", "by-order"]
)
def test_batch_answers_like_online_and_never_twice(
    fake: FakeGemini, tmp_path: Path, metadata: bool, shuffle: bool
) -> None:
    """Jobs of at most 4 requests; answers mapped back by their key, or by their order when the
    API leaves the metadata out; the same bodies and answers as online; a rerun (batch or
    online) finds everything in the cache."""
    fake.batch_metadata, fake.batch_shuffle = metadata, shuffle
    cache = tmp_path / "c.jsonl"
    lm = make_lm(fake, cache, batch_max_requests=4, thinking_budget=64)
    requests = requests_of_every_kind(lm)
    answers = bounded(lambda: lm.generate_until(requests, disable_tqdm=True))

    assert fake.online_requests() == [] and len(creates(fake)) == 3  # 9 requests, 4 a job
    assert {len(job.requests) for job in fake.batches.values()} == {4, 1}
    online = GeminiLM(
        model="gemini-test", base_url=fake.url, api_version="v1beta", cache="none",
        thinking_budget=64,
    )  # fmt: skip
    expected = online.generate_until(requests, disable_tqdm=True)
    assert answers[:7] == expected[:7] and answers[0] == "The answer is \\"
    assert answers[7] != answers[8]  # sampled repeats: one cache entry each
    assert [a.status for a in answers] == ["ok"] * 9

    def shape(body: dict[str, Any]) -> tuple[str, str, str, int]:
        config = dict(body.get("generationConfig", {}))
        thinking = config.pop("thinkingConfig")  # snake or camel case: the API takes both
        budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
        system = json.dumps(body.get("systemInstruction"), sort_keys=True)
        return prompt_text(body), system, json.dumps(config, sort_keys=True), budget

    inlined = [item["request"] for job in fake.batches.values() for item in job.requests]
    assert sorted(map(shape, inlined)) == sorted(shape(r["body"]) for r in fake.online_requests())
    assert recorded_jobs(cache) == []

    calls = len(fake.requests)
    rerun = make_lm(fake, cache, thinking_budget=64)
    again = bounded(lambda: rerun.generate_until(requests, disable_tqdm=True))
    rerun.batch = False
    cached_online = rerun.generate_until(requests, disable_tqdm=True)
    assert again == cached_online == answers
    assert len(fake.requests) == calls  # no job, no online request


RUNNER = """
import json, sys
from pathlib import Path
from lm_eval.api.instance import Instance
from spark_math.models.gemini import GeminiLM

url, cache, prompts, out = sys.argv[1:]
lm = GeminiLM(model="gemini-test", base_url=url, api_version="v1beta", cache=cache,
              batch=True, batch_poll_s=0.05, retry_delay=0.01)
requests = [Instance("generate_until", {}, (p, {"until": ["Q:"], "do_sample": False}), i)
            for i, p in enumerate(json.loads(Path(prompts).read_text()))]
Path(out).write_text(json.dumps(lm.generate_until(requests, disable_tqdm=True)))
"""


def test_a_killed_run_resumes_its_job(fake: FakeGemini, tmp_path: Path) -> None:
    """SIGKILL after the job was submitted: the same command, run again, finds the job in the
    state file and polls it to the end; the server saw one submission and no online request."""
    prompts = [f"Question {i}: what is {i} times 7? <<{i * 7}>>" for i in range(12)]
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    (tmp_path / "runner.py").write_text(RUNNER)
    cache, out = tmp_path / "c.jsonl", tmp_path / "out.json"
    env = os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, tmp_path / "runner.py", fake.url, cache, tmp_path / "prompts.json"]
    fake.hold_batches = True  # the job stays PENDING until released
    victim = subprocess.Popen([*command, out], env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(r["method"] == "GET" for r in fake.requests):  # submitted, then polled
            assert time.monotonic() < deadline and victim.poll() is None
            time.sleep(0.02)
    finally:
        victim.kill()
    assert victim.wait() == -9 and not out.exists()
    (job,) = recorded_jobs(cache)
    assert job["name"] == "batches/fake-1" and len(job["keys"]) == 12

    fake.hold_batches = False
    subprocess.run([*command, out], env=env, check=True, timeout=120)

    assert json.loads(out.read_text()) == [f"The answer is \\boxed{{{i * 7}}}." for i in range(12)]
    assert len(creates(fake)) == 1 and len(fake.batches["batches/fake-1"].requests) == 12
    assert fake.online_requests() == []
    assert recorded_jobs(cache) == []
    assert len(cache.read_text().splitlines()) == 12 and KEY not in cache.read_text()


@pytest.mark.parametrize("ending", ["FAILED", "EXPIRED", "CANCELLED"])
def test_what_a_job_left_unanswered_goes_online(
    fake: FakeGemini, tmp_path: Path, ending: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that ends badly is logged with its state and error; its requests, and those a job
    answered with an error or a block, go online and end with the status they get there."""
    fake.script_batch("RUNNING", ending)  # the first job; the second succeeds
    prompts = ["q0 <<0>>", "q1 [[fault:safety]]", "q2 <<2>>", "q3 [[fault:500]]", "q4 <<4>>"]
    prompts.append("q5 <<5>>")
    for fault in ("ok", "safety", "ok", "500", "ok", "leak"):  # in the batch only
        fake.push_item(fault)  # leak: the request's error echoes the key
    lm = make_lm(fake, tmp_path / "c.jsonl", batch_max_requests=3, max_retries=0)
    lm.on_failure = "exclude"
    with caplog.at_level(logging.INFO):
        answers = bounded(lambda: lm.generate_until([inst(p) for p in prompts]))

    assert [a.status for a in answers] == ["ok", "blocked", "ok", "failed", "ok", "ok"]
    assert answers[4:] == ["The answer is \\boxed{4}.", "The answer is \\boxed{5}."]
    online = Counter(prompt_text(r["body"]) for r in fake.online_requests())
    assert online == Counter(prompts[:4] + prompts[5:])  # q4 came from the batch
    assert f"job batches/fake-1 ended JOB_STATE_{ending} (no error detail)" in caplog.text
    assert "5 of 6 requests got no answer from the batch" in caplog.text
    assert KEY not in caplog.text and "[REDACTED]" in caplog.text
    assert recorded_jobs(tmp_path / "c.jsonl") == []


def test_batch_answers_count_as_successes(fake: FakeGemini, tmp_path: Path) -> None:
    """The one request the batch could not answer fails online too: the run is scored with it
    counted (on_failure=exclude), not refused as one in which every request failed."""
    lm = make_lm(fake, tmp_path / "c.jsonl", max_retries=0, on_failure="exclude")
    answers = bounded(lambda: lm.generate_until([inst("q0 <<0>>"), inst("q1 [[fault:500]]")]))
    assert [a.status for a in answers] == ["ok", "failed"]
    assert len(fake.online_requests()) == 1


def test_submission_refused_goes_online_and_a_bad_key_stops(
    fake: FakeGemini, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    requests = [inst(f"q{i} <<{i}>>") for i in range(3)]
    fake.push("400")
    with caplog.at_level(logging.WARNING):
        answers = bounded(lambda: make_lm(fake, tmp_path / "a.jsonl").generate_until(requests))
    assert answers == [f"The answer is \\boxed{{{i}}}." for i in range(3)]
    refused = [r.getMessage() for r in caplog.records if "refused a batch job" in r.getMessage()]
    assert refused == [
        "gemini batch: the API refused a batch job (HTTP 400 INVALID_ARGUMENT: fake: "
        "INVALID_ARGUMENT); sending online"
    ]
    assert len(fake.online_requests()) == 3 and fake.batches == {}

    fake.requests.clear()
    fake.push("401")
    with pytest.raises(GeminiError, match=r"refused the request \(HTTP 401") as info:
        bounded(lambda: make_lm(fake, tmp_path / "b.jsonl").generate_until(requests))
    assert "check the key in GOOGLE_API_KEY or GEMINI_API_KEY" in str(info.value)
    assert KEY not in str(info.value) and len(fake.requests) == 1  # nothing went online


def test_status_reads_that_keep_failing_stop_the_run_and_a_rerun_resumes(
    fake: FakeGemini, tmp_path: Path
) -> None:
    cache = tmp_path / "c.jsonl"
    requests = [inst(f"q{i} <<{i}>>") for i in range(4)]
    fake.push("503", 2, path="batches/fake-1")  # two failed reads: polled again
    answers = bounded(lambda: make_lm(fake, cache).generate_until(requests))
    assert answers == [f"The answer is \\boxed{{{i}}}." for i in range(4)]

    cache2 = tmp_path / "c2.jsonl"
    fake.push("503", 3, path="batches/fake-2")
    lm = make_lm(fake, cache2, max_consecutive_failures=3)
    with pytest.raises(GeminiError, match=r"3 status reads in a row failed.*rerun the same"):
        bounded(lambda: lm.generate_until(requests))
    assert [job["name"] for job in recorded_jobs(cache2)] == ["batches/fake-2"]
    assert bounded(lambda: make_lm(fake, cache2).generate_until(requests)) == answers
    assert len(creates(fake)) == 2 and fake.online_requests() == []


@pytest.mark.needs_data
def test_failures_after_the_batch_are_counted_in_the_results_json(
    fake: FakeGemini, tmp_path: Path
) -> None:
    """spark_gsm8k through lm-eval with on_failure=exclude: four requests fail in the batch; online,
    one is answered, one blocked, one fails after its retry, one comes back empty: the results
    JSON counts them as online runs do, and the sample log marks them."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    from spark_math.data import load_rows
    from spark_math.harness_tasks import TASKS_DIR

    fake.answer = gold_answers(load_rows("gsm8k"))
    fake.retry_after = 0
    for fault in ("500", "safety", "500", "no_candidates"):
        fake.push_item(fault)  # the first four requests of the job
    for fault, n in (("ok", 1), ("safety", 1), ("500", 2), ("no_candidates", 2)):
        fake.push(fault, n, path=":generateContent")  # the same four, online
    tracker = EvaluationTracker(output_path=str(tmp_path / "out"))
    model_args = {
        "model": "gemini-test",
        "base_url": fake.url,
        "cache": str(tmp_path / "c.jsonl"),
        "batch": True,
        "batch_poll_s": 0.05,
        "max_retries": 1,
        "retry_delay": 0.01,
        "concurrency": 1,
        "on_failure": "exclude",
    }

    def evaluate() -> dict[str, Any]:
        return lm_eval.simple_evaluate(
            model="gemini",
            model_args=model_args,
            tasks=["spark_gsm8k"],
            task_manager=TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
            limit=8,
            apply_chat_template=True,
            log_samples=True,
            bootstrap_iters=0,
            evaluation_tracker=tracker,
        )

    results = bounded(evaluate, timeout=120)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    tracker.save_results_samples(task_name="spark_gsm8k", samples=samples["spark_gsm8k"])

    (results_path,) = (tmp_path / "out").rglob("results_*.json")
    metrics = json.loads(results_path.read_text())["results"]["spark_gsm8k"]
    assert metrics["failed,grader"] == metrics["blocked,grader"] == metrics["empty,grader"] == 1 / 8
    assert metrics["exact_match,grader"] == 1.0  # over the 5 answered documents
    (samples_path,) = (tmp_path / "out").rglob("samples_spark_gsm8k_*.jsonl")
    statuses = [
        json.loads(json.loads(line)["filtered_resps"][0][0]).get("status")
        for line in samples_path.read_text().splitlines()
    ]
    assert sorted(statuses) == ["blocked", "empty", "failed"] + ["ok"] * 5
    assert len(creates(fake)) == 1 and len(fake.batches["batches/fake-1"].requests) == 8
    assert len(fake.online_requests()) == 6


def test_model_args_job_sizes_and_an_unreadable_state_file(
    fake: FakeGemini, tmp_path: Path
) -> None:
    extra = {"batch_size": 1, "max_batch_size": None, "device": None}
    lm = GeminiLM.create_from_arg_string(
        f"model=m,cache={tmp_path},batch=true,batch_poll_s=0.5,batch_max_requests=7", extra
    )
    assert (lm.batch, lm.batch_poll_s, lm.batch_max_requests) == (True, 0.5, 7)
    assert not GeminiLM(model="m", cache=tmp_path).batch
    with pytest.raises(GeminiError, match="batch=true needs the cache"):
        GeminiLM(model="m", cache="none", batch=True)
    todo = [(i, build_request(f"q{i:02d}", {}, None), f"k{i}") for i in range(10)]
    assert [len(job) for job in split_jobs(todo, 4)] == [4, 4, 2]
    size = _size(todo[0][1])  # every request has the same size
    assert [len(job) for job in split_jobs(todo, 100, max_bytes=3 * size)] == [3, 3, 3, 1]

    state_path(tmp_path / "c.jsonl").write_text('{"jobs": [{"name": "batches/x"')  # cut short
    with pytest.raises(GeminiError, match=r"c\.batches\.json is unreadable .*delete it"):
        make_lm(fake, tmp_path / "c.jsonl").generate_until([inst("q")], disable_tqdm=True)
    assert fake.requests == []
