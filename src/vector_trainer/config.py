"""Declarative configuration: the one place where defaults and parameter limits are written.

Each section is a frozen dataclass whose fields mirror a constructor's arguments; the
constructors take their defaults from here and check their arguments with the same declared
constraints (:mod:`vector_trainer._params`), so a bad value reads the same from TOML, the CLI
or Python: ``extractor.epsilon: must be in (0, 1] or 'auto', got 1.5``. This module imports no stage.

.. code-block:: toml

    [source]
    store = ".vectortrainer/logs.db"

    [embedding]          # what a log's vector embeds, when VectorTrainer makes it
    view = "last_user"   # for conversations: last_user, history, reply, field, whole

    [extractor]          # DensityBasedExtractor(...)
    epsilon = "auto"     # or a number in (0, 1]
    top_k = 50

    [synthesizer]        # FeedbackDiffAnalyzer, RuleSetSynthesizer and HookScriptGenerator
    min_support = 1

    [trainer]            # the registry key, then that trainer's own options
    name = "local-lora"
    model = "./models/qwen2.5-0.5b"
    lora_r = 16

    [pipeline]           # TrainingPipeline(...)
    poll_interval_s = 30.0

    [run]
    out = "vectortrainer-run"
    functions = []       # empty: every function in the store
    feedback = "feedback.jsonl"

    [gate]               # ModelEvaluator(...) and PromotionPolicy(...)
    metric = "similarity"
    margin = 0.01

    [loop]               # when `vectortrainer loop` starts a cycle
    min_new_logs = 100

Unknown sections and keys, values of the wrong type and values out of range are errors that
name the key.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vector_trainer._params import FrozenMapping, Interval, NonEmpty, OneOf, build_settings, check_values, param
from vector_trainer.errors import ConfigError, InputError
from vector_trainer.fileio import read_regular_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

#: Where ``vectortrainer demo`` loads the bundled logs.
DEMO_STORE = os.path.join(".vectortrainer", "demo.db")
#: Root of ``vectortrainer train`` run directories when ``--out`` is not given.
DEFAULT_TRAIN_ROOT = "vectortrainer-train"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
DEFAULT_PAGE_SIZE = 500


@dataclass(frozen=True)
class SourceConfig:
    """Where logs come from: ``sqlite`` (the embedded store), ``vectorwave``, or ``parquet`` (a
    directory written by ``vectortrainer export-logs``, at ``store``)."""

    kind: str = param("sqlite", OneOf(("sqlite", "vectorwave", "parquet")), doc="log source")
    store: str = param(
        os.path.join(".vectortrainer", "logs.db"), NonEmpty(), doc="embedded store path (parquet: the directory)"
    )
    page_size: int = param(
        DEFAULT_PAGE_SIZE, Interval(1, 100_000), doc="vectorwave: objects fetched per request to its store"
    )


#: The text a log's vector embeds (:mod:`vector_trainer.sources.views`).
EMBEDDING_VIEWS = ("last_user", "history", "reply", "field", "whole")
#: Embedders by name (:func:`vector_trainer.sources.embedders.make_embedder`).
EMBEDDERS = ("auto", "hashing", "local", "openai", "static")
#: The local embedder's weight precisions (:mod:`vector_trainer.sources.sentence_encoder`).
EMBEDDING_PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class EmbeddingConfig:
    """``[embedding]``: which text of a log VectorTrainer embeds (at ingest, ``reembed``, ``run --reembed``)."""

    view: str = param(
        "last_user",
        OneOf(EMBEDDING_VIEWS),
        doc="conversations: the last user turn, it with earlier turns (history), the reply, one input "
        "field, or the whole rendered input",
    )
    history_chars: int = param(
        1000, Interval(1, 1_000_000), doc="view 'history': characters of earlier turns kept after the last user turn"
    )
    input_field: str = param("", doc="view 'field': the input argument to embed")
    embedder: str = param(
        "auto",
        OneOf(EMBEDDERS),
        doc="embedder of logs without vectors (static: model2vec distilled from the local model, fast, lower quality)",
    )
    model: str | None = param(
        None, NonEmpty(), doc="embedder 'local': a sentence-transformers model directory; 'openai': the model's name"
    )
    precision: str = param(
        "auto",
        OneOf(EMBEDDING_PRECISIONS),
        doc="embedder 'local': weights' precision; auto: bfloat16 where the device multiplies it natively "
        "(CUDA, a CPU with AMX or AVX-512 BF16), else float32",
    )
    static_dir: str = param(
        os.path.join(".vectortrainer", "static"),
        NonEmpty(),
        doc="embedder 'static': where the models distilled from the local model are kept",
    )
    reembed: bool = param(False, doc="run/loop: embed each log's view as it is read, ignoring stored vectors")
    cache: str = param(
        os.path.join(".vectortrainer", "embeddings.db"),
        doc="model embeddings kept by text hash (SQLite), so the same text is embedded once; empty: no cache",
    )


@dataclass(frozen=True)
class ExtractorConfig:
    """Arguments of :class:`~vector_trainer.extractor.DensityBasedExtractor`."""

    epsilon: float | str = param(
        "auto", Interval(0, 1, "right"), OneOf(("auto",)), doc="neighbours have sim >= 1 - epsilon; auto calibrates it"
    )
    top_k: int = param(50, Interval(1, 1_000_000), doc="most picks per strategy")
    min_cluster_size: int = param(3, Interval(2, 1_000_000), doc="a steady pick has this many logs within epsilon")
    dedup_threshold: float = param(0.98, Interval(0, 1, "right"), doc="similarity of near-duplicates")
    anomaly_quantile: float = param(0.25, Interval(0, 1), doc="density quantile of anomaly candidates")
    engine: str = param(
        "auto", OneOf(("auto", "exact", "torch", "faiss", "ray")), doc="neighbour engine (torch: exact, on a GPU)"
    )
    ann_threshold: int = param(200_000, Interval(1, 10**12), doc="'auto' uses faiss above this many logs")
    ray_address: str = param("", doc="engine 'ray': cluster address (empty: RAY_ADDRESS, else a local Ray)")
    ray_cpus: int = param(0, Interval(0, 100_000), doc="engine 'ray': CPUs of a local Ray (0: all)")
    system_prompt: str = param(DEFAULT_SYSTEM_PROMPT, doc="system message of every training example")
    system_prompts: Mapping[str, str] = param(
        FrozenMapping(), doc="per function: its system message, instead of system_prompt"
    )
    prompt_templates: Mapping[str, str] = param(
        FrozenMapping(), doc="per function: its user message from the named inputs, e.g. 'Q: {question}'"
    )
    validation_fraction: float = param(0.0, Interval(0, 0.5), doc="share of examples held out")
    strict: bool = param(False, doc="fail on the first bad vector instead of excluding it")
    page_size: int = param(DEFAULT_PAGE_SIZE, Interval(1, 100_000), doc="page size when reading logs")


@dataclass(frozen=True)
class SynthesizerConfig:
    """Arguments of the diff analyzer, the rule synthesizer and the hook generator."""

    min_support: int = param(1, Interval(1, 1_000_000), doc="pairs needed before a rule is active")
    general_support: int = param(
        2, Interval(1, 1_000_000), doc="distinct pairs before a correction applies beyond the sentence it was seen in"
    )
    max_phrase_words: int = param(12, Interval(1, 1_000), doc="longer edits are rewrites, not rules")
    min_phrase_chars: int = param(4, Interval(1, 1_000), doc="shorter edits are widened to whole words")
    inject_instructions: bool = param(True, doc="intercept_prompt appends the rules as instructions")


@dataclass(frozen=True)
class OpenAITrainerConfig:
    """Options of :class:`~vector_trainer.training.OpenAITrainer` (registry key ``openai``)."""

    model: str = param("gpt-4o-mini-2024-07-18", NonEmpty(), doc="base model to fine-tune")
    max_budget_usd: float | None = param(None, Interval(0, None), doc="refuse to train above this estimate")
    n_epochs: int | None = param(None, Interval(1, 50), doc="epochs (default: OpenAI's rule)")
    suffix: str | None = param(None, NonEmpty(), doc="suffix of the fine-tuned model's name")
    base_url: str | None = param(None, NonEmpty(), doc="an OpenAI-compatible endpoint")
    usd_per_million: float | None = param(
        None, Interval(0, None, "neither"), doc="USD per 1M training tokens, for unpriced models"
    )
    max_retries: int = param(3, Interval(0, 10), doc="SDK retries on 429 and 5xx")
    timeout_s: float = param(120.0, Interval(1, 3600), doc="seconds to wait for one API answer")


@dataclass(frozen=True)
class LocalLoRATrainerConfig:
    """Options of :class:`~vector_trainer.training.LocalLoRATrainer` (key ``local-lora``)."""

    model: str | None = param(None, NonEmpty(), doc="a Hugging Face causal LM: a local directory or cached id")
    jobs_dir: str = param(os.path.join(".vectortrainer", "jobs"), NonEmpty(), doc="where job directories go")
    n_epochs: int = param(1, Interval(1, 1_000), doc="training epochs")
    learning_rate: float = param(2e-4, Interval(0, 1, "right"), doc="optimiser learning rate")
    batch_size: int = param(2, Interval(1, 4_096), doc="per-device batch size")
    max_length: int | None = param(
        None,
        Interval(8, 1_048_576),
        doc="longest tokenized example (default: the data's longest; longer ones are refused)",
    )
    lora_r: int = param(8, Interval(1, 4_096), doc="LoRA rank")
    lora_alpha: int = param(16, Interval(1, 65_536), doc="LoRA scaling")
    lora_dropout: float = param(0.05, Interval(0, 1, "left"), doc="LoRA dropout")
    target_modules: str | list[str] = param("all-linear", doc="modules to adapt")
    max_steps: int | None = param(None, Interval(1, 10_000_000), doc="stop after this many optimiser steps")
    seed: int = param(0, doc="training seed")
    method: str = param(
        "sft", OneOf(("sft", "dpo")), doc="sft: chat examples; dpo: preference pairs (preferences.jsonl)"
    )
    dpo_beta: float = param(0.1, Interval(0, 100, "neither"), doc="dpo: how far the model may move from its base")


#: Registry key -> the settings of the built-in trainers. Plugin trainers' options are checked
#: by their own constructors.
TRAINER_SETTINGS: Mapping[str, type] = MappingProxyType(
    {"openai": OpenAITrainerConfig, "local-lora": LocalLoRATrainerConfig}
)
DEFAULT_TRAINER = "openai"


@dataclass(frozen=True)
class TrainerConfig:
    """The trainer's registry key and the options its constructor takes (and only those)."""

    name: str = DEFAULT_TRAINER
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def settings(self) -> Any:
        """The built-in trainer's settings with defaults filled in (``None`` for plugins)."""
        cls = TRAINER_SETTINGS.get(self.name)
        return cls(**self.options) if cls else None


@dataclass(frozen=True)
class PipelineConfig:
    """Arguments of :class:`~vector_trainer.pipeline.TrainingPipeline`."""

    register_golden: bool = param(False, doc="register selections as golden data in the source")
    poll_interval_s: float = param(30.0, Interval(0, 86_400), doc="seconds between job polls")
    live_dir: str = param(
        "vectortrainer-live", NonEmpty(), doc="where a gated run keeps each function's live hook and model registry"
    )


@dataclass(frozen=True)
class RunConfig:
    """What ``vectortrainer run`` does."""

    out: str = param("vectortrainer-run", NonEmpty(), doc="root of the run directories")
    functions: list[str] = field(default_factory=list)
    feedback: str | None = param(None, NonEmpty(), doc="feedback JSONL for the hook")
    wait: bool = param(False, doc="poll the job until it finishes")


@dataclass(frozen=True)
class GateConfig:
    """Arguments of :class:`~vector_trainer.gate.ModelEvaluator` and
    :class:`~vector_trainer.gate.PromotionPolicy`: how a candidate is scored and when it wins."""

    metric: str = param(
        "similarity",
        OneOf(("similarity", "exact", "compliance", "judge")),
        doc="the score that decides promotion (exact: normalised exact match, for label-like answers)",
    )
    margin: float = param(0.01, Interval(0, 1), doc="a candidate must beat the incumbent by more than this")
    confidence: float = param(0.95, Interval(0.5, 1, "left"), doc="level of the paired bootstrap interval")
    resamples: int = param(2000, Interval(100, 100_000), doc="bootstrap resamples")
    max_examples: int = param(200, Interval(1, 100_000), doc="held-out examples asked of each model")
    max_tokens: int = param(512, Interval(1, 32_768), doc="longest answer asked of a model")
    timeout_s: float = param(60.0, Interval(0, 3_600, "right"), doc="seconds to wait for one answer")
    holdout_every: int = param(5, Interval(2, 1_000), doc="every n-th feedback pair (by content) is held out")
    validation_fraction: float = param(
        0.1, Interval(0, 0.5, "right"), doc="golden examples the loop holds out when [extractor] holds out none"
    )
    judge_model: str | None = param(None, NonEmpty(), doc="LLM judge model (pairwise, order-swapped); none if unset")
    judge_base_url: str | None = param(None, NonEmpty(), doc="the judge's OpenAI-compatible endpoint")

    def __post_init__(self) -> None:
        if self.metric == "judge" and not self.judge_model:  # else every answer is asked, then nothing decides
            raise ConfigError("gate.metric: 'judge' needs gate.judge_model (an LLM judge's model id, --judge-model)")


@dataclass(frozen=True)
class LoopConfig:
    """What makes ``vectortrainer loop`` start a cycle."""

    min_new_logs: int = param(100, Interval(1, 10**12), doc="new logs since the last cycle that start one")
    anomaly_rise: float = param(
        0.1, Interval(0, 1, "right"), doc="rise in the share of anomalies among new logs that starts a cycle"
    )
    anomaly_min_logs: int = param(20, Interval(1, 10**12), doc="fewest new logs whose anomaly share is measured")
    interval_s: float = param(3600.0, Interval(1, 7 * 86_400), doc="seconds between checks with --interval")


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    source: SourceConfig = field(default_factory=SourceConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    extractor: ExtractorConfig = field(default_factory=ExtractorConfig)
    synthesizer: SynthesizerConfig = field(default_factory=SynthesizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    run: RunConfig = field(default_factory=RunConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)


_SECTIONS: Mapping[str, type] = MappingProxyType(
    {
        "source": SourceConfig,
        "embedding": EmbeddingConfig,
        "extractor": ExtractorConfig,
        "synthesizer": SynthesizerConfig,
        "pipeline": PipelineConfig,
        "run": RunConfig,
        "gate": GateConfig,
        "loop": LoopConfig,
    }
)


def trainer_config(name: str, options: Mapping[str, Any], where: str = "trainer") -> TrainerConfig:
    """Validate a trainer's options against its declared settings.

    Raises:
        ConfigError: ``trainer.suffix: 'local-lora' takes no option 'suffix' (it takes: ...)``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: must be a non-empty string (a trainer registry key), got {name!r}")
    cls = TRAINER_SETTINGS.get(name)
    if cls is not None:
        known = {f.name for f in dataclasses.fields(cls)}
        for key in options:
            if key not in known:
                raise ConfigError(
                    f"{where}.{key}: trainer '{name}' takes no option '{key}' (it takes: {', '.join(sorted(known))})"
                )
        check_values(cls, where, options)
    return TrainerConfig(name, MappingProxyType(dict(options)))


def config_from_dict(data: Mapping[str, Any], where: str = "<config>") -> Config:
    """Validate a parsed configuration.

    Raises:
        ConfigError: Naming the unknown section or key, or the mistyped or out-of-range value.
    """
    built: dict[str, Any] = {}
    known = sorted([*_SECTIONS, "trainer"])
    for name, values in data.items():
        if name not in known:
            raise ConfigError(f"{where}: unknown section '[{name}]' (known: {', '.join(known)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: '{name}' must be a table ([{name}])")
        try:
            if name == "trainer":
                options = {k: v for k, v in values.items() if k != "name"}
                built[name] = trainer_config(values.get("name", DEFAULT_TRAINER), options)
            else:
                functions = values.get("functions", []) if name == "run" else []
                if not isinstance(functions, list) or not all(isinstance(f, str) and f for f in functions):
                    raise ConfigError(f"run.functions: must be a list of function names, got {functions!r}")
                built[name] = build_settings(_SECTIONS[name], name, values)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return Config(**built)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a TOML configuration file.

    Raises:
        ConfigError: If the file is missing, is not TOML, or has a bad key or value.
    """
    file = Path(path)
    try:
        data = tomllib.loads(read_regular_text(file))
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no such config file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"{file}: not valid TOML ({type(exc).__name__}: {str(exc)[:200]})") from exc
    except (InputError, OSError) as exc:  # a directory, a FIFO, no permission
        raise ConfigError(f"--config: {exc}") from exc
    return config_from_dict(data, str(file))


def with_overrides(config: Config, section: str, **values: Any) -> Config:
    """A copy of ``config`` with the non-``None`` values replaced in one section, validated.

    For ``section="trainer"``, ``name`` switches the trainer (keeping only the options it takes
    from the file only when the name is unchanged) and the rest are that trainer's options.

    Raises:
        ConfigError: Naming the key of a bad value.
    """
    changes = {k: v for k, v in values.items() if v is not None}
    if not changes:
        return config
    if section == "trainer":
        name = changes.pop("name", config.trainer.name)
        base = dict(config.trainer.options) if name == config.trainer.name else {}
        return dataclasses.replace(config, trainer=trainer_config(name, {**base, **changes}))
    current = getattr(config, section)
    check_values(type(current), section, changes)
    return dataclasses.replace(config, **{section: dataclasses.replace(current, **changes)})
