"""Type tests of the public API, checked by mypy in CI (``[tool.mypy] files``), never run.

Names behind the lazy facades are the real classes to a type checker: the lines marked
``type: ignore[...]`` must stay errors, since an ignore that is no longer needed fails the check
(``warn_unused_ignores``).
"""

from __future__ import annotations

from vector_trainer import DensityBasedExtractor, TrainingPipeline
from vector_trainer.gate import ModelVerdict
from vector_trainer.pipeline import RunSummary, TrainResult
from vector_trainer.training import BaseTrainer, chat_model_for


def gate_reason(summary: RunSummary) -> str:
    return summary.gate.model.decision.reason if summary.gate else ""


def job_of(summary: RunSummary) -> str | None:
    train: TrainResult | None = summary.train
    return train.job_id if train else None


def top_k(extractor: DensityBasedExtractor) -> int:
    return extractor.settings.top_k


def pending(verdict: ModelVerdict) -> bool:
    return verdict.pending


def reach(trainer: type[BaseTrainer]) -> str:
    return trainer.chat_model("m").name + chat_model_for("openai", "m").name


PIPELINE: type[TrainingPipeline] = TrainingPipeline


def misspelt_setting(extractor: DensityBasedExtractor) -> int:
    return extractor.top_k  # type: ignore[attr-defined]


def misspelt_stage(summary: RunSummary) -> object:
    return summary.gates  # type: ignore[attr-defined]


def a_summary_is_no_dict(summary: RunSummary) -> object:
    return summary["stages"]  # type: ignore[index]


def misspelt_name() -> object:
    from vector_trainer.training import OpenAITrainr  # type: ignore[attr-defined]

    return OpenAITrainr
