"""Conversation logs shaped exactly like what each tool writes, for the format tests: a Korean
fan-chat persona bot (a persona system prompt, retrieved context as a second system message,
earlier turns, and a ``get_schedule`` tool call in some calls)."""

from __future__ import annotations

import json
from typing import Any

PERSONA = "너는 아이돌 그룹 ORBIT의 멤버 '스텔라'야. 팬들에게 다정하고 밝게 반말로 대답해. 이모지를 하나 붙여."
CONTEXT = "참고 자료: 12월 20일 서울 KSPO DOME 콘서트, 12월 24일 팬미팅."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_schedule",
            "description": "ORBIT의 공식 일정을 날짜로 찾는다",
            "parameters": {"type": "object", "properties": {"date": {"type": "string"}}, "required": ["date"]},
        },
    }
]
QUESTIONS = [
    "스텔라 이번 콘서트 언제야?",
    "새 앨범 타이틀곡 뭐야?",
    "팬미팅 티켓팅 몇 시에 열려?",
    "오늘 연습 힘들었어?",
    "좋아하는 음식 알려줘!",
    "Are you coming to Tokyo this year?",
]


def conversation(i: int, *, tool: bool = False) -> tuple[list[dict[str, Any]], Any]:
    """``(messages, reply)`` of call ``i``: persona, context, ``i % 3`` earlier turns, the
    question; with ``tool``, the assistant's tool call and its result precede the reply."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": PERSONA},
        {"role": "system", "content": CONTEXT},
    ]
    for k in range(i % 3):
        messages += [
            {"role": "user", "content": f"스텔라 안녕 {k}번째 인사야"},
            {"role": "assistant", "content": f"안녕 팬 여러분! 반가워 💫 ({k})"},
        ]
    messages.append({"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" ({i})"})
    if tool:
        call = {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": "get_schedule", "arguments": json.dumps({"date": "2026-12-20"})},
        }
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append(
            {
                "role": "tool",
                "tool_call_id": f"call_{i}",
                "content": json.dumps({"event": "콘서트"}, ensure_ascii=False),
            }
        )
    return messages, f"팬 여러분! 12월 20일에 만나 💫 ({i})"


def record(i: int, *, tool: bool = False) -> dict[str, Any]:
    """Our import record, as VectorWave stores ``def chat(messages, model)``."""
    messages, reply = conversation(i, tool=tool)
    return {
        "function_name": "chat",
        "input": {"messages": messages, "model": "gpt-4o-mini", "tools": TOOLS},
        "output": reply,
        "status": "SUCCESS",
    }


def openai_log(i: int, *, finish_reason: str = "stop", tool_reply: bool = False) -> dict[str, Any]:
    """A chat-completions request/response log (stored completions, LiteLLM, Helicone)."""
    messages, reply = conversation(i)
    message: dict[str, Any] = {"role": "assistant", "content": reply, "refusal": None, "annotations": []}
    if tool_reply:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": f"call_{i}", "type": "function", "function": {"name": "get_schedule", "arguments": "{}"}}
            ],
        }
        finish_reason = "tool_calls"
    return {
        "request": {
            "model": "gpt-4o-mini",
            "messages": messages,
            "tools": TOOLS,
            "temperature": 0.7,
            "metadata": {"feature": "fan-chat"},
        },
        "response": {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "created": 1764979200 + i,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140},
        },
    }


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def _export(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "fan-chat")]},
                "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai_v2"}, "spans": spans}],
            }
        ]
    }


def _span(i: int, attributes: list[dict[str, Any]], *, error: bool = False) -> dict[str, Any]:
    return {
        "traceId": f"{i:032x}",
        "spanId": f"{i:016x}",
        "name": "chat gpt-4o-mini",
        "kind": 3,
        "startTimeUnixNano": str(1764979200_000_000_000 + i),
        "endTimeUnixNano": str(1764979201_000_000_000 + i),
        "attributes": attributes,
        "status": {"code": 2, "message": "RateLimitError"} if error else {"code": 0},
    }


def otel_current(i: int, *, tool: bool = True, finish_reason: str = "stop", error: bool = False) -> dict[str, Any]:
    """An OTLP JSON export request with one span in the current parts-based GenAI conventions."""
    inputs: list[dict[str, Any]] = [{"role": "user", "parts": [{"type": "text", "content": QUESTIONS[i % 6]}]}]
    if tool:
        inputs += [
            {
                "role": "assistant",
                "parts": [
                    {"type": "tool_call", "id": f"call_{i}", "name": "get_schedule", "arguments": {"date": "12-20"}}
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": f"call_{i}", "response": {"event": "콘서트"}}],
            },
        ]
    output = [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": f"곧 만나 💫 ({i})"}],
            "finish_reason": finish_reason,
        }
    ]
    attributes = [
        _attr("gen_ai.operation.name", "chat"),
        _attr("gen_ai.provider.name", "openai"),
        _attr("gen_ai.request.model", "gpt-4o-mini"),
        _attr("gen_ai.system_instructions", json.dumps([{"type": "text", "content": PERSONA}], ensure_ascii=False)),
        _attr("gen_ai.input.messages", json.dumps(inputs, ensure_ascii=False)),
        _attr("gen_ai.output.messages", json.dumps(output, ensure_ascii=False)),
        _attr(
            "gen_ai.tool.definitions", json.dumps([{"type": "function", **TOOLS[0]["function"]}], ensure_ascii=False)
        ),
        _attr("gen_ai.response.finish_reasons", [finish_reason]),
    ]
    tool_span = _span(
        1000 + i, [_attr("gen_ai.operation.name", "execute_tool"), _attr("gen_ai.tool.name", "get_schedule")]
    )
    return _export([_span(i, attributes, error=error), tool_span])


def otel_legacy(i: int) -> dict[str, Any]:
    """One span with the older flattened ``gen_ai.prompt.N.*`` attributes (OpenLLMetry)."""
    attributes = [
        _attr("gen_ai.system", "openai"),
        _attr("gen_ai.request.model", "gpt-4o-mini"),
        _attr("gen_ai.prompt.0.role", "system"),
        _attr("gen_ai.prompt.0.content", PERSONA),
        _attr("gen_ai.prompt.1.role", "user"),
        _attr("gen_ai.prompt.1.content", QUESTIONS[i % 6]),
        _attr("gen_ai.prompt.2.role", "assistant"),
        _attr("gen_ai.prompt.2.tool_calls.0.id", f"call_{i}"),
        _attr("gen_ai.prompt.2.tool_calls.0.name", "get_schedule"),
        _attr("gen_ai.prompt.2.tool_calls.0.arguments", '{"date": "12-20"}'),
        _attr("gen_ai.prompt.3.role", "tool"),
        _attr("gen_ai.prompt.3.tool_call_id", f"call_{i}"),
        _attr("gen_ai.prompt.3.content", '{"event": "콘서트"}'),
        _attr("gen_ai.completion.0.role", "assistant"),
        _attr("gen_ai.completion.0.content", f"곧 만나 💫 ({i})"),
        _attr("gen_ai.completion.0.finish_reason", "stop"),
        _attr("llm.request.functions.0.name", "get_schedule"),
        _attr("llm.request.functions.0.parameters", json.dumps(TOOLS[0]["function"]["parameters"])),
    ]
    return _export([_span(i, attributes)])


def openinference(i: int) -> dict[str, Any]:
    """One span with OpenInference's ``llm.input_messages.N.message.*`` attributes."""
    attributes = [
        _attr("openinference.span.kind", "LLM"),
        _attr("llm.model_name", "gpt-4o-mini"),
        _attr("llm.input_messages.0.message.role", "system"),
        _attr("llm.input_messages.0.message.content", PERSONA),
        _attr("llm.input_messages.1.message.role", "user"),
        _attr("llm.input_messages.1.message.content", QUESTIONS[i % 6]),
        _attr("llm.output_messages.0.message.role", "assistant"),
        _attr("llm.output_messages.0.message.tool_calls.0.tool_call.id", f"call_{i}"),
        _attr("llm.output_messages.0.message.tool_calls.0.tool_call.function.name", "get_schedule"),
        _attr("llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments", '{"date": "12-20"}'),
        _attr("llm.tools.0.tool.json_schema", json.dumps(TOOLS[0])),
    ]
    return _export([_span(i, attributes)])


def langfuse_generation(i: int, *, level: str = "DEFAULT") -> dict[str, Any]:
    """A Langfuse observation of type GENERATION, as its export and API give it."""
    messages, reply = conversation(i, tool=i % 2 == 0)
    return {
        "id": f"gen-{i}",
        "traceId": f"trace-{i}",
        "type": "GENERATION",
        "name": "fan-chat",
        "startTime": "2026-12-01T10:00:00.000Z",
        "endTime": "2026-12-01T10:00:01.200Z",
        "model": "gpt-4o-mini",
        "modelParameters": {"temperature": 0.7},
        "input": messages,
        "output": {"role": "assistant", "content": reply},
        "usage": {"input": 120, "output": 20, "total": 140, "unit": "TOKENS"},
        "level": level,
        "statusMessage": "upstream 500" if level == "ERROR" else None,
        "metadata": {},
    }
