"""A run directory's bookkeeping: its lock, its state file, its events and its summary.

Every write is checked to stay inside the directory without following a symlink, and a lock
keeps a second process off it for the whole run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from vector_trainer._layout import EVENTS_FILENAME, LOCK_FILENAME, STATE_FILENAME, SUMMARY_FILENAME
from vector_trainer._shared import utc_now
from vector_trainer.errors import InputError, PipelineError, VectorTrainerError, redact_value
from vector_trainer.fileio import (
    StateDocument,
    atomic_write_json,
    contained_path,
    remove_stale_temp_files,
)
from vector_trainer.pipeline.monitor import JsonlEventLog, MonitorHub, PipelineMonitor
from vector_trainer.pipeline.results import RunSummary, StageError, StageResult

_R = TypeVar("_R", bound=StageResult)


def read_run_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``state.json`` of a run directory (empty when the run has none yet).

    Raises:
        InputError: If the file exists but cannot be read (named, with the fix).
    """
    state: dict[str, Any] = StateDocument(Path(run_dir) / STATE_FILENAME, "move it away to start afresh").read({})
    return state


@dataclass(frozen=True)
class TrainingInput:
    """What the training stage trains on."""

    train_path: Path
    validation_path: Path | None
    n_examples: int


class RunDirectory:
    """Bookkeeping of one run directory: a lock, events, persisted state, the summary.

    The lock (``.lock``, held for the whole run) keeps a second process off the directory, so two
    concurrent runs can never both upload or start a job. Every write is checked to stay inside
    the directory without following a symlink.
    """

    def __init__(self, run_dir: Path, label: str, monitor: PipelineMonitor | None) -> None:
        if run_dir.exists() and not run_dir.is_dir():
            raise InputError(f"{run_dir} is a file, not a run directory; choose another --out")
        run_dir.mkdir(parents=True, exist_ok=True)
        if run_dir.is_symlink():
            raise InputError(f"{run_dir} is a symbolic link; refusing to write through it")
        self.dir = run_dir
        self._lock = FileLock(str(contained_path(run_dir, LOCK_FILENAME)), timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            raise InputError(
                f"another vectortrainer process is working on {run_dir}; wait for it to finish "
                "(or use another --out) and run again"
            ) from None
        remove_stale_temp_files(run_dir)
        self.events = JsonlEventLog(self.path(EVENTS_FILENAME))
        self.hub = MonitorHub([self.events, monitor])
        self.state = read_run_state(run_dir)
        self.state.update({"function_name": label, "updated_at": utc_now()})
        self.state.setdefault("stages", {})
        if not isinstance(self.state["stages"], dict):
            self.state["stages"] = {}
        self.label = label
        self.started_at = utc_now()
        self.results: dict[str, StageResult] = {}
        self.errors: list[StageError] = []

    def path(self, name: str) -> Path:
        """A file of the run directory, checked to stay inside it."""
        return contained_path(self.dir, name)

    def release(self) -> None:
        """Give up the directory's lock."""
        self._lock.release()

    def persist(self) -> None:
        self.state["updated_at"] = utc_now()
        atomic_write_json(self.path(STATE_FILENAME), redact_value(self.state))

    def stage(self, name: str, body: Callable[[], _R]) -> _R:
        """Run one stage: its result is recorded (``state.json``, events) and kept for the
        summary; a failure is recorded, ends the run and is raised as :class:`PipelineError`."""
        self.hub.stage_start(name)
        try:
            result = body()
        except Exception as exc:  # a stage failure, or an unexpected bug, ends the run cleanly, named
            message = str(exc) if isinstance(exc, VectorTrainerError) else f"{type(exc).__name__}: {exc}"
            self.hub.error(name, message)
            self.state["stages"][name] = {"status": "failed", "error": message, "finished_at": utc_now()}
            self.persist()
            self.errors.append(StageError(name, message))
            self.finish("failed")
            raise PipelineError(name, message) from exc
        self.state["stages"][name] = {"status": result.status, "finished_at": utc_now()}
        self.persist()
        self.results[name] = result
        self.hub.stage_complete(name, result)
        return result

    def finish(self, status: str = "ok") -> RunSummary:
        """Write ``summary.json`` (secrets redacted), give up the lock and return the summary."""
        overview = {k: v for k, v in self.events.summary().items() if k not in ("stages", "errors")}
        summary = RunSummary(
            self.label,
            str(self.dir),
            self.started_at,
            dict(self.results),
            tuple(self.errors),
            utc_now(),
            status,
            overview,
        )
        written = redact_value(summary.to_dict())
        atomic_write_json(self.path(SUMMARY_FILENAME), written)
        self.release()
        return RunSummary.from_dict(written)  # what the file says: secrets redacted here too
