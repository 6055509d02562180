"""Hostile conversation logs (an attack trial's findings): each one a clean ``file:line`` error or
the right record, never a traceback, and never a record that later breaks ``run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conversation_samples import otel_current
from vector_trainer.chatml import check_example
from vector_trainer.errors import InputError
from vector_trainer.extractor.output.examples import log_example
from vector_trainer.sources.ingest import read_records

USER = {"role": "user", "content": "q"}


def _file(tmp_path: Path, rows: list[Any], name: str = "logs.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _span(**changes: Any) -> dict[str, Any]:
    export = otel_current(1, tool=False)
    export["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(changes)
    return export


def _with_attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    export = otel_current(1, tool=False)
    attrs = export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    attrs[:] = [a for a in attrs if a["key"] != key] + [{"key": key, "value": value}]
    return export


@pytest.mark.parametrize(
    "row",
    [
        {"resourceSpans": ["x"]},
        {"resourceSpans": [{"resource": "x", "scopeSpans": "abc"}]},
        {"resourceSpans": [{"scopeSpans": [{"spans": [5]}]}]},
        _with_attr("gen_ai.request.max_tokens", {"intValue": "abc"}),
        _with_attr("gen_ai.request.max_tokens", {"arrayValue": "abc"}),
        _with_attr("gen_ai.input.messages", {"stringValue": json.dumps([{"role": "user", "parts": "hi"}])}),
        _with_attr("gen_ai.output.messages", {"stringValue": json.dumps(["hi"])}),
        {"observations": [1]},
        {"type": "GENERATION", "input": [USER], "output": {"choices": [1]}},
        {"request": {"messages": [USER]}, "response": {"choices": [{"message": ["hi"]}]}},
    ],
)
def test_wrong_types_in_foreign_formats_are_named_errors(tmp_path: Path, row: dict) -> None:
    with pytest.raises(InputError, match=r"logs\.jsonl:1"):
        read_records(_file(tmp_path, [row]))


def test_content_part_types_that_are_not_strings_are_named(tmp_path: Path) -> None:
    row = {"function_name": "f", "input": [{"role": "user", "content": [{"type": [1], "text": "x"}]}],
           "output": "a", "status": "SUCCESS"}  # fmt: skip
    with pytest.raises(InputError, match=r"logs\.jsonl:1: .*'type' must be a string"):
        read_records(_file(tmp_path, [row]))


def test_a_legacy_function_call_reply_is_kept_as_a_tool_call(tmp_path: Path) -> None:
    messages = [USER, {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
                {"role": "function", "name": "f", "content": "42"},
                {"role": "assistant", "function_call": {"name": "g", "arguments": '{"a":1}'}}]  # fmt: skip
    [(_, log)] = read_records(_file(tmp_path, [{"messages": messages}]))
    assert log.status == "SUCCESS" and log.output["tool_calls"][0]["function"]["name"] == "g"
    example = log_example(log, "")
    assert example["messages"][2] == {"role": "tool", "content": "42", "tool_call_id": "call_1"}
    assert not [i for i in check_example(example) if i.severity == "error"]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ("[" * 980 + "]" * 980, "nested"),
        ("[" * 150 + "]" * 150, "nested more than 100 levels"),
        ('{"a": NaN}', "invalid JSON"),
    ],
)
def test_tool_call_arguments_that_no_run_could_use_are_refused_at_ingest(tmp_path: Path, arguments, problem) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    row = {"messages": [USER, {"role": "assistant", "tool_calls": [call]}]}
    with pytest.raises(InputError, match=problem):
        read_records(_file(tmp_path, [row]))
    example = {"messages": [USER, {"role": "assistant", "tool_calls": [call]}]}
    assert any("not valid JSON" in i.message for i in check_example(example))


def test_repeated_tool_call_ids_are_refused(tmp_path: Path) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [USER, {"role": "assistant", "tool_calls": [call, call]}]
    with pytest.raises(InputError, match="repeats a tool call id"):
        read_records(_file(tmp_path, [{"messages": [*messages, {"role": "assistant", "content": "a"}]}]))
    assert any("used twice" in i.message for i in check_example({"messages": messages}))
    weird = {"messages": [USER, {"role": ["assistant"], "content": "a"}, {"role": "tool", "tool_call_id": [1]}]}
    assert check_example(weird)  # unhashable values are errors, not a TypeError


def test_chat_file_weights_and_refusals(tmp_path: Path) -> None:
    rows = [
        {"messages": [USER, {"role": "assistant", "content": "a", "weight": 0}]},
        {"messages": [USER, {"role": "assistant", "content": None, "refusal": "no"}]},
        {"messages": [USER, {"role": "assistant", "content": "a", "weight": 1}]},
    ]
    logs = [log for _, log in read_records(_file(tmp_path, rows))]
    assert [log.status for log in logs] == ["FAILURE", "FAILURE", "SUCCESS"]
    with pytest.raises(InputError, match="'weight' must be 0 or 1, got True"):
        read_records(_file(tmp_path, [{"messages": [USER, {"role": "assistant", "content": "a", "weight": True}]}]))


def test_otel_finish_reasons_as_a_string_and_structured_content(tmp_path: Path) -> None:
    cut = _with_attr("gen_ai.response.finish_reasons", {"stringValue": "length"})
    structured = _with_attr(
        "gen_ai.output.messages",
        {"stringValue": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": {"n": None}}]}])},
    )
    no_span_id = [otel_current(1, tool=False), otel_current(2, tool=False)]
    for span in no_span_id:  # two spans of one trace, neither with a spanId
        span["resourceSpans"][0]["scopeSpans"][0]["spans"] = span["resourceSpans"][0]["scopeSpans"][0]["spans"][:1]
        span["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(spanId=None, traceId="ab" * 16)
    logs = [log for _, log in read_records(_file(tmp_path, [cut, structured, *no_span_id]))]
    assert logs[0].status == "FAILURE" and "cut off" in logs[0].error_message
    assert logs[1].output == '{"n": null}'
    assert logs[2].uuid != logs[3].uuid


def test_user_text_beside_an_image_is_kept(tmp_path: Path) -> None:
    parts = [
        {"text": "what is"},
        {"type": "input_text", "text": "this?"},
        {"type": "image_url", "image_url": {"url": "u"}},
    ]
    row = {"function_name": "f", "input": [{"role": "user", "content": parts}], "output": "a cat", "status": "SUCCESS"}
    [(_, log)] = read_records(_file(tmp_path, [row]))
    assert [p.get("text") for p in log.inputs["messages"][0]["content"]] == ["what is", "this?", None]


def test_a_tool_definition_whose_function_is_not_an_object_is_refused(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": "f", "name": "g"}]
    row = {"function_name": "f", "input": {"messages": [USER], "tools": tools}, "output": "a", "status": "SUCCESS"}
    with pytest.raises(InputError, match=r"tools\[0\] 'function' must be an object"):
        read_records(_file(tmp_path, [row]))


def test_lowercase_langfuse_types_are_detected(tmp_path: Path) -> None:
    row = {"id": "g1", "traceId": "t", "type": "generation", "name": "n", "input": [USER], "output": "a"}
    assert read_records(_file(tmp_path, [row]))[0][1].uuid == "g1"
