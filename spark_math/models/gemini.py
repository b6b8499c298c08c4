"""lm-eval model ``gemini``: Gemini through the ``google-genai`` SDK, with a resumable cache.

``lm_eval --model gemini --model_args model=gemini-2.5-flash --tasks ... --apply_chat_template``

Credentials come only from the environment, never from model_args (those are written into the
results): ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY`` (the SDK prefers the first), or Vertex AI via
``GOOGLE_GENAI_USE_VERTEXAI=true`` plus ``GOOGLE_CLOUD_PROJECT``/``GOOGLE_CLOUD_LOCATION``.

Every finished response is appended to a JSON Lines cache as it arrives, keyed by the request,
its generation settings and its occurrence index in the run, so sampled repeats are cached too
and an interrupted run resumes without paying twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import urllib.request
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import lm_eval.models  # noqa: F401  (fill the registry before adding to it, see get_model)

try:
    import aiohttp
    import tenacity
    from google import genai
    from google.genai import errors, types
except ImportError as exc:  # the optional extra is not installed
    raise ImportError(
        f"the gemini backend needs google-genai, aiohttp and tenacity ({exc}): "
        "pip install 'spark-math[gemini]'"
    ) from exc
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from tqdm import tqdm

from spark_math.errors import SparkMathError, redact
from spark_math.models._cache import ResponseCache
from spark_math.models._gemini_request import (
    KNOWN_GEN_KWARGS,
    GeminiRequest,
    build_request,
    cut_at_stops,
    occurrence_keys,
    parse_response,
)
from spark_math.models.generation import Generation

logger = logging.getLogger(__name__)

KEY_VARS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
RETRY_CODES = frozenset({408, 429, 500, 502, 503, 504})
REFUSED_CODES = frozenset({401, 403})  # bad key, no access: every call fails
ON_FAILURE = ("error", "exclude")
MAX_WAIT_S = 120.0
_LM_EVAL_KWARGS = frozenset({"batch_size", "max_batch_size", "device"})
_TRANSPORT_MODULES = frozenset({"aiohttp", "httpx", "httpx2"})
T = TypeVar("T")


class GeminiError(SparkMathError, RuntimeError):
    """A Gemini failure; the message never holds the API key."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


def _vertex_enabled() -> bool:
    flag = os.environ.get("GOOGLE_GENAI_USE_ENTERPRISE") or os.environ.get(
        "GOOGLE_GENAI_USE_VERTEXAI", ""
    )
    return flag.lower() in {"1", "true"}


def default_cache_dir() -> Path:
    root = os.environ.get("SPARK_MATH_CACHE_DIR") or Path.home() / ".cache" / "spark_math"
    return Path(root) / "gemini"


def _cache_path(cache: str | Path | bool | None, model: str) -> Path | None:
    if cache is None or cache is False or str(cache).lower() in {"none", "off", "false", ""}:
        return None
    filename = re.sub(r"[^\w.-]", "_", model) + ".jsonl"
    if cache == "auto":
        return default_cache_dir() / filename
    path = Path(cache).expanduser()
    return path if path.suffix == ".jsonl" else path / filename


@dataclass
class Outcome:
    """One request's result: raw text (before client-side stop cuts) and why it is empty."""

    text: str
    reason: str | None = None
    failed: bool = False
    cached: bool = False
    finish: str | None = None
    tokens: int | None = None
    status: str = "ok"  # or why there is no answer: failed, blocked, empty (Generation.status)

    @classmethod
    def of(cls, entry: dict[str, Any], cached: bool = False) -> Outcome:
        """The outcome of a parsed (or cached) response entry."""
        usage = entry.get("usage") or {}
        return cls(
            entry["text"],
            entry["reason"],
            cached=cached,
            finish=entry.get("finish"),
            tokens=usage.get("candidates_token_count"),
            status=entry.get("status", "ok"),
        )

    def answer(self, until: list[str]) -> Generation:
        """The text cut at the stop strings; MAX_TOKENS means it hit the output budget."""
        truncated = None if self.failed or self.finish is None else self.finish == "MAX_TOKENS"
        generation = Generation(
            self.text, truncated=truncated, tokens=self.tokens, status=self.status
        )
        return generation.with_text(cut_at_stops(self.text, until))


class _Retry(Exception):
    """A transient failure: retried, honouring the server's delay when it gives one; `status`
    is what it becomes when the retries run out."""

    def __init__(
        self, reason: str, retry_after: float | None = None, status: str = "failed"
    ) -> None:
        super().__init__(reason)
        self.reason, self.retry_after, self.status = reason, retry_after, status


class _Failed(Exception):
    """A request that will not succeed however often it is sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _retry_after(err: errors.APIError) -> float | None:
    """Seconds from a ``Retry-After`` header, else from a ``google.rpc.RetryInfo`` detail."""
    try:
        value = err.response.headers.get("Retry-After")
        if value:
            return float(value)
    except (AttributeError, TypeError, ValueError):
        pass
    try:
        for detail in err.details["error"]["details"]:
            if str(detail.get("retryDelay", "")).endswith("s"):
                return float(detail["retryDelay"][:-1])
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return None


def _describe(err: errors.APIError) -> str:
    return redact(f"HTTP {err.code} {err.status or ''}: {err.message or ''}".strip())


def _refusal(err: errors.APIError, model: str) -> str:
    """One line for a request that no retry or rerun can fix: what was refused, what to do."""
    if err.code == 404:
        fix = f"check the model name ({model!r}) and api_version"
    else:
        keys = " or ".join(KEY_VARS)
        fix = f"check the key in {keys} (the SDK prefers GOOGLE_API_KEY) and its access"
    return f"gemini: the API refused the request ({_describe(err)}): {fix}."


def _is_refusal(err: errors.APIError) -> bool:
    """A bad key or no access: no request of the run can succeed, online or in a batch."""
    return err.code in REFUSED_CODES or "API_KEY_INVALID" in str(err.details)


def _is_fatal(err: errors.APIError) -> bool:
    """A refusal, or an unknown model (404): stop the run."""
    return err.code == 404 or _is_refusal(err)


def _is_connection_error(err: Exception) -> bool:
    """A dropped or refused connection, from the socket or the HTTP library."""
    return isinstance(err, OSError) or type(err).__module__.split(".")[0] in _TRANSPORT_MODULES


def _session() -> aiohttp.ClientSession:
    """An HTTP session for the SDK's async client (call it in the running loop). The SDK's own
    session trusts the environment, which makes aiohttp look proxies and netrc up in a thread
    on every request (2 thread hops, ~0.5 ms of CPU); it does so here only when a proxy or a
    netrc file is there to honour."""
    netrc = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    trust_env = bool(urllib.request.getproxies()) or netrc.exists()
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), trust_env=trust_env)


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, from a worker thread when a loop already runs here (notebooks)."""
    try:
        running = asyncio.get_running_loop() is not None
    except RuntimeError:
        running = False
    if not running:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@register_model("gemini")
class GeminiLM(LM):
    """Generation-only lm-eval backend for the Gemini API (``google-genai``).

    Args:
        model: Gemini model name, e.g. ``gemini-2.5-flash``.
        concurrency: requests in flight at once.
        max_retries: retries of a 408/429/5xx, timeout, dropped connection or malformed reply.
        timeout: seconds per attempt.
        thinking_budget: thinking tokens (0 off, -1 dynamic); thought parts never reach answers.
        base_url, api_version: endpoint overrides (proxies, tests); default: the SDK's.
        cache: the JSON Lines cache: a ``.jsonl`` file, or a folder that gets
            ``<model>.jsonl``; ``auto`` (default) is ``$SPARK_MATH_CACHE_DIR/gemini/``, else
            ``~/.cache/spark_math/gemini/``; ``none`` disables it.
        retry_delay: first backoff delay in seconds; doubles, with jitter, up to 120 s.
        max_consecutive_failures: abort the run after this many requests in a row fail.
        on_failure: what a request that got no answer (failed after its retries, blocked, or
            empty) does to the run: ``error`` (default) stops it once every request was tried
            (answers are cached: a rerun asks only the missing ones again); ``exclude`` scores
            the run without them, counted in the ``failed``/``blocked``/``empty`` metrics.
        batch: ``true`` sends what the cache lacks as Gemini Batch Mode jobs (half the price,
            answers within hours; needs the cache and the Gemini Developer API): a killed run
            started again resumes its jobs, and what a batch does not answer goes online
            (``spark_math.models.gemini_batch``).
        batch_poll_s: seconds between two reads of the batch jobs' state.
        batch_max_requests: requests per batch job at most (a job also stays under 16 MB).
    """

    def __init__(
        self,
        model: str,
        concurrency: int = 8,
        max_retries: int = 6,
        timeout: float = 600.0,
        thinking_budget: int | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        cache: str | Path | bool | None = "auto",
        retry_delay: float = 1.0,
        max_consecutive_failures: int = 20,
        on_failure: str = "error",
        batch: bool = False,
        batch_poll_s: float = 30.0,
        batch_max_requests: int = 10_000,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        unknown = sorted(set(kwargs) - _LM_EVAL_KWARGS)
        if unknown:  # names only: a value could be a secret
            raise GeminiError(
                f"gemini: unknown model_args {unknown}. The API key is read from "
                f"{' or '.join(KEY_VARS)} only, never from model_args."
            )
        if not _vertex_enabled() and not any(os.environ.get(v) for v in KEY_VARS):
            raise GeminiError(
                "gemini: no API key. Set GEMINI_API_KEY (or GOOGLE_API_KEY), or for Vertex AI "
                "set GOOGLE_GENAI_USE_VERTEXAI=true, GOOGLE_CLOUD_PROJECT and "
                "GOOGLE_CLOUD_LOCATION."
            )
        self.model = model
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max(0, int(max_retries))
        self.timeout = float(timeout)
        self.thinking_budget = None if thinking_budget is None else int(thinking_budget)
        self.base_url = base_url
        self.api_version = api_version
        self.cache_path = _cache_path(cache, model)
        self.retry_delay = float(retry_delay)
        self.max_consecutive_failures = max(1, int(max_consecutive_failures))
        if on_failure not in ON_FAILURE:
            raise GeminiError(f"gemini: on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
        self.on_failure = on_failure
        self.batch = str(batch).lower() in {"true", "1"}
        self.batch_poll_s = float(batch_poll_s)
        self.batch_max_requests = max(1, int(batch_max_requests))
        if self.batch and (self.cache_path is None or _vertex_enabled()):
            raise GeminiError(
                "gemini: batch=true needs the cache (it records the batch jobs, so that a rerun "
                "resumes them instead of paying twice) and the Gemini Developer API (Vertex AI "
                "batch prediction reads Cloud Storage or BigQuery)."
            )
        self.outcomes: list[Outcome] = []  # of the last generate_until call

    @property
    def tokenizer_name(self) -> str:
        return "gemini"

    def chat_template(self, chat_template: bool | str = False) -> str:
        return "gemini-native"

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """The messages as JSON; ``generate_until`` maps them onto Gemini turns."""
        return json.dumps(list(chat_history), ensure_ascii=False)

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError(
            "gemini: the Gemini API returns no prompt log-probabilities; "
            "use generate_until tasks only."
        )

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        raise NotImplementedError(
            "gemini: the Gemini API returns no prompt log-probabilities; "
            "use generate_until tasks only."
        )

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Answer every request; failed ones become ``""`` (see ``outcomes`` for reasons)."""
        pairs = [(req.args[0], req.args[1]) for req in requests]
        built = [build_request(ctx, kw, self.thinking_budget) for ctx, kw in pairs]
        ignored = {k for _, kw in pairs for k in kw} - KNOWN_GEN_KWARGS
        if ignored:
            logger.warning("gemini: ignoring gen_kwargs %s", sorted(ignored))
        keys = occurrence_keys([r.digest(self.model) for r in built])
        self.outcomes = _run_sync(self._generate(built, keys, disable_tqdm))
        self._check_failures()
        answers = []
        for req, gemini_req, outcome in zip(requests, built, self.outcomes, strict=True):
            answer = outcome.answer(gemini_req.until)
            if not outcome.failed:
                self.cache_hook.add_partial("generate_until", req.args, answer)
            answers.append(answer)
        return answers

    def _check_failures(self) -> None:
        """Stop the run (on_failure=error) or say what is left out (exclude)."""
        missing = Counter(o.status for o in self.outcomes if o.status != "ok")
        if not missing:
            return
        shown = ", ".join(f"{n} {status}" for status, n in sorted(missing.items()))
        last = next(o.reason for o in reversed(self.outcomes) if o.status != "ok")
        total = len(self.outcomes)
        if self.on_failure == "exclude":
            logger.warning(
                "gemini: %s of %d requests got no answer (%s; last: %s); they are left out of "
                "the scores and counted in the failed/blocked/empty metrics",
                sum(missing.values()),
                total,
                shown,
                last,
            )
            return
        where = (
            f"the {total - sum(missing.values())} answers are cached in {self.cache_path}, so "
            "a rerun asks only the others again"
            if self.cache_path
            else "the cache is off (cache=none)"
        )
        raise GeminiError(
            f"gemini: {sum(missing.values())} of {total} requests got no answer ({shown}; last: "
            f"{last}); {where}. Rerun the same command, or add on_failure=exclude to the "
            "model_args to score the run without them (their counts are reported)."
        )

    def _client(self, session: aiohttp.ClientSession | None = None) -> genai.Client:
        """The SDK client; async calls go through `session` when given (see `_session`)."""
        options = types.HttpOptions(
            base_url=self.base_url,
            api_version=self.api_version,
            timeout=int(self.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),  # we retry, with our own counts
            aiohttp_client=session,
        )
        return genai.Client(http_options=options)

    async def _generate(
        self, built: list[GeminiRequest], keys: list[str], disable_tqdm: bool
    ) -> list[Outcome]:
        cache = ResponseCache(self.cache_path) if self.cache_path else None
        outcomes: list[Outcome | None] = [None] * len(built)
        if cache:
            for i, key in enumerate(keys):
                if entry := cache.get(key):
                    outcomes[i] = Outcome.of(entry, cached=True)
        todo = [(i, built[i], keys[i]) for i, o in enumerate(outcomes) if o is None]
        if self.batch and cache and todo:  # what the batch jobs answer skips the online path
            from spark_math.models.gemini_batch import answer_in_batches

            try:
                answered = await answer_in_batches(self, todo, cache, disable_tqdm)
            except BaseException:
                cache.close()
                raise
            for i, _, key in todo:
                if key in answered:
                    outcomes[i] = Outcome.of(answered[key])
            todo = [item for item in todo if outcomes[item[0]] is None]
        from_batch = sum(o is not None and not o.cached for o in outcomes)
        jobs = iter(todo)
        session = _session()
        client = self._client(session)
        run = _Run(self, client, cache, len(built), len(built) - len(todo), disable_tqdm)
        run.succeeded = from_batch  # answers sent this run, in batch jobs
        workers = [asyncio.create_task(run.worker(jobs, outcomes)) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            run.bar.close()
            await client.aio.aclose()
            client.close()
            await session.close()
            if cache:
                cache.close()
        done = [o for o in outcomes if o is not None]
        run.finish(done)
        return done


class _Run:
    """State of one ``generate_until`` call: workers, retries, counters, progress bar."""

    def __init__(
        self,
        lm: GeminiLM,
        client: genai.Client,
        cache: ResponseCache | None,
        total: int,
        cached: int,
        disable_tqdm: bool,
    ) -> None:
        self.lm, self.client, self.cache = lm, client, cache
        named = lm.model.startswith(("models/", "tunedModels/"))
        self.model_path = lm.model if named else f"models/{lm.model}"
        self.bar = tqdm(
            total=total,
            initial=cached,
            desc=f"gemini {lm.model}",
            unit="req",
            disable=disable_tqdm,
        )
        self.cached = cached
        self.retries = self.tokens = self.sent = self.succeeded = self.failed = 0
        self.streak = self.gave_up = 0
        self.backoff = tenacity.wait_exponential_jitter(
            initial=lm.retry_delay, max=MAX_WAIT_S, jitter=lm.retry_delay
        )

    async def worker(
        self, jobs: Iterator[tuple[int, GeminiRequest, str]], outcomes: list[Outcome | None]
    ) -> None:
        for i, request, key in jobs:
            outcomes[i] = outcome = await self.fetch(request, key)
            if outcome.failed:
                self.failed += 1
                self.streak += 1
                logger.warning("gemini: request %d answered empty: %s", i, outcome.reason)
                if self.streak >= self.lm.max_consecutive_failures:
                    raise self.abort(f"{self.streak} requests in a row failed", outcome.reason)
            else:
                self.succeeded += 1
                self.streak = 0
            self.bar.update(1)
            self.bar.set_postfix(
                retries=self.retries, failed=self.failed, tokens=self.tokens, refresh=False
            )

    async def fetch(self, request: GeminiRequest, key: str) -> Outcome:
        self.sent += 1
        try:
            try:
                entry = await self.attempt(request)  # most requests: no retry machinery (CPU)
            except _Retry as first:
                entry = await self.retry(request, first)
        except _Retry as exc:
            self.gave_up += 1
            reason = f"{exc.reason} (gave up after {self.lm.max_retries} retries)"
            return Outcome("", reason, failed=True, status=exc.status)
        except _Failed as exc:
            return Outcome("", exc.reason, failed=True, status="failed")
        entry["key"] = key
        self.tokens += entry["usage"].get("total_token_count", 0)
        if self.cache and entry["status"] == "ok":  # a non-answer is asked again next run
            self.cache.put(entry)
        outcome = Outcome.of(entry)
        outcome.failed = entry["status"] != "ok"
        return outcome

    async def send(self, request: GeminiRequest) -> dict[str, Any] | types.GenerateContentResponse:
        """POST ``generateContent``; the reply's JSON body (or, on Vertex AI, the SDK's object).

        On the Gemini Developer API the body is built here and sent through the SDK's own HTTP
        client (its auth, endpoint, transport and errors): the SDK's request and response
        conversion costs 2-3 ms of CPU a request and capped throughput at concurrency 32
        (benchmarks/gemini_throughput.py). Vertex AI, whose paths differ, goes through
        ``models.generate_content``.
        """
        if self.client.vertexai:
            return await self.client.aio.models.generate_content(
                model=self.lm.model, contents=request.contents, config=request.sdk_config()
            )
        reply = await self.client.aio._api_client.async_request(
            "post", f"{self.model_path}:generateContent", request.body()
        )
        return json.loads(reply.body) if reply.body else {}

    async def retry(self, request: GeminiRequest, first: _Retry) -> dict[str, Any]:
        """The attempts that follow a first one that failed with `first`, under tenacity;
        `first` is replayed as its attempt 1, so waits and counts are those of one loop."""
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.lm.max_retries + 1),
            retry=tenacity.retry_if_exception_type(_Retry),
            wait=self.wait,
            before_sleep=self.count_retry,
            reraise=True,
        )
        replay = [first]

        async def again() -> dict[str, Any]:
            if replay:
                raise replay.pop()
            return await self.attempt(request)

        return await retrying(again)

    async def attempt(self, request: GeminiRequest) -> dict[str, Any]:
        """One HTTP call, its failure sorted into retry, per-request failure or abort."""
        try:
            entry = parse_response(await self.send(request))
        except errors.APIError as err:
            if err.code in RETRY_CODES:
                raise _Retry(_describe(err), _retry_after(err)) from None
            if _is_fatal(err):
                raise GeminiError(_refusal(err, self.lm.model)) from None
            raise _Failed(_describe(err)) from None
        except (TimeoutError, asyncio.TimeoutError):
            raise _Retry(f"timeout after {self.lm.timeout:g} s") from None
        except ValueError as err:  # a 200 whose body is not a valid response
            raise _Retry(redact(f"malformed response: {type(err).__name__}: {err}")) from None
        except Exception as err:
            if _is_connection_error(err):
                raise _Retry(redact(f"connection error: {type(err).__name__}: {err}")) from None
            raise
        if entry["status"] == "empty":  # an empty body or no text: ask again
            raise _Retry(entry["reason"], status="empty")
        return entry

    def wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_WAIT_S) + random.uniform(0, self.lm.retry_delay)
        return self.backoff(state)

    def count_retry(self, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        self.bar.set_postfix(retries=self.retries, failed=self.failed, tokens=self.tokens)

    def abort(self, what: str, last_reason: str | None) -> GeminiError:
        where = (
            f"Every answer received is cached in {self.cache.path}; rerun the same command to "
            "resume"
            if self.cache
            else "the cache is off (cache=none), so a rerun starts over"
        )
        return GeminiError(f"gemini: aborting, {what} (last: {last_reason}). {where}.")

    def finish(self, outcomes: list[Outcome]) -> None:
        """Log a summary; refuse a run in which nothing succeeded and retries ran out."""
        if self.gave_up and not self.succeeded:
            last = next(o.reason for o in reversed(outcomes) if o.failed)
            raise self.abort(f"all {self.sent} requests sent failed", last)
        reasons = Counter(o.reason for o in outcomes if o.reason)
        level = logging.WARNING if reasons else logging.INFO
        logger.log(
            level,
            "gemini: %d requests, %d from cache, %d sent (%d retries, %d tokens); "
            "empty answers: %s",
            len(outcomes),
            self.cached,
            self.sent,
            self.retries,
            self.tokens,
            dict(reasons) or "none",
        )
