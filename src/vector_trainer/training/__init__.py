"""FR-3: vendor-neutral training. The trainer ABC, the OpenAI and local LoRA backends, the
registry (with entry-point plugins), the cost guard, exact token counts, and the chat models a
trainer's models are reached through (:meth:`BaseTrainer.chat_model`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.training.base import TERMINAL_STATUSES as TERMINAL_STATUSES
    from vector_trainer.training.base import BaseTrainer as BaseTrainer
    from vector_trainer.training.chat_models import ChatModel as ChatModel
    from vector_trainer.training.chat_models import OpenAIChatModel as OpenAIChatModel
    from vector_trainer.training.costguard import ModelPrice as ModelPrice
    from vector_trainer.training.costguard import check_budget as check_budget
    from vector_trainer.training.costguard import estimate_cost as estimate_cost
    from vector_trainer.training.local_lora.chat_model import LocalChatModel as LocalChatModel
    from vector_trainer.training.local_lora.trainer import LocalLoRATrainer as LocalLoRATrainer
    from vector_trainer.training.openai_trainer import OpenAITrainer as OpenAITrainer
    from vector_trainer.training.registry import chat_model_for as chat_model_for
    from vector_trainer.training.registry import create_trainer as create_trainer
    from vector_trainer.training.registry import trainer_class as trainer_class
    from vector_trainer.training.registry import trainer_from_config as trainer_from_config
    from vector_trainer.training.registry import trainer_registry as trainer_registry


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
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
