"""Locate the one final answer in a model response.

Rules, in order:
1. Only the text after the last `</think>` counts; an unclosed `<think>` means no answer. Text after
   a new line that starts the next few-shot example ("Question:", "Problem:") is dropped.
2. Candidates are `\\boxed{}`/`\\fbox{}` (brace-matched, or `\\boxed 7`), `<answer>`/`<solution>`/
   `<final_answer>` tags and answer markers (`####`, "The answer is", "Final Answer:", an
   "Answer:" line). The one that starts last wins; boxes on the same line as the last box are
   kept together as a list ("\\boxed{3} and \\boxed{5}").
3. A candidate followed by a retraction ("that is wrong", "mistake") gives no answer.
4. With no candidate, profiles with `last_number_fallback` (GSM8K) take the last number, but only
   when the response ends as a finished sentence; a response cut off mid-sentence has no answer.

Every scan is linear in the input, so 100 kB of garbage costs milliseconds.
"""

from __future__ import annotations

import re

from .profiles import Profile

MAX_ANSWER_CHARS = 10_000

_CONTINUATION = re.compile(r"\n[ \t]*(?:Question|Problem)[ \t]*:")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_TAG = re.compile(r"<(answer|solution|final_answer)>", re.IGNORECASE)
_MARKERS = (
    re.compile(r"####[ \t]*(?=[-+$\\\d.])"),  # not a markdown heading such as "#### Step 1"
    re.compile(r"\bfinal\s+answer\s*(?:is\b|:)", re.IGNORECASE),
    re.compile(
        r"\b(?:the|my|our)\s+(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be|will\s+be|should\s+be)\b\s*:?",
        re.IGNORECASE,
    ),
    re.compile(r"^[ \t>#*_]*(?:final\s+)?answer[ \t*_]*[:：]", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^[ \t#*_]*final\s+answer[ \t*_:]*$", re.IGNORECASE | re.MULTILINE),
)
_RETRACTION = re.compile(
    r"\b(?:wrong|incorrect|mistake|not\s+(?:right|correct)|scratch\s+that|disregard)\b",
    re.IGNORECASE,
)
_VERDICT_WORDS = re.compile(
    r"\s*(?:correct|right|wrong|incorrect|reasonable|valid|consistent|confirmed|indeed|as follows|"
    r"below|above|given|in|the same)\b",
    re.IGNORECASE,
)
_FINISHED = re.compile(r"[.!?][*_$)\"'\]]*\s*$")
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_HEDGE = re.compile(r"\b(?:either|maybe|perhaps|possibly)\b|\d[^\d\n]{0,25}?\bor\b", re.IGNORECASE)
_NEGATED = re.compile(r"\bnot\s+(?:equal\s+to\s+|be\s+)?\$?-?\d", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<![\d.])\.(?=\s|$)|\.\s+(?=[A-Z])|\n")
_TRAILING_CLAUSE = re.compile(
    r",\s+(?:since|because|as|which|so|where|given|this|that|and\s+(?:this|that|so))\b.*$",
    re.IGNORECASE | re.DOTALL,
)
_BOX_JOINER = re.compile(
    r"^[\s$,;]*(?:and|or|,|\\quad|\\qquad|\\text\{\s*(?:and|or)\s*\})?[\s$,;]*"
    r"(?:[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*)?$"  # "x = \boxed{3} and y = \boxed{5}"
)


def answer_region(text: str) -> str | None:
    """The part of a response that may hold the answer; None if it was cut off while thinking."""
    close = text.rfind("</think>")
    if close >= 0:
        text = text[close + len("</think>") :]
    elif "<think>" in text:
        return None
    cut = _CONTINUATION.search(text)
    if cut and text[: cut.start()].strip():
        text = text[: cut.start()]
    return text


def locate_answer(text: str, profile: Profile) -> str | None:
    """The raw final-answer text of a response (see module docstring), or None."""
    region = answer_region(text)
    if region is None or not region.strip():
        return None
    candidates = [c for c in (_last_box(region), _last_tag(region), _last_marker(region)) if c]
    if not candidates:
        return _last_number(region) if profile.last_number_fallback else None
    _, end, answer = max(candidates, key=lambda c: c[0])
    if answer is None or _RETRACTION.search(region, end):
        return None
    return answer.strip() or None


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` in `text` (braces matched), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    open_pos = start + len("\\boxed")
    end = _match_brace(text, open_pos)
    return None if end is None else text[open_pos + 1 : end - 1]


def _match_brace(text: str, open_pos: int) -> int | None:
    """Index just past the `}` that closes the `{` at `open_pos`, or None."""
    depth = 0
    limit = min(len(text), open_pos + MAX_ANSWER_CHARS)
    i = open_pos
    while i < limit:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _box_at(text: str, match: re.Match) -> tuple[int, int, str | None]:
    pos = match.end()
    while pos < len(text) and text[pos] == " ":
        pos += 1
    if pos < len(text) and text[pos] == "{":
        close = _match_brace(text, pos)
        if close is None:  # cut off inside the final box
            return match.start(), len(text), None
        return match.start(), close, text[pos + 1 : close - 1]
    token = re.match(r"[^\s$]+", text[pos:])
    if token is None or pos == match.end():
        return match.start(), pos, None
    return match.start(), pos + token.end(), token.group()


def _last_box(region: str) -> tuple[int, int, str | None] | None:
    matches = list(_BOX.finditer(region))
    if not matches:
        return None
    start, end, content = _box_at(region, matches[-1])
    if content is None:
        return start, end, None
    contents = [content]
    for match in reversed(matches[:-1]):
        prev_start, prev_end, prev = _box_at(region, match)
        if prev is None or not _BOX_JOINER.match(region[prev_end:start]):
            break
        contents.insert(0, prev)
        start = prev_start
    if len(contents) > 1:
        return start, end, ", ".join(contents)
    return start, end, content


def _last_tag(region: str) -> tuple[int, int, str | None] | None:
    matches = list(_TAG.finditer(region))
    if not matches:
        return None
    match = matches[-1]
    close = re.compile(rf"</{match.group(1)}>", re.IGNORECASE).search(region, match.end())
    if close is None:  # a stop sequence may have eaten the closing tag
        content = region[match.end() :]
        if len(content) > 500:
            return match.start(), len(region), None
        return match.start(), len(region), _clean_span(content)
    return match.start(), close.end(), _clean_span(region[match.end() : close.start()])


def _last_marker(region: str) -> tuple[int, int, str | None] | None:
    matches = sorted(
        (m for pattern in _MARKERS for m in pattern.finditer(region)), key=lambda m: -m.start()
    )
    for match in matches:
        line_end = region.find("\n", match.end())
        line_end = len(region) if line_end < 0 else line_end
        span = region[match.end() : line_end]
        if not span.strip(" \t*_:$"):  # a heading like "**Final Answer**": answer on the next line
            following = region[line_end:].lstrip()
            next_end = following.find("\n")
            span = following if next_end < 0 else following[:next_end]
            line_end = len(region) - len(following) + (len(following) if next_end < 0 else next_end)
        if not _VERDICT_WORDS.match(span):  # "so our answer is correct" states no answer
            return match.start(), line_end, _clean_span(span)
    return None


def _clean_span(span: str) -> str | None:
    span = span.strip().strip("*_").strip()
    cut = _SENTENCE_END.search(span)
    if cut and cut.start() > 0:
        span = span[: cut.start()]
    span = _TRAILING_CLAUSE.sub("", span)
    span = re.sub(r"\.\s*$", "", span).strip().strip("*_").strip()
    if span.count("$") == 2 and span.startswith("$") and span.endswith("$"):
        span = span[1:-1].strip()
    return span or None


def _last_number(region: str) -> str | None:
    if not _FINISHED.search(region):
        return None
    numbers = list(_NUMBER.finditer(region))
    if not numbers:
        return None
    last = numbers[-1]
    sentence_start = max(region.rfind(ch, 0, last.start()) for ch in ".!?\n") + 1
    sentence = region[sentence_start:]
    if _NEGATED.search(sentence):  # "It is not 18."
        return None
    if _HEDGE.search(sentence):  # "It is 18 or 20." goes to the comparison as a list of candidates
        return " or ".join(_signed(n) for n in _NUMBER.finditer(sentence))
    return _signed(last)


def _signed(number: re.Match) -> str:
    """The number without its dollar sign or a trailing comma: `-$5,` -> `-5`."""
    return number.group().replace("$", "").rstrip(",")
