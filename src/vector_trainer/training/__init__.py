"""FR-3: vendor-neutral training. The trainer ABC, the OpenAI and local LoRA backends, the
registry (with entry-point plugins), the cost guard, exact token counts, and the chat models a
trainer's models are reached through (:meth:`BaseTrainer.chat_model`)."""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

_EXPORTS = {
    "BaseTrainer": "vector_trainer.training.base",
    "TERMINAL_STATUSES": "vector_trainer.training.base",
    "OpenAITrainer": "vector_trainer.training.openai_trainer",
    "LocalLoRATrainer": "vector_trainer.training.local_lora.trainer",
    "create_trainer": "vector_trainer.training.registry",
    "trainer_from_config": "vector_trainer.training.registry",
    "trainer_registry": "vector_trainer.training.registry",
    "chat_model_for": "vector_trainer.training.registry",
    "trainer_class": "vector_trainer.training.registry",
    "ChatModel": "vector_trainer.training.chat_models",
    "OpenAIChatModel": "vector_trainer.training.chat_models",
    "LocalChatModel": "vector_trainer.training.local_lora.chat_model",
    "estimate_cost": "vector_trainer.training.costguard",
    "check_budget": "vector_trainer.training.costguard",
    "ModelPrice": "vector_trainer.training.costguard",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
