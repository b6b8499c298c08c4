"""A fake Gemini REST server for tests: ``POST /(v1beta|v1)/models/{model}:generateContent``.

Every request (path, headers, body) is recorded, in memory and optionally as JSON Lines in a log
file. Faults are scripted two ways:

* ``server.push(fault, n)`` queues a fault for the next ``n`` requests, whatever they ask;
* a prompt holding ``[[fault:NAME]]`` gets that fault on every request.

Faults: an HTTP status such as ``429`` (with a ``google.rpc.RetryInfo`` delay of ``retry_after``
seconds, also sent as a ``Retry-After`` header unless ``retry_header`` is false), ``500`` or
``403``; ``leak`` (a 403 whose message echoes the API key, as a careless proxy might); ``slow``
(sleeps ``slow_s`` before answering); ``malformed`` (a 200 whose body is not JSON); ``safety`` (a
SAFETY-blocked candidate); ``prompt_blocked`` (``promptFeedback.blockReason``) and
``no_candidates``. The default answer is ``\\boxed{X}`` when the prompt holds ``<<X>>``, else an
echo of the prompt's hash; a temperature above 0 appends a random draw. ``server.answer =
gold_answers(rows)`` answers instead with the reference solution and boxed answer of the
benchmark row whose problem the prompt holds.

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROUTE = re.compile(r"^/(v1beta|v1)/models/([^/:]+):generateContent$")
MARKER_FAULT = re.compile(r"\[\[fault:(\w+)\]\]")
MARKER_ANSWER = re.compile(r"<<(.+?)>>")
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
STATUS |= {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


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
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def push(self, fault: str, n: int = 1) -> None:
        """Give the next ``n`` requests this fault (a name that is no fault, e.g. "ok", answers)."""
        with self._lock:
            self._faults.extend([fault] * n)

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
            if self._faults:
                return self._faults.popleft()
        marker = MARKER_FAULT.search(prompt_text(entry["body"]))
        return marker.group(1) if marker else None

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    server: FakeGemini

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
        route = ROUTE.match(self.path.split("?")[0])
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not route:
            self._error(404, f"no route {self.path}")
            return
        body = json.loads(raw or b"{}")
        server = self.server
        fault = server.record(
            {
                "path": self.path,
                "version": route.group(1),
                "model": route.group(2),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "time": time.time(),
            }
        )
        try:
            time.sleep(server.slow_s if fault == "slow" else server.delay)
            self._reply(body, fault)
        finally:
            server.done()

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
            self._send(200, json.dumps(self._response(body, fault)).encode())

    def _response(self, body: dict[str, Any], fault: str | None) -> dict[str, Any]:
        usage = {"promptTokenCount": len(prompt_text(body).split())}
        if fault == "prompt_blocked":
            return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
        if fault == "no_candidates":
            return {"candidates": [], "usageMetadata": usage}
        if fault == "safety":
            candidate: dict[str, Any] = {"finishReason": "SAFETY", "index": 0}
        else:
            config = body.get("generationConfig", {})
            text = self.server.answer(body)
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
