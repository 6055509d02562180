"""``train``, ``status``, ``cancel``, ``cost`` and ``dashboard``: arguments -> config -> library calls."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vector_trainer._layout import function_dirname
from vector_trainer.cli.commands import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    base_config,
    in_run,
    trainer_flags,
)
from vector_trainer.config import DEFAULT_TRAIN_ROOT, Config, with_overrides
from vector_trainer.errors import InputError, VectorTrainerError

#: Random bytes in the dashboard's session token (printed base64url, about 32 characters).
DASHBOARD_TOKEN_BYTES = 24


def _trainer_config(args: argparse.Namespace) -> Config:
    config = base_config(args)
    return with_overrides(config, "trainer", name=getattr(args, "trainer", None), **trainer_flags(args))


def default_train_dir(file: str | os.PathLike[str]) -> Path:
    """``vectortrainer-train/<dir>-<stem>``: two runs' ``golden.jsonl`` never share a directory."""
    path = Path(file).resolve()
    label = f"{path.parent.name}-{path.stem}" if path.parent.name else path.stem
    return Path(DEFAULT_TRAIN_ROOT) / function_dirname(label)


def cmd_train(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer train FILE``: the training stage alone, resumable."""
    from vector_trainer.dashboard.terminal import CLIDashboard
    from vector_trainer.pipeline.orchestrator import TrainingPipeline
    from vector_trainer.training.registry import trainer_from_config

    config = with_overrides(_trainer_config(args), "pipeline", poll_interval_s=args.poll_interval)
    if not Path(args.file).is_file():
        raise InputError(f"{args.file}: no such file (a chat-format JSONL, e.g. a golden.jsonl from 'run')")
    out = Path(args.out) if args.out else default_train_dir(args.file)
    trainer = trainer_from_config(in_run(config, out).trainer)
    dashboard = CLIDashboard(console)
    pipeline = TrainingPipeline(None, None, trainer, monitor=dashboard, poll_interval_s=config.pipeline.poll_interval_s)
    try:
        summary = pipeline.train(args.file, out, validation_path=args.validation_file, wait=args.wait)
    except KeyboardInterrupt:
        dashboard.close()
        console.print(f"interrupted; run the same command again to resume from {out}")
        return EXIT_INTERRUPTED
    except VectorTrainerError:
        dashboard.close()
        raise
    dashboard.print_summary(summary)
    return EXIT_OK


def _job_and_trainer(args: argparse.Namespace) -> tuple[str, Any, dict[str, Any] | None]:
    """The job id and a trainer that can reach it; for a dry-run directory, its plan instead."""
    from vector_trainer.pipeline.rundir import read_run_state
    from vector_trainer.training.registry import trainer_class, trainer_from_config

    target = Path(args.target)
    config = base_config(args)
    name = args.trainer
    training: dict[str, Any] | None = None
    if target.is_dir():
        training = read_run_state(target).get("training")
        if not isinstance(training, dict) or not training:
            raise InputError(f"{target} holds no training state (no state.json with a training stage)")
        if training.get("mode") == "dry_run" or not training.get("job_id"):
            return "", None, training
        name = training.get("trainer", name)
        job_id = str(training["job_id"])
    else:
        job_id = args.target
    options: dict[str, Any] = {"jobs_dir": args.jobs_dir} if args.jobs_dir else {}
    endpoint = args.base_url or (training or {}).get("base_url") if target.is_dir() else args.base_url
    if endpoint and name == "openai" and "***" not in str(endpoint):  # a redacted URL cannot be used again
        options["base_url"] = endpoint
    if not options and target.is_dir():  # a run's own files (local jobs), where the run has them
        own = trainer_class(name or config.trainer.name).run_options(target)
        options = own if all(Path(v).is_dir() for v in own.values()) else {}
    if name and name != config.trainer.name:
        config = with_overrides(config, "trainer", name=name)
    config = with_overrides(config, "trainer", **options)
    return job_id, trainer_from_config(config.trainer), None


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer status TARGET``: a job's state and its latest metrics."""
    job_id, trainer, plan = _job_and_trainer(args)
    if trainer is None:
        console.print_json(json.dumps(plan))
        return EXIT_OK
    status = trainer.get_status(job_id)
    table = Table("field", "value", title=f"job {job_id}")
    for key, value in status.items():
        table.add_row(Text(str(key)), Text(str(value)))
    console.print(table)
    metrics = trainer.metrics(job_id)
    if metrics:
        console.print(f"{len(metrics)} metric steps; last: {json.dumps(metrics[-1])}")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer cancel TARGET``: cancel a job (remote or local)."""
    job_id, trainer, _plan = _job_and_trainer(args)
    if trainer is None:
        raise InputError(f"{args.target} is a dry run: no job was submitted, so there is nothing to cancel")
    outcome = trainer.cancel(job_id)
    console.print(f"job {job_id}: {outcome.get('status', 'cancel requested')}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer dashboard [RUN_DIR]``: the Streamlit app on localhost.

    The process replaces itself with Streamlit (``exec``), so stopping it by its PID, Ctrl-C or
    a service manager stops the server too: nothing is left serving. A fresh token in the
    server's environment unlocks rollback for the printed URL only.
    """
    import importlib.util
    import secrets

    from vector_trainer.dashboard.runview import DASHBOARD_TOKEN_ENV, DASHBOARD_TOKEN_PARAM
    from vector_trainer.errors import MissingDependencyError

    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError("streamlit", "web", "The web dashboard")
    app = Path(str(resources.files("vector_trainer.dashboard").joinpath("webapp.py")))
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.enableXsrfProtection", "true", "--client.toolbarMode", "minimal",
        "--", "--runs", str(Path(args.run_dir).resolve()),
    ]  # fmt: skip
    token = secrets.token_urlsafe(DASHBOARD_TOKEN_BYTES)
    console.print(f"dashboard on http://{args.host}:{args.port}/?{DASHBOARD_TOKEN_PARAM}={token} (Ctrl-C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, {**os.environ, DASHBOARD_TOKEN_ENV: token})
    return EXIT_OK  # not reached: execve replaced this process


def cmd_cost(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer cost FILE``: the token count and price of fine-tuning on a file."""
    from vector_trainer.training.costguard import check_budget, check_budget_value, estimate_cost

    check_budget_value(args.budget, "--budget")
    estimate = estimate_cost(args.file, args.model, args.epochs, usd_per_million=args.price_per_million)
    if args.json:
        console.print_json(json.dumps(estimate.to_dict()))
    else:
        bound = "" if estimate.exact else " (upper bound)"
        console.print(
            f"{estimate.n_examples} examples, {estimate.tokens_per_epoch:,} tokens/epoch x {estimate.n_epochs} epochs "
            f"= {estimate.total_tokens:,} tokens on {estimate.model}: "
            f"${estimate.estimated_usd:.4f}{bound}\n{estimate.note}"
        )
    check_budget(estimate, args.budget, refused="a training run with this budget would refuse it")
    return EXIT_OK
