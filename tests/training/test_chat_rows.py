"""Training on the replies: conversation examples through TRL's real tokenisation keep their whole
logged reply in the loss, and nothing else; an example that would be cut off is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import require_modules
from conversation_samples import record
from vector_trainer.errors import InputError
from vector_trainer.extractor.output.examples import log_example
from vector_trainer.sources.ingest import parse_record
from vector_trainer.training.local_lora.chat_rows import plan_max_length, training_rows

NEEDED = ("torch", "transformers", "trl", "datasets")


def _examples(n: int = 6) -> list[dict]:
    return [log_example(parse_record(record(i, tool=i % 2 == 0), f"r{i}"), "") for i in range(n)]


def test_one_row_per_trained_turn_with_the_earlier_turns_as_its_prompt() -> None:
    example = _examples(3)[2]  # two earlier exchanges, a tool call, then the reply
    [row] = training_rows(example, template_has_tools=True)
    assert row["completion"] == [example["messages"][-1]]
    assert [m["role"] for m in row["prompt"]] == [m["role"] for m in example["messages"][:-1]]
    assert all("weight" not in m for m in row["prompt"])
    assert json.loads(row["tools"])[0]["function"]["name"] == "get_schedule"
    example["messages"][3]["weight"] = 1  # a file may train on several turns: one row each
    assert len(training_rows(example, template_has_tools=True)) == 2


def test_tool_calls_become_text_for_a_template_that_cannot_render_them() -> None:
    [row] = training_rows(_examples(1)[0], template_has_tools=False)
    call_turn = next(m for m in row["prompt"] if "<tool_call>" in (m.get("content") or ""))
    assert json.loads(call_turn["content"].split("\n")[1]) == {
        "name": "get_schedule",
        "arguments": {"date": "2026-12-20"},
    }
    assert "tool_calls" not in call_turn


def test_the_length_comes_from_the_data_and_a_cut_off_reply_is_refused() -> None:
    lengths = [("line 1", 40), ("line 2", 90), ("line 3", 70)]
    assert plan_max_length(lengths, None, 512, "golden.jsonl").max_length == 90
    with pytest.raises(InputError, match=r"golden\.jsonl: 2 of 3 examples are longer than max_length 64.*line 2 \(90"):
        plan_max_length(lengths, 64, 512, "golden.jsonl")
    with pytest.raises(InputError, match=r"1 of 3 examples are longer than the model's context of 80 tokens"):
        plan_max_length(lengths, None, 80, "golden.jsonl")


@pytest.mark.slow
@pytest.mark.integration
def test_every_reply_survives_trl_tokenisation_whole_and_alone(tmp_path: Path) -> None:
    require_modules(NEEDED, "pip install torch==2.13.0 '.[local]'")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from tiny_model import make_tiny_model
    from vector_trainer.training.local_lora.chat_rows import example_rows, load_tokenizer

    examples = _examples(8)
    texts = [json.dumps(e, ensure_ascii=False) for e in examples]
    model_dir = make_tiny_model(tmp_path / "tiny", texts)
    tokenizer = load_tokenizer(str(model_dir))
    rows, lengths = example_rows(enumerate(examples, 1), tokenizer)
    plan = plan_max_length(lengths, None, 4096, "golden.jsonl")
    config = SFTConfig(output_dir=str(tmp_path / "out"), max_length=plan.max_length, completion_only_loss=True,
                       report_to=[], use_cpu=True)  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    for example, tokenized, (_, length) in zip(examples, trainer.train_dataset, lengths, strict=True):
        assert len(tokenized["input_ids"]) == length  # nothing truncated
        trained = [t for t, label in zip(tokenized["input_ids"], tokenized["labels"], strict=True) if label != -100]
        text = tokenizer.decode(trained)
        reply = example["messages"][-1]["content"]
        assert text.startswith(reply) and text[len(reply) :].strip() in ("<|im_end|>", "")  # the reply, whole, alone
    # With the old default (512 tokens kept from the start) the persona conversations would lose their replies:
    short = min(n for _, n in lengths) - 1
    with pytest.raises(InputError, match=rf"8 of 8 examples are longer than max_length {short}"):
        plan_max_length(lengths, short, None, "golden.jsonl")
