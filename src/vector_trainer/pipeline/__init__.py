"""FR-3 and FR-4: the orchestrator, its monitor callbacks, the cost guard and the trainers.

``from vector_trainer.pipeline import OpenAITrainer, TrainingPipeline`` (the seed README's
example) works; names are loaded on first use.
"""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

_EXPORTS = {
    "TrainingPipeline": "vector_trainer.pipeline.orchestrator",
    "TrainingInput": "vector_trainer.pipeline.rundir",
    "read_run_state": "vector_trainer.pipeline.rundir",
    "PipelineMonitor": "vector_trainer.pipeline.monitor",
    "JsonlEventLog": "vector_trainer.pipeline.monitor",
    "estimate_cost": "vector_trainer.pipeline.costguard",
    "check_budget": "vector_trainer.pipeline.costguard",
    "BaseTrainer": "vector_trainer.pipeline.trainers.base",
    "OpenAITrainer": "vector_trainer.pipeline.trainers.openai_trainer",
    "LocalLoRATrainer": "vector_trainer.pipeline.trainers.local_lora",
    "create_trainer": "vector_trainer.pipeline.trainers.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
