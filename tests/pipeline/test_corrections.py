"""Issue 27: corrections teach the model too: golden replies the hook would change are trained
on corrected, feedback becomes training examples, and preference pairs in OpenAI's DPO format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ListSource, clustered, make_log, require_modules
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.pipeline import OpenAITrainer, TrainingPipeline
from vector_trainer.synthesizer import RuleSetSynthesizer
from vector_trainer.types import FeedbackPair


def _logs() -> list:
    vectors, labels = clustered([30, 30, 30], spread=0.05, seed=1)
    return [make_log(i, v, text=f"question {i} topic {t}", output=f"It takes {i % 7 + 1} hrs.")
            for i, (v, t) in enumerate(zip(vectors, labels, strict=True))]  # fmt: skip


def _pairs() -> list[FeedbackPair]:
    pairs = [FeedbackPair(f"It takes {i} hrs.", f"It takes {i} hours.", input_prompt=f"How long, {i}?", sequence=i)
             for i in range(4)]  # fmt: skip
    messages = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "How long?"})  # fmt: skip
    return [*pairs, FeedbackPair("It takes 9 hrs.", "It takes 9 hours.", messages=messages, sequence=4),
            FeedbackPair("It takes 8 hrs.", "It takes 8 hours.", sequence=5)]  # no prompt: no example  # fmt: skip


def _run(tmp_path: Path, monkeypatch) -> dict:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pipeline = TrainingPipeline(DensityBasedExtractor(ListSource(_logs()), top_k=10), RuleSetSynthesizer(),
                                OpenAITrainer())  # fmt: skip
    return pipeline.run("fn", _pairs(), tmp_path / "run")


def test_the_training_data_is_what_the_hook_makes_of_it_plus_the_fixes(tmp_path: Path, monkeypatch) -> None:
    summary = _run(tmp_path, monkeypatch)
    assert summary.synthesize is not None and summary.synthesize.corrections is not None
    corrections = summary.synthesize.corrections
    golden = [json.loads(line) for line in (tmp_path / "run" / "golden.jsonl").read_text().splitlines()]
    replies = [e["messages"][-1]["content"] for e in golden]
    assert corrections["replies_corrected"] > 0 and not any(" hrs" in r for r in replies)
    assert corrections["feedback_examples"] == 5 and corrections["preference_pairs"] == 5
    fed = golden[-5:]
    assert [e["messages"][-1]["content"] for e in fed] == [f"It takes {i} hours." for i in (0, 1, 2, 3, 9)]
    system, user = {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}
    assert fed[-1]["messages"][:3] == [system, user, {"role": "assistant", "content": "Hello!", "weight": 0}]
    assert summary.train is not None and summary.train.would_submit is not None
    assert summary.train.would_submit["examples"] == len(golden)


def test_preferences_are_in_openais_dpo_format(tmp_path: Path, monkeypatch) -> None:
    _run(tmp_path, monkeypatch)
    rows = [json.loads(line) for line in (tmp_path / "run" / "preferences.jsonl").read_text().splitlines()]
    for row in rows:
        assert set(row) == {"input", "preferred_output", "non_preferred_output"}
        assert isinstance(row["input"]["messages"], list) and row["input"]["messages"][-1]["role"] == "user"
        assert not any("weight" in m for m in row["input"]["messages"])  # a training key, not a message key
        for key in ("preferred_output", "non_preferred_output"):
            [message] = row[key]
            assert message["role"] == "assistant" and isinstance(message["content"], str)
    assert rows[0]["preferred_output"][0]["content"] == "It takes 0 hours."
    assert rows[0]["non_preferred_output"][0]["content"] == "It takes 0 hrs."


@pytest.mark.slow
@pytest.mark.integration
def test_trls_dpo_trainer_reads_the_preferences(tmp_path: Path, monkeypatch) -> None:
    require_modules(("torch", "transformers", "trl", "datasets"), "pip install torch==2.13.0 '.[local]'")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from tiny_model import make_tiny_model
    from vector_trainer.training.local_lora.chat_rows import load_tokenizer

    _run(tmp_path, monkeypatch)
    rows = [json.loads(line) for line in (tmp_path / "run" / "preferences.jsonl").read_text().splitlines()]
    dataset = Dataset.from_list([{"prompt": r["input"]["messages"], "chosen": r["preferred_output"],
                                  "rejected": r["non_preferred_output"]} for r in rows])  # fmt: skip
    texts = [json.dumps(r) for r in rows]
    model_dir = make_tiny_model(tmp_path / "tiny", texts)
    config = DPOConfig(output_dir=str(tmp_path / "dpo"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                       use_cpu=True)  # fmt: skip
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=config, train_dataset=dataset,
                         processing_class=load_tokenizer(str(model_dir)))  # fmt: skip
    assert len(trainer.train_dataset) == len(rows)
    trainer.train()
