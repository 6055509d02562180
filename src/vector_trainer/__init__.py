"""VectorTrainer: close the loop on LLM execution logs.

Select golden data by graph density (:mod:`~vector_trainer.extractor`), turn user corrections
into a safe, versioned hook (:mod:`~vector_trainer.synthesizer`), and prepare or run fine-tuning
behind a vendor-neutral trainer with a cost guard (:mod:`~vector_trainer.training`), promote
only what beats the one in use (:mod:`~vector_trainer.gate`), and run it all
(:mod:`~vector_trainer.pipeline`).

Layers, bottom to top (each imports only from those below it): ``types``, ``errors``,
``config`` and the private helpers; ``sources``; ``extractor``, ``synthesizer`` and
``training``; ``gate``; ``pipeline``; ``dashboard`` and ``cli``.

Importing the package is light: numpy only. vectorwave, openai, streamlit, faiss and torch are
imported lazily, by the features that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.config import Config as Config
    from vector_trainer.config import load_config as load_config
    from vector_trainer.extractor.core import DensityBasedExtractor as DensityBasedExtractor
    from vector_trainer.pipeline.monitor import PipelineMonitor as PipelineMonitor
    from vector_trainer.pipeline.orchestrator import TrainingPipeline as TrainingPipeline
    from vector_trainer.sources.detect import as_dataset_manager as as_dataset_manager
    from vector_trainer.sources.store import SQLiteLogStore as SQLiteLogStore
    from vector_trainer.synthesizer.diff import FeedbackDiffAnalyzer as FeedbackDiffAnalyzer
    from vector_trainer.synthesizer.hook import HookScriptGenerator as HookScriptGenerator
    from vector_trainer.synthesizer.rules import RuleSetSynthesizer as RuleSetSynthesizer
    from vector_trainer.synthesizer.versions import HookVersionManager as HookVersionManager
    from vector_trainer.training.base import BaseTrainer as BaseTrainer
    from vector_trainer.training.local_lora.trainer import LocalLoRATrainer as LocalLoRATrainer
    from vector_trainer.training.openai_trainer import OpenAITrainer as OpenAITrainer
    from vector_trainer.types import CostEstimate as CostEstimate
    from vector_trainer.types import DatasetManagerProtocol as DatasetManagerProtocol
    from vector_trainer.types import ExecutionLog as ExecutionLog
    from vector_trainer.types import FeedbackPair as FeedbackPair
    from vector_trainer.types import GoldenCandidate as GoldenCandidate
    from vector_trainer.types import Rule as Rule
    from vector_trainer.types import SelectionStrategy as SelectionStrategy


__version__ = "0.1.0"

#: One import path per public name.
_EXPORTS = {
    "DensityBasedExtractor": "vector_trainer.extractor.core",
    "SQLiteLogStore": "vector_trainer.sources.store",
    "as_dataset_manager": "vector_trainer.sources.detect",
    "FeedbackDiffAnalyzer": "vector_trainer.synthesizer.diff",
    "RuleSetSynthesizer": "vector_trainer.synthesizer.rules",
    "HookScriptGenerator": "vector_trainer.synthesizer.hook",
    "HookVersionManager": "vector_trainer.synthesizer.versions",
    "BaseTrainer": "vector_trainer.training.base",
    "OpenAITrainer": "vector_trainer.training.openai_trainer",
    "LocalLoRATrainer": "vector_trainer.training.local_lora.trainer",
    "TrainingPipeline": "vector_trainer.pipeline.orchestrator",
    "PipelineMonitor": "vector_trainer.pipeline.monitor",
    "Config": "vector_trainer.config",
    "load_config": "vector_trainer.config",
    "FeedbackPair": "vector_trainer.types",
    "ExecutionLog": "vector_trainer.types",
    "GoldenCandidate": "vector_trainer.types",
    "SelectionStrategy": "vector_trainer.types",
    "Rule": "vector_trainer.types",
    "CostEstimate": "vector_trainer.types",
    "DatasetManagerProtocol": "vector_trainer.types",
}

__all__ = ["__version__", *_EXPORTS]
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
