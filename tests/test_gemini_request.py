"""The Gemini request body we build and the reply parser equal what google-genai itself sends
and reads: our fast path (no SDK conversion) must not change a single field."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("google.genai")

from google import genai
from google.genai import _common, models, types
from pydantic.alias_generators import to_camel

from spark_math.models._gemini_request import build_request, parse_response

CHAT = json.dumps(
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "2+2?"},
    ]
)
GEN_KWARGS = [
    {},
    {"until": ["Q:"], "do_sample": False},
    {"until": "\n\n", "temperature": 0.7, "top_p": 0.95, "top_k": 20, "max_gen_toks": 512},
    {"until": ["a", "b", "c", "d", "e", "f"], "seed": 3, "max_gen_toks": 7},
]


def _camel(value: Any) -> Any:
    """Keys camel-cased and numbers as floats: the API reads both spellings and number types."""
    if isinstance(value, dict):
        return {to_camel(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def sdk_body(request: Any) -> dict[str, Any]:
    """What `client.models.generate_content` would POST for this request."""
    client = genai.Client(api_key="unused")
    params = types._GenerateContentParameters(
        model="gemini-x", contents=request.contents, config=request.sdk_config()
    )
    body = models._GenerateContentParameters_to_mldev(client._api_client, params, None, params)
    for key in ("_url", "_query", "config"):
        body.pop(key, None)
    return _common.encode_unserializable_types(_common.convert_to_dict(body))


@pytest.mark.parametrize("context", ["Plain prompt.", CHAT], ids=["plain", "chat"])
@pytest.mark.parametrize("gen_kwargs", GEN_KWARGS)
@pytest.mark.parametrize("thinking", [None, 0, 128])
def test_body_is_what_the_sdk_sends(context: str, gen_kwargs: dict, thinking: int | None) -> None:
    request = build_request(context, gen_kwargs, thinking)
    assert _camel(request.body()) == _camel(sdk_body(request))


REPLIES = {
    "ok": {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Let me think", "thought": True}, {"text": "\\boxed{4}"}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
    },
    "max_tokens": {"candidates": [{"content": {"parts": []}, "finishReason": "MAX_TOKENS"}]},
    "safety": {"candidates": [{"finishReason": "SAFETY"}]},
    "prompt_blocked": {"promptFeedback": {"blockReason": "SAFETY"}},
    "no_candidates": {"usageMetadata": {"promptTokenCount": 5}},
    "empty_text": {"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}]},
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_reply_parsed_like_the_sdk_object(name: str) -> None:
    body = REPLIES[name]
    sdk = types.GenerateContentResponse._from_response(response=body, kwargs={})
    assert parse_response(body) == parse_response(sdk)


def test_reply_fields_parsed() -> None:
    entry = parse_response(REPLIES["ok"])
    assert entry["text"] == "\\boxed{4}" and entry["status"] == "ok"  # no thought parts
    assert entry["usage"]["candidates_token_count"] == 3  # the cache's (snake_case) spelling
    assert parse_response(REPLIES["max_tokens"])["status"] == "ok"  # cut off, not empty
    assert parse_response(REPLIES["safety"])["status"] == "blocked"
    assert parse_response(REPLIES["prompt_blocked"])["reason"] == "prompt blocked: SAFETY"
    assert parse_response(REPLIES["no_candidates"])["status"] == "empty"
    newer = {**REPLIES["ok"], "someFieldFromANewerApi": {"x": 1}}
    assert parse_response(newer)["text"] == "\\boxed{4}"  # unknown fields are ignored


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "text",
        {"candidates": {"a": 1}},
        {"candidates": ["x"]},
        {"candidates": [{"content": {"parts": [{"text": 5}]}}]},
    ],
)
def test_malformed_replies_raise_value_error(body: Any) -> None:
    with pytest.raises(ValueError):
        parse_response(body)


@pytest.mark.parametrize("proxy", [None, "http://proxy.example:3128"])
def test_environment_proxies_honoured_only_when_set(
    proxy: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The HTTP session reads proxies from the environment (a thread hop per request) only
    when there are some."""
    import asyncio

    from spark_math.models.gemini import _session

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    if proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy)

    async def trust_env() -> bool:
        session = _session()
        await session.close()
        return session.trust_env

    assert asyncio.run(trust_env()) is bool(proxy)
