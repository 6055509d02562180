"""FR-3 and FR-4: the orchestrator and its monitor callbacks.

The trainers and the cost guard live in :mod:`vector_trainer.training`; they are named here too
because the seed README imports them from here (``from vector_trainer.pipeline import
OpenAITrainer, TrainingPipeline``). Names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.pipeline.monitor import JsonlEventLog as JsonlEventLog
    from vector_trainer.pipeline.monitor import PipelineMonitor as PipelineMonitor
    from vector_trainer.pipeline.orchestrator import TrainingPipeline as TrainingPipeline
    from vector_trainer.pipeline.results import ExtractResult as ExtractResult
    from vector_trainer.pipeline.results import GateResult as GateResult
    from vector_trainer.pipeline.results import RunSummary as RunSummary
    from vector_trainer.pipeline.results import SkippedStage as SkippedStage
    from vector_trainer.pipeline.results import StageError as StageError
    from vector_trainer.pipeline.results import StageResult as StageResult
    from vector_trainer.pipeline.results import SynthesizeResult as SynthesizeResult
    from vector_trainer.pipeline.results import TrainResult as TrainResult
    from vector_trainer.pipeline.rundir import TrainingInput as TrainingInput
    from vector_trainer.pipeline.rundir import read_run_state as read_run_state
    from vector_trainer.training.base import BaseTrainer as BaseTrainer
    from vector_trainer.training.costguard import check_budget as check_budget
    from vector_trainer.training.costguard import estimate_cost as estimate_cost
    from vector_trainer.training.local_lora.trainer import LocalLoRATrainer as LocalLoRATrainer
    from vector_trainer.training.openai_trainer import OpenAITrainer as OpenAITrainer
    from vector_trainer.training.registry import create_trainer as create_trainer


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
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
