"""The run directory's and the hook directory's file names: written here once, read everywhere.

A run directory (one per function and run)::

    golden.jsonl, golden.validation.jsonl, golden.report.json   extractor output
    rules.json                                                 synthesizer report
    hook/generated_prompt_hook.py, hook/.hook_versions/         the hook and its versions
    projection.json                                            2-D PCA of the log vectors (dashboard)
    cost.json                                                  the cost estimate
    evaluation.json                                            the gate's evaluations and decisions
    state.json                                                 stages and the training job
    events.jsonl                                               monitor events
    summary.json                                               the final summary
    jobs/<id>/                                                 local training jobs (local-lora)
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

GOLDEN_FILENAME = "golden.jsonl"
RULES_FILENAME = "rules.json"
COST_FILENAME = "cost.json"
PROJECTION_FILENAME = "projection.json"
STATE_FILENAME = "state.json"
SUMMARY_FILENAME = "summary.json"
EVALUATION_FILENAME = "evaluation.json"
#: Where a run directory keeps its local training jobs (``local-lora``: the adapter lands in the run).
RUN_JOBS_DIRNAME = "jobs"
#: A function's live directory (gated runs, ``vectortrainer loop``): ``hook/`` (the live hook and
#: its versions), ``models/`` (the model registry), ``cycles/cNNNN`` (the loop's run directories),
#: ``loop.json`` (the loop's watermark and cycles) and ``novelty.npz`` (what the last cycle saw).
MODELS_DIRNAME = "models"
CYCLES_DIRNAME = "cycles"
LOOP_STATE_FILENAME = "loop.json"
NOVELTY_FILENAME = "novelty.npz"
EVENTS_FILENAME = "events.jsonl"
HOOK_DIRNAME = "hook"
HOOK_FILENAME = "generated_prompt_hook.py"
VERSION_DIRNAME = ".hook_versions"
MANIFEST_FILENAME = "manifest.json"
LOCK_FILENAME = ".lock"
#: Longest readable part of a function's directory name.
MAX_SLUG_CHARS = 60
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_HASH_CHARS = 8
#: Files whose presence makes a directory a run directory (for the dashboard's discovery).
RUN_MARKERS = (STATE_FILENAME, SUMMARY_FILENAME, EVENTS_FILENAME)


def report_path(train_path: str | os.PathLike[str]) -> Path:
    """The selection report beside a training file: ``golden.jsonl`` -> ``golden.report.json``."""
    path = Path(train_path)
    return path.with_name(f"{path.stem}.report.json")


def validation_path(train_path: str | os.PathLike[str]) -> Path:
    """The validation file beside a training file: ``golden.validation.jsonl``."""
    path = Path(train_path)
    return path.with_name(f"{path.stem}.validation.jsonl")


def hook_paths(hook_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(version directory, active hook file)`` of a hook directory."""
    base = Path(hook_dir)
    return base / VERSION_DIRNAME, base / HOOK_FILENAME


def run_hook_dir(run_dir: str | os.PathLike[str]) -> Path:
    """The hook directory of a run directory."""
    return Path(run_dir) / HOOK_DIRNAME


def function_dirname(function_name: str) -> str:
    """A safe, unique directory name for a function: a readable slug plus a short hash.

    Any name (``../../victim``, an absolute path, 300 characters, NUL, ANSI escapes) becomes one
    path component of ``[A-Za-z0-9._-]`` that never starts with a dot; two names never share a
    directory. The real name is kept in the run's files (``state.json``, ``summary.json``).
    """
    slug = _UNSAFE.sub("-", function_name).replace("..", "-").strip(".-")[:MAX_SLUG_CHARS].strip(".-") or "function"
    digest = hashlib.sha256(function_name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    return f"{slug}-{digest}"
