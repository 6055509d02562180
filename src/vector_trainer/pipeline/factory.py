"""Build the pipeline's parts from a :class:`~vector_trainer.config.Config`.

The settings dataclasses mirror the constructors' arguments, so each part is built by passing
its section as keyword arguments: no default is restated here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from vector_trainer.config import Config
from vector_trainer.extractor.core import DensityBasedExtractor
from vector_trainer.gate.evaluate import ModelEvaluator
from vector_trainer.gate.judge import LLMJudge
from vector_trainer.gate.policy import PromotionPolicy
from vector_trainer.pipeline.monitor import PipelineMonitor
from vector_trainer.pipeline.orchestrator import TrainingPipeline
from vector_trainer.sources.detect import open_source
from vector_trainer.synthesizer.diff import FeedbackDiffAnalyzer
from vector_trainer.synthesizer.hook import HookScriptGenerator
from vector_trainer.synthesizer.rules import RuleSetSynthesizer
from vector_trainer.training.base import BaseTrainer
from vector_trainer.training.chat_models import OpenAIChatModel
from vector_trainer.training.registry import trainer_from_config


def build_synthesizer(config: Config) -> RuleSetSynthesizer:
    """The rule synthesizer (with its diff analyzer) of the ``[synthesizer]`` section."""
    s = config.synthesizer
    analyzer = FeedbackDiffAnalyzer(min_phrase_chars=s.min_phrase_chars)
    return RuleSetSynthesizer(
        analyzer, min_support=s.min_support, max_phrase_words=s.max_phrase_words, general_support=s.general_support
    )


def build_evaluator(config: Config, *, embedder: Any = None) -> ModelEvaluator:
    """The :class:`ModelEvaluator` of the ``[gate]`` section (with its LLM judge when
    ``judge_model`` is set; the judge's endpoint is ``judge_base_url``, else ``[trainer] base_url``)."""
    g = config.gate
    judge = None
    if g.judge_model:
        base_url = g.judge_base_url or config.trainer.options.get("base_url")
        judge = LLMJudge(
            OpenAIChatModel(g.judge_model, base_url=base_url, timeout_s=g.timeout_s, max_tokens=g.max_tokens)
        )
    return ModelEvaluator(
        embedder,
        judge=judge,
        max_examples=g.max_examples,
        resamples=g.resamples,
        confidence=g.confidence,
        holdout_every=g.holdout_every,
        max_tokens=g.max_tokens,
        timeout_s=g.timeout_s,
    )


def build_policy(config: Config) -> PromotionPolicy:
    """The :class:`PromotionPolicy` of the ``[gate]`` section."""
    return PromotionPolicy(config.gate.metric, config.gate.margin)


def build_pipeline(
    config: Config,
    *,
    source: Any | None = None,
    trainer: BaseTrainer | None = None,
    monitor: PipelineMonitor | None = None,
    gated: bool = False,
) -> TrainingPipeline:
    """A :class:`TrainingPipeline` wired from every section of ``config``.

    Args:
        config: The validated configuration.
        source: A log source to use instead of the one ``[source]`` names.
        trainer: A trainer to use instead of the one ``[trainer]`` names.
        monitor: Receives the pipeline's events.
        gated: Add the gate (``[gate]``): evaluate and promote only what is better.
    """
    extractor = DensityBasedExtractor.from_config(
        source if source is not None else open_source(config.source, embedding=config.embedding), config.extractor
    )
    return TrainingPipeline(
        extractor,
        build_synthesizer(config),
        trainer if trainer is not None else trainer_from_config(config.trainer),
        monitor=monitor,
        hook_generator=HookScriptGenerator(inject_instructions=config.synthesizer.inject_instructions),
        evaluator=build_evaluator(config) if gated else None,
        promotion_policy=build_policy(config) if gated else None,
        **asdict(config.pipeline),
    )
