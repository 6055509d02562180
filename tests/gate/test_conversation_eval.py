"""The gate asks conversation examples and conversation feedback as they were logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversation_samples import conversation, record
from vector_trainer.errors import InputError
from vector_trainer.extractor.output.examples import log_example
from vector_trainer.gate.evaluate import feedback_examples, validation_examples
from vector_trainer.sources.ingest import parse_record
from vector_trainer.synthesizer.feedback import load_feedback


def test_validation_examples_keep_tool_calls_and_drop_training_keys(tmp_path: Path) -> None:
    examples = [log_example(parse_record(record(i, tool=True), "r"), "") for i in range(2)]
    tool_reply = json.loads(json.dumps(examples[0]))
    tool_reply["messages"][-1] = {"role": "assistant", "tool_calls": examples[0]["messages"][-3]["tool_calls"]}
    path = tmp_path / "golden.validation.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in [*examples, tool_reply]), "utf-8")
    asked = validation_examples(path)
    assert len(asked) == 2  # a tool-call reference cannot be scored against a text answer
    chat = asked[0].chat()
    assert chat == [{k: v for k, v in m.items() if k != "weight"} for m in examples[0]["messages"][:-1]]
    assert chat[-2]["tool_calls"][0]["function"]["name"] == "get_schedule" and chat[-1]["role"] == "tool"
    assert asked[0].messages[-2] == ("assistant", 'get_schedule({"date": "2026-12-20"})')
    assert asked[0].reference == examples[0]["messages"][-1]["content"]


def test_feedback_may_carry_the_conversation_it_answered(tmp_path: Path) -> None:
    messages, _ = conversation(4)
    rows = [
        {"bad_output": "안녕하세요 팬 여러분!", "fixed_output": "스텔라리 안녕!", "messages": messages},
        {"bad_output": "x", "fixed_output": "y", "input_prompt": "plain"},
    ]
    path = tmp_path / "feedback.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    pairs = load_feedback(path)
    assert pairs[0].input_prompt == messages[-1]["content"] and pairs[0].messages[0]["role"] == "system"
    asked = feedback_examples(pairs, system_prompt="sys")
    assert asked[0].chat() == messages and asked[0].reference == "스텔라리 안녕!"
    assert asked[1].chat() == [{"role": "system", "content": "sys"}, {"role": "user", "content": "plain"}]
    path.write_text(json.dumps({"bad_output": "x", "fixed_output": "y", "messages": [{"role": "bot"}]}) + "\n")
    with pytest.raises(InputError, match=r"feedback\.jsonl:1: messages\[0\] has role 'bot'"):
        load_feedback(path)
