"""Log formats other than our own records: each turns what another tool logged into records
(``function_name``, ``input: {"messages", "tools"}``, ``output``, ``status``, ``uuid``,
``timestamp``, ``error_message``) that :func:`~vector_trainer.sources.ingest.parse_record` then
validates like any other.

=============  ==========================================================================
format         what one line (or JSON array item) is
=============  ==========================================================================
``records``    our import record (``function_name``, ``input``, ``output``, ``status``)
``openai``     an OpenAI chat-completions request/response log (``request``, ``response``):
               what stored completions, LiteLLM, Helicone and OpenPipe-style proxies keep
``chat``       a chat example ``{"messages": [...], "tools": [...]}`` whose last message is
               the assistant's reply
``otel``       an OTLP JSON export request (``resourceSpans``) with OpenTelemetry GenAI
               spans (current parts-based messages, older ``gen_ai.prompt.N.*`` attributes,
               or OpenInference's ``llm.input_messages.N.*``)
``langfuse``   a Langfuse observation of type ``GENERATION`` (or a trace holding them)
=============  ==========================================================================

The SUCCESS rule, the same for every format: a call is a SUCCESS when it returned a reply (text
or tool calls) and nothing says it went wrong. An error (an ``error`` object, span status
ERROR, Langfuse level ERROR) makes it ERROR; a reply cut off (``finish_reason`` ``length``),
filtered (``content_filter``) or refused (``refusal``) makes it FAILURE: none is learned from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from vector_trainer.errors import InputError
from vector_trainer.sources.formats import langfuse, openai_logs, otel

#: A converter: ``(raw object, where, function name or None)`` -> ``(where, record)`` pairs.
Converter = Callable[[Mapping[str, Any], str, "str | None"], Iterator[tuple[str, dict[str, Any]]]]

LOG_FORMATS = ("records", "openai", "chat", "otel", "langfuse")


def _records(raw: Mapping[str, Any], where: str, function_name: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    record = dict(raw)
    if function_name and not record.get("function_name"):
        record["function_name"] = function_name
    yield where, record


CONVERTERS: Mapping[str, Converter] = {
    "records": _records,
    "openai": openai_logs.from_request_log,
    "chat": openai_logs.from_chat_example,
    "otel": otel.from_export_request,
    "langfuse": langfuse.from_observation,
}


def detect_format(raw: Mapping[str, Any]) -> str:
    """The format of a log from its first object (see the table above)."""
    if "resourceSpans" in raw:
        return "otel"
    if "request" in raw and ("response" in raw or "error" in raw):
        return "openai"
    if langfuse.looks_like(raw):
        return "langfuse"
    if "function_name" not in raw and isinstance(raw.get("messages"), list):
        return "chat"
    return "records"


def convert(
    raws: Iterator[tuple[str, Mapping[str, Any]]], log_format: str = "auto", function_name: str | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Records from the raw objects of one file, in ``log_format`` (``auto``: detected from the first).

    Raises:
        InputError: For an unknown format, or a raw object the format cannot read (naming it).
    """
    if log_format != "auto" and log_format not in CONVERTERS:
        raise InputError(f"unknown log format {log_format!r}; use auto or one of {', '.join(LOG_FORMATS)}")
    name = None if log_format == "auto" else log_format
    for where, raw in raws:
        if name is None:
            name = detect_format(raw)
        try:
            records = list(CONVERTERS[name](raw, where, function_name))
        except (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError) as exc:
            # a value of the wrong type somewhere in a foreign format: named, never a traceback
            raise InputError(
                f"{where}: not a well-formed {name} log ({type(exc).__name__}: {str(exc)[:200]}); "
                "check the line, or name the format with --format"
            ) from None
        yield from records
