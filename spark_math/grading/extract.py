"""Locate the one final answer in a model response.

Rules, in order:
1. Only the text after the last `</think>` counts; an unclosed `<think>` means no answer. Text after
   a new line that starts the next few-shot example ("Question:", "Problem:", "Q:") is dropped, and
   so are end-of-sequence tokens a backend left in (`</s>`, `<|im_end|>`) and GSM8K's `<<a*b=c>>`
   calculator notes (`$$<<16+27=43>>43` is no display math).
2. Candidates are `\\boxed{}`/`\\fbox{}` (brace-matched, or `\\boxed 7`), `<answer>`/`<solution>`/
   `<final_answer>` tags, a JSON `"answer"` field (fenced or bare), answer markers (`####`, "The
   answer is", "Final Answer:", "The correct option is", an "Answer:" line, "答案是", "故选")
   and a last line that is a labelled or bare number ("A: 18", "Total: $18", "18"). The one that
   starts last wins; boxes on the same line as the last box are kept together as a list
   ("\\boxed{3} and \\boxed{5}").
3. A candidate followed by a retraction ("that is wrong", "I apologize for the mistake") gives no
   answer.
4. With no candidate, profiles with `last_number_fallback` (GSM8K) take the last number, but only
   when the response ends as a finished sentence (or the backend says it stopped by itself).

Truncation is decided from evidence, not from a full stop: `truncated=True` (the backend hit its
token limit) drops every candidate that the cut may have shortened (a marker or number on the last
line, an unclosed tag) and the fallback; with `truncated=None` an unclosed environment (code fence,
display math, `\\begin`, open brackets on the last line) or a last line that ends in an operator
is the evidence.

Every scan is linear in the input, so 100 kB of garbage costs milliseconds.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .numbers import words_value
from .profiles import Profile

MAX_ANSWER_CHARS = 10_000

_CONTINUATION = re.compile(r"\n[ \t]*(?:Question|Problem|Q)[ \t]*:")  # the next few-shot example
_CALCULATOR = re.compile(r"\$?<<[^<>\n]{0,200}>>")  # GSM8K's <<9*2=18>> calculator notes
_END_TOKEN = re.compile(r"(?:<\|[a-z_]+\|>|</s>|<eos>|<end_of_turn>)$", re.IGNORECASE)
MAX_FINAL_LINE = 200  # characters of a labelled or bare last line ("Total cost: $1,234 dollars")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_LAST_BOX = re.compile(rf"(?s:.*)({_BOX.pattern})")  # `.match`: one backward pass
_BOX_TOKEN = re.compile(r"[^\s$]+")  # the 7 of `\boxed 7`
_BRACE_TOKENS = re.compile(r"\\.|[{}]", re.DOTALL)
_SPACES = re.compile(" *")
_TAG = re.compile(r"<(answer|solution|final_answer)>", re.IGNORECASE)
_CLOSE_TAG = re.compile(r"</(?:answer|solution|final_answer)>", re.IGNORECASE)
_MARKERS = (
    re.compile(r"####[ \t]*(?=[-+$\\\d.])"),  # not a markdown heading such as "#### Step 1"
    re.compile(r"\bfinal\s+answer\s*(?:is\b|:)", re.IGNORECASE),
    re.compile(  # "the answer (arabic numerals) is", "the correct option is"
        r"\b(?:the|my|our)\s+(?:final\s+|correct\s+|best\s+)?(?:answer|option|choice)\s+"
        r"(?:\([^()\n]{0,40}\)\s*)?(?:is|would\s+be|will\s+be|should\s+be)\b\s*:?",
        re.IGNORECASE,
    ),
    re.compile(r"^[ \t>#*_]*(?:final\s+)?answer[ \t*_]*[:：]", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^[ \t#*_]*final\s+answer[ \t*_:]*$", re.IGNORECASE | re.MULTILINE),
    # Chinese: 答案是 C (Qwen's gaokao examples), 最终答案为 5, 答案：5, 故选 C, 故选：ABD
    re.compile(r"(?:最终|最后的?)?答案\s*(?:应该?|应当)?\s*(?:是|为|[:：])\s*[:：]?"),
    re.compile(r"(?:故|所以|因此)\s*(?:应)?选\s*[:：]?\s*(?=\(?[A-E])"),
)
_RETRACTION = re.compile(
    r"\b(?:wrong|incorrect|mistakes?|not\s+(?:right|correct)|scratch\s+that|disregard|"
    r"apologi[sz]e|oversight|an\s+error)\b",
    re.IGNORECASE,
)
_VERDICT_WORDS = re.compile(
    r"\s*(?:correct|right|wrong|incorrect|reasonable|valid|consistent|confirmed|indeed|as follows|"
    r"below|above|given|in|the same|provided|shown|stated|presented|rounded|based|derived)\b",
    re.IGNORECASE,
)
_FINISHED = re.compile(r"[.!?][*_$)\"'\]]*\s*$")
_DANGLING = re.compile(  # a last line that ends in an operator or a comma: it goes on
    r"(?:[-+/=,:(^\\]|\b(?:and|or|the|of|to|is|so|then|by|a|an))[\s*_]*$", re.IGNORECASE
)
_QUOTES = "\"'`“”‘’«»"
_GROUP_SPACE = " \u00a0\u2009\u202f"  # between digit groups: 1 000, thin and no-break spaces
_JSON_KEY = re.compile(r"[\"'](?:final[_ ])?answer[\"']\s*:\s*", re.IGNORECASE)
_EXAMPLE = re.compile(r"(?:e\.g\.|example)[\s,:`]*$", re.IGNORECASE)  # an echoed instruction
_JSON_STRING = {q: re.compile(rf"(?:[^{q}\\]|\\.)*", re.DOTALL) for q in "\"'"}
_JSON_BARE = re.compile(r"[^,}\n]*")  # a number, null, true ...
_JSON_ESCAPE = re.compile(r"\\([\"'\\/])|\\[nt](?![a-zA-Z])|\\u([0-9a-fA-F]{4})")
_FINAL_LINE = re.compile(  # "A: 18", "Total: $18", "**Answer:** 18 apples", "18"
    r"^(?:[ \t>*_#]|-(?=\s))*(?:(?:[A-Za-z]+[ \t]+){0,3}?(?:a|ans|answer|total|result|solution|sum)"
    rf"[ \t*_]*[:：][ \t*_]*)?(?P<number>-?\$?\d[\d,{_GROUP_SPACE}]*(?:\.\d+)?)"
    r"[ \t*_]*(?:[A-Za-z]+[ \t]*){0,3}[.*_]*$",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER = re.compile(  # 1,000 and 1 000 (space, thin or no-break space) group thousands
    rf"-?\$?(?:\d{{1,3}}(?:[{_GROUP_SPACE}]\d{{3}})+(?![\d,.])|\d[\d,]*(?:\.\d+)?(?:/\d+)?)"
)
_NO_GROUP_SPACE = str.maketrans("", "", _GROUP_SPACE)
_NUMBER_WORD = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b", re.IGNORECASE
)
_PROGRAM_OUTPUT = re.compile(r"```output[ \t]*\n\s*(-?\d[\d,]*(?:\.\d+)?)\s*```")
_HEDGE = re.compile(r"\b(?:either|maybe|perhaps|possibly)\b|\d[^\d\n]{0,25}?\bor\b", re.IGNORECASE)
_NEGATED = re.compile(r"\bnot\s+(?:equal\s+to\s+|be\s+)?\$?-?\d", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<![\d.])\.(?=\s|$)|\.\s+(?=[A-Z])|\n|。")
_TRAILING_CLAUSE = re.compile(
    r",\s+(?:since|because|as|which|so|where|given|this|that|and\s+(?:this|that|so))\b.*$",
    re.IGNORECASE | re.DOTALL,
)
_BOX_JOINER = re.compile(  # "\(\boxed{24500}\) cents or \(\boxed{245}\)" is two answers too
    r"^(?:[\s$,;，、；]|\\[()])*(?:[a-zA-Z]+\s+(?=and\b|or\b))?"
    r"(?:and|or|,|\\quad|\\qquad|\\text\{\s*(?:and|or)\s*\})?(?:[\s$,;]|\\[()])*"
    r"(?:[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*)?"  # "x = \boxed{3} and y = \boxed{5}"
    r"(?:第[一二三四1-4]个?空\s*[:：为是]?\s*\$?)?$"  # "第一空 \boxed{5}，第二空 \boxed{10}"
)


def answer_region(text: str) -> str | None:
    """The part of a response that may hold the answer; None if it was cut off while thinking."""
    close = text.rfind("</think>")
    if close >= 0:
        text = text[close + len("</think>") :]
    elif "<think>" in text:
        return None
    text = _CALCULATOR.sub("", text.replace("\r\n", "\n"))
    cut = _CONTINUATION.search(text)
    if cut and text[: cut.start()].strip():
        text = text[: cut.start()]
    return _without_end_tokens(text)


def _without_end_tokens(text: str) -> str:
    """`text` less the end-of-sequence tokens (and spaces) at its end; linear in what it drops."""
    end = len(text)
    while True:
        while end and text[end - 1].isspace():
            end -= 1
        token = _END_TOKEN.search(text, max(0, end - 20), end)
        if token is None:
            return text[:end]
        end = token.start()


def locate_answer(text: str, profile: Profile, truncated: bool | None = None) -> str | None:
    """The raw final-answer text of a response (see module docstring), or None.

    `truncated`: True if generation hit the token limit, False if it stopped by itself, None if
    unknown.
    """
    region = answer_region(text)
    if region is None or not region.strip():
        return None
    region = region.rstrip()
    finished = bool(_FINISHED.search(region))
    cut_off = truncated is True or (truncated is None and _unclosed(region))
    candidates = [
        (start, end, answer)
        for start, end, answer, closed in _candidates(region, finished)
        if closed or not cut_off
    ]
    if not candidates:
        if not profile.last_number_fallback or cut_off:
            return None
        if truncated is None and not finished:
            return None
        return None if _DANGLING.search(region) else _last_number(region)
    _, end, answer = max(candidates, key=lambda c: c[0])
    if answer is None or _RETRACTION.search(region, end):
        return None
    return answer.strip() or None


def _candidates(region: str, finished: bool) -> list[tuple[int, int, str | None, bool]]:
    """Every kind's last candidate with `closed`: False where a cut at the end may have shortened
    it (a marker or labelled number on the last line of an unfinished response, an unclosed tag).
    Prose after a JSON answer comments on it ("in cents, the answer would be 3100"), so markers
    there do not count."""
    found = []
    box = _last_box(region)
    if box:
        found.append((*box, True))
    tag = _last_tag(region)
    if tag:
        found.append((*tag, "</" in region[tag[0] : tag[1]]))
    json_answer = _json_answer(region)
    if json_answer:
        found.append(json_answer)
    for candidate in (_last_marker(region), _final_line(region)):
        if candidate and not (json_answer and candidate[0] > json_answer[0]):
            start, end, answer = candidate
            found.append((start, end, answer, end < len(region) or finished))
    return found


def _unclosed(region: str) -> bool:
    """Whether the response stops inside an environment: a code fence, display math, a
    `\\begin{}` block, or brackets opened on its last line."""
    if region.count("```") % 2 or region.count("$$") % 2:
        return True
    if region.count("\\[") > region.count("\\]") or region.count("\\(") > region.count("\\)"):
        return True
    if region.count("\\begin{") > region.count("\\end{"):
        return True
    last_line = region[region.rfind("\n") + 1 :]
    return any(last_line.count(a) > last_line.count(b) for a, b in ("()", "[]", "{}"))


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` in `text` (braces matched), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    open_pos = start + len("\\boxed")
    end = _match_brace(text, open_pos)
    return None if end is None else text[open_pos + 1 : end - 1]


def _match_brace(text: str, open_pos: int, limit: int | None = None) -> int | None:
    """Index just past the `}` that closes the `{` at `open_pos`, or None if it does not close
    within `MAX_ANSWER_CHARS` (and before `limit`)."""
    depth = 0
    end = min(len(text) if limit is None else limit, open_pos + MAX_ANSWER_CHARS)
    for token in _BRACE_TOKENS.finditer(text, open_pos, end):
        if token.group() == "{":
            depth += 1
        elif token.group() == "}":
            depth -= 1
            if depth == 0:
                return token.end()
    return None


def _box_at(text: str, start: int, pos: int, limit: int) -> tuple[int, int, str | None]:
    """The box whose command spans `start:pos`, read no further than `limit`."""
    after = _SPACES.match(text, pos, limit).end()
    if after < limit and text[after] == "{":
        close = _match_brace(text, after, limit)
        if close is None:  # cut off inside the final box
            return start, len(text), None
        return start, close, text[after + 1 : close - 1]
    token = _BOX_TOKEN.match(text, after, min(limit, after + MAX_ANSWER_CHARS))
    if token is None or after == pos:
        return start, after, None
    return start, token.end(), token.group()


def _last_box(region: str) -> tuple[int, int, str | None] | None:
    """The last box, joined with the boxes before it on its line; linear in the input: the last
    box is found in one backward pass, and joined boxes are looked for only in the
    `MAX_ANSWER_CHARS` before it."""
    last = _LAST_BOX.match(region)
    if last is None:
        return None
    start, end, content = _box_at(region, last.start(1), last.end(1), len(region))
    if content is None:
        return start, end, None
    contents = [content]
    window = list(_BOX.finditer(region, max(0, start - MAX_ANSWER_CHARS), start))
    for match in reversed(window):
        prev_start, prev_end, prev = _box_at(region, match.start(), match.end(), start)
        if prev is None or not _BOX_JOINER.match(region[prev_end:start]):
            break
        contents.append(prev)
        start = prev_start
    return start, end, ", ".join(reversed(contents))


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
        if close := _CLOSE_TAG.search(span):  # `<answer>The answer is 12.</answer>`
            span = span[: close.start()]
        if not _VERDICT_WORDS.match(span):  # "so our answer is correct" states no answer
            return match.start(), line_end, _clean_span(span)
    return None


def _json_answer(region: str) -> tuple[int, int, str | None, bool] | None:
    """The last JSON (or Python dict) `"answer"` field: `{"reasoning": ..., "answer": "18"}`.

    Strings are unescaped leniently, since models often leave LaTeX backslashes unescaped
    (`"\\frac{1}{2}"` stays `\\frac{1}{2}`); an empty or placeholder value is no answer.
    """
    keys = [
        k
        for k in _JSON_KEY.finditer(region)
        if not _EXAMPLE.search(region, max(0, k.start() - 20), k.start())
    ]
    if not keys:
        return None
    key = keys[-1]
    pos = key.end()
    quote = region[pos : pos + 1]
    if quote in _JSON_STRING:
        stop = _JSON_STRING[quote].match(region, pos + 1).end()
        closed = region.startswith(quote, stop)  # else cut off, maybe after a lone backslash
        stop = stop if closed else len(region)
        value, end = _JSON_ESCAPE.sub(_unescape, region[pos + 1 : stop]), min(stop + 1, len(region))
    else:
        token = _JSON_BARE.match(region, pos)
        value, end = token.group(), token.end()
        closed = end < len(region)
    value = value.strip()
    if not value.strip("_ .") or value.lower() in ("null", "none", "n/a"):
        return key.start(), end, None, closed
    boxed = last_boxed(value)
    return key.start(), end, boxed if boxed is not None else _clean_span(value), closed


def _unescape(match: re.Match) -> str:
    if match.group(1):
        return match.group(1)
    if match.group(2):
        return chr(int(match.group(2), 16))
    return "\n" if match.group().endswith("n") else " "


def _final_line(region: str) -> tuple[int, int, str | None] | None:
    """A last line that is a number, bare or after an answer label ("A: 18", "Total: $18")."""
    start = region.rfind("\n") + 1
    if len(region) - start > MAX_FINAL_LINE:
        return None
    line = _FINAL_LINE.match(region, start)
    if line is None:
        return None
    return start, len(region), _signed_text(line.group("number"))


def _clean_span(span: str) -> str | None:
    span = _unquote(_unquote(span.strip().strip("*_").strip()))
    cut = _SENTENCE_END.search(span)
    if cut and cut.start() > 0:
        span = span[: cut.start()]
    span = _TRAILING_CLAUSE.sub("", span)
    span = re.sub(r"\.\s*$", "", span).strip().strip("*_").strip()
    if span.count("$") == 2 and span.startswith("$") and span.endswith("$"):
        span = span[1:-1].strip()
    return span or None


def _unquote(span: str) -> str:
    """`"nine."` -> `nine.`: the text inside a leading quote and its closing partner."""
    if not span or span[0] not in _QUOTES:
        return span
    closing = {"“": "”", "‘": "’", "«": "»"}.get(span[0], span[0])
    end = span.find(closing, 1)
    return span[1:end] if end > 0 else span[1:]


def _last_number(region: str) -> str | None:
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
    return _computed_in(sentence, region) or _signed(last)


def _computed_in(sentence: str, region: str) -> str | None:
    """The last program output (tool-integrated reasoning's ```output block) when the final
    sentence states it among other numbers: "5 cars drove through in the first 15 minutes"."""
    outputs = list(_PROGRAM_OUTPUT.finditer(region))
    if not outputs or len(_NUMBER.findall(sentence)) + len(_NUMBER_WORD.findall(sentence)) < 2:
        return None
    computed = _fraction(outputs[-1].group(1))
    stated = [_fraction(_signed(n)) for n in _NUMBER.finditer(sentence)]
    stated += [words_value(w) for w in _NUMBER_WORD.findall(sentence)]
    if computed is None or computed not in stated:
        return None
    return str(computed.numerator) if computed.denominator == 1 else str(computed)


def _fraction(number: str) -> Fraction | None:
    try:
        return Fraction(number.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _signed(number: re.Match) -> str:
    return _signed_text(number.group())


def _signed_text(number: str) -> str:
    """The number without dollar sign, digit-group spaces or a trailing comma: `-$5,` -> `-5`."""
    number = number.strip().translate(_NO_GROUP_SPACE)
    return number.replace("$", "").rstrip(",")
