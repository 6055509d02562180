"""The model registry: every trained model of a function, with an active pointer and its history.

Layout (one directory per function)::

    models.json      {"schema": 1, "active": "m0002", "models": [...], "history": [...]}
    .lock            inter-process lock (filelock)

Writes are atomic (temp file + rename) and made under the lock; a registry file that cannot be
read is reported, naming the key, and never overwritten. Adding the same training job twice
returns the record already there, so a cycle resumed after a crash never registers twice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vector_trainer._shared import utc_now
from vector_trainer.errors import InputError, ManifestCorruptedError
from vector_trainer.fileio import StateDocument

REGISTRY_FILENAME = "models.json"
REGISTRY_SCHEMA = 1
_MODEL_ID = re.compile(r"m[0-9]{1,18}")
_TEXT_FIELDS = ("provider", "base_model", "model", "created_at")


@dataclass(frozen=True)
class ModelRecord:
    """One trained model.

    Attributes:
        model_id: Registry id (``m0001``).
        provider: The trainer that made it (``openai``, ``local-lora``, ...).
        base_model: What it was fine-tuned from.
        model: How to reach it: a fine-tuned model id or a LoRA adapter directory.
        job_id: The training job.
        training_sha256: Digest of the training file.
        created_at: When it was registered.
        run_dir: The run directory that trained it.
        evaluation: Its latest evaluation summary (comparisons and decision), if any.
        active: Whether it is the one in use.
    """

    model_id: str
    provider: str
    base_model: str
    model: str
    job_id: str = ""
    training_sha256: str = ""
    created_at: str = ""
    run_dir: str = ""
    evaluation: dict[str, Any] = field(default_factory=dict)
    active: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Registry entry (without the derived ``active``)."""
        entry = asdict(self)
        entry.pop("active")
        return entry


def _entry_problem(entry: Any, index: int) -> str | None:
    where = f"models[{index}]"
    if not isinstance(entry, dict):
        return f"{where} is not an object"
    if not isinstance(entry.get("model_id"), str) or not _MODEL_ID.fullmatch(entry["model_id"]):
        return f"{where}.model_id is {entry.get('model_id')!r}, expected 'm' and a number such as 'm0001'"
    for key in _TEXT_FIELDS:
        if not isinstance(entry.get(key), str):
            return f"{where}.{key} is not a string"
    if not isinstance(entry.get("evaluation", {}), dict):
        return f"{where}.evaluation is not an object"
    unknown = set(entry) - {f for f in ModelRecord.__dataclass_fields__ if f != "active"}
    if unknown:
        return f"{where} has unknown keys {sorted(unknown)}"
    return None


def _registry_problem(data: Any) -> str | None:
    shape = f"not a schema-{REGISTRY_SCHEMA} registry (an object with 'schema', 'models' and 'history' lists)"
    if not isinstance(data, dict) or data.get("schema") != REGISTRY_SCHEMA:
        return shape
    if not isinstance(data.get("models"), list) or not isinstance(data.get("history"), list):
        return shape
    for index, entry in enumerate(data["models"]):
        problem = _entry_problem(entry, index)
        if problem is not None:
            return problem
    for index, event in enumerate(data["history"]):
        if not isinstance(event, dict) or not isinstance(event.get("action"), str):
            return f"history[{index}] is not an object with an 'action'"
    ids = [entry["model_id"] for entry in data["models"]]
    if len(set(ids)) != len(ids):
        return "a model_id appears twice in 'models'"
    if data.get("active") is not None and data["active"] not in ids:
        return f"'active' is {data['active']!r}, which is not one of the models"
    return None


class ModelRegistry:
    """Stores, lists, promotes and rolls back a function's trained models.

    Args:
        directory: The function's registry directory (created on the first write).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / REGISTRY_FILENAME
        self._lock_path = self.directory / ".lock"

    def _document(self) -> StateDocument:
        return StateDocument(
            self.path,
            f"inspect or restore {self.path} by hand; deleting it starts a new registry",
            ManifestCorruptedError,
            _registry_problem,
            self._lock_path,
        )

    def _read(self) -> dict[str, Any]:
        data: dict[str, Any] = self._document().read(_empty_registry())
        return data

    def _update(self, change: Callable[[dict[str, Any]], Any]) -> Any:
        return self._document().update(_empty_registry(), change)

    @staticmethod
    def _record(entry: dict[str, Any], active: str | None) -> ModelRecord:
        return ModelRecord(**entry, active=entry["model_id"] == active)

    def list_models(self) -> list[ModelRecord]:
        """Every registered model, oldest first."""
        data = self._read()
        return [self._record(entry, data.get("active")) for entry in data["models"]]

    def history(self) -> list[dict[str, Any]]:
        """Every promotion, rejection and rollback, oldest first."""
        return list(self._read()["history"])

    def active(self) -> ModelRecord | None:
        """The model in use, if any."""
        return next((m for m in self.list_models() if m.active), None)

    def get(self, model_id: str) -> ModelRecord:
        """One model by id.

        Raises:
            InputError: Naming the known ids.
        """
        data = self._read()
        return self._record(self._entry(data, model_id), data.get("active"))

    def _entry(self, data: dict[str, Any], model_id: str) -> dict[str, Any]:
        entry = next((e for e in data["models"] if e["model_id"] == model_id), None)
        if entry is None:
            known = ", ".join(e["model_id"] for e in data["models"]) or "none"
            raise InputError(f"no model {model_id!r} in {self.path} (known: {known})")
        return entry

    def add(self, provider: str, base_model: str, model: str, **details: Any) -> ModelRecord:
        """Register a trained model (not active). The same ``job_id`` again returns the existing record."""

        def change(data: dict[str, Any]) -> ModelRecord:
            job_id = details.get("job_id", "")
            for entry in data["models"]:
                if job_id and entry["job_id"] == job_id and entry["provider"] == provider:
                    return self._record(entry, data.get("active"))
            number = max((int(e["model_id"][1:]) for e in data["models"]), default=0) + 1
            record = ModelRecord(f"m{number:04d}", provider, base_model, model, created_at=utc_now(), **details)
            data["models"].append(record.to_dict())
            data["history"].append({"at": record.created_at, "action": "add", "model_id": record.model_id})
            return record

        return self._update(change)

    def record_evaluation(self, model_id: str, evaluation: dict[str, Any]) -> None:
        """Keep a model's latest evaluation summary with it."""

        def change(data: dict[str, Any]) -> None:
            self._entry(data, model_id)["evaluation"] = evaluation

        self._update(change)

    def _set_active(self, model_id: str | None, action: str, reason: str) -> ModelRecord:
        """Activate ``model_id`` (``None``: the model active before the current one), under the lock."""

        def change(data: dict[str, Any]) -> ModelRecord:
            chosen = model_id if model_id is not None else _previous_active(data, self.path)
            entry = self._entry(data, chosen)
            data["history"].append(
                {"at": utc_now(), "action": action, "model_id": chosen, "from": data.get("active"), "reason": reason}
            )
            data["active"] = chosen
            return self._record(entry, chosen)

        return self._update(change)

    def promote(self, model_id: str, reason: str = "promoted by hand") -> ModelRecord:
        """Make a model the active one."""
        return self._set_active(model_id, "promote", reason)

    def reject(self, model_id: str, reason: str) -> None:
        """Record that a candidate was evaluated and not promoted."""

        def change(data: dict[str, Any]) -> None:
            data["history"].append({"at": utc_now(), "action": "reject", "model_id": model_id, "reason": reason})

        self._update(change)

    def rollback(self, model_id: str | None = None) -> ModelRecord:
        """Activate ``model_id``, or the model that was active before the current one.

        Raises:
            InputError: If there is nothing to roll back to.
        """
        return self._set_active(model_id, "rollback", "rolled back")


def _previous_active(data: dict[str, Any], path: Path) -> str:
    changes = [h for h in data["history"] if h["action"] in ("promote", "rollback")]
    previous = changes[-1].get("from") if changes else None
    if not previous:
        raise InputError(f"{path}: no earlier active model to roll back to; name one")
    return str(previous)


def _empty_registry() -> dict[str, Any]:
    return {"schema": REGISTRY_SCHEMA, "active": None, "models": [], "history": []}
