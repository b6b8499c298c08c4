"""A hard wall-time bound for sympy work: forked worker processes that are killed on timeout.

SIGALRM (math-verify's guard) works only in the main thread and cannot interrupt C-level work such
as a huge integer power. Instead each call runs in a worker process forked from this one (so it
inherits the already-imported sympy and starts in milliseconds); when the deadline passes the
worker is SIGKILLed and replaced. Workers are pooled, one per concurrent caller, so the bound
holds in threads; they are plain `os.fork` children, so it also holds inside daemonic
multiprocessing workers (lm-eval, DataLoader), which may not start `multiprocessing` children.
On platforms without `fork` the call runs in-process, bounded only by math-verify's own checks.

The first use of the parser and of sympy costs 0.5-1 s. `warm_up` pays it once per process, in a
background thread started at import, so that every worker forked afterwards starts warm. Every
fork of the process (ours, or a user's DataLoader) waits for that thread, which could otherwise
hold a lock the child inherits; a worker wanted before it ends stops it after its current step and
waits for that within the caller's deadline.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection, Pipe
from typing import Any

MAX_IDLE_WORKERS = 4
WARM_UP_WAIT = 30.0  # the longest a fork waits for the warm-up (it takes about a second)


class HardTimeout(Exception):
    """The deadline passed before the worker answered; the worker was killed."""


class WorkerError(RuntimeError):
    """The worker raised or died."""


class _Worker:
    def __init__(self) -> None:
        ours, theirs = Pipe()
        with warnings.catch_warnings():  # Python 3.12+ warns about fork with threads; see docstring
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                ours.close()
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                _serve(theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self.conn = pid, ours
        _LIVE.add(self)

    def call(self, func: Callable[..., Any], args: tuple, deadline: float) -> tuple[bool, Any]:
        """(True, result) or (False, error text); kills the worker on timeout or death."""
        try:
            self.conn.send((func, args))
            if not self.conn.poll(max(0.0, deadline - time.monotonic())):
                self.kill()
                raise HardTimeout
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise WorkerError("grading worker died") from exc

    def kill(self) -> None:
        _LIVE.discard(self)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, 0)
        self.conn.close()


def _serve(conn: Connection) -> None:  # pragma: no cover - runs in the child
    while True:
        try:
            func, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = (True, func(*args))
        except BaseException as exc:  # report everything, including RecursionError
            reply = (False, f"{type(exc).__name__}: {str(exc)[:200]}")
        conn.send(reply)


_LIVE: set[_Worker] = set()
_IDLE: list[_Worker] = []
_LOCK = threading.Lock()
_WARMING: threading.Thread | None = None
_WANTED = threading.Event()  # a worker is wanted: the warm-up stops after its current step


def warm_up(steps: Iterable[Callable[[], object]]) -> None:
    """Run `steps` in a background thread; workers are forked only once it has returned."""
    global _WARMING
    if hasattr(os, "fork"):  # else workers run in-process: no sympy in two threads at once
        _WARMING = threading.Thread(target=_run, args=(steps,), name="spark-math-warm-up")
        _WARMING.daemon = True
        _WARMING.start()


def warmed(timeout: float | None = None) -> bool:
    """Wait up to `timeout` seconds for the warm-up to finish; whether it has."""
    thread = _WARMING
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _run(steps: Iterable[Callable[[], object]]) -> None:
    try:
        for step in steps:
            if _WANTED.is_set():
                return
            step()
    except Exception:  # a failed warm-up costs time later, nothing else
        logging.getLogger(__name__).debug("warm-up failed", exc_info=True)


def run_guarded(func: Callable[..., Any], args: tuple, deadline: float) -> Any:
    """Run `func(*args)` in a worker; raise `HardTimeout` if it is not done by `deadline`.

    `deadline` is a `time.monotonic()` value. `func` must be importable by reference.
    """
    if not hasattr(os, "fork"):
        return func(*args)
    if time.monotonic() >= deadline:
        raise HardTimeout
    with _LOCK:
        worker = _IDLE.pop() if _IDLE else None
    if worker is None:
        _WANTED.set()
        if not warmed(deadline - time.monotonic()):
            raise HardTimeout
        worker = _Worker()
    ok, value = worker.call(func, args, deadline)  # a dead or late worker has been killed
    with _LOCK:
        if len(_IDLE) < MAX_IDLE_WORKERS:
            _IDLE.append(worker)
            worker = None
    if worker is not None:
        worker.kill()
    if not ok:
        raise WorkerError(value)
    return value


def shutdown() -> None:
    """Stop every worker of this process."""
    with _LOCK:
        workers = list(_LIVE)
        _IDLE.clear()
    for worker in workers:
        worker.kill()


def _forget_after_fork() -> None:
    # A forked child (our own worker, or a user's DataLoader) must not talk to our workers.
    global _LOCK, _WARMING, _WANTED
    _LOCK, _WARMING, _WANTED = threading.Lock(), None, threading.Event()
    for worker in list(_LIVE):
        with contextlib.suppress(OSError):
            worker.conn.close()
    _LIVE.clear()
    _IDLE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: warmed(WARM_UP_WAIT), after_in_child=_forget_after_fork)
atexit.register(shutdown)
