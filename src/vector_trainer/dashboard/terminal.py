"""FR-4.2: the terminal dashboard (rich). Live per-stage progress bars with counts and elapsed
time, a log pane and a final summary table; plain lines when the output is not a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from vector_trainer._shared import printable
from vector_trainer.pipeline.monitor import JsonlEventLog, MonitorHub, PipelineMonitor
from vector_trainer.pipeline.results import (
    ExtractResult,
    GateResult,
    RunSummary,
    SkippedStage,
    StageResult,
    SynthesizeResult,
    TrainResult,
)

__all__ = ["CLIDashboard", "JsonlEventLog", "MonitorHub", "PipelineMonitor"]

BAR_WIDTH = 24
STAGE_TITLES = {
    "extract": "Extracting golden data",
    "synthesize": "Synthesizing rules",
    "train": "Fine-tuning",
    "gate": "Gating the candidates",
}
#: Metrics shown per training update, in this order: (key, label, format).
METRIC_FIELDS = (
    ("train_loss", "loss", ".4f"),
    ("valid_loss", "valid loss", ".4f"),
    ("train_accuracy", "accuracy", ".3f"),
    ("learning_rate", "lr", ".2e"),
)


def metrics_line(metrics: dict[str, Any]) -> str:
    """One readable line for a training update: ``step 29/60 | epoch 1.45 | loss 5.9683``."""
    parts = []
    step, total = metrics.get("step"), metrics.get("total_steps")
    if isinstance(step, int):
        parts.append(f"step {step}/{total}" if isinstance(total, int) and total > 0 else f"step {step}")
    epoch = metrics.get("epoch")
    if isinstance(epoch, (int, float)) and not isinstance(epoch, bool):
        parts.append(f"epoch {epoch:.2f}")
    for key, label, spec in METRIC_FIELDS:
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{label} {value:{spec}}")
    return " | ".join(parts)


class CLIDashboard(PipelineMonitor):
    """Renders pipeline events in the terminal.

    Args:
        console: Where to draw; default stderr-free stdout console. When it is not a terminal
            (CI, pipes), each event is printed as one plain line instead of live bars.
    """

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console()
        self.live = self.console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True, min_width=28)),
            BarColumn(bar_width=BAR_WIDTH, table_column=Column(min_width=BAR_WIDTH)),
            MofNCompleteColumn(table_column=Column(min_width=5)),
            TimeElapsedColumn(table_column=Column(min_width=7)),
            TextColumn("{task.fields[detail]}", markup=False, table_column=Column(no_wrap=True, overflow="ellipsis")),
            console=self.console,
            disable=not self.live,
        )
        self._tasks: dict[str, Any] = {}
        self._started = False

    def _task(self, stage: str) -> Any:
        if stage not in self._tasks:
            title = f"[{len(self._tasks) + 1}] {STAGE_TITLES.get(stage, stage)}"
            self._tasks[stage] = self._progress.add_task(title, total=None, detail="")
        return self._tasks[stage]

    def on_stage_start(self, stage: str) -> None:
        if self.live and not self._started:
            self._progress.start()
            self._started = True
        self._task(stage)
        if not self.live:
            self.console.print(f"[stage] {stage}: started", markup=False, highlight=False)

    def on_progress(self, stage: str, current: int, total: int) -> None:
        self._progress.update(self._task(stage), completed=current, total=total)
        if not self.live:
            self.console.print(f"[progress] {stage}: {current}/{total}", markup=False, highlight=False)

    def on_stage_complete(self, stage: str, result: StageResult) -> None:
        detail = _stage_detail(result)
        task = self._task(stage)
        total = self._progress.tasks[task].total or 1
        self._progress.update(task, completed=total, total=total, detail=detail)
        if not self.live:
            self.console.print(f"[stage] {stage}: done {detail}", markup=False, highlight=False)

    def on_log(self, message: str, level: str = "info") -> None:
        message = printable(message)
        style = {"warning": "yellow", "error": "red"}.get(level, "dim")
        if self.live:
            self._progress.console.print(Text(message, style=style))
        else:
            self.console.print(f"[{level}] {message}", markup=False, highlight=False)

    def on_error(self, stage: str, error: str) -> None:
        self._progress.update(self._task(stage), detail="failed")
        self.console.print(Text.assemble((f"error in {stage}: ", "red"), printable(error)))

    def on_metrics(self, stage: str, metrics: dict[str, Any]) -> None:
        line = metrics_line(metrics)
        step, total = metrics.get("step"), metrics.get("total_steps")
        if isinstance(step, int) and isinstance(total, int) and total > 0:
            self._progress.update(self._task(stage), completed=step, total=total, detail=line)
        else:
            self._progress.update(self._task(stage), detail=line)
        if not self.live:
            self.console.print(f"[{stage}] {line}", markup=False, highlight=False)

    def close(self) -> None:
        """Stop the live display."""
        if self._started:
            self._progress.stop()
            self._started = False

    def print_summary(self, summary: RunSummary) -> None:
        """FR-4.4: the final table (golden data, rules, training)."""
        self.close()
        table = Table(title=Text(f"VectorTrainer run: {printable(summary.function_name)}"))
        table.add_column("stage")
        table.add_column("result")
        for stage, result in summary.stages.items():
            table.add_row(Text(stage), Text(_stage_detail(result)))
        for error in summary.errors:
            table.add_row(Text(error.stage, style="red"), Text(error.error, style="red"))
        table.add_row(Text("run directory"), Text(summary.run_dir))
        self.console.print(table)
        trained = summary.train
        adapter = trained.artifacts.get("adapter_dir") if trained else None
        if adapter:
            self.console.print(Text(f"trained adapter: {adapter}", style="green"))
        elif trained and trained.fine_tuned_model:
            self.console.print(Text(f"fine-tuned model: {trained.fine_tuned_model}", style="green"))


def _stage_detail(result: StageResult) -> str:
    """One line on a stage's result."""
    if isinstance(result, SkippedStage):
        return f"skipped: {result.reason}"
    if isinstance(result, ExtractResult):
        return f"Steady: {result.steady} | Anomaly: {result.anomaly} | Total: {result.examples}"
    if isinstance(result, SynthesizeResult):
        test = result.self_test
        hook = result.hook_version or ("not activated" if result.hook_not_activated else "-")
        return (
            f"rules: {result.rules} | conflicts: {result.conflicts} | "
            f"fixes {test.fixed_exactly}/{test.pairs} pairs exactly | hook {hook}"
        )
    if isinstance(result, TrainResult):
        cost = result.cost or {}
        usd = cost.get("estimated_usd")
        price = f"${usd:.4f}{'' if cost.get('exact', True) else ' (upper bound)'}" if usd is not None else "n/a"
        job = result.job_id or ("dry run" if result.mode == "dry_run" else "-")
        return f"{result.mode} | est. cost {price} | job {job} | {result.status}"
    if isinstance(result, GateResult):
        return f"hook: {result.hook.decision.reason} | model: {result.model.decision.reason}"
    return result.status
