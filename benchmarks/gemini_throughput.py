"""Gemini backend throughput against the fake Gemini server: requests per second by concurrency.

The fake server (tests/fake_gemini.py) runs in a child process and holds every request for
`--latency` seconds (default 50 ms), so with c requests in flight the ideal rate is c / latency.
`GeminiLM.generate_until` (google-genai's async client, our workers, retries, cache off) sends
`--rounds` x c requests (at least 40) at each concurrency; the table shows how close it gets,
and the client's CPU time per request, which caps the rate at 1000 / (CPU ms) per core whatever
the concurrency (google-genai's request building and validation take most of it).

    python benchmarks/gemini_throughput.py [--concurrency 1 8 32] [--latency 0.05] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lm_eval.api.instance import Instance
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_gemini import FakeGemini

from spark_math.models.gemini import GeminiLM


def serve(latency: float, ports: multiprocessing.Queue) -> None:
    """Child process: run the fake server until the parent ends it."""
    server = FakeGemini(delay=latency)
    ports.put(server.server_address[1])
    server.serve_forever(0.05)


def timed(answer: Callable[[], list[str]], n: int) -> tuple[float, float]:
    """Wall and CPU seconds of `answer()`, which must answer the `n` benchmark requests right."""
    start, cpu = time.perf_counter(), time.process_time()
    answers = answer()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert answers == [f"The answer is \\boxed{{{i}}}." for i in range(n)], "wrong answers"
    return seconds, cpu


def measure(url: str, concurrency: int, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of one generate_until call of `n` distinct greedy requests."""
    lm = GeminiLM(model="gemini-bench", base_url=url, api_version="v1beta", cache="none")
    lm.concurrency = concurrency
    requests = [
        Instance("generate_until", {}, (f"q{i} <<{i}>>", {"until": ["Q:"], "do_sample": False}), i)
        for i in range(n)
    ]
    return timed(lambda: lm.generate_until(requests, disable_tqdm=True), n)


async def _plain(url: str, concurrency: int, n: int) -> list[str]:
    """The same requests from a plain aiohttp client: c workers, one session, no SDK."""
    import aiohttp

    endpoint = f"{url}/v1beta/models/gemini-bench:generateContent"
    headers = {"x-goog-api-key": os.environ["GEMINI_API_KEY"]}
    answers = [""] * n
    jobs = iter(range(n))

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in jobs:
            body = {"contents": [{"role": "user", "parts": [{"text": f"q{i} <<{i}>>"}]}]}
            body["generationConfig"] = {"temperature": 0.0, "stopSequences": ["Q:"]}
            async with session.post(endpoint, json=body, headers=headers) as response:
                reply = await response.json()
            answers[i] = reply["candidates"][0]["content"]["parts"][-1]["text"]

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return answers


def measure_plain(url: str, concurrency: int, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of `_plain` for `n` requests."""
    return timed(lambda: asyncio.run(_plain(url, concurrency, n)), n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--latency", type=float, default=0.05, help="server seconds per request")
    parser.add_argument("--rounds", type=int, default=20, help="requests per concurrency slot")
    args = parser.parse_args()
    os.environ.pop("GOOGLE_API_KEY", None)  # a real key never goes to the fake server
    os.environ["GEMINI_API_KEY"] = "fake-benchmark-key"
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.latency, ports), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=30)}"
        measure(url, 1, 2)  # warm-up: imports, first connection
        measure_plain(url, 1, 2)
        rows = []
        for c in args.concurrency:
            n = max(40, args.rounds * c)
            ideal = c / args.latency
            ours, ours_cpu = measure(url, c, n)
            plain, plain_cpu = measure_plain(url, c, n)
            rows.append(
                [
                    c,
                    n,
                    f"{n / ours:.1f}",
                    f"{ideal:.0f}",
                    f"{n / ours / ideal:.0%}",
                    f"{n / plain / ideal:.0%}",
                    f"{1000 * ours_cpu / n:.2f}",
                    f"{1000 * plain_cpu / n:.2f}",
                ]
            )
    finally:
        server.terminate()
        server.join()
    print(f"fake Gemini server, {1000 * args.latency:g} ms per request, cache off")
    headers = [
        "concurrency",
        "requests",
        "requests/s",
        "ideal",
        "spark-math",
        "plain aiohttp",
        "CPU ms/req",
        "plain CPU ms/req",
    ]
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
