"""VectorTrainer: close the loop on LLM execution logs.

Select golden data by graph density (:mod:`~vector_trainer.extractor`), turn user corrections
into a safe, versioned hook (:mod:`~vector_trainer.synthesizer`), and prepare or run fine-tuning
behind a vendor-neutral trainer with a cost guard (:mod:`~vector_trainer.trainers`,
:mod:`~vector_trainer.pipeline`).

Importing the package is light: numpy only. vectorwave, openai, streamlit and torch are imported
lazily, by the features that need them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DensityBasedExtractor": "vector_trainer.extractor",
    "SQLiteLogStore": "vector_trainer.store",
    "FeedbackDiffAnalyzer": "vector_trainer.synthesizer",
    "RuleSetSynthesizer": "vector_trainer.synthesizer",
    "HookScriptGenerator": "vector_trainer.synthesizer",
    "HookVersionManager": "vector_trainer.hook_versions",
    "BaseTrainer": "vector_trainer.trainers",
    "OpenAITrainer": "vector_trainer.trainers",
    "TrainingPipeline": "vector_trainer.pipeline",
    "PipelineMonitor": "vector_trainer.monitor",
    "FeedbackPair": "vector_trainer.types",
    "ExecutionLog": "vector_trainer.types",
    "GoldenCandidate": "vector_trainer.types",
    "SelectionStrategy": "vector_trainer.types",
    "Rule": "vector_trainer.types",
    "CostEstimate": "vector_trainer.types",
    "DatasetManagerProtocol": "vector_trainer.types",
    "as_dataset_manager": "vector_trainer.sources",
}

__all__ = [  # noqa: RUF022 - grouped by module, like _EXPORTS
    "__version__",
    "DensityBasedExtractor",
    "SQLiteLogStore",
    "FeedbackDiffAnalyzer",
    "RuleSetSynthesizer",
    "HookScriptGenerator",
    "HookVersionManager",
    "BaseTrainer",
    "OpenAITrainer",
    "TrainingPipeline",
    "PipelineMonitor",
    "FeedbackPair",
    "ExecutionLog",
    "GoldenCandidate",
    "SelectionStrategy",
    "Rule",
    "CostEstimate",
    "DatasetManagerProtocol",
    "as_dataset_manager",
]


def __getattr__(name: str) -> Any:
    """Lazy access to the public API, so ``import vector_trainer`` stays light."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vector_trainer' has no attribute '{name}'")
    return getattr(import_module(module), name)
