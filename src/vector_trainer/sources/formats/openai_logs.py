"""OpenAI chat-completions request/response logs, and plain chat examples.

A request log is ``{"request": {"model", "messages", "tools", ..., "metadata"}, "response":
{"id", "created", "choices": [{"message", "finish_reason"}], "usage"}}``; a failed call has an
``error`` object (at the top level or as the response). The function name comes from the
request's ``metadata`` (``function_name``, ``feature`` or ``name``) unless one is given.
"""

from __future__ import annotations

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
from vector_trainer.types import STATUS_FAILURE


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        return str(error.get("message") or error.get("code") or error.get("type") or "error")
    return str(error)


def from_request_log(
    raw: Mapping[str, Any], where: str, function_name: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record from a request/response log (see the module docstring).

    Raises:
        InputError: If ``request`` is not an object with ``messages``.
    """
    request = raw.get("request")
    if not isinstance(request, Mapping) or "messages" not in request:
        raise InputError(f"{where}: 'request' must be the chat-completions request, with its 'messages'")
    response = mapping_at(raw, "response")
    metadata = mapping_at(request, "metadata")
    record: dict[str, Any] = {
        "function_name": pick_function(
            function_name, metadata.get("function_name"), metadata.get("feature"), metadata.get("name")
        ),
        "input": {
            "messages": request["messages"],
            **({"tools": request["tools"]} if request.get("tools") else {}),
            **({"model": request["model"]} if isinstance(request.get("model"), str) else {}),
        },
        "uuid": raw.get("id") or response.get("id"),
        "timestamp": iso_from_unix(response.get("created") or raw.get("created"), where),
    }
    error = raw.get("error") or response.get("error")
    choices = response.get("choices")
    if error:
        record.update(error_record(_error_text(error)))
    elif not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        record.update(error_record("the response has no choices"))
    else:
        message = choices[0].get("message")
        status, problem = reply_status([choices[0].get("finish_reason")], message)
        record.update(status=status, output=message, error_message=problem)
    yield where, record


def from_chat_example(
    raw: Mapping[str, Any], where: str, function_name: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record from ``{"messages": [...], "tools": [...]}`` whose last message is the reply.

    Raises:
        InputError: If the last message is not the assistant's.
    """
    messages = raw.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise InputError(f"{where}: 'messages' must hold the prompt and, last, the assistant's reply")
    reply = messages[-1]
    if not isinstance(reply, Mapping) or reply.get("role") != "assistant":
        raise InputError(f"{where}: the last message must be the assistant's reply, the one to learn from")
    weight = reply.get("weight", 1)
    if weight not in (0, 1) or isinstance(weight, bool):
        raise InputError(f"{where}: the reply's 'weight' must be 0 or 1, got {weight!r}")
    status, problem = reply_status([], reply)
    if weight == 0:
        status, problem = STATUS_FAILURE, "the reply has weight 0: it is not to be trained on"
    record: dict[str, Any] = {
        "function_name": pick_function(function_name, raw.get("function_name")),
        "input": {"messages": messages[:-1], **({"tools": raw["tools"]} if raw.get("tools") else {})},
        "output": {k: v for k, v in reply.items() if k != "weight"},
        "status": status,
        "error_message": problem,
    }
    for key in ("uuid", "timestamp"):
        if raw.get(key):
            record[key] = raw[key]
    yield where, record
