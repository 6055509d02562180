"""OpenTelemetry GenAI spans, from OTLP JSON export requests (``{"resourceSpans": [...]}``).

Three ways instrumentations record a chat call's content, each read here:

* the current conventions: ``gen_ai.system_instructions``, ``gen_ai.input.messages``,
  ``gen_ai.output.messages`` and ``gen_ai.tool.definitions``, messages as ``{"role", "parts"}``
  (``text``, ``tool_call``, ``tool_call_response`` parts), as JSON strings or structured values,
  on the span or on its ``gen_ai.client.inference.operation.details`` event;
* the older flattened attributes (OpenLLMetry): ``gen_ai.prompt.N.role|content|tool_calls.M.*``,
  ``gen_ai.completion.N.*`` and ``llm.request.functions.N.*``;
* OpenInference (Arize Phoenix): ``llm.input_messages.N.message.role|content|tool_calls.M.tool_call.*``,
  ``llm.output_messages.N.message.*`` and ``llm.tools.N.tool.json_schema``.

Spans without message content (tool executions, embeddings, or content capture switched off)
are not chat calls and are skipped. The function name is the resource's ``service.name``
unless one is given; the uuid is ``traceId-spanId``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from vector_trainer._shared import mapping_at
from vector_trainer.errors import InputError
from vector_trainer.sources.formats._shared import (
    error_record,
    iso_from_unix,
    pick_function,
    reply_status,
)

#: The event that carries a call's content when it is not on the span itself.
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
STATUS_CODE_ERROR = 2


def any_value(value: Any) -> Any:
    """A plain Python value from an OTLP JSON ``AnyValue``."""
    if not isinstance(value, Mapping):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    return None


def attributes(items: Any) -> dict[str, Any]:
    """OTLP JSON ``[{"key", "value"}]`` attributes as a dict."""
    if not isinstance(items, list):
        return {}
    return {item["key"]: any_value(item.get("value")) for item in items if isinstance(item, Mapping) and "key" in item}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value


def _text(value: Any) -> str:
    """A part's content as text (structured content as JSON, never a Python repr)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def unflatten(attrs: Mapping[str, Any], prefix: str) -> list[Any]:
    """``prefix.N.a.b`` attributes as a list (by ``N``) of nested dicts; numeric keys inside
    become lists too (``tool_calls.0.id`` -> ``{"tool_calls": [{"id": ...}]}``)."""
    root: dict[str, Any] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        node = root
        parts = key[len(prefix) :].split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _as_lists(root)


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _as_lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _from_parts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """OpenAI-shaped messages from one parts-based GenAI message (tool responses become one
    ``tool`` message each)."""
    role = message.get("role", "user")
    texts, calls, answers = [], [], []
    refusal = None
    for part in message.get("parts") or []:
        kind = part.get("type")
        if kind == "text":
            texts.append(_text(part.get("content", "")))
        elif kind == "tool_call":
            calls.append({"id": part.get("id"), "name": part.get("name"), "arguments": part.get("arguments")})
        elif kind == "refusal":
            refusal = _text(part.get("content", ""))
        elif kind == "tool_call_response":
            answers.append({"role": "tool", "tool_call_id": part.get("id"), "content": _text(part.get("response"))})
    if answers:
        return answers
    out: dict[str, Any] = {"role": role, "content": "\n".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    if refusal is not None:
        out["refusal"] = refusal
    return [out]


#: What a span's chat content is read as: messages, the reply, tools and finish reasons.
Content = tuple[list[Any], Any, list[Any], list[Any]]


def _current(attrs: Mapping[str, Any]) -> Content | None:
    raw_input = _json(attrs.get("gen_ai.input.messages"))
    if not isinstance(raw_input, list):
        return None
    messages: list[Any] = []
    system = _json(attrs.get("gen_ai.system_instructions"))
    if isinstance(system, list) and system:
        text = "\n".join(str(p.get("content", "")) for p in system if isinstance(p, Mapping))
        messages.append({"role": "system", "content": text})
    elif isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    for message in raw_input:
        messages.extend(_from_parts(message) if isinstance(message, Mapping) else [message])
    outputs = _json(attrs.get("gen_ai.output.messages"))
    reply = _from_parts(outputs[0])[0] if isinstance(outputs, list) and outputs else None
    reasons = [o.get("finish_reason") for o in outputs if isinstance(o, Mapping)] if isinstance(outputs, list) else []
    tools = _json(attrs.get("gen_ai.tool.definitions"))
    return messages, reply, tools if isinstance(tools, list) else [], reasons


def _flat_message(item: Mapping[str, Any]) -> dict[str, Any]:
    message = {key: value for key, value in item.items() if key in ("role", "content", "tool_call_id", "name")}
    calls = item.get("tool_calls")
    if isinstance(calls, list):
        message["tool_calls"] = [
            {
                "id": call.get("id") or call.get("tool_call", {}).get("id"),
                "function": call.get("function") or call.get("tool_call", {}).get("function") or call,
            }
            for call in calls
            if isinstance(call, Mapping)
        ]
    return message


def _unwrap(item: Mapping[str, Any], wrapper: str | None) -> Mapping[str, Any]:
    inner = item.get(wrapper) if wrapper else item
    return inner if isinstance(inner, Mapping) else {}


def _flattened(attrs: Mapping[str, Any]) -> Content | None:
    for inputs, outputs, wrapper in (
        ("gen_ai.prompt.", "gen_ai.completion.", None),
        ("llm.input_messages.", "llm.output_messages.", "message"),
    ):
        prompt = unflatten(attrs, inputs)
        if not prompt:
            continue
        messages = [_flat_message(_unwrap(item, wrapper)) for item in prompt if isinstance(item, Mapping)]
        completions = [_unwrap(item, wrapper) for item in unflatten(attrs, outputs) if isinstance(item, Mapping)]
        reply = _flat_message(completions[0]) if completions else None
        reasons = [c.get("finish_reason") for c in completions]
        return messages, reply, _flat_tools(attrs), reasons
    return None


def _flat_tools(attrs: Mapping[str, Any]) -> list[Any]:
    tools: list[Any] = []
    for item in unflatten(attrs, "llm.request.functions."):
        if isinstance(item, Mapping) and item.get("name"):
            tools.append({**item, "parameters": _json(item.get("parameters"))} if "parameters" in item else dict(item))
    for item in unflatten(attrs, "llm.tools."):
        schema = _json(item.get("tool", {}).get("json_schema")) if isinstance(item, Mapping) else None
        if isinstance(schema, Mapping):
            tools.append(schema)
    return tools


def span_record(
    span: Mapping[str, Any], resource: Mapping[str, Any], where: str, function_name: str | None
) -> dict[str, Any] | None:
    """The record of one span, or ``None`` if it carries no chat content."""
    attrs = attributes(span.get("attributes"))
    for event in span.get("events") or []:
        if isinstance(event, Mapping) and event.get("name") == DETAILS_EVENT:
            attrs = {**attrs, **attributes(event.get("attributes"))}
    content = _current(attrs) or _flattened(attrs)
    if content is None:
        return None
    messages, reply, tools, reasons = content
    finish = attrs.get("gen_ai.response.finish_reasons") or []
    reasons += [finish] if isinstance(finish, str) else list(finish) if isinstance(finish, list) else []
    record: dict[str, Any] = {
        "function_name": pick_function(function_name, resource.get("service.name"), span.get("name")),
        "input": {"messages": messages, **({"tools": tools} if tools else {})},
        "uuid": f"{span.get('traceId', '')}-{span['spanId']}" if span.get("spanId") else None,
        "timestamp": iso_from_unix(span.get("startTimeUnixNano"), where, scale=1e9),
    }
    status = mapping_at(span, "status")
    if status.get("code") in (STATUS_CODE_ERROR, "STATUS_CODE_ERROR") or attrs.get("error.type"):
        record.update(error_record(str(status.get("message") or attrs.get("error.type") or "span status ERROR")))
    elif reply is None:
        record.update(error_record("the span recorded no output message"))
    else:
        state, problem = reply_status(reasons, reply)
        record.update(status=state, output=reply, error_message=problem)
    return record


def from_export_request(
    raw: Mapping[str, Any], where: str, function_name: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record per chat span of an OTLP JSON export request.

    Raises:
        InputError: If ``resourceSpans`` is not a list.
    """
    resource_spans = raw.get("resourceSpans")
    if not isinstance(resource_spans, list):
        raise InputError(f"{where}: 'resourceSpans' must be a list (an OTLP JSON export request)")
    for resource_span in resource_spans:
        resource = attributes((resource_span.get("resource") or {}).get("attributes"))
        for scope_span in resource_span.get("scopeSpans") or []:
            for span in scope_span.get("spans") or []:
                span_where = f"{where} span {span.get('spanId', '?')}"
                record = span_record(span, resource, span_where, function_name)
                if record is not None:
                    yield span_where, record
