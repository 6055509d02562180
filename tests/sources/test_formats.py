"""Conversation logs read from every format they are kept in, exactly as logged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conversation_samples import (
    PERSONA,
    TOOLS,
    langfuse_generation,
    openai_log,
    openinference,
    otel_current,
    otel_legacy,
    record,
)
from vector_trainer.conversation import conversation_of
from vector_trainer.errors import InputError
from vector_trainer.sources.formats import detect_format
from vector_trainer.sources.ingest import iter_records, read_records


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_our_records_keep_the_conversation_and_other_arguments_apart(tmp_path: Path) -> None:
    [(where, log)] = read_records(_jsonl(tmp_path / "logs.jsonl", [record(4, tool=True)]))
    assert where.endswith(":1")
    assert log.inputs["model"] == "gpt-4o-mini"
    conversation = conversation_of(log.inputs, log.output)
    assert conversation is not None
    assert [m.role for m in conversation.messages] == [
        "system",
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "tool",
    ]
    assert conversation.messages[0].content == PERSONA
    assert conversation.messages[5].tool_calls[0].arguments == json.dumps({"date": "2026-12-20"})
    assert conversation.tools[0]["function"]["name"] == "get_schedule"
    assert conversation.reply is not None and conversation.reply.content.startswith("팬 여러분")


def test_a_bare_message_list_is_a_conversation(tmp_path: Path) -> None:
    row = {
        "function_name": "chat",
        "input": [{"role": "user", "content": "hi"}],
        "output": "hello",
        "status": "SUCCESS",
    }
    [(_, log)] = read_records(_jsonl(tmp_path / "logs.jsonl", [row]))
    assert log.inputs == {"messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"role": "robot"}, "messages[0] has role 'robot'"),
        ({"role": "tool", "content": "x"}, "messages[0] (tool) has no 'tool_call_id'"),
        ({"role": "tool", "content": "x", "tool_call_id": "nope"}, "answers tool call 'nope'"),
        ({"role": "user", "content": 3}, "content must be a string"),
        ({"role": "assistant", "content": None}, "neither content nor tool_calls"),
    ],
)
def test_malformed_messages_name_the_line_and_the_message(tmp_path: Path, change: dict, message: str) -> None:
    row = {"function_name": "chat", "input": {"messages": [change]}, "output": "x", "status": "SUCCESS"}
    with pytest.raises(InputError, match=r"logs\.jsonl:1: .*") as caught:
        read_records(_jsonl(tmp_path / "logs.jsonl", [row]))
    assert message in str(caught.value)


def test_tool_call_arguments_given_as_an_object_are_stored_as_json_text(tmp_path: Path) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [call]}]
    row = {"function_name": "chat", "input": {"messages": messages}, "output": "a", "status": "SUCCESS"}
    [(_, log)] = read_records(_jsonl(tmp_path / "logs.jsonl", [row]))
    assert log.inputs["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"x":1}'


def test_openai_request_logs(tmp_path: Path) -> None:
    rows = [openai_log(1), openai_log(2, finish_reason="length"), openai_log(3, tool_reply=True)]
    rows.append({"request": rows[0]["request"], "error": {"message": "Rate limit reached", "type": "rate_limit"}})
    logs = [log for _, log in read_records(_jsonl(tmp_path / "proxy.jsonl", rows))]
    assert [log.status for log in logs] == ["SUCCESS", "FAILURE", "SUCCESS", "ERROR"]
    assert {log.function_name for log in logs} == {"fan-chat"}  # from the request's metadata
    assert logs[0].uuid == "chatcmpl-1" and logs[0].timestamp == "2025-12-06T00:00:01Z"
    assert logs[0].output.startswith("팬 여러분")  # a text-only reply is stored as its text
    assert "cut off" in logs[1].error_message
    assert logs[2].output["tool_calls"][0]["function"]["name"] == "get_schedule"
    assert logs[3].error_message == "Rate limit reached"
    assert logs[0].inputs["tools"] == TOOLS and "temperature" not in logs[0].inputs


def test_a_function_name_given_wins_over_the_format_guess(tmp_path: Path) -> None:
    records = list(iter_records(_jsonl(tmp_path / "proxy.jsonl", [openai_log(1)]), function_name="persona"))
    assert records[0][1].function_name == "persona"


def test_plain_chat_files_take_the_last_assistant_message_as_the_reply(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 1}]
    [(_, log)] = read_records(_jsonl(tmp_path / "chat.jsonl", [{"messages": messages, "tools": TOOLS}]))
    assert log.inputs["messages"] == [{"role": "user", "content": "q"}] and log.output == "a"
    with pytest.raises(InputError, match=r"chat\.jsonl:1: the last message must be the assistant's reply"):
        read_records(_jsonl(tmp_path / "chat.jsonl", [{"messages": messages[:1] + messages[:1]}]))


def test_otel_current_conventions(tmp_path: Path) -> None:
    rows = [otel_current(1), otel_current(2, finish_reason="content_filter"), otel_current(3, error=True)]
    logs = [log for _, log in read_records(_jsonl(tmp_path / "traces.jsonl", rows))]
    assert len(logs) == 3  # the execute_tool spans are not chat calls
    assert [log.status for log in logs] == ["SUCCESS", "FAILURE", "ERROR"]
    first = conversation_of(logs[0].inputs, logs[0].output)
    assert first is not None
    assert [m.role for m in first.messages] == ["system", "user", "assistant", "tool"]
    assert first.messages[0].content == PERSONA
    assert first.messages[2].tool_calls[0].arguments == '{"date":"12-20"}'
    assert first.messages[3].tool_call_id == "call_1" and json.loads(first.messages[3].content) == {"event": "콘서트"}
    assert first.tools[0]["function"]["name"] == "get_schedule"
    assert logs[0].function_name == "fan-chat" and logs[0].uuid == f"{1:032x}-{1:016x}"
    assert logs[2].error_message == "RateLimitError"


def test_otel_older_flattened_attributes(tmp_path: Path) -> None:
    [(_, log)] = read_records(_jsonl(tmp_path / "traces.jsonl", [otel_legacy(5)]))
    conversation = conversation_of(log.inputs, log.output)
    assert conversation is not None
    assert [m.role for m in conversation.messages] == ["system", "user", "assistant", "tool"]
    assert conversation.messages[2].tool_calls[0].name == "get_schedule"
    assert conversation.reply is not None and conversation.reply.content == "곧 만나 💫 (5)"
    assert conversation.tools[0]["function"]["parameters"]["required"] == ["date"]


def test_openinference_attributes_with_a_tool_call_reply(tmp_path: Path) -> None:
    [(_, log)] = read_records(_jsonl(tmp_path / "traces.jsonl", [openinference(7)]))
    assert log.status == "SUCCESS"
    assert log.output["tool_calls"][0]["function"] == {"name": "get_schedule", "arguments": '{"date": "12-20"}'}
    assert log.inputs["tools"][0]["function"]["name"] == "get_schedule"


def test_spans_without_content_say_how_to_capture_it(tmp_path: Path) -> None:
    export = otel_current(1)
    export["resourceSpans"][0]["scopeSpans"][0]["spans"] = export["resourceSpans"][0]["scopeSpans"][0]["spans"][1:]
    with pytest.raises(InputError, match="CAPTURE_MESSAGE_CONTENT"):
        read_records(_jsonl(tmp_path / "traces.jsonl", [export]))


def test_langfuse_generations_jsonl_and_json_array(tmp_path: Path) -> None:
    rows = [langfuse_generation(0), langfuse_generation(1), langfuse_generation(2, level="ERROR")]
    rows.append({"id": "span-1", "type": "SPAN", "name": "retrieval", "input": "q", "output": "docs"})
    logs = [log for _, log in read_records(_jsonl(tmp_path / "langfuse.jsonl", rows))]
    assert [log.status for log in logs] == ["SUCCESS", "SUCCESS", "ERROR"]
    assert logs[0].function_name == "fan-chat" and logs[0].uuid == "gen-0"
    assert any(m.get("tool_calls") for m in logs[0].inputs["messages"])
    (tmp_path / "export.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    from_array = read_records(tmp_path / "export.json")
    assert [log.uuid for _, log in from_array] == [log.uuid for log in logs]
    assert from_array[0][0].endswith("export.json[0] generation gen-0")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (record(1), "records"),
        (openai_log(1), "openai"),
        ({"messages": []}, "chat"),
        (otel_current(1), "otel"),
        (langfuse_generation(1), "langfuse"),
        ({"data": [langfuse_generation(1)]}, "langfuse"),
    ],
)
def test_formats_are_detected_from_the_first_object(raw: dict, expected: str) -> None:
    assert detect_format(raw) == expected


def test_a_named_format_that_does_not_fit_is_an_error_naming_the_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"logs\.jsonl:1: 'request' must be the chat-completions request"):
        read_records(_jsonl(tmp_path / "logs.jsonl", [record(1)]), log_format="openai")


def test_refused_and_filtered_replies_are_failures_not_import_errors(tmp_path: Path) -> None:
    """A refusal (``content: null``) or a filtered reply must not stop the import: it is a FAILURE."""
    refused = openai_log(1)
    refused["response"]["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "No puedo."}
    filtered = openai_log(2, finish_reason="content_filter")
    filtered["response"]["choices"][0]["message"] = {"role": "assistant", "content": None}
    span = otel_current(3, tool=False)
    attrs = span["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    for attr in attrs:
        if attr["key"] == "gen_ai.output.messages":
            parts = [{"role": "assistant", "parts": [{"type": "refusal", "content": "No."}], "finish_reason": "stop"}]
            attr["value"] = {"stringValue": json.dumps(parts)}
    logs = [log for _, log in read_records(_jsonl(tmp_path / "logs.jsonl", [refused, filtered, openai_log(3)]))]
    assert [log.status for log in logs] == ["FAILURE", "FAILURE", "SUCCESS"]
    assert "refused" in logs[0].error_message and logs[0].inputs["model"] == "gpt-4o-mini"
    [(_, log)] = read_records(_jsonl(tmp_path / "spans.jsonl", [span]))
    assert log.status == "FAILURE" and log.output["refusal"] == "No."
    row = {"function_name": "f", "input": {"messages": [{"role": "user", "content": "q"}]}, "status": "FAILURE",
           "output": {"role": "assistant", "content": None, "refusal": "no"}}  # fmt: skip
    assert read_records(_jsonl(tmp_path / "ours.jsonl", [row]))[0][1].output["refusal"] == "no"
    with pytest.raises(InputError, match="neither content nor tool_calls"):  # a SUCCESS needs a reply
        read_records(_jsonl(tmp_path / "ours.jsonl", [{**row, "status": "SUCCESS"}]))


def test_a_langfuse_export_that_starts_with_a_span_is_detected(tmp_path: Path) -> None:
    rows = [{"id": "span-1", "traceId": "t1", "type": "SPAN", "name": "retrieval", "input": "q", "output": "d"},
            langfuse_generation(1)]  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps(rows), encoding="utf-8")
    assert [log.uuid for _, log in read_records(tmp_path / "export.json")] == ["gen-1"]
