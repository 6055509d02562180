"""Build the pipeline's parts from a :class:`~vector_trainer.config.Config`.

The settings dataclasses mirror the constructors' arguments, so each part is built by passing
its section as keyword arguments: no default is restated here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from vector_trainer.config import Config
from vector_trainer.extractor.core import DensityBasedExtractor
from vector_trainer.pipeline.monitor import PipelineMonitor
from vector_trainer.pipeline.orchestrator import TrainingPipeline
from vector_trainer.pipeline.trainers.base import BaseTrainer
from vector_trainer.pipeline.trainers.registry import trainer_from_config
from vector_trainer.sources.detect import open_source
from vector_trainer.synthesizer.diff import FeedbackDiffAnalyzer
from vector_trainer.synthesizer.hook import HookScriptGenerator
from vector_trainer.synthesizer.rules import RuleSetSynthesizer


def build_synthesizer(config: Config) -> RuleSetSynthesizer:
    """The rule synthesizer (with its diff analyzer) of the ``[synthesizer]`` section."""
    s = config.synthesizer
    analyzer = FeedbackDiffAnalyzer(min_phrase_chars=s.min_phrase_chars)
    return RuleSetSynthesizer(
        analyzer, min_support=s.min_support, max_phrase_words=s.max_phrase_words, general_support=s.general_support
    )


def build_pipeline(
    config: Config,
    *,
    source: Any | None = None,
    trainer: BaseTrainer | None = None,
    monitor: PipelineMonitor | None = None,
) -> TrainingPipeline:
    """A :class:`TrainingPipeline` wired from every section of ``config``.

    Args:
        config: The validated configuration.
        source: A log source to use instead of the one ``[source]`` names.
        trainer: A trainer to use instead of the one ``[trainer]`` names.
        monitor: Receives the pipeline's events.
    """
    extractor = DensityBasedExtractor.from_config(
        source if source is not None else open_source(config.source), config.extractor
    )
    return TrainingPipeline(
        extractor,
        build_synthesizer(config),
        trainer if trainer is not None else trainer_from_config(config.trainer),
        monitor=monitor,
        hook_generator=HookScriptGenerator(inject_instructions=config.synthesizer.inject_instructions),
        **asdict(config.pipeline),
    )
