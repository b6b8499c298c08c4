"""lm-eval model ``spark-replay``: answer requests with the responses recorded in samples files.

    lm_eval --model spark-replay --model_args samples=out/my-model --tasks spark_math500

re-grades a finished run with today's grader without generating anything. ``samples`` names the
``samples_<task>_<date>.jsonl`` files that ``--log_samples`` wrote: a file, a folder (every
``samples_*.jsonl`` below it) or a glob; separate several with ``;``, since lm-eval splits
model_args on commas (quote it for the shell: ``--model_args 'samples=a.jsonl;b.jsonl'``).

A request gets the recording of its task, document id and request index when that recording's
document (``doc_hash``) or prompt is the request's. Otherwise it gets the recording with the same
prompt text (renamed tasks, shifted ids); a chat's prompt is its last user message, which may also
be found inside a recorded chat-templated prompt. The k repeats of a request get the k recorded
responses in order, each still marked as having hit the token budget (and with its token count)
where the run's spark grader recorded it. Requests without a recording are answered ``""``
(graded wrong) and reported in one warning with their count.

Records of any other layout that ``spark-math rescore`` reads (JSON Lines, array, object) replay
with ``response=PATH``, ``problem=PATH`` (default ``problem``) and ``finish_reason=PATH``, dotted
paths as in rescore: Qwen2.5-Math's outputs with ``response=code,problem=question``. A request
gets the record whose problem is its prompt, or is inside it.
"""

from __future__ import annotations

import glob
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import lm_eval.models  # noqa: F401  (fill the registry before adding to it, see get_model)
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.utils import handle_non_serializable, hash_string

from spark_math.errors import SparkMathError
from spark_math.models.generation import STATUSES, Generation
from spark_math.rescore import (
    Fields,
    RescoreError,
    read_field,
    read_records,
    record_responses,
    task_of,
)
from spark_math.rescore.paths import PathError

# lm-eval's command line shows its own logger hierarchy only, so report under it.
logger = logging.getLogger("lm_eval.spark_replay")

EXAMPLES = 5
Key = tuple[str, int | str, int]


class ReplayError(SparkMathError, ValueError):
    """Samples that cannot be replayed: missing, malformed or contradicting each other."""


@dataclass(frozen=True)
class Recording:
    """The responses recorded for one request of one document."""

    task: str
    doc_id: int | str
    index: int
    prompt: str
    doc_hash: str
    responses: tuple[str, ...]
    source: str

    @property
    def key(self) -> Key:
        return self.task, self.doc_id, self.index


def doc_hash(doc: Any) -> str:
    """lm-eval's ``doc_hash`` of a document, as its samples files record it."""
    text = json.dumps(doc, indent=2, default=handle_non_serializable, ensure_ascii=False)
    return hash_string(text)


def raw_prompt(context: str) -> str:
    """The prompt text of a request: a JSON chat's last user message, else the text itself."""
    if not context.startswith("["):
        return context
    try:
        messages = json.loads(context)
    except ValueError:
        return context
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        if users:
            return users[-1]
    return context


def sample_files(samples: str | Path | Sequence[str | Path], any_json: bool = False) -> list[Path]:
    """The samples files named by ``samples``: files, folders, globs; a string may join several
    with ``;`` (or ``,``, when quoting kept lm-eval from splitting it). A folder gives its
    ``samples_*.jsonl`` files, or with `any_json` every ``*.json``/``*.jsonl`` file."""
    if isinstance(samples, Path):
        items = [str(samples)]
    elif isinstance(samples, str):
        items = re.split(r"[;,]", samples)
    else:
        items = [str(s) for s in samples]
    files: list[Path] = []
    for item in filter(None, (i.strip() for i in items)):
        path = Path(item).expanduser()
        if path.is_dir():
            patterns = ("*.json", "*.jsonl") if any_json else ("samples_*.jsonl",)
            found = sorted(p for pattern in patterns for p in path.rglob(pattern))
        elif path.is_file():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            found = [p for p in found if p.is_file()]
        if not found:
            raise ReplayError(
                f"spark-replay: no samples files at {item!r} (expected a samples_*.jsonl file, "
                "a folder holding some, or a glob)"
            )
        files.extend(found)
    if not files:
        raise ReplayError("spark-replay: samples= names no file")
    return list(dict.fromkeys(files))


def read_records_of(path: Path, fields: Fields, notes: list[str] | None = None) -> list[Recording]:
    """Every record of a file in any layout `spark-math rescore` reads (JSON Lines, array,
    object), its responses as rescore reads them (`record_responses`) and its problem text at
    `fields.problem` (default ``problem``): requests find them by prompt text."""
    recordings = []
    try:
        for where, record in read_records(path, fields, notes):
            try:
                responses, truncated = record_responses(record, fields)
                prompt = read_field(record, fields.problem, "problem")
            except (PathError, TypeError, ValueError) as exc:
                raise ReplayError(f"{where}: {exc}") from None
            if not isinstance(prompt, str):
                raise ReplayError(f"{where}: the problem is not text")
            cuts = truncated or [None] * len(responses)
            generations = tuple(
                Generation(r, truncated=cut) for r, cut in zip(responses, cuts, strict=True)
            )
            line = int(where.rpartition(":")[2] or 0)
            recordings.append(Recording(str(path), line, 0, prompt, "", generations, where))
    except RescoreError as exc:
        raise ReplayError(f"spark-replay: {exc}") from None
    return recordings


def read_recordings(path: Path, notes: list[str] | None = None) -> list[Recording]:
    """Every request recorded in one samples file (one per line and request, filters repeated);
    read as `spark-math rescore` reads it (undecodable bytes noted in `notes`)."""
    task, recordings = task_of(path), []
    try:
        records = list(read_records(path, Fields(), notes))
    except RescoreError as exc:
        raise ReplayError(f"spark-replay: {exc}") from None
    for where, sample in records:
        try:
            hashed = sample.get("doc_hash") or doc_hash(sample["doc"])
            verdicts = sample.get("filtered_resps") or []
            for i, responses in enumerate(sample["resps"]):
                if not all(isinstance(r, str) for r in responses):
                    raise TypeError("responses are not text (not a generate_until task)")
                prompt = raw_prompt(sample["arguments"][f"gen_args_{i}"]["arg_0"])
                recorded = verdicts[i] if i < len(verdicts) else []
                recording = Recording(
                    task,
                    _doc_id(sample["doc_id"]),
                    i,
                    prompt,
                    hashed,
                    tuple(_with_finish(responses, recorded)),
                    where,
                )
                recordings.append(recording)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ReplayError(
                f"{where}: not an lm-eval samples line ({type(exc).__name__}: {exc})"
            ) from None
    return recordings


def _doc_id(value: Any) -> int | str:
    """lm-eval's integer doc ids; other ids (strings in hand-made files) as text."""
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def _with_finish(responses: list[str], verdicts: Any) -> list[str]:
    """The responses, as `Generation`s where the run's grader records say how each ended (and,
    for an API run, which requests got no answer)."""
    if not isinstance(verdicts, list) or len(verdicts) != len(responses):
        return responses
    out = []
    for response, verdict in zip(responses, verdicts, strict=True):
        try:
            record = json.loads(verdict) if isinstance(verdict, str) else verdict
        except ValueError:
            record = None
        if isinstance(record, dict) and ("truncated" in record or "tokens" in record):
            truncated, tokens = record.get("truncated"), record.get("tokens")
            status = record.get("status")
            response = Generation(
                response,
                truncated=truncated if isinstance(truncated, bool) else None,
                tokens=tokens if isinstance(tokens, int) else None,
                status=status if status in STATUSES else None,
            )
        out.append(response)
    return out


class Recordings:
    """Recordings indexed by (task, doc id, request index) and by prompt text."""

    def __init__(self, recordings: Iterable[Recording]) -> None:
        self.by_key: dict[Key, Recording] = {}
        self.by_prompt: dict[str, list[Recording]] = {}
        for recording in recordings:
            seen = self.by_key.get(recording.key)
            if seen is None:
                self.by_key[recording.key] = recording
                self.by_prompt.setdefault(recording.prompt, []).append(recording)
            elif seen.responses != recording.responses:
                raise ReplayError(
                    f"spark-replay: {seen.source} and {recording.source} record different "
                    f"responses for {recording.task} doc {recording.doc_id}; pass the samples of "
                    "one run only"
                )

    def find(self, request: Instance, taken: set[Key]) -> tuple[Recording | None, str]:
        """The recording for a request and how it was found: "id", "prompt", or why not."""
        prompt = raw_prompt(request.args[0])
        hashed = doc_hash(request.doc)
        recording = self.by_key.get((request.task_name, request.doc_id, request.idx))
        if recording and (recording.doc_hash == hashed or recording.prompt == prompt):
            return recording, "id"
        candidates = (
            self.by_prompt.get(prompt) or self._containing(prompt) or self._contained_in(prompt)
        )
        if candidates:
            best = min(candidates, key=lambda r: (r.doc_hash != hashed, r.key in taken))
            return best, "prompt"
        if recording:
            return None, "its task and doc id hold another document and prompt"
        return None, "no recording"

    def _contained_in(self, prompt: str) -> list[Recording]:
        """Recordings of a bare problem that the request's prompt contains (the longest)."""
        found = [text for text in self.by_prompt if len(text) > 20 and text in prompt]
        return self.by_prompt[max(found, key=len)] if found else []

    def _containing(self, prompt: str) -> list[Recording]:
        """Recordings whose (chat-templated) prompt ends with this prompt plus the least text."""
        if not prompt.strip():
            return []
        tails = {
            recording: len(text) - text.rfind(prompt) - len(prompt)
            for text, recordings in self.by_prompt.items()
            if prompt in text
            for recording in recordings
        }
        least = min(tails.values(), default=None)
        return [r for r, tail in tails.items() if tail == least]


@register_model("spark-replay")
class ReplayLM(LM):
    """Answers ``generate_until`` requests with recorded responses (see the module docstring).

    Args:
        samples: samples files, folders or globs (a list, or one string joined by ``;``).
    """

    tokenizer_name = "spark-replay"

    def __init__(
        self,
        samples: str | Path | Sequence[str | Path],
        response: str | None = None,
        problem: str | None = None,
        finish_reason: str | None = None,
        **_lm_eval: object,
    ) -> None:
        super().__init__()
        self.files = sample_files(samples, any_json=response is not None)
        if response is None:
            read = read_recordings
        else:
            fields = Fields(response=response, problem=problem, finish_reason=finish_reason)
            read = partial(read_records_of, fields=fields)
        found, notes, bad = [], [], []
        for path in self.files:
            try:
                found += read(path, notes=notes)
            except ReplayError as exc:
                bad.append(str(exc))
        for note in notes:
            logger.warning("spark-replay: %s", note)
        if bad and not found:
            raise ReplayError("; ".join(bad))
        for error in bad:
            logger.error("spark-replay: skipped a file: %s", error.removeprefix("spark-replay: "))
        self.recordings = Recordings(found)
        logger.info(
            "spark-replay: %d recorded requests from %d samples files",
            len(self.recordings.by_key),
            len(self.files),
        )

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        assigned: dict[tuple, tuple[Recording | None, str]] = {}
        served: Counter[tuple] = Counter()
        taken: set[Key] = set()
        missing: list[tuple[Instance, str]] = []
        answers = []
        for request in requests:
            key = (request.task_name, request.doc_id, request.idx, request.args[0])
            if key not in assigned:
                assigned[key] = self.recordings.find(request, taken)
                if assigned[key][0]:
                    taken.add(assigned[key][0].key)
            (recording, how), i = assigned[key], served[key]
            served[key] += 1
            if recording and i < len(recording.responses):
                answers.append(recording.responses[i])
                continue
            if recording:
                how = f"only {len(recording.responses)} responses recorded"
            missing.append((request, how))
            answers.append("")
        found = Counter(how if rec else "none" for rec, how in assigned.values())
        self._report(len(requests), found, missing)
        return answers

    def _report(self, total: int, found: Counter[str], missing: list[tuple[Instance, str]]) -> None:
        logger.info(
            "spark-replay: %d requests (%d distinct): %d matched by task and doc id, %d by "
            "prompt text, %d without a recording",
            total,
            sum(found.values()),
            found["id"],
            found["prompt"],
            found["none"],
        )
        if not missing:
            return
        examples = list(
            dict.fromkeys(
                f"{r.task_name} doc {r.doc_id}: {why} (prompt {r.args[0][:60]!r})"
                for r, why in missing
            )
        )
        logger.warning(
            "spark-replay: %d of %d requests have no recorded response and were answered with "
            "an empty string (graded wrong). %s%s. Check that samples= holds the run of these "
            "tasks (read %d files: %s).",
            len(missing),
            total,
            "; ".join(examples[:EXAMPLES]),
            "; ..." if len(examples) > EXAMPLES else "",
            len(self.files),
            ", ".join(p.name for p in self.files[:EXAMPLES]),
        )

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """The messages as JSON: requests are matched on their last user message."""
        return json.dumps(list(chat_history), ensure_ascii=False)

    def chat_template(self, chat_template: bool | str = False) -> str:
        return "spark-replay"

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False):
        raise NotImplementedError("spark-replay only replays generate_until requests")

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False):
        raise NotImplementedError("spark-replay only replays generate_until requests")
