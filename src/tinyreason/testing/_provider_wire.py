"""The three wire formats the :class:`~tinyreason.testing.ProviderServer` speaks.

Request parsing (which format, which question) and reply rendering for OpenAI chat completions,
Anthropic messages and Gemini ``generateContent``, in the shapes the official SDKs parse (see
each function). Each format counts tokens its own way, as the real APIs do: OpenAI's
``completion_tokens`` and Anthropic's ``output_tokens`` include the thinking, Gemini's
``candidatesTokenCount`` excludes it.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .provider_server import ScriptedReply

__all__ = ["blocked", "empty", "error_body", "extract", "path_model", "render", "wire_of"]


def _words(text: str) -> int:
    return len(text.split())


def _text_of(content: Any) -> str:
    """Text of an OpenAI / Anthropic message content: a string or a list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and "text" in b)
    return ""


def extract(wire: str, body: Any) -> tuple[str | None, str | None]:
    """The (question, system prompt) of a request body."""
    if not isinstance(body, dict):
        return None, None
    question = system = None
    if wire == "openai":
        for m in body.get("messages") or []:
            if not isinstance(m, dict):
                continue
            if m.get("role") == "user":
                question = _text_of(m.get("content"))
            elif m.get("role") in ("system", "developer"):
                system = _text_of(m.get("content"))
    elif wire == "anthropic":
        for m in body.get("messages") or []:
            if isinstance(m, dict) and m.get("role") == "user":
                question = _text_of(m.get("content"))
        if body.get("system") is not None:
            system = _text_of(body.get("system"))
    elif wire == "gemini":
        for c in body.get("contents") or []:
            if isinstance(c, dict) and c.get("role", "user") == "user":
                question = _text_of(c.get("parts"))
        instruction = body.get("systemInstruction") or body.get("system_instruction")
        if isinstance(instruction, dict):
            system = _text_of(instruction.get("parts"))
    return question, system


_GEMINI_PATH = re.compile(r"/models/(?P<model>[^/:?]+):generateContent")


def wire_of(path: str) -> str:
    bare = path.split("?", 1)[0]
    if _GEMINI_PATH.search(bare):
        return "gemini"
    if bare.endswith("/chat/completions"):
        return "openai"
    if bare.endswith("/messages"):
        return "anthropic"
    return "unknown"


def path_model(path: str) -> str | None:
    """The model named in a Gemini path (``/v1beta/models/<model>:generateContent``)."""
    match = _GEMINI_PATH.search(path)
    return match.group("model") if match else None


def _counts(reply: ScriptedReply, question: str, system: str | None) -> tuple[int, int, int]:
    prompt = question + (" " + system if system else "")
    return (
        reply.input_tokens if reply.input_tokens is not None else _words(prompt),
        reply.output_tokens if reply.output_tokens is not None else _words(reply.answer),
        reply.thinking_tokens if reply.thinking_tokens is not None else _words(reply.thinking),
    )


def render(
    wire: str,
    reply: ScriptedReply,
    model: str,
    question: str,
    system: str | None,
    *,
    reasoning_style: str,
    details: bool,
) -> dict[str, Any]:
    """A successful reply in ``wire``'s format.

    Args:
        wire: ``"openai"``, ``"anthropic"`` or ``"gemini"``.
        reply: What to say.
        model: The model version to report.
        question: The question (its words count as input tokens unless the reply says).
        system: The system prompt (counted as input too).
        reasoning_style: OpenAI format: where the thinking goes, unless the reply says.
        details: Report thinking tokens apart (OpenAI ``reasoning_tokens``, Anthropic
            ``output_tokens_details``), besides the inclusive totals.
    """
    tokens = _counts(reply, question, system)
    if wire == "openai":
        return _openai(reply, model, tokens, reply.reasoning_style or reasoning_style, details)
    if wire == "anthropic":
        return _anthropic(reply, model, tokens, details)
    return _gemini(reply, model, tokens)


def _openai(
    reply: ScriptedReply, model: str, tokens: tuple[int, int, int], style: str, details: bool
) -> dict[str, Any]:
    prompt, answer, thinking = tokens
    finish = {"stop": "stop", "length": "length", "safety": "content_filter"}[reply.finish_reason]
    message: dict[str, Any] = {"role": "assistant", "content": reply.answer}
    if style == "think_tags":
        closed = reply.answer or reply.finish_reason != "length"
        tail = f"</think>\n\n{reply.answer}" if closed else ""
        message["content"] = f"<think>\n{reply.thinking}{tail}" if reply.thinking else reply.answer
    elif reply.thinking:
        message[style] = reply.thinking
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        # OpenAI's convention: completion tokens include the reasoning tokens.
        "completion_tokens": answer + thinking,
        "total_tokens": prompt + answer + thinking,
    }
    if details:
        usage["completion_tokens_details"] = {"reasoning_tokens": thinking}
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        "usage": usage,
    }


def _anthropic(
    reply: ScriptedReply, model: str, tokens: tuple[int, int, int], details: bool
) -> dict[str, Any]:
    prompt, answer, thinking = tokens
    stop = {"stop": "end_turn", "length": "max_tokens", "safety": "refusal"}[reply.finish_reason]
    content: list[dict[str, Any]] = []
    if reply.thinking:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": "c2lnbmVk"})
    if reply.redacted:
        content.append({"type": "redacted_thinking", "data": "ZW5jcnlwdGVkIHJlYXNvbmluZw=="})
    if reply.answer:
        content.append({"type": "text", "text": reply.answer})
    # Anthropic's convention: output tokens include the thinking tokens.
    usage: dict[str, Any] = {"input_tokens": prompt, "output_tokens": answer + thinking}
    if details:
        usage["output_tokens_details"] = {"thinking_tokens": thinking}
    return {
        "id": "msg_loopback",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def _gemini(reply: ScriptedReply, model: str, tokens: tuple[int, int, int]) -> dict[str, Any]:
    prompt, answer, thinking = tokens
    finish = {"stop": "STOP", "length": "MAX_TOKENS", "safety": "SAFETY"}[reply.finish_reason]
    parts: list[dict[str, Any]] = []
    if reply.thinking:
        parts.append({"text": reply.thinking, "thought": True})
    if reply.answer:
        parts.append({"text": reply.answer})
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
        ],
        # Gemini's convention: candidates tokens exclude the thoughts tokens.
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": answer,
            "thoughtsTokenCount": thinking,
            "totalTokenCount": prompt + answer + thinking,
        },
        "modelVersion": model,
        "responseId": "loopback",
    }


def empty(wire: str, model: str) -> dict[str, Any]:
    """A 200 reply with no candidate / choice / content block."""
    if wire == "openai":
        return {
            "id": "chatcmpl-empty",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [],
        }
    if wire == "anthropic":
        return {
            "id": "msg_empty",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 0},
        }
    return {"candidates": [], "usageMetadata": {"promptTokenCount": 1}, "modelVersion": model}


def blocked(wire: str, model: str) -> dict[str, Any]:
    """A 200 reply blocked by the safety filter, in each format's own way."""
    if wire == "openai":
        return {
            "id": "chatcmpl-blocked",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "content_filter",
                    "message": {"role": "assistant", "content": None},
                }
            ],
        }
    if wire == "anthropic":
        return {
            "id": "msg_refusal",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": "refusal",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 0},
        }
    # Gemini blocks the prompt itself: no candidates, and promptFeedback says why.
    return {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 1},
        "modelVersion": model,
    }


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_ANTHROPIC_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
}


def error_body(wire: str, status: int, message: str) -> dict[str, Any]:
    """An error body in ``wire``'s format (what each SDK puts on its exception)."""
    if wire == "gemini":
        return {
            "error": {
                "code": status,
                "message": message,
                "status": _GEMINI_STATUS.get(status, "UNKNOWN"),
            }
        }
    if wire == "anthropic":
        kind = _ANTHROPIC_TYPE.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": "error", "code": str(status)}}
