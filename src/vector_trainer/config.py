"""Declarative configuration: a TOML file whose sections mirror the constructor arguments.

.. code-block:: toml

    [source]
    store = ".vectortrainer/logs.db"

    [extractor]          # DensityBasedExtractor(...)
    epsilon = 0.3
    top_k = 50

    [synthesizer]        # RuleSetSynthesizer(...) and HookScriptGenerator(...)
    min_support = 1

    [trainer]            # create_trainer(name, ...)
    name = "openai"
    model = "gpt-4o-mini-2024-07-18"
    max_budget_usd = 10.0

    [run]
    out = "vectortrainer-run"
    functions = []       # empty: every function in the store
    feedback = "feedback.jsonl"

Unknown sections and keys, and values of the wrong type, are errors that name the key.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vector_trainer.chatml import DEFAULT_SYSTEM_PROMPT
from vector_trainer.errors import ConfigError
from vector_trainer.extractor import (
    DEFAULT_ANOMALY_QUANTILE,
    DEFAULT_DEDUP_THRESHOLD,
    DEFAULT_EPSILON,
    DEFAULT_MIN_CLUSTER_SIZE,
    DEFAULT_TOP_K,
)
from vector_trainer.neighbors import DEFAULT_ANN_THRESHOLD
from vector_trainer.store import DEFAULT_STORE_PATH
from vector_trainer.synthesizer import DEFAULT_MAX_PHRASE_WORDS, DEFAULT_MIN_SUPPORT
from vector_trainer.trainers import DEFAULT_OPENAI_MODEL

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True)
class SourceConfig:
    """Where logs come from: ``sqlite`` (the embedded store) or ``vectorwave``."""

    kind: str = "sqlite"
    store: str = str(DEFAULT_STORE_PATH)


@dataclass(frozen=True)
class ExtractorConfig:
    """Arguments of :class:`~vector_trainer.extractor.DensityBasedExtractor`."""

    epsilon: float = DEFAULT_EPSILON
    top_k: int = DEFAULT_TOP_K
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE
    dedup_threshold: float = DEFAULT_DEDUP_THRESHOLD
    anomaly_quantile: float = DEFAULT_ANOMALY_QUANTILE
    engine: str = "auto"
    ann_threshold: int = DEFAULT_ANN_THRESHOLD
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    validation_fraction: float = 0.0
    strict: bool = False


@dataclass(frozen=True)
class SynthesizerConfig:
    """Arguments of the rule synthesizer and the hook generator."""

    min_support: int = DEFAULT_MIN_SUPPORT
    max_phrase_words: int = DEFAULT_MAX_PHRASE_WORDS
    inject_instructions: bool = True


@dataclass(frozen=True)
class TrainerConfig:
    """The trainer's registry key and its constructor arguments."""

    name: str = "openai"
    model: str = DEFAULT_OPENAI_MODEL
    max_budget_usd: float | None = None
    n_epochs: int | None = None
    suffix: str | None = None
    base_url: str | None = None
    usd_per_million: float | None = None


@dataclass(frozen=True)
class RunConfig:
    """What ``vectortrainer run`` does."""

    out: str = "vectortrainer-run"
    functions: list[str] = field(default_factory=list)
    feedback: str | None = None
    wait: bool = False
    register_golden: bool = False


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    source: SourceConfig = field(default_factory=SourceConfig)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    synthesizer: SynthesizerConfig = field(default_factory=SynthesizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    run: RunConfig = field(default_factory=RunConfig)


def _accepts(annotation: Any, value: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_accepts(item, v) for v in value)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _build(cls: type, values: dict[str, Any], section: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key '{section}.{key}' (known: {', '.join(sorted(fields))})")
        if not _accepts(hints[key], value):
            raise ConfigError(f"{where}: '{section}.{key}' = {value!r} is not a valid {hints[key]}")
    return cls(**values)


def config_from_dict(data: dict[str, Any], where: str = "<config>") -> Config:
    """Validate a parsed configuration.

    Raises:
        ConfigError: Naming the unknown section or key, or the mistyped value.
    """
    sections = {f.name: f for f in dataclasses.fields(Config)}
    hints = typing.get_type_hints(Config)
    built: dict[str, Any] = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{where}: unknown section '[{name}]' (known: {', '.join(sorted(sections))})")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: '{name}' must be a table ([{name}])")
        built[name] = _build(hints[name], values, name, where)
    return Config(**built)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML configuration file.

    Raises:
        ConfigError: If the file is missing, is not TOML, or has a bad key or value.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no such config file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from exc
    return config_from_dict(data, str(file))


def with_overrides(config: Config, section: str, **values: Any) -> Config:
    """A copy of ``config`` with the non-``None`` values replaced in one section."""
    changes = {k: v for k, v in values.items() if v is not None}
    if not changes:
        return config
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **changes)})
