"""How the gate reaches a registered model: loaded here for ``local-lora``, else over HTTP."""

from __future__ import annotations

from pathlib import Path

from vector_trainer.config import GateConfig
from vector_trainer.gate.local_model import LocalChatModel
from vector_trainer.gate.models import ChatModel, OpenAIChatModel


def chat_model_for(
    provider: str,
    model: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout_s: float = GateConfig.timeout_s,
    max_tokens: int = GateConfig.max_tokens,
) -> ChatModel:
    """How to reach a registered model: a ``local-lora`` model is loaded here (an adapter
    directory, or a base model directory or id); any other provider's model is asked through an
    OpenAI-compatible endpoint (``base_url``: OpenAI, vLLM, Ollama)."""
    if provider == "local-lora":
        if (Path(model) / "adapter_config.json").is_file():
            return LocalChatModel(adapter_dir=model, max_tokens=max_tokens)
        return LocalChatModel(model, max_tokens=max_tokens)
    return OpenAIChatModel(model, base_url=base_url, api_key=api_key, timeout_s=timeout_s, max_tokens=max_tokens)
