"""Trainers by registry key: the built-in ones plus ``vector_trainer.trainers`` entry-point plugins.

Each built-in trainer declares its options in :mod:`vector_trainer.config`
(``TRAINER_SETTINGS``); :func:`create_trainer` passes a trainer only the options it takes, so an
OpenAI default never reaches the local trainer and a stray option is an error naming its key.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from vector_trainer.config import TRAINER_SETTINGS, GateConfig, TrainerConfig, trainer_config
from vector_trainer.errors import ConfigError
from vector_trainer.training.base import BaseTrainer
from vector_trainer.training.chat_models import ChatModel

ENTRY_POINT_GROUP = "vector_trainer.trainers"


TrainerFactory = Callable[..., BaseTrainer]


def trainer_registry() -> dict[str, TrainerFactory]:
    """Registry key -> trainer class: the built-in ones plus entry-point plugins."""
    from vector_trainer.training.local_lora.trainer import LocalLoRATrainer  # light: heavy imports live in its jobs
    from vector_trainer.training.openai_trainer import OpenAITrainer

    registry: dict[str, TrainerFactory] = {OpenAITrainer.name: OpenAITrainer, LocalLoRATrainer.name: LocalLoRATrainer}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        registry.setdefault(entry.name, entry.load())
    return registry


def create_trainer(name: str, **options: Any) -> BaseTrainer:
    """Build a trainer by registry key with the options it declares.

    Raises:
        ConfigError: For an unknown key (the message lists the known ones), an option the
            trainer does not take, or a bad value (each naming ``trainer.<option>``).
    """
    registry = trainer_registry()
    if name not in registry:
        raise ConfigError(f"unknown trainer '{name}'; available: {', '.join(sorted(registry))}")
    factory = registry[name]
    settings = TRAINER_SETTINGS.get(name)
    declared = {f.name for f in dataclasses.fields(settings)} if settings else set()
    trainer_config(
        name, {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in options.items() if k in declared}
    )
    _check_signature(name, factory, {k: v for k, v in options.items() if k not in declared})
    return factory(**options)


def trainer_from_config(config: TrainerConfig, **objects: Any) -> BaseTrainer:
    """Build the configured trainer; ``objects`` are arguments that are not configuration, such
    as ``client`` or ``api_key``."""
    return create_trainer(config.name, **dict(config.options), **objects)


def trainer_class(name: str) -> type[BaseTrainer]:
    """The trainer class registered as ``name``, to ask it things that need no instance
    (:meth:`~BaseTrainer.chat_model`, :meth:`~BaseTrainer.run_options`); :class:`BaseTrainer`,
    whose answers are the defaults, for a plugin factory that is not a class.

    Raises:
        ConfigError: For a name no trainer is registered under (the message lists the known
            ones): a misspelt provider never falls back to another trainer's endpoint.
    """
    registry = trainer_registry()
    if name not in registry:
        raise ConfigError(
            f"unknown trainer '{name}'; available: {', '.join(sorted(registry))} "
            f"(a plugin's models need its package installed here)"
        )
    factory = registry[name]
    return factory if isinstance(factory, type) and issubclass(factory, BaseTrainer) else BaseTrainer


def chat_model_for(
    provider: str,
    model: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout_s: float = GateConfig.timeout_s,
    max_tokens: int = GateConfig.max_tokens,
) -> ChatModel:
    """How to reach a model made by the trainer registered as ``provider``: that trainer's
    :meth:`~vector_trainer.training.base.BaseTrainer.chat_model`.

    Raises:
        ConfigError: For a provider no trainer is registered under.
    """
    return trainer_class(provider).chat_model(
        model, base_url=base_url, api_key=api_key, timeout_s=timeout_s, max_tokens=max_tokens
    )


def _check_signature(name: str, factory: Callable[..., Any], options: Mapping[str, Any]) -> None:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    for key in options:
        if key not in parameters:
            known = ", ".join(sorted(k for k in parameters if k != "self"))
            raise ConfigError(f"trainer.{key}: trainer '{name}' takes no option '{key}' (it takes: {known})")
