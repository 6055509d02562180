"""FR-3.1: the vendor-neutral trainer ABC.

A trainer whose ``dry_run`` is true (OpenAI without an API key) is never asked to upload or
start a job: the pipeline validates, counts, prices and reports what it would submit instead.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

from vector_trainer.config import GateConfig
from vector_trainer.errors import TrainerError
from vector_trainer.training.chat_models import ChatModel, OpenAIChatModel
from vector_trainer.types import CostEstimate

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class BaseTrainer(ABC):
    """A fine-tuning backend (FR-3.1). Implementations never log or raise credentials."""

    name: ClassVar[str] = "base"
    #: Whether the trainer only plans (validates and prices) without submitting anything.
    dry_run: bool = False

    def check_ready(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Raise :class:`~vector_trainer.errors.ConfigError` if the trainer lacks a setting it needs
        to train (checked before a pipeline starts, so nothing runs in vain); default: nothing."""

    @abstractmethod
    def prepare_data(self, jsonl_path: str | os.PathLike[str], *, client_token: str | None = None) -> str:
        """Check and upload (or stage) a chat-format JSONL file; returns its file id.

        ``client_token`` (when given) tags the upload so that :meth:`find_upload` can find it
        after an interrupted run."""

    @abstractmethod
    def start_training(self, file_id: str, *, client_token: str | None = None, **hyperparameters: Any) -> str:
        """Start a job on a prepared file; returns the job id. ``client_token`` tags the job so
        that :meth:`find_job` can find it after an interrupted run."""

    def find_upload(self, jsonl_path: str | os.PathLike[str], client_token: str) -> str | None:
        """The id of a file already uploaded with this token, if the backend can tell."""
        return None

    def find_job(self, client_token: str) -> str | None:
        """The id of a job already created with this token, if the backend can tell."""
        return None

    @abstractmethod
    def get_status(self, job_id: str) -> dict[str, Any]:
        """Current state of a job: at least ``id`` and ``status``."""

    @abstractmethod
    def get_result(self, job_id: str) -> dict[str, Any]:
        """Final outcome of a job (model id, result files, metrics)."""

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job."""
        raise TrainerError(f"trainer '{self.name}' cannot cancel jobs")

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """Training metrics seen so far (``step``, ``train_loss``, ``train_accuracy`` ...)."""
        return []

    def stream_metrics(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Metrics as an iterator (default: what :meth:`metrics` returns now)."""
        yield from self.metrics(job_id)

    def estimate(self, jsonl_path: str | os.PathLike[str]) -> CostEstimate | None:
        """Dollar cost of training on the file, if the backend bills by token."""
        return None

    def describe(self) -> dict[str, Any]:
        """What the trainer would submit, for reports (no secrets)."""
        return {"trainer": self.name}

    def serving_endpoint(self) -> tuple[str | None, str | None]:
        """``(base_url, api_key)`` of the OpenAI-compatible endpoint that serves the models this
        trainer makes, for evaluating them (``(None, None)``: the environment's, or none)."""
        return None, None

    @classmethod
    def run_options(cls, run_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """Options that keep the trainer's own files inside a run directory, for a run that does
        not set them (default: none; ``local-lora`` keeps its jobs in ``<run>/jobs``)."""
        return {}

    @classmethod
    def chat_model(
        cls,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = GateConfig.timeout_s,
        max_tokens: int = GateConfig.max_tokens,
    ) -> ChatModel:
        """How to reach a model this trainer made (or the base it started from), to evaluate it.

        The default asks an OpenAI-compatible endpoint (``base_url``: OpenAI, vLLM, Ollama); a
        trainer whose models live elsewhere overrides it (``local-lora`` loads them here).

        Args:
            model: The model's name or id, as the trainer's results and the registry record it.
            base_url: The endpoint serving it; ``OPENAI_BASE_URL`` or the OpenAI API when omitted.
            api_key: The endpoint's key; ``OPENAI_API_KEY`` when omitted.
            timeout_s: Seconds to wait for one answer.
            max_tokens: Longest answer asked for.
        """
        return OpenAIChatModel(model, base_url=base_url, api_key=api_key, timeout_s=timeout_s, max_tokens=max_tokens)
