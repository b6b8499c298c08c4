"""Pure helpers for the Gemini backend: lm-eval request → Gemini request, response → answer."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from google.genai import types
from pydantic.alias_generators import to_snake

MAX_STOP_SEQUENCES = 5  # the Gemini API rejects more
KNOWN_GEN_KWARGS = frozenset(
    {"until", "do_sample", "temperature", "top_p", "top_k", "max_gen_toks", "seed"}
)
BLOCKED_FINISH = frozenset({"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"})
_ROLES = {"user": "user", "assistant": "model", "model": "model"}
_REST_NAMES = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "max_output_tokens": "maxOutputTokens",
    "seed": "seed",
    "stop_sequences": "stopSequences",
}


@dataclass
class GeminiRequest:
    """One ``generateContent`` call; ``until`` is every stop string, cut client-side too."""

    contents: list[dict[str, Any]]
    system_instruction: str | None
    config: dict[str, Any]
    until: list[str]

    def digest(self, model: str) -> str:
        """sha256 of everything that shapes the answer (not the transport settings)."""
        payload = [model, self.contents, self.system_instruction, self.config]
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()

    def sdk_config(self) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            system_instruction=self.system_instruction,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            **self.config,
        )

    def body(self) -> dict[str, Any]:
        """The ``generateContent`` JSON body that the SDK sends for ``sdk_config()``, built
        directly: the SDK's own conversion costs about 2 ms of CPU per request."""
        body: dict[str, Any] = {"contents": self.contents}
        if self.system_instruction is not None:
            body["systemInstruction"] = _turn("user", self.system_instruction)
        config = {_REST_NAMES[k]: v for k, v in self.config.items() if k != "thinking_config"}
        if "thinking_config" in self.config:
            config["thinkingConfig"] = {
                "thinkingBudget": self.config["thinking_config"]["thinking_budget"]
            }
        body["generationConfig"] = config
        return body


def _turn(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"text": text}]}


def _as_messages(context: str) -> list[dict[str, str]] | None:
    """The chat history if ``context`` is the JSON that ``apply_chat_template`` made, else None."""
    if not context.startswith("["):
        return None
    try:
        messages = json.loads(context)
    except ValueError:
        return None
    ok = isinstance(messages, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages
    )
    return messages if ok and messages else None


def build_request(
    context: str, gen_kwargs: dict[str, Any], thinking_budget: int | None
) -> GeminiRequest:
    """Map an lm-eval ``(context, gen_kwargs)`` pair onto a Gemini request."""
    messages = _as_messages(context)
    if messages is None:
        system, contents = None, [_turn("user", context)]
    else:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
        contents = [
            _turn(_ROLES.get(m["role"], "user"), m["content"])
            for m in messages
            if m["role"] != "system"
        ]

    until = gen_kwargs.get("until") or []
    until = [s for s in ([until] if isinstance(until, str) else until) if s]
    temperature = gen_kwargs.get("temperature")
    if gen_kwargs.get("do_sample") is False:
        temperature = 0.0
    config: dict[str, Any] = {}
    for name, value, cast in (
        ("temperature", temperature, float),
        ("top_p", gen_kwargs.get("top_p"), float),
        ("top_k", gen_kwargs.get("top_k"), int),
        ("max_output_tokens", gen_kwargs.get("max_gen_toks"), int),
        ("seed", gen_kwargs.get("seed"), int),
    ):
        if value is not None:
            config[name] = cast(value)
    if until:
        config["stop_sequences"] = until[:MAX_STOP_SEQUENCES]
    if thinking_budget is not None:
        config["thinking_config"] = {"thinking_budget": thinking_budget}
    return GeminiRequest(contents, system, config, until)


def occurrence_keys(digests: list[str]) -> list[str]:
    """Cache keys ``<digest>-<n>``: the n-th identical request of a run gets its own entry."""
    seen: Counter[str] = Counter()
    keys = []
    for digest in digests:
        keys.append(f"{digest}-{seen[digest]}")
        seen[digest] += 1
    return keys


def _field(obj: Any, name: str, kind: type, default: Any) -> Any:
    """``obj[name]`` if it is a ``kind``, the default when absent; anything else is malformed."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object around {name}, got a {type(obj).__name__}")
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ValueError(f"{name} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def parse_response(response: dict[str, Any] | types.GenerateContentResponse) -> dict[str, Any]:
    """The entry for a ``generateContent`` reply (its JSON body, or the SDK's object): answer
    text without thought parts, finish reason, usage, and `status`: "ok", "blocked" (a safety or
    prompt block) or "empty" (no candidates, no text), with its `reason`. Fields this code does
    not know are ignored; a body of the wrong shape raises ``ValueError``."""
    if isinstance(response, types.GenerateContentResponse):
        response = response.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not isinstance(response, dict):
        raise ValueError(f"the reply is a {type(response).__name__}, not a JSON object")
    usage = _field(response, "usageMetadata", dict, {})
    entry: dict[str, Any] = {
        "text": "",
        "finish": None,
        "reason": None,
        "status": "ok",
        "usage": {to_snake(k): v for k, v in usage.items() if isinstance(v, int)},
    }
    block = _field(_field(response, "promptFeedback", dict, {}), "blockReason", str, None)
    if block:
        entry["reason"] = f"prompt blocked: {block}"
        entry["status"] = "blocked"
        return entry
    candidates = _field(response, "candidates", list, [])
    if not candidates:
        entry["reason"] = "no candidates"
        entry["status"] = "empty"
        return entry
    candidate = candidates[0]
    entry["finish"] = finish = _field(candidate, "finishReason", str, None)
    if finish in BLOCKED_FINISH:
        entry["reason"] = f"blocked: {finish}"
        entry["status"] = "blocked"
        return entry
    parts = _field(_field(candidate, "content", dict, {}), "parts", list, [])
    texts = [_field(p, "text", str, "") for p in parts if not _field(p, "thought", bool, False)]
    entry["text"] = "".join(texts)
    if not entry["text"] and finish != "MAX_TOKENS":  # out of tokens (thinking): cut off
        entry["reason"] = f"empty answer (finish {finish})"
        entry["status"] = "empty"
    return entry


def cut_at_stops(text: str, until: list[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop string."""
    cuts = [i for stop in until if (i := text.find(stop)) >= 0]
    return text[: min(cuts)] if cuts else text
