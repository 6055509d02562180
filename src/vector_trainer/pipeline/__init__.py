"""FR-3 and FR-4: the orchestrator and its monitor callbacks.

The trainers and the cost guard live in :mod:`vector_trainer.training`; they are named here too
because the seed README imports them from here (``from vector_trainer.pipeline import
OpenAITrainer, TrainingPipeline``). Names are loaded on first use.
"""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

_EXPORTS = {
    "TrainingPipeline": "vector_trainer.pipeline.orchestrator",
    "TrainingInput": "vector_trainer.pipeline.rundir",
    "RunSummary": "vector_trainer.pipeline.results",
    "StageResult": "vector_trainer.pipeline.results",
    "StageError": "vector_trainer.pipeline.results",
    "ExtractResult": "vector_trainer.pipeline.results",
    "SynthesizeResult": "vector_trainer.pipeline.results",
    "TrainResult": "vector_trainer.pipeline.results",
    "GateResult": "vector_trainer.pipeline.results",
    "SkippedStage": "vector_trainer.pipeline.results",
    "read_run_state": "vector_trainer.pipeline.rundir",
    "PipelineMonitor": "vector_trainer.pipeline.monitor",
    "JsonlEventLog": "vector_trainer.pipeline.monitor",
    "estimate_cost": "vector_trainer.training.costguard",
    "check_budget": "vector_trainer.training.costguard",
    "BaseTrainer": "vector_trainer.training.base",
    "OpenAITrainer": "vector_trainer.training.openai_trainer",
    "LocalLoRATrainer": "vector_trainer.training.local_lora.trainer",
    "create_trainer": "vector_trainer.training.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
