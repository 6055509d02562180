"""FR-4.1: pipeline callbacks. The pipeline reports to a :class:`PipelineMonitor`; dashboards
subclass it. Events can also be appended to ``events.jsonl`` in the run directory so another
process (the web dashboard) can follow a run. A monitor that raises never breaks the pipeline.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer.errors import redact_value
from vector_trainer.fileio import append_line
from vector_trainer.pipeline.results import (
    ExtractResult,
    StageResult,
    SynthesizeResult,
    TrainResult,
    stage_result_from_dict,
)

LOGGER = logging.getLogger("vector_trainer")
EVENTS_FILENAME = _layout.EVENTS_FILENAME


class PipelineMonitor:
    """Receives pipeline events and keeps a summary. Subclass and override the ``on_*`` hooks.

    Every hook is called through :meth:`emit`, which records the event first, so a subclass
    only adds presentation.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.stage_results: dict[str, StageResult] = {}
        self.errors: list[dict[str, str]] = []
        self.metrics: list[dict[str, Any]] = []

    # Hooks for subclasses -------------------------------------------------------------------
    def on_stage_start(self, stage: str) -> None:
        """A stage began."""

    def on_progress(self, stage: str, current: int, total: int) -> None:
        """A stage advanced to ``current`` of ``total``."""

    def on_stage_complete(self, stage: str, result: StageResult) -> None:
        """A stage finished with ``result`` (secrets redacted)."""

    def on_log(self, message: str, level: str = "info") -> None:
        """A line for the log pane."""

    def on_error(self, stage: str, error: str) -> None:
        """A stage failed."""

    def on_metrics(self, stage: str, metrics: dict[str, Any]) -> None:
        """Training metrics arrived (``step``, ``train_loss``, ``train_accuracy`` ...)."""

    # Recording and dispatch -----------------------------------------------------------------
    def record(self, kind: str, payload: dict[str, Any]) -> None:
        """Store one event (and let subclasses persist it); ``payload`` is JSON-ready (a stage's
        result as its ``to_dict``)."""
        event = {"time": time.time(), "kind": kind, **payload}
        self.events.append(event)
        if kind == "stage_complete":
            self.stage_results[payload["stage"]] = stage_result_from_dict(payload["stage"], payload["result"])
        elif kind == "error":
            self.errors.append({"stage": payload["stage"], "error": payload["error"]})
        elif kind == "metrics":
            self.metrics.append(payload["metrics"])

    def summary(self) -> dict[str, Any]:
        """FR-4.4: golden-data statistics, rules and conflicts, training metrics and the final
        model, plus every stage's result and the errors."""
        found = self.stage_results
        extract = found.get("extract")
        extract = extract if isinstance(extract, ExtractResult) else ExtractResult()
        synthesize = found.get("synthesize")
        synthesize = synthesize if isinstance(synthesize, SynthesizeResult) else SynthesizeResult()
        train = found.get("train")
        train = train if isinstance(train, TrainResult) else None
        return {
            "golden": {
                "examples": extract.examples,
                "steady": extract.steady,
                "anomaly": extract.anomaly,
                "regions": extract.regions,
                "density": None if extract.density is None else dict(extract.density),
            },
            "rules": {"count": synthesize.rules, "conflicts": synthesize.conflicts},
            "training": {
                "mode": train.mode if train else None,
                "status": train.status if train else None,
                "job_id": train.job_id if train else None,
                "final_model": train.fine_tuned_model if train else None,
                "metrics": list(self.metrics),
            },
            "stages": {name: result.to_dict() for name, result in found.items()},
            "errors": list(self.errors),
        }


class JsonlEventLog(PipelineMonitor):
    """Appends every event as one JSON line to ``events.jsonl`` (each line is flushed whole)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def record(self, kind: str, payload: dict[str, Any]) -> None:
        super().record(kind, payload)
        line = json.dumps(redact_value(self.events[-1]), ensure_ascii=False, default=str) + "\n"
        with self._lock:
            append_line(self.path, line)


_HOOKS = {
    "stage_start": ("on_stage_start", ("stage",)),
    "progress": ("on_progress", ("stage", "current", "total")),
    "stage_complete": ("on_stage_complete", ("stage", "result")),
    "log": ("on_log", ("message", "level")),
    "error": ("on_error", ("stage", "error")),
    "metrics": ("on_metrics", ("stage", "metrics")),
}


class MonitorHub:
    """Fans events out to several monitors; a failing monitor is logged and skipped."""

    def __init__(self, monitors: Sequence[PipelineMonitor | None]) -> None:
        self.monitors = [m for m in monitors if m is not None]

    def emit(self, kind: str, **payload: Any) -> None:
        """Record and dispatch one event to every monitor (credentials redacted first: no monitor,
        file or terminal ever sees one). A stage's result is recorded as JSON and handed to
        ``on_stage_complete`` typed, read back from that JSON."""
        method, names = _HOOKS[kind]
        payload = redact_value(payload)
        args = [payload[name] for name in names]
        if kind == "stage_complete":
            args[1] = stage_result_from_dict(payload["stage"], payload["result"])
        for monitor in self.monitors:
            try:
                monitor.record(kind, payload)
                getattr(monitor, method)(*args)
            except Exception:
                LOGGER.exception("monitor %s failed on %s; the pipeline continues", type(monitor).__name__, kind)

    def stage_start(self, stage: str) -> None:
        self.emit("stage_start", stage=stage)

    def progress(self, stage: str, current: int, total: int) -> None:
        self.emit("progress", stage=stage, current=current, total=total)

    def stage_complete(self, stage: str, result: StageResult) -> None:
        self.emit("stage_complete", stage=stage, result=result.to_dict())

    def log(self, message: str, level: str = "info") -> None:
        self.emit("log", message=message, level=level)

    def error(self, stage: str, error: str) -> None:
        self.emit("error", stage=stage, error=error)

    def metrics(self, stage: str, metrics: dict[str, Any]) -> None:
        self.emit("metrics", stage=stage, metrics=metrics)
