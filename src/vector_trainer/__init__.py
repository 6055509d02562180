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

from vector_trainer._shared import lazy_exports

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
__getattr__ = lazy_exports(__name__, _EXPORTS)
