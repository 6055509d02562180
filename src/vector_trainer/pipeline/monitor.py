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

LOGGER = logging.getLogger("vector_trainer")
EVENTS_FILENAME = _layout.EVENTS_FILENAME


class PipelineMonitor:
    """Receives pipeline events and keeps a summary. Subclass and override the ``on_*`` hooks.

    Every hook is called through :meth:`emit`, which records the event first, so a subclass
    only adds presentation.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.stage_results: dict[str, dict[str, Any]] = {}
        self.errors: list[dict[str, str]] = []
        self.metrics: list[dict[str, Any]] = []

    # Hooks for subclasses -------------------------------------------------------------------
    def on_stage_start(self, stage: str) -> None:
        """A stage began."""

    def on_progress(self, stage: str, current: int, total: int) -> None:
        """A stage advanced to ``current`` of ``total``."""

    def on_stage_complete(self, stage: str, result: dict[str, Any]) -> None:
        """A stage finished with ``result``."""

    def on_log(self, message: str, level: str = "info") -> None:
        """A line for the log pane."""

    def on_error(self, stage: str, error: str) -> None:
        """A stage failed."""

    def on_metrics(self, stage: str, metrics: dict[str, Any]) -> None:
        """Training metrics arrived (``step``, ``train_loss``, ``train_accuracy`` ...)."""

    # Recording and dispatch -----------------------------------------------------------------
    def record(self, kind: str, payload: dict[str, Any]) -> None:
        """Store one event (and let subclasses persist it)."""
        event = {"time": time.time(), "kind": kind, **payload}
        self.events.append(event)
        if kind == "stage_complete":
            self.stage_results[payload["stage"]] = payload["result"]
        elif kind == "error":
            self.errors.append({"stage": payload["stage"], "error": payload["error"]})
        elif kind == "metrics":
            self.metrics.append(payload["metrics"])

    def summary(self) -> dict[str, Any]:
        """FR-4.4: golden-data statistics, rules and conflicts, training metrics and the final
        model, plus every stage's result and the errors."""
        extract = self.stage_results.get("extract", {})
        synthesize = self.stage_results.get("synthesize", {})
        train = self.stage_results.get("train", {})
        return {
            "golden": {
                "examples": extract.get("examples", 0),
                "steady": extract.get("steady", 0),
                "anomaly": extract.get("anomaly", 0),
                "regions": extract.get("regions", 0),
                "density": extract.get("density"),
            },
            "rules": {"count": synthesize.get("rules", 0), "conflicts": synthesize.get("conflicts", 0)},
            "training": {
                "mode": train.get("mode"),
                "status": train.get("status"),
                "job_id": train.get("job_id"),
                "final_model": train.get("fine_tuned_model"),
                "metrics": list(self.metrics),
            },
            "stages": dict(self.stage_results),
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
        file or terminal ever sees one)."""
        method, names = _HOOKS[kind]
        payload = redact_value(payload)
        for monitor in self.monitors:
            try:
                monitor.record(kind, payload)
                getattr(monitor, method)(*(payload[name] for name in names))
            except Exception:
                LOGGER.exception("monitor %s failed on %s; the pipeline continues", type(monitor).__name__, kind)

    def stage_start(self, stage: str) -> None:
        self.emit("stage_start", stage=stage)

    def progress(self, stage: str, current: int, total: int) -> None:
        self.emit("progress", stage=stage, current=current, total=total)

    def stage_complete(self, stage: str, result: dict[str, Any]) -> None:
        self.emit("stage_complete", stage=stage, result=result)

    def log(self, message: str, level: str = "info") -> None:
        self.emit("log", message=message, level=level)

    def error(self, stage: str, error: str) -> None:
        self.emit("error", stage=stage, error=error)

    def metrics(self, stage: str, metrics: dict[str, Any]) -> None:
        self.emit("metrics", stage=stage, metrics=metrics)
