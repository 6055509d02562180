"""Read run directories for the dashboards, tolerating runs that are empty, in progress or
damaged: every missing or unreadable piece is reported in ``RunView.problems`` in words,
never raised. No Streamlit here, so it is tested like any other module.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer._layout import (
    COST_FILENAME,
    CYCLES_DIRNAME,
    EVALUATION_FILENAME,
    EVENTS_FILENAME,
    GOLDEN_FILENAME,
    LOOP_STATE_FILENAME,
    MODELS_DIRNAME,
    PROJECTION_FILENAME,
    RULES_FILENAME,
    RUN_MARKERS,
    STATE_FILENAME,
    SUMMARY_FILENAME,
)
from vector_trainer.errors import VectorTrainerError
from vector_trainer.fileio import loads_strict
from vector_trainer.gate.registry import ModelRegistry
from vector_trainer.pipeline.results import RunSummary
from vector_trainer.synthesizer.versions import HookVersionManager, open_hook_versions

REPORT_FILENAME = _layout.report_path(GOLDEN_FILENAME).name
MAX_EXAMPLES_SHOWN = 500
#: Environment variable holding the session token that unlocks the dashboard's write actions.
DASHBOARD_TOKEN_ENV = "VECTORTRAINER_DASHBOARD_TOKEN"
#: Query parameter of the dashboard URL that carries the token.
DASHBOARD_TOKEN_PARAM = "token"


def _is_step(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def write_actions_allowed(presented: str | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a browser session may change anything (roll back a hook).

    ``vectortrainer dashboard`` puts a fresh random token in the server's environment (never on
    its command line, which other local users can read) and prints the URL that carries it, as
    Jupyter does. Any other local process can reach the Streamlit websocket, but without the
    token it can only read; with no token configured, the dashboard is read-only.
    """
    expected = (os.environ if environ is None else environ).get(DASHBOARD_TOKEN_ENV, "")
    return bool(expected) and presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


@dataclass
class RunView:
    """Everything the dashboard shows about one run directory."""

    path: Path
    state: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    projection: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Label of the run (its function name, or the directory name)."""
        return str(self.state.get("function_name") or self.summary.get("function_name") or self.path.name)

    @property
    def damage(self) -> list[str]:
        """The problems that are damage (an unreadable or misshapen file), not a file that is
        simply not written yet."""
        return [p for p in self.problems if not p.startswith("no ") and "not written yet" not in p]

    @property
    def run_summary(self) -> RunSummary | None:
        """``summary.json`` as the typed summary (``None`` before the run ends, or when the file
        is too damaged to read; :attr:`problems` says so)."""
        if not self.summary:
            return None
        try:
            return RunSummary.from_dict(self.summary)
        except (VectorTrainerError, TypeError, ValueError, AttributeError, KeyError):
            return None

    @property
    def status(self) -> str:
        """``ok``/``failed`` when finished, ``in progress`` while stages run, ``empty`` otherwise."""
        summary = self.run_summary
        if summary is not None and summary.status:
            return summary.status
        return "in progress" if self.state or self.events else "empty"

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """Training metrics in step order, from the event stream (live) or the summary."""
        rows = [e["metrics"] for e in self.events if e.get("kind") == "metrics" and isinstance(e.get("metrics"), dict)]
        if not rows:
            overview = self.summary.get("overview")
            training = overview.get("training") if isinstance(overview, dict) else None
            stored = training.get("metrics") if isinstance(training, dict) else None
            rows = [row for row in stored if isinstance(row, dict)] if isinstance(stored, list) else []
        by_step = {row.get("step"): row for row in rows if _is_step(row.get("step"))}
        return [by_step[k] for k in sorted(by_step, key=lambda s: (s is None, s or 0))]

    @property
    def training(self) -> dict[str, Any]:
        """The training stage's record (job id, status, model), without any secret."""
        training = dict(self.state.get("training") or {})
        plan = training.get("would_submit")
        if isinstance(plan, dict) and "api_key" in plan:
            training["would_submit"] = {k: v for k, v in plan.items() if k != "api_key"}
        return training

    def hook_manager(self) -> HookVersionManager:
        """The run's hook version manager."""
        return open_hook_versions(_layout.run_hook_dir(self.path))

    @property
    def live_home(self) -> Path | None:
        """The function's live directory (live hook, model registry, loop state) of a gated
        run: named in its gate stage (when the run lies inside it), or the parent of a loop
        cycle's ``cycles/`` directory."""
        summary = self.run_summary
        gate = summary.gate if summary is not None else None
        if gate is not None and isinstance(gate.live_dir, str) and gate.live_dir:
            named = Path(gate.live_dir)
            # a state file is not trusted with a path: only a directory the run lies inside counts
            if named.resolve() in self.path.resolve().parents:
                return named
        if self.path.parent.name == CYCLES_DIRNAME:
            return self.path.parent.parent
        return None


@dataclass
class LiveView:
    """A function's live state: its model registry, its live hook and the loop's cycles."""

    home: Path
    loop: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def registry(self) -> ModelRegistry:
        """The function's model registry (it may be empty)."""
        return ModelRegistry(self.home / MODELS_DIRNAME)

    def hook_manager(self) -> HookVersionManager:
        """The live hook's version manager."""
        return open_hook_versions(self.home / _layout.HOOK_DIRNAME)

    @property
    def cycles(self) -> list[dict[str, Any]]:
        """The loop's finished cycles, oldest first (well-formed entries only)."""
        cycles = self.loop.get("cycles")
        return [c for c in cycles if isinstance(c, dict)] if isinstance(cycles, list) else []


def load_live(home: str | os.PathLike[str]) -> LiveView:
    """Read a function's live directory; an unreadable ``loop.json`` becomes a problem."""
    view = LiveView(Path(home))
    path = view.home / LOOP_STATE_FILENAME
    if path.exists():
        try:
            data = loads_strict(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            view.problems.append(f"{LOOP_STATE_FILENAME} cannot be read ({exc}); the loop's cycles are unavailable")
        else:
            if isinstance(data, dict):
                view.loop = data
            else:
                view.problems.append(f"{LOOP_STATE_FILENAME} is not a JSON object; the loop's cycles are unavailable")
    return view


#: The type each top-level key the dashboards read must have; a key of another type (a damaged
#: or hand-edited file) is dropped with a problem instead of breaking the page.
EXPECTED_SHAPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    STATE_FILENAME: {"function_name": str, "stages": dict, "training": dict},
    SUMMARY_FILENAME: {"function_name": str, "status": str, "stages": dict, "overview": dict},
    REPORT_FILENAME: {"examples": dict, "logs": dict, "graph": dict, "selected": list},
    PROJECTION_FILENAME: {"points": list, "explained_variance_ratio": list},
    RULES_FILENAME: {"rules": list, "conflicts": list},
    COST_FILENAME: {"estimated_usd": (int, float), "exact": bool},
    EVALUATION_FILENAME: {"hook": dict, "model": dict},
}
_JSON_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true or false"}


def _type_name(expected: type | tuple[type, ...]) -> str:
    return "a number" if isinstance(expected, tuple) else _JSON_TYPE_NAMES.get(expected, expected.__name__)


def _drop_misshapen(view: RunView, name: str, data: dict[str, Any]) -> dict[str, Any]:
    for key, expected in EXPECTED_SHAPES.get(name, {}).items():
        value = data.get(key)
        if value is None:
            continue
        wrong = not isinstance(value, expected) or (expected is not bool and isinstance(value, bool))
        if not wrong and expected is dict and key == "stages":
            wrong = not all(isinstance(stage, dict) for stage in value.values())
        if wrong:
            view.problems.append(f"{name}: '{key}' is not {_type_name(expected)}; ignored (the file is damaged)")
            data.pop(key)
    return data


def _load_json(view: RunView, name: str, what: str) -> dict[str, Any]:
    path = view.path / name
    if not path.exists():
        view.problems.append(f"no {name}: {what} not written yet")
        return {}
    try:
        data = loads_strict(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError covers bad UTF-8 and every JSON failure
        view.problems.append(f"{name} cannot be read ({exc}); {what} unavailable")
        return {}
    if not isinstance(data, dict):
        view.problems.append(f"{name} is not a JSON object; {what} unavailable")
        return {}
    return _drop_misshapen(view, name, data)


def _read_lines(view: RunView, path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        view.problems.append(f"{path.name} cannot be read ({exc.strerror or exc})")
        return []


def _load_events(view: RunView) -> list[dict[str, Any]]:
    path = view.path / EVENTS_FILENAME
    if not path.exists():
        view.problems.append(f"no {EVENTS_FILENAME}: no progress events recorded yet")
        return []
    events, bad = [], 0
    for line in _read_lines(view, path):
        if not line.strip():
            continue
        try:
            event = loads_strict(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(event, dict):
            events.append(event)
        else:
            bad += 1
    if bad:
        view.problems.append(f"{EVENTS_FILENAME}: skipped {bad} corrupted line(s)")
    return events


def _load_examples(view: RunView) -> list[dict[str, Any]]:
    path = view.path / GOLDEN_FILENAME
    if not path.exists():
        return []
    selected = view.report.get("selected", [])
    picked = sum(1 for s in selected if isinstance(s, dict) and s.get("split", "train") == "train")
    rows = []
    for index, line in enumerate(_read_lines(view, path)[:MAX_EXAMPLES_SHOWN]):
        try:
            messages = {m["role"]: m["content"] for m in loads_strict(line)["messages"]}
        except (ValueError, KeyError, TypeError):
            view.problems.append(f"{GOLDEN_FILENAME}: line {index + 1} is not a chat example")
            continue
        meta = selected[index] if index < len(selected) and isinstance(selected[index], dict) else {}
        rows.append(
            {  # the lines after the picks are feedback pairs, trained on with their fixes
                "strategy": meta.get("strategy", "") if index < picked else "feedback",
                "density": meta.get("density"),
                "score": meta.get("score"),
                "user": messages.get("user", ""),
                "assistant": messages.get("assistant", ""),
                "uuid": meta.get("uuid", ""),
            }
        )
    return rows


def load_run(path: str | os.PathLike[str]) -> RunView:
    """Read one run directory; missing or damaged files become ``problems``."""
    view = RunView(Path(path))
    if not view.path.is_dir():
        view.problems.append(f"{view.path} is not a directory")
        return view
    view.state = _load_json(view, STATE_FILENAME, "stage states")
    view.summary = _load_json(view, SUMMARY_FILENAME, "the final summary (the run may still be in progress)")
    view.report = _load_json(view, REPORT_FILENAME, "the selection report")
    view.projection = _load_json(view, PROJECTION_FILENAME, "the 2-D projection")
    view.rules = _load_json(view, RULES_FILENAME, "the rule set (no feedback given, or not synthesized yet)")
    view.cost = _load_json(view, COST_FILENAME, "the cost estimate")
    if (view.path / EVALUATION_FILENAME).exists():  # gated runs only
        view.evaluation = _load_json(view, EVALUATION_FILENAME, "the gate's evaluation")
    view.events = _load_events(view)
    view.examples = _load_examples(view)
    if view.report and view.report.get("examples", {}).get("written", 0) == 0:
        view.problems.append("the run selected zero examples")
    return view


def discover_runs(root: str | os.PathLike[str]) -> list[Path]:
    """Run directories under ``root`` (``root`` itself included), newest first."""
    base = Path(root)
    if not base.is_dir():
        return []
    candidates = [base, *sorted(p for p in base.rglob("*") if p.is_dir() and ".hook_versions" not in p.parts)]
    runs = [p for p in candidates if any((p / marker).exists() for marker in RUN_MARKERS)]
    return sorted(
        runs, key=lambda p: max((p / m).stat().st_mtime for m in RUN_MARKERS if (p / m).exists()), reverse=True
    )
