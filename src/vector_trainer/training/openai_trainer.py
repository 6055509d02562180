"""FR-3.2: fine-tuning through OpenAI's API or any OpenAI-compatible endpoint (extra ``openai``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from vector_trainer._params import check_values
from vector_trainer.config import OpenAITrainerConfig
from vector_trainer.errors import MissingDependencyError, TrainerError, redact
from vector_trainer.training.base import BaseTrainer
from vector_trainer.training.costguard import ModelPrice, check_budget, check_context, estimate_cost
from vector_trainer.types import CostEstimate

_D = OpenAITrainerConfig
#: The job metadata key under which the client token is sent (and searched for on resume).
TOKEN_METADATA_KEY = "vectortrainer_token"


def _upload_name(path: Path, client_token: str | None) -> str:
    return f"vectortrainer-{client_token}-{path.name}" if client_token else path.name


class OpenAITrainer(BaseTrainer):
    """Fine-tuning through OpenAI's API (or an OpenAI-compatible ``base_url``) (FR-3.2).

    Args:
        api_key: API key; defaults to ``OPENAI_API_KEY``. Without one (and without ``client``)
            the trainer is a dry run.
        model: Base model to fine-tune.
        max_budget_usd: Refuse to upload when the estimate is above it; ``None`` disables.
        n_epochs: Epochs; ``None`` lets OpenAI's default rule decide (and the estimate follows it).
        suffix: Suffix of the fine-tuned model name.
        base_url: An OpenAI-compatible endpoint.
        hyperparameters: Further hyperparameters (``batch_size``, ``learning_rate_multiplier``).
        prices: Price-table overrides for the cost guard.
        usd_per_million: Explicit training price (for models without a known price).
        client: An ``openai.OpenAI``-shaped client to use instead of building one.
        max_retries: SDK retries for 429 and 5xx answers.
    """

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        api_key: str | None = None,
        model: str = _D.model,
        max_budget_usd: float | None = _D.max_budget_usd,
        n_epochs: int | None = _D.n_epochs,
        suffix: str | None = _D.suffix,
        base_url: str | None = _D.base_url,
        hyperparameters: Mapping[str, Any] | None = None,
        prices: Mapping[str, ModelPrice] | None = None,
        usd_per_million: float | None = _D.usd_per_million,
        client: Any = None,
        max_retries: int = _D.max_retries,
        timeout_s: float = _D.timeout_s,
    ) -> None:
        check_values(
            _D,
            "trainer",
            {
                "model": model,
                "max_budget_usd": max_budget_usd,
                "n_epochs": n_epochs,
                "suffix": suffix,
                "base_url": base_url,
                "usd_per_million": usd_per_million,
                "max_retries": max_retries,
                "timeout_s": timeout_s,
            },
        )
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        self.model = model
        self.max_budget_usd = max_budget_usd
        self.n_epochs = n_epochs
        self.suffix = suffix
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.hyperparameters = dict(hyperparameters or {})
        self.prices = prices
        self.usd_per_million = usd_per_million
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self._client = client
        self.dry_run = client is None and self._api_key is None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "unset"
        base_url = redact(self.base_url) if self.base_url else None
        return f"OpenAITrainer(model={self.model!r}, api_key=<{key}>, base_url={base_url!r})"

    @property
    def client(self) -> Any:
        """The SDK client, created on first use."""
        if self._client is None:
            if self._api_key is None:
                raise TrainerError("no OpenAI API key: set OPENAI_API_KEY or pass api_key= (dry run only)")
            try:
                import openai
            except ImportError as exc:
                raise MissingDependencyError("openai", "openai", "The OpenAI trainer") from exc
            self._client = openai.OpenAI(
                api_key=self._api_key, base_url=self.base_url, max_retries=self.max_retries, timeout=self.timeout_s
            )
        return self._client

    def _call(self, action: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except TrainerError:
            raise
        except Exception as exc:
            raise TrainerError(self._explain(action, exc)) from None

    def _explain(self, action: str, exc: Exception) -> str:
        status = getattr(exc, "status_code", None)
        body = getattr(exc, "body", None)
        code = body.get("code") if isinstance(body, dict) else getattr(exc, "code", None)
        if type(exc).__name__ in ("APITimeoutError", "TimeoutException", "ReadTimeout"):
            where = self.base_url or "api.openai.com"
            message = f"no answer from {where} within {self.timeout_s:g}s while waiting for the {action}"
        elif status == 401:
            message = "OpenAI rejected the API key (401 Unauthorized); check OPENAI_API_KEY"
        elif status == 403 and code == "training_not_available":
            message = (
                "OpenAI refused fine-tuning for this organisation (403 training_not_available): self-serve "
                "fine-tuning is being wound down. Use another trainer (e.g. --trainer local-lora)"
            )
        elif status is not None:
            message = f"OpenAI answered {status}{f' ({code})' if code else ''}: {exc}"
        else:
            message = f"{type(exc).__name__}: {exc}"
        return redact(f"{action} failed: {message}", self._api_key)

    def estimate(self, jsonl_path: str | os.PathLike[str]) -> CostEstimate:
        epochs = self._hyperparameters().get("n_epochs")
        return estimate_cost(
            jsonl_path,
            self.model,
            epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None,
            prices=self.prices,
            usd_per_million=self.usd_per_million,
        )

    def prepare_data(
        self, jsonl_path: str | os.PathLike[str], *, check_cost: bool = True, client_token: str | None = None
    ) -> str:
        """Check the budget (FR-6.4), then upload the file; nothing is sent when over budget.

        With ``client_token`` the upload is named ``vectortrainer-<token>-<file name>`` so that
        :meth:`find_upload` can recognise it after an interrupted run.

        Raises:
            BudgetExceededError: Estimate above ``max_budget_usd``.
            InputError: Examples longer than the model's training context (naming their lines).
            TrainerError: Upload refused (message without credentials).
        """
        if check_cost:
            estimate = self.estimate(jsonl_path)
            check_context(estimate, os.fspath(jsonl_path))
            check_budget(estimate, self.max_budget_usd)
        path = Path(jsonl_path)

        def upload() -> Any:
            with path.open("rb") as handle:
                return self.client.files.create(file=(_upload_name(path, client_token), handle), purpose="fine-tune")

        return str(self._call("upload", upload).id)

    def find_upload(self, jsonl_path: str | os.PathLike[str], client_token: str) -> str | None:
        """The file an interrupted run uploaded: same name (carrying the token) and size."""
        path = Path(jsonl_path)
        name, size = _upload_name(path, client_token), path.stat().st_size
        page = self._call("file lookup", lambda: self.client.files.list(purpose="fine-tune"))
        for item in getattr(page, "data", page):
            if getattr(item, "filename", None) == name and getattr(item, "bytes", None) == size:
                return str(item.id)
        return None

    def find_job(self, client_token: str) -> str | None:
        """The job an interrupted run created, found by its ``vectortrainer_token`` metadata."""
        page = self._call(
            "job lookup",
            lambda: self.client.fine_tuning.jobs.list(metadata={TOKEN_METADATA_KEY: client_token}, limit=10),
        )
        for job in getattr(page, "data", page):
            if (getattr(job, "metadata", None) or {}).get(TOKEN_METADATA_KEY) == client_token:
                return str(job.id)
        return None

    def _hyperparameters(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Exactly the hyperparameters a job is created with (the estimate uses the same)."""
        params = {**self.hyperparameters, **(extra or {})}
        if self.n_epochs is not None:
            params.setdefault("n_epochs", self.n_epochs)
        return params

    def start_training(self, file_id: str, *, client_token: str | None = None, **hyperparameters: Any) -> str:
        validation_file = hyperparameters.pop("validation_file", None)
        params = self._hyperparameters(hyperparameters)
        kwargs: dict[str, Any] = {"training_file": file_id, "model": self.model}
        if params:
            kwargs["hyperparameters"] = params
        if self.suffix:
            kwargs["suffix"] = self.suffix
        if validation_file:
            kwargs["validation_file"] = validation_file
        if client_token:
            kwargs["metadata"] = {TOKEN_METADATA_KEY: client_token}
        job = self._call("job creation", lambda: self.client.fine_tuning.jobs.create(**kwargs))
        return str(job.id)

    def get_status(self, job_id: str) -> dict[str, Any]:
        job = self._call("status", lambda: self.client.fine_tuning.jobs.retrieve(job_id))
        error = getattr(job, "error", None)
        error_message = getattr(error, "message", None) if error is not None else None
        return {
            "id": job.id,
            "status": job.status,
            "model": getattr(job, "model", self.model),
            "fine_tuned_model": getattr(job, "fine_tuned_model", None),
            "trained_tokens": getattr(job, "trained_tokens", None),
            "result_files": list(getattr(job, "result_files", None) or []),
            "error": redact(error_message, self._api_key) if error_message else None,
        }

    def events(self, job_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Job events, oldest first."""
        page = self._call("events", lambda: self.client.fine_tuning.jobs.list_events(job_id, limit=limit))
        events = []
        for event in getattr(page, "data", page):
            events.append(
                {
                    "created_at": getattr(event, "created_at", None),
                    "level": getattr(event, "level", "info"),
                    "message": redact(str(getattr(event, "message", "")), self._api_key),
                    "type": getattr(event, "type", "message"),
                    "data": dict(getattr(event, "data", None) or {}),
                }
            )
        return sorted(events, key=lambda e: e["created_at"] or 0)

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        rows = []
        for event in self.events(job_id):
            data = event["data"]
            if event["type"] == "metrics" or "train_loss" in data:
                rows.append(
                    {
                        "step": data.get("step"),
                        "train_loss": data.get("train_loss"),
                        "train_accuracy": data.get("train_mean_token_accuracy"),
                        "valid_loss": data.get("valid_loss"),
                    }
                )
        return sorted(rows, key=lambda r: r["step"] or 0)

    def get_result(self, job_id: str) -> dict[str, Any]:
        """Outcome of a finished job.

        Raises:
            TrainerError: If the job failed (with OpenAI's error) or was cancelled.
        """
        status = self.get_status(job_id)
        if status["status"] == "failed":
            raise TrainerError(f"fine-tuning job {job_id} failed: {status['error'] or 'no error given'}")
        if status["status"] == "cancelled":
            raise TrainerError(f"fine-tuning job {job_id} was cancelled")
        return {**status, "metrics": self.metrics(job_id)}

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self._call("cancel", lambda: self.client.fine_tuning.jobs.cancel(job_id))
        return {"id": job.id, "status": job.status}

    def serving_endpoint(self) -> tuple[str | None, str | None]:
        """The endpoint the fine-tuned models are served from: the one jobs are submitted to."""
        return self.base_url, self._api_key

    def describe(self) -> dict[str, Any]:
        return {
            "trainer": self.name,
            "model": self.model,
            "n_epochs": self.n_epochs,
            "suffix": self.suffix,
            "base_url": redact(self.base_url) if self.base_url else None,
            "hyperparameters": self._hyperparameters(),
            "max_budget_usd": self.max_budget_usd,
            "api_key": "set" if self._api_key else "unset",
        }
