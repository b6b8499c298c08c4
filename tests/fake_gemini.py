"""A fake Gemini REST server for tests: ``POST /(v1beta|v1)/models/{model}:generateContent``,
and Batch Mode: ``POST .../models/{model}:batchGenerateContent`` (inline requests) and
``GET .../batches/{id}``, in the REST shapes the google-genai SDK sends and parses.

Every request (method, path, headers, body) is recorded, in memory and optionally as JSON Lines in
a log file. Faults are scripted two ways:

* ``server.push(fault, n)`` queues a fault for the next ``n`` HTTP requests, whatever they ask
  (a batch job's creation or status read included), or only those whose path ends with ``path``
  (``push("500", path=":generateContent")``);
* a prompt holding ``[[fault:NAME]]`` gets that fault on every request, online or in a batch.

Faults: an HTTP status such as ``429`` (with a ``google.rpc.RetryInfo`` delay of ``retry_after``
seconds, also sent as a ``Retry-After`` header unless ``retry_header`` is false), ``500`` or
``403``; ``leak`` (a 403 whose message echoes the API key, as a careless proxy might); ``slow``
(sleeps ``slow_s`` before answering); ``malformed`` (a 200 whose body is not JSON); ``safety`` (a
SAFETY-blocked candidate); ``prompt_blocked`` (``promptFeedback.blockReason``) and
``no_candidates``. The default answer is ``\\boxed{X}`` when the prompt holds ``<<X>>``, else an
echo of the prompt's hash; a temperature above 0 appends a random draw. ``server.answer =
gold_answers(rows)`` answers instead with the reference solution and boxed answer of the
benchmark row whose problem the prompt holds.

Batch jobs (``server.batches``, by name) answer each inlined request as ``generateContent``
would: a fault that is an HTTP error there (a status, ``malformed``, ``leak``) becomes that
request's ``error`` in the job's output; ``server.push_item(fault, n)`` gives the next ``n``
inlined requests a fault. Each status read moves a job one step along its script, by default
``PENDING, RUNNING, SUCCEEDED``; ``server.script_batch(*states)`` scripts the next job (e.g.
``"RUNNING", "EXPIRED"``), ``server.hold_batches = True`` keeps every job where it is.
``batch_metadata = False`` leaves the requests' metadata out of the answers (as the API has been
seen to do) and ``batch_shuffle = True`` answers out of order.

Standalone: ``python tests/fake_gemini.py --port 0 --log FILE --delay 0.2 --deadline 60`` prints
``PORT <n>`` and stops by itself after the deadline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROUTE = re.compile(r"^/(v1beta|v1)/models/([^/:]+):generateContent$")
BATCH_CREATE = re.compile(r"^/(v1beta|v1)/models/([^/:]+):batchGenerateContent$")
BATCH_GET = re.compile(r"^/(v1beta|v1)/(batches/[^/:]+)$")
BATCH_END = {"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"}
BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta."
RPC_CODES = {400: 3, 403: 7, 404: 5, 429: 8, 500: 13, 503: 14}  # HTTP -> google.rpc.Code
MARKER_FAULT = re.compile(r"\[\[fault:(\w+)\]\]")
MARKER_ANSWER = re.compile(r"<<(.+?)>>")
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
STATUS |= {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def use_fake_key(monkeypatch: Any, key: str, cache_root: Path) -> None:
    """Only `key` as the API key (no Vertex AI, no base-URL override from the environment) and
    the response caches under `cache_root` (a pytest `monkeypatch` undoes it)."""
    for var in ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", key)
    monkeypatch.setenv("SPARK_MATH_CACHE_DIR", str(cache_root))


def prompt_text(body: dict[str, Any]) -> str:
    """All text parts of the request's contents, joined by newlines."""
    return "\n".join(
        part.get("text", "") for turn in body.get("contents", []) for part in turn.get("parts", [])
    )


def default_answer(body: dict[str, Any]) -> str:
    """Deterministic for temperature 0; ``\\boxed{X}`` when the prompt holds ``<<X>>``."""
    text = prompt_text(body)
    found = MARKER_ANSWER.findall(text)
    answer = (
        f"The answer is \\boxed{{{found[-1]}}}."
        if found
        else f"echo {hashlib.sha256(text.encode()).hexdigest()[:8]}"
    )
    if body.get("generationConfig", {}).get("temperature", 0) > 0:
        answer += f" sample {random.randrange(10**6)}"
    return answer


def gold_answers(rows: Iterable[dict[str, Any]]) -> Callable[[dict[str, Any]], str]:
    """An answer function that solves every problem of `rows` (``spark_math.data.load_rows``)."""
    by_length = sorted(rows, key=lambda row: len(row["problem"]), reverse=True)

    def answer(body: dict[str, Any]) -> str:
        text = prompt_text(body)
        row = next((r for r in by_length if r["problem"] in text), None)
        if row is None:
            return "I do not know this problem."
        return f"{row['solution'] or ''}\nThe final answer is $\\boxed{{{row['answer']}}}$."

    return answer


def http_fault(fault: str | None) -> bool:
    """Whether a fault is an HTTP error (else it shapes a 200 reply)."""
    return bool(fault) and (fault.isdigit() or fault in {"malformed", "leak"})


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class FakeBatch:
    """One batch job: its inlined requests as sent, its state script and, once done, output."""

    name: str
    model: str
    display_name: str
    requests: list[dict[str, Any]]
    script: tuple[str, ...]
    item_faults: list[str | None]
    created: str = field(default_factory=_timestamp)
    reads: int = 0
    output: list[dict[str, Any]] | None = None

    @property
    def state(self) -> str:
        return self.script[min(self.reads, len(self.script)) - 1] if self.reads else "PENDING"


def _thinking_on(config: dict[str, Any]) -> bool:
    thinking = config.get("thinkingConfig") or {}
    budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
    return budget is not None and budget != 0


class FakeGemini(ThreadingHTTPServer):
    """The server; ``start()`` serves from a daemon thread, ``url`` is the base URL."""

    daemon_threads = True
    request_queue_size = 256  # listen backlog: socketserver's 5 resets bursts of connections

    def __init__(self, port: int = 0, log_path: Path | None = None, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.log_path = log_path
        self.delay = delay
        self.slow_s = 5.0
        self.retry_after: float | None = 1.0
        self.retry_header = True
        self.answer: Callable[[dict[str, Any]], str] = default_answer
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.peak_in_flight = 0
        self.batches: dict[str, FakeBatch] = {}
        self.batch_script: tuple[str, ...] = ("PENDING", "RUNNING", "SUCCEEDED")
        self.hold_batches = False
        self.batch_metadata = True
        self.batch_shuffle = False
        self._faults: deque[tuple[str, str]] = deque()  # fault, path suffix
        self._item_faults: deque[str] = deque()
        self._scripts: deque[tuple[str, ...]] = deque()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def push(self, fault: str, n: int = 1, path: str = "") -> None:
        """Give the next ``n`` requests (whose path ends with `path`) this fault (a name that is
        no fault, e.g. "ok", answers)."""
        with self._lock:
            self._faults.extend([(fault, path)] * n)

    def push_item(self, fault: str, n: int = 1) -> None:
        """Give the next ``n`` requests inlined in batch jobs this fault."""
        with self._lock:
            self._item_faults.extend([fault] * n)

    def script_batch(self, *states: str) -> None:
        """The states the next job created goes through, one per status read."""
        with self._lock:
            self._scripts.append(states)

    def online_requests(self) -> list[dict[str, Any]]:
        """The ``generateContent`` calls received."""
        return [r for r in self.requests if r["path"].split("?")[0].endswith(":generateContent")]

    def create_batch(self, model: str, batch: dict[str, Any]) -> FakeBatch:
        requests = batch["inputConfig"]["requests"]["requests"]
        with self._lock:
            faults = [self._item_faults.popleft() if self._item_faults else None for _ in requests]
            script = self._scripts.popleft() if self._scripts else self.batch_script
            job = FakeBatch(
                f"batches/fake-{len(self.batches) + 1}",
                model,
                batch.get("displayName", ""),
                requests,
                script,
                faults,
            )
            self.batches[job.name] = job
        return job

    def read_batch(
        self, job: FakeBatch, api_key: str | None, advance: bool = True
    ) -> dict[str, Any]:
        """The job's ``Operation``, one step further along its script if `advance`."""
        with self._lock:
            if advance and not self.hold_batches:
                job.reads += 1
            state = job.state
            if state == "SUCCEEDED" and job.output is None:
                job.output = [
                    self._batch_item(item, fault, api_key)
                    for item, fault in zip(job.requests, job.item_faults, strict=True)
                ]
                if self.batch_shuffle:
                    random.shuffle(job.output)
        metadata: dict[str, Any] = {
            "@type": BATCH_TYPE + "GenerateContentBatch",
            "model": f"models/{job.model}",
            "displayName": job.display_name,
            "name": job.name,
            "state": f"BATCH_STATE_{state}",
            "createTime": job.created,
            "updateTime": _timestamp(),
            "batchStats": {"requestCount": str(len(job.requests))},
        }
        operation: dict[str, Any] = {"name": job.name, "metadata": metadata}
        if state in BATCH_END:
            operation["done"] = True
            metadata["endTime"] = metadata["updateTime"]
        if state == "SUCCEEDED":
            metadata["output"] = {"inlinedResponses": {"inlinedResponses": job.output}}
            operation["response"] = {"@type": BATCH_TYPE + "GenerateContentBatchOutput"}
        elif state in BATCH_END:
            operation["error"] = {"code": 13, "message": f"fake: the batch job is {state}"}
        return operation

    def _batch_item(
        self, item: dict[str, Any], fault: str | None, api_key: str | None
    ) -> dict[str, Any]:
        """An inlined request's answer: what ``generateContent`` would say, as data."""
        request = item.get("request", {})
        marker = MARKER_FAULT.search(prompt_text(request))
        fault = fault or (marker.group(1) if marker else None)
        answer: dict[str, Any] = {}
        if self.batch_metadata and "metadata" in item:
            answer["metadata"] = item["metadata"]
        if http_fault(fault):
            status = int(fault) if fault.isdigit() else 403 if fault == "leak" else 500
            message = f"key {api_key} has no access" if fault == "leak" else STATUS.get(status)
            answer["error"] = {"code": RPC_CODES.get(status, 2), "message": f"fake: {message}"}
        else:
            answer["response"] = self.response(request, fault)
        return answer

    def response(self, body: dict[str, Any], fault: str | None) -> dict[str, Any]:
        """The ``generateContent`` JSON reply to ``body`` with ``fault`` (a fault that is no
        HTTP error)."""
        usage = {"promptTokenCount": len(prompt_text(body).split())}
        if fault == "prompt_blocked":
            return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
        if fault == "no_candidates":
            return {"candidates": [], "usageMetadata": usage}
        if fault == "safety":
            candidate: dict[str, Any] = {"finishReason": "SAFETY", "index": 0}
        else:
            config = body.get("generationConfig", {})
            text = self.answer(body)
            for stop in config.get("stopSequences", []):
                text = text.split(stop)[0]
            parts = [{"text": text}]
            if _thinking_on(config):
                parts.insert(0, {"text": "Let me think about it.", "thought": True})
                usage["thoughtsTokenCount"] = 5
            if fault == "max_tokens":  # cut off at the output budget, mid-sentence
                parts[-1]["text"] = " ".join(text.split()[:3])
            candidate = {
                "content": {"role": "model", "parts": parts},
                "finishReason": "MAX_TOKENS" if fault == "max_tokens" else "STOP",
                "index": 0,
            }
            usage["candidatesTokenCount"] = len(parts[-1]["text"].split())
        usage["totalTokenCount"] = sum(usage.values())
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "fake-1"}

    def start(self) -> FakeGemini:
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def record(self, entry: dict[str, Any]) -> str | None:
        """Log a request; return the fault it gets, if any."""
        with self._lock:
            self.requests.append(entry)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if self.log_path:
                with self.log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")
            path = entry["path"].split("?")[0]
            for queued in self._faults:
                if path.endswith(queued[1]):
                    self._faults.remove(queued)
                    return queued[0]
        marker = MARKER_FAULT.search(prompt_text(entry["body"]))
        return marker.group(1) if marker else None

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    server: FakeGemini
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API: clients reuse connections
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, after: float | None = None) -> None:
        error: dict[str, Any] = {"code": status, "message": f"fake: {message}"}
        error["status"] = STATUS.get(status, "ERROR")
        headers = {}
        if after is not None:
            info = "type.googleapis.com/google.rpc.RetryInfo"
            error["details"] = [{"@type": info, "retryDelay": f"{after:g}s"}]
            if self.server.retry_header:
                headers["Retry-After"] = f"{after:g}"
        self._send(status, json.dumps({"error": error}).encode(), headers)

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        route = ROUTE.match(path) or BATCH_CREATE.match(path)
        if not route:
            self._error(404, f"no route {self.path}")
            return
        body = json.loads(raw or b"{}")
        fault = self._record("POST", route, body)
        try:
            time.sleep(self.server.slow_s if fault == "slow" else self.server.delay)
            if route.re is ROUTE or http_fault(fault):
                self._reply(body, fault)
            elif "requests" not in body.get("batch", {}).get("inputConfig", {}):
                self._error(400, "only inline requests are supported by this fake")
            else:
                job = self.server.create_batch(route.group(2), body["batch"])
                operation = self.server.read_batch(job, None, advance=False)
                self._send(200, json.dumps(operation).encode())
        finally:
            self.server.done()

    def do_GET(self) -> None:
        route = BATCH_GET.match(self.path.split("?")[0])
        if not route:
            self._error(404, f"no route {self.path}")
            return
        fault = self._record("GET", route, {})
        try:
            job = self.server.batches.get(route.group(2))
            if http_fault(fault):
                self._reply({}, fault)
            elif job is None:
                self._error(404, f"no batch {route.group(2)}")
            else:
                operation = self.server.read_batch(job, self.headers.get("x-goog-api-key"))
                self._send(200, json.dumps(operation).encode())
        finally:
            self.server.done()

    def _record(self, method: str, route: re.Match[str], body: dict[str, Any]) -> str | None:
        return self.server.record(
            {
                "method": method,
                "path": self.path,
                "version": route.group(1),
                "model": route.group(2),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "time": time.time(),
            }
        )

    def _reply(self, body: dict[str, Any], fault: str | None) -> None:
        if fault == "429":
            self._error(429, "quota exceeded", self.server.retry_after)
        elif fault and fault.isdigit():
            self._error(int(fault), STATUS.get(int(fault), "ERROR"))
        elif fault == "leak":
            self._error(403, f"key {self.headers.get('x-goog-api-key')} has no access")
        elif fault == "malformed":
            self._send(200, b'{"candidates": [{"content": ')
        else:
            self._send(200, json.dumps(self.server.response(body, fault)).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--deadline", type=float, default=120.0, help="stop after this many s")
    args = parser.parse_args()
    server = FakeGemini(args.port, args.log, args.delay).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    time.sleep(args.deadline)
    server.shutdown()


if __name__ == "__main__":
    main()
