"""Conversation logs as OpenAI fine-tuning examples, and OpenAI's format checks for them."""

from __future__ import annotations

import copy
import json

import pytest

from conversation_samples import PERSONA, TOOLS, conversation, record
from vector_trainer.chatml import check_example, conversation_example, is_valid_example
from vector_trainer.conversation import conversation_of, message_text
from vector_trainer.extractor.output.examples import log_example
from vector_trainer.sources.ingest import parse_record


def _example(i: int, *, tool: bool = True, system_prompt: str = "You are a helpful assistant.") -> dict:
    return log_example(parse_record(record(i, tool=tool), "row"), system_prompt)


def test_the_example_is_the_conversation_as_logged() -> None:
    example = _example(5)
    messages, reply = conversation(5, tool=True)
    expected = [*copy.deepcopy(messages), {"role": "assistant", "content": reply}]
    for message in expected[:-1]:
        if message["role"] == "assistant":
            message["weight"] = 0
            if message.get("content") is None:
                message.pop("content", None)
    assert example["messages"] == expected
    assert example["tools"] == TOOLS
    assert "model" not in json.dumps(example)  # another argument of the call, not the prompt
    assert example["messages"][0]["content"] == PERSONA  # the default prompt is not injected
    assert check_example(example) == []


def test_only_the_logged_reply_is_trained_on() -> None:
    example = _example(2, tool=False)
    assistants = [m for m in example["messages"] if m["role"] == "assistant"]
    assert [m.get("weight") for m in assistants] == [0, 0, None]


def test_the_system_prompt_fills_only_a_conversation_without_one() -> None:
    messages = [{"role": "user", "content": "hi"}]
    log = parse_record(
        {"function_name": "f", "input": {"messages": messages}, "output": "yo", "status": "SUCCESS"}, "r"
    )
    example = log_example(log, "Be brief.")
    assert example["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in _example(1, system_prompt="Be brief.")["messages"]][:2] == ["system", "system"]
    assert "Be brief." not in json.dumps(_example(1, system_prompt="Be brief."))


def test_a_tool_call_reply_is_kept_as_tool_calls() -> None:
    call = {"id": "c9", "type": "function", "function": {"name": "get_schedule", "arguments": '{"date":"x"}'}}
    row = {**record(3), "output": {"role": "assistant", "content": None, "tool_calls": [call]}}
    example = log_example(parse_record(row, "r"), "")
    assert example["messages"][-1] == {"role": "assistant", "tool_calls": [call]}
    assert is_valid_example(example)


def test_single_input_logs_render_as_before() -> None:
    log = parse_record({"function_name": "f", "input": "What is 2+2?", "output": "4", "status": "SUCCESS"}, "r")
    assert log_example(log, "sys") == {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"},
        ]
    }


def _valid() -> dict:
    return _example(4)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e["messages"][5]["tool_calls"][0]["function"].update(arguments={"date": 1}), "JSON string"),
        (lambda e: e["messages"][5]["tool_calls"][0]["function"].update(arguments="{not json"), "not valid JSON"),
        (lambda e: e["messages"][6].update(tool_call_id="other"), "answers no earlier tool call"),
        (lambda e: e["messages"][-1].update(weight=2), "weight must be 0 or 1"),
        (lambda e: e["messages"][-1].update(weight=0), "nothing would be trained on"),
        (lambda e: e["messages"][2].update(tool_call_id="x"), "unrecognised keys ['tool_call_id']"),
        (lambda e: e["messages"][1].update(weight=0), "unrecognised keys ['weight']"),
        (lambda e: e.update(tools=[{"name": "get_schedule"}]), "a tool is not"),
        (lambda e: e.update(tools=TOOLS + TOOLS), "names a function twice"),
        (lambda e: e.update(extra=1), "unrecognised key 'extra'"),
        (lambda e: e["messages"][-1].update(content=None), "lacks 'content'"),
    ],
)
def test_format_checks_refuse_what_openai_refuses(mutate, message: str) -> None:
    example = _valid()
    assert check_example(example) == []
    mutate(example)
    errors = [i.message for i in check_example(example) if i.severity == "error"]
    assert any(message in e for e in errors), errors


def test_user_content_parts_with_images_are_accepted() -> None:
    parts = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]
    example = {"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "a cat"}]}
    assert is_valid_example(example)
    log = parse_record({"function_name": "f", "input": {"messages": example["messages"][:1]}, "output": "a cat",
                        "status": "SUCCESS"}, "r")  # fmt: skip
    conv = conversation_of(log.inputs, log.output)
    assert conv is not None and conversation_example(conv)["messages"][0]["content"] == parts
    assert conv.messages[0].text == message_text(example["messages"][0]) == "what is this?"  # one reading
