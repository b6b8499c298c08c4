"""Gemini Batch Mode for the ``gemini`` backend (model_args ``batch=true``): half the price of
online requests, answers within hours instead of seconds.

The requests that the response cache does not hold go out as inline batch jobs
(``client.batches.create``), each request tagged with its cache key in its metadata. The job names
are written to ``<cache stem>.batches.json`` beside the cache (atomically) before any polling, so
a run that is killed and started again with the same command polls the same jobs instead of paying
for them twice; a request whose job is alive is never submitted again. When a job ends, every
answer is parsed by the same ``parse_response`` as online ones and stored in the same cache.
What a batch did not answer (a per-request error, a blocked or empty reply, a job that FAILED,
EXPIRED or was CANCELLED, a job that vanished, a 4xx on submission) goes online with the normal
retries, so its final status is counted exactly like an online request's.

Not supported: input files through the File API (a run is split into several inline jobs of at
most ``batch_max_requests`` requests and about 16 MB each, under the API's 20 MB inline limit),
and Vertex AI batch prediction (it reads its input from Cloud Storage or BigQuery). A kill in the
instant between Google accepting a job and its name reaching the state file leaves that job
unrecorded: the rerun submits its requests again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import tenacity
from google.genai import errors, types
from tqdm import tqdm

from spark_math.errors import redact
from spark_math.models._cache import ResponseCache
from spark_math.models._gemini_request import GeminiRequest, parse_response
from spark_math.models.gemini import (
    MAX_WAIT_S,
    RETRY_CODES,
    GeminiError,
    GeminiLM,
    _describe,
    _is_connection_error,
    _is_refusal,
    _refusal,
)

logger = logging.getLogger(__name__)

INLINE_BYTES = 16_000_000  # per job; the API takes at most 20 MB of inline requests
SUCCEEDED = "JOB_STATE_SUCCEEDED"
Todo = list[tuple[int, GeminiRequest, str]]  # index in the run, request, cache key


def state_path(cache_path: Path) -> Path:
    """Where the batch jobs of a cache are recorded: ``<cache stem>.batches.json``."""
    return cache_path.with_suffix(".batches.json")


class JobBook:
    """The live batch jobs of one cache (name -> cache keys, in request order), kept in a JSON
    file that is replaced atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs: dict[str, list[str]] = {}
        if not path.exists():
            return
        try:
            self.jobs = {job["name"]: job["keys"] for job in json.loads(path.read_text())["jobs"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise GeminiError(
                f"gemini batch: {path} is unreadable ({type(exc).__name__}: {exc}). It names the "
                "batch jobs of this cache: repair it, or delete it to submit their requests again."
            ) from None

    def add(self, name: str, keys: list[str]) -> None:
        self.jobs[name] = keys
        self._write()

    def remove(self, name: str) -> None:
        if self.jobs.pop(name, None) is not None:
            self._write()

    def _write(self) -> None:
        jobs = [{"name": name, "keys": keys} for name, keys in self.jobs.items()]
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump({"jobs": jobs}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def _size(request: GeminiRequest) -> int:
    """About the bytes a request takes in the job's JSON body."""
    payload = [request.contents, request.system_instruction, request.config]
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8")) + 200


def split_jobs(todo: Todo, max_requests: int, max_bytes: int = INLINE_BYTES) -> list[Todo]:
    """`todo` in order, cut into jobs of at most `max_requests` requests and `max_bytes`."""
    jobs: list[Todo] = []
    total = 0
    for item in todo:
        size = _size(item[1])
        if not jobs or len(jobs[-1]) >= max_requests or total + size > max_bytes:
            jobs.append([])
            total = 0
        jobs[-1].append(item)
        total += size
    return jobs


def _transient(err: Exception) -> bool:
    """A failure worth another try: 408/429/5xx, a timeout or a dropped connection."""
    if isinstance(err, errors.APIError):
        return err.code in RETRY_CODES
    return isinstance(err, TimeoutError | asyncio.TimeoutError) or _is_connection_error(err)


def _pair(keys: list[str], answers: list[types.InlinedResponse]) -> list[tuple[str, Any]]:
    """(cache key, answer): by the key in the answer's metadata, else by position (the API
    answers in request order; it has been seen to leave the metadata out)."""
    known = set(keys)
    if answers and all(a.metadata and a.metadata.get("key") in known for a in answers):
        return [(a.metadata["key"], a) for a in answers]  # type: ignore[index]
    if len(answers) == len(keys):
        return list(zip(keys, answers, strict=True))
    if answers:
        logger.warning(
            "gemini batch: %d answers for %d requests, without their keys: none can be used",
            len(answers),
            len(keys),
        )
    return []


class BatchRun:
    """Submit, poll and collect the batch jobs of one ``generate_until`` call."""

    def __init__(self, lm: GeminiLM, cache: ResponseCache, disable_tqdm: bool) -> None:
        self.lm, self.cache, self.disable_tqdm = lm, cache, disable_tqdm
        self.book = JobBook(state_path(cache.path))
        self.answered: dict[str, dict[str, Any]] = {}
        self.unanswered: Counter[str] = Counter()  # why, for the requests of this call
        self.wanted: set[str] = set()
        self.tokens = 0

    async def run(self, todo: Todo) -> dict[str, dict[str, Any]]:
        """Answer what the jobs can; return the entries answered, by cache key."""
        self.wanted = wanted = {key for _, _, key in todo}
        for name, keys in list(self.book.jobs.items()):
            if all(self.cache.get(key) for key in keys):
                self.book.remove(name)  # collected, or its answers came another way
        live = {name: keys for name, keys in self.book.jobs.items() if wanted & set(keys)}
        if live:  # an earlier run stopped while they ran
            logger.warning(
                "gemini batch: resuming %d job(s) recorded in %s: %s",
                len(live),
                self.book.path,
                ", ".join(live),
            )
        in_jobs = {key for keys in live.values() for key in keys}
        client = self.lm._client()
        try:
            new = [item for item in todo if item[2] not in in_jobs]
            for chunk in split_jobs(new, self.lm.batch_max_requests):
                name = await self.submit(client, chunk)
                if name is None:
                    break  # the API refused a batch: the rest goes online too
                live[name] = self.book.jobs[name]
            if live:
                await self.poll(client, live)
        finally:
            await client.aio.aclose()
            client.close()
        if self.unanswered:
            logger.warning(
                "gemini batch: %d of %d requests got no answer from the batch (%s); they go online",
                sum(self.unanswered.values()),
                len(todo),
                ", ".join(f"{n} {why}" for why, n in self.unanswered.most_common()),
            )
        logger.info(
            "gemini batch: %d answers (%d tokens) stored in %s",
            len(self.answered),
            self.tokens,
            self.cache.path,
        )
        return {key: entry for key, entry in self.answered.items() if key in wanted}

    async def submit(self, client: Any, chunk: Todo) -> str | None:
        """Create one job and record its name; None when the API refuses it (a 4xx, or
        transient errors past the retries): its requests go online."""
        inlined = [
            types.InlinedRequest(
                contents=request.contents, config=request.sdk_config(), metadata={"key": key}
            )
            for _, request, key in chunk
        ]
        config = types.CreateBatchJobConfig(
            display_name=f"spark-math {self.lm.model} {len(chunk)} requests"
        )
        retrying = tenacity.AsyncRetrying(  # only what the API refused: nothing was created
            stop=tenacity.stop_after_attempt(self.lm.max_retries + 1),
            retry=tenacity.retry_if_exception(
                lambda err: isinstance(err, errors.APIError) and err.code in RETRY_CODES
            ),
            wait=tenacity.wait_exponential_jitter(initial=self.lm.retry_delay, max=MAX_WAIT_S),
            reraise=True,
        )
        try:
            job = await retrying(
                client.aio.batches.create, model=self.lm.model, src=inlined, config=config
            )
        except errors.APIError as err:
            if _is_refusal(err):
                raise GeminiError(_refusal(err, self.lm.model)) from None
            logger.warning(
                "gemini batch: the API refused a batch job (%s); sending online", _describe(err)
            )
            return None
        except Exception as err:
            if not _transient(err):
                raise
            logger.warning(
                "gemini batch: no reply to a job submission (%s): not submitting it again, in "
                "case it was created; sending online",
                redact(f"{type(err).__name__}: {err}"),
            )
            return None
        self.book.add(job.name, [key for _, _, key in chunk])
        logger.info("gemini batch: submitted %s with %d requests", job.name, len(chunk))
        return job.name

    async def poll(self, client: Any, live: dict[str, list[str]]) -> None:
        """Read every job's state each ``batch_poll_s`` seconds until all have ended."""
        states = dict.fromkeys(live, "JOB_STATE_PENDING")
        bar = tqdm(
            total=sum(len(keys) for keys in live.values()),
            desc=f"gemini batch {self.lm.model}",
            unit="req",
            disable=self.disable_tqdm,
        )
        failures = 0
        start = time.monotonic()
        try:
            while live:
                for name, keys in list(live.items()):
                    try:
                        job = await client.aio.batches.get(name=name)
                    except Exception as err:
                        failures = self._poll_failed(err, name, live, failures)
                        if name not in live:
                            bar.update(len(keys))
                        continue
                    failures = 0
                    state = job.state.name if job.state else "JOB_STATE_UNSPECIFIED"
                    if state != states[name]:
                        elapsed = time.strftime("%H:%M:%S", time.gmtime(time.monotonic() - start))
                        logger.info("gemini batch: %s is %s after %s", name, state, elapsed)
                    states[name] = state
                    if job.done:
                        self.collect(job, keys)
                        del live[name]
                        self.book.remove(name)
                        bar.update(len(keys))
                shown = Counter(state.removeprefix("JOB_STATE_") for state in states.values())
                bar.set_postfix_str(", ".join(f"{n} {s}" for s, n in sorted(shown.items())))
                if live:
                    await asyncio.sleep(self.lm.batch_poll_s)
        finally:
            bar.close()

    def _poll_failed(
        self, err: Exception, name: str, live: dict[str, list[str]], failures: int
    ) -> int:
        """Sort a failed status read: retried next round, fatal, or the job is gone."""
        if isinstance(err, errors.APIError) and _is_refusal(err):
            raise GeminiError(_refusal(err, self.lm.model)) from None
        if isinstance(err, errors.APIError) and not _transient(err):
            logger.warning(
                "gemini batch: job %s cannot be read (%s); its requests go online",
                name,
                _describe(err),
            )
            self._count_unanswered(live.pop(name), f"job unreadable, {_describe(err)}")
            self.book.remove(name)
            return failures
        if not _transient(err):
            raise err
        failures += 1
        if failures >= self.lm.max_consecutive_failures:
            last = (
                _describe(err)
                if isinstance(err, errors.APIError)
                else f"{type(err).__name__}: {err}"
            )
            raise GeminiError(
                f"gemini batch: {failures} status reads in a row failed (last: {last}). The jobs "
                f"keep running at Google and are recorded in {self.book.path}: rerun the same "
                "command to poll them again."
            ) from None
        return failures

    def collect(self, job: types.BatchJob, keys: list[str]) -> None:
        """Store the ok answers of an ended job; count what it did not answer."""
        state = job.state.name if job.state else "JOB_STATE_UNSPECIFIED"
        answers = (job.dest.inlined_responses if job.dest else None) or []
        if state != SUCCEEDED:
            error = job.error.message if job.error and job.error.message else "no error detail"
            logger.warning(
                "gemini batch: job %s ended %s (%s) with %d of %d answers",
                job.name,
                state,
                error,
                len(answers),
                len(keys),
            )
        seen = set()
        for key, answer in _pair(keys, answers):
            seen.add(key)
            if answer.error:
                why = f"error {answer.error.code} {answer.error.message or ''}".strip()
                self._count_unanswered([key], redact(why)[:120])
                continue
            try:
                entry = parse_response(answer.response or types.GenerateContentResponse())
            except ValueError:
                entry = {"status": "malformed"}
            if entry["status"] != "ok":
                self._count_unanswered([key], entry["status"])
                continue
            entry["key"] = key
            self.cache.put(entry)
            self.answered[key] = entry
            self.tokens += entry["usage"].get("total_token_count", 0)
        ended = state.removeprefix("JOB_STATE_")
        self._count_unanswered([k for k in keys if k not in seen], f"no answer, job {ended}")

    def _count_unanswered(self, keys: list[str], why: str) -> None:
        if n := sum(key in self.wanted for key in keys):
            self.unanswered[why] += n


async def answer_in_batches(
    lm: GeminiLM, todo: Todo, cache: ResponseCache, disable_tqdm: bool
) -> dict[str, dict[str, Any]]:
    """Ask `todo` through batch jobs (resuming those recorded for this cache); the cache
    entries answered, by key. The rest is for the caller to send online."""
    return await BatchRun(lm, cache, disable_tqdm).run(todo)
