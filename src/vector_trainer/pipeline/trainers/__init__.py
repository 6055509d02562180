"""Vendor-neutral trainers (FR-3): the ABC, the OpenAI and local LoRA backends, the registry."""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

_EXPORTS = {
    "BaseTrainer": "vector_trainer.pipeline.trainers.base",
    "TERMINAL_STATUSES": "vector_trainer.pipeline.trainers.base",
    "OpenAITrainer": "vector_trainer.pipeline.trainers.openai_trainer",
    "LocalLoRATrainer": "vector_trainer.pipeline.trainers.local_lora",
    "create_trainer": "vector_trainer.pipeline.trainers.registry",
    "trainer_from_config": "vector_trainer.pipeline.trainers.registry",
    "trainer_registry": "vector_trainer.pipeline.trainers.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
