"""A trainer says how to reach the models it makes; the gate asks it instead of naming trainers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vector_trainer.errors import ConfigError
from vector_trainer.training import (
    BaseTrainer,
    LocalChatModel,
    LocalLoRATrainer,
    OpenAIChatModel,
    OpenAITrainer,
    chat_model_for,
)
from vector_trainer.training import registry as registry_module


class _ServedElsewhere(BaseTrainer):
    """A plugin trainer whose models answer through its own client."""

    name = "served-elsewhere"

    def prepare_data(self, jsonl_path: Any, *, client_token: str | None = None) -> str:
        return "file"

    def start_training(self, file_id: str, *, client_token: str | None = None, **hyperparameters: Any) -> str:
        return "job"

    def get_status(self, job_id: str) -> dict[str, Any]:
        return {"id": job_id, "status": "succeeded"}

    def get_result(self, job_id: str) -> dict[str, Any]:
        return {"id": job_id}

    @classmethod
    def chat_model(cls, model: str, **reach: Any) -> Any:
        return ("served-elsewhere", model, reach["max_tokens"])


def test_the_default_reaches_an_openai_compatible_endpoint() -> None:
    model = OpenAITrainer.chat_model("ft:gpt-4o-mini:x", base_url="http://127.0.0.1:9/v1", api_key="k", max_tokens=7)
    assert isinstance(model, OpenAIChatModel)
    assert (model.name, model.base_url, model.max_tokens) == ("ft:gpt-4o-mini:x", "http://127.0.0.1:9/v1", 7)


def test_local_lora_loads_an_adapter_or_a_base_model_here(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "some/base"}))
    tuned = LocalLoRATrainer.chat_model(str(adapter), base_url="http://ignored", max_tokens=5)
    assert isinstance(tuned, LocalChatModel)
    assert tuned.adapter_dir == adapter
    base = chat_model_for("local-lora", "some/base", max_tokens=5)
    assert isinstance(base, LocalChatModel)
    assert base.adapter_dir is None


def test_the_gate_asks_the_registered_trainer_plugins_included(monkeypatch: pytest.MonkeyPatch) -> None:
    real = registry_module.trainer_registry
    monkeypatch.setattr(
        registry_module, "trainer_registry", lambda: {**real(), _ServedElsewhere.name: _ServedElsewhere}
    )
    assert chat_model_for("served-elsewhere", "m1", max_tokens=3) == ("served-elsewhere", "m1", 3)


def test_a_misspelt_or_missing_provider_is_named_not_sent_to_openai() -> None:
    """Attack trial: 'local-lra' fell back to the OpenAI API and failed with a connection error."""
    with pytest.raises(ConfigError, match=r"unknown trainer 'local-lra'; available: local-lora, openai"):
        chat_model_for("local-lra", "m2", base_url="http://127.0.0.1:9/v1")
