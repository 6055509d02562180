"""The ``vectortrainer`` command line: a thin layer over the library.

Exit codes: 0 success, 1 a stage or backend failed, 2 bad input or configuration,
130 interrupted (the run directory is left resumable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vector_trainer import __version__
from vector_trainer.config import Config, load_config, with_overrides
from vector_trainer.errors import ConfigError, EmptyDataError, InputError, VectorTrainerError
from vector_trainer.types import FeedbackPair

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
DEMO_LOGS = "demo_logs.jsonl.gz"
DEMO_FEEDBACK = "demo_feedback.jsonl"
DEMO_STORE = Path(".vectortrainer") / "demo.db"
DEFAULT_STORE_HELP = os.fspath(Path(".vectortrainer") / "logs.db")


def _demo_file(name: str) -> Path:
    return Path(str(resources.files("vector_trainer").joinpath("demo", name)))


# -- run ---------------------------------------------------------------------------------------


def _build_source(config: Config) -> Any:
    if config.source.kind == "sqlite":
        from vector_trainer.store import SQLiteLogStore

        return SQLiteLogStore(config.source.store)
    if config.source.kind == "vectorwave":
        from vector_trainer.sources import connect_vectorwave

        return connect_vectorwave()
    raise ConfigError(f"unknown source.kind '{config.source.kind}'; choose sqlite or vectorwave")


def _feedback_for(pairs: Sequence[FeedbackPair], function_name: str) -> list[FeedbackPair]:
    return [p for p in pairs if p.context.get("function_name") in (None, function_name)]


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from vector_trainer.dashboard import CLIDashboard
    from vector_trainer.extractor import DensityBasedExtractor
    from vector_trainer.pipeline import TrainingPipeline
    from vector_trainer.synthesizer import (
        FeedbackDiffAnalyzer,
        HookScriptGenerator,
        RuleSetSynthesizer,
        load_feedback,
    )
    from vector_trainer.trainers import create_trainer

    config = load_config(args.config) if args.config else Config()
    config = with_overrides(config, "source", store=args.store, kind=args.source)
    config = with_overrides(
        config,
        "extractor",
        epsilon=args.epsilon,
        top_k=args.top_k,
        engine=args.engine,
        system_prompt=args.system_prompt,
    )
    config = with_overrides(
        config,
        "trainer",
        name=args.trainer,
        model=args.model,
        max_budget_usd=args.budget,
        n_epochs=args.epochs,
    )
    config = with_overrides(
        config,
        "run",
        out=args.out,
        functions=args.function or None,
        feedback=args.feedback,
        wait=args.wait or None,
        register_golden=args.register_golden or None,
    )
    if args.demo:
        config = _prepare_demo(config, console)
    source = _build_source(config)
    functions = config.run.functions or source.list_functions()
    if not functions:
        raise EmptyDataError(
            f"the store {config.source.store} holds no logs. Import some with 'vectortrainer ingest FILE', "
            "or try 'vectortrainer demo'"
        )
    pairs = load_feedback(config.run.feedback) if config.run.feedback else []
    ex = config.extractor
    extractor = DensityBasedExtractor(
        source,
        epsilon=ex.epsilon,
        top_k=ex.top_k,
        min_cluster_size=ex.min_cluster_size,
        dedup_threshold=ex.dedup_threshold,
        anomaly_quantile=ex.anomaly_quantile,
        engine=ex.engine,
        ann_threshold=ex.ann_threshold,
        system_prompt=ex.system_prompt,
        validation_fraction=ex.validation_fraction,
        strict=ex.strict,
    )
    sy = config.synthesizer
    synthesizer = RuleSetSynthesizer(FeedbackDiffAnalyzer(), sy.min_support, sy.max_phrase_words)
    tr = config.trainer
    trainer_options = {k: v for k, v in vars(tr).items() if k != "name" and v is not None}
    trainer = create_trainer(tr.name, **trainer_options)
    failures = 0
    for function_name in functions:
        dashboard = CLIDashboard(console)
        pipeline = TrainingPipeline(
            extractor,
            synthesizer,
            trainer,
            monitor=dashboard,
            hook_generator=HookScriptGenerator(inject_instructions=sy.inject_instructions),
            register_golden=config.run.register_golden,
            poll_interval_s=args.poll_interval,
        )
        run_dir = Path(config.run.out) / function_name
        try:
            summary = pipeline.run(function_name, _feedback_for(pairs, function_name), run_dir, wait=config.run.wait)
        except VectorTrainerError as exc:
            dashboard.close()
            console.print(Text(f"{function_name}: {exc}", style="red"))
            failures += 1
            continue
        except KeyboardInterrupt:
            dashboard.close()
            console.print(f"interrupted; run the same command again to resume from {run_dir}")
            return EXIT_INTERRUPTED
        dashboard.print_summary(summary)
    return EXIT_FAILED if failures else EXIT_OK


def _prepare_demo(config: Config, console: Console) -> Config:
    from vector_trainer.embedders import HashingEmbedder
    from vector_trainer.ingest import ingest_file
    from vector_trainer.store import SQLiteLogStore

    store_path = config.source.store if config.source.store != str(Config().source.store) else str(DEMO_STORE)
    with SQLiteLogStore(store_path) as store:
        summary = ingest_file(_demo_file(DEMO_LOGS), store, HashingEmbedder(), vector_space="all-MiniLM-L6-v2")
    console.print(
        f"demo: {summary.inserted + summary.updated} logs of {', '.join(summary.functions)} in {store_path}",
    )
    config = with_overrides(config, "source", store=store_path, kind="sqlite")
    if config.run.feedback is None:
        config = with_overrides(config, "run", feedback=str(_demo_file(DEMO_FEEDBACK)))
    return config


# -- ingest, functions -----------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace, console: Console) -> int:
    from vector_trainer.embedders import make_embedder
    from vector_trainer.ingest import ingest_file
    from vector_trainer.store import SQLiteLogStore

    embedder = make_embedder(args.embedder, model_path=args.embedding_model)
    with SQLiteLogStore(args.store) as store:
        summary = ingest_file(args.file, store, embedder, vector_space=args.vector_space)
    console.print(
        f"imported {summary.inserted} new and {summary.updated} updated logs "
        f"({', '.join(summary.functions)}) into {args.store}",
        highlight=False,
    )
    return EXIT_OK


def cmd_functions(args: argparse.Namespace, console: Console) -> int:
    from vector_trainer.store import SQLiteLogStore

    with SQLiteLogStore(args.store) as store:
        table = Table("function", "logs", "vectors")
        for name in store.list_functions():
            space = store.vector_space(name)
            table.add_row(name, str(store.count(name)), f"{space[1]}-d {space[0]}" if space else "none")
        console.print(table)
    return EXIT_OK


# -- synthesize, hooks -------------------------------------------------------------------------------


def cmd_synthesize(args: argparse.Namespace, console: Console) -> int:
    from vector_trainer.fileio import atomic_write_json
    from vector_trainer.synthesizer import (
        HOOK_FILENAME,
        HookScriptGenerator,
        RuleSetSynthesizer,
        load_feedback,
    )

    pairs = load_feedback(args.feedback)
    result = RuleSetSynthesizer(min_support=args.min_support).synthesize(pairs)
    out = Path(args.out)
    atomic_write_json(out / "rules.json", result.to_dict())
    hook = HookScriptGenerator().generate(
        result.rules, out / HOOK_FILENAME, feedback_pairs=result.consistent_pairs(pairs)
    )
    table = Table("kind", "target", "replacement", "support")
    for rule in result.rules:
        table.add_row(rule.kind.value, repr(rule.target), repr(rule.replacement), str(rule.support))
    console.print(table)
    for conflict in result.conflicts:
        console.print(
            f"conflict ({conflict.kind}): kept {conflict.kept}, dropped {conflict.dropped}: {conflict.reason}"
        )
    version = hook.version.version_id if hook.version else "unversioned"
    console.print(
        f"{len(result.rules)} rules from {len(pairs)} pairs -> {hook.path} ({version}); "
        f"self-test fixed {hook.self_test.fixed_exactly}/{hook.self_test.pairs} pairs exactly",
        highlight=False,
    )
    return EXIT_OK


def _hook_manager(directory: str) -> Any:
    from vector_trainer.hook_versions import HookVersionManager
    from vector_trainer.synthesizer import HOOK_FILENAME, VERSION_DIRNAME

    base = Path(directory)
    return HookVersionManager(base / VERSION_DIRNAME, base / HOOK_FILENAME)


def cmd_hooks(args: argparse.Namespace, console: Console) -> int:
    manager = _hook_manager(args.dir)
    if args.hooks_command == "list":
        table = Table("version", "created", "rules", "sha256", "active")
        for version in manager.list_versions():
            table.add_row(
                version.version_id,
                version.created_at,
                str(version.rule_count),
                version.sha256[:12],
                "*" if version.active else "",
            )
        console.print(table)
        for problem in manager.verify():
            console.print(Text.assemble(("warning: ", "yellow"), problem))
    elif args.hooks_command == "rollback":
        version = manager.rollback(args.version)
        console.print(f"active hook is now {version.version_id} ({manager.active_path})")
    elif args.hooks_command == "diff":
        console.print(manager.diff(args.a, args.b) or "(identical)")
    return EXIT_OK


# -- train, status ---------------------------------------------------------------------------------


def _trainer_from_args(args: argparse.Namespace) -> Any:
    from vector_trainer.trainers import create_trainer

    options: dict[str, Any] = {"model": args.model} if getattr(args, "model", None) else {}
    if getattr(args, "budget", None) is not None:
        options["max_budget_usd"] = args.budget
    if getattr(args, "epochs", None) is not None:
        options["n_epochs"] = args.epochs
    return create_trainer(args.trainer, **options)


def cmd_train(args: argparse.Namespace, console: Console) -> int:
    from vector_trainer.dashboard import CLIDashboard
    from vector_trainer.pipeline import TrainingPipeline

    trainer = _trainer_from_args(args)
    dashboard = CLIDashboard(console)
    pipeline = TrainingPipeline(None, None, trainer, monitor=dashboard, poll_interval_s=args.poll_interval)
    out = Path(args.out) if args.out else Path("vectortrainer-train") / Path(args.file).stem
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


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    from vector_trainer.pipeline import read_run_state

    target = Path(args.target)
    if target.is_dir():
        training = read_run_state(target).get("training")
        if not training:
            raise InputError(f"{target} holds no training state (no state.json with a training stage)")
        if training.get("mode") == "dry_run" or not training.get("job_id"):
            console.print_json(json.dumps(training))
            return EXIT_OK
        args.trainer = training.get("trainer", args.trainer)
        job_id = str(training["job_id"])
    else:
        job_id = args.target
    trainer = _trainer_from_args(args)
    status = trainer.get_status(job_id)
    table = Table("field", "value", title=f"job {job_id}")
    for key, value in status.items():
        table.add_row(Text(str(key)), Text(str(value)))
    console.print(table)
    metrics = trainer.metrics(job_id)
    if metrics:
        last = metrics[-1]
        console.print(f"{len(metrics)} metric steps; last: {json.dumps(last)}")
    return EXIT_OK


# -- dashboard ---------------------------------------------------------------------------------------


def cmd_dashboard(args: argparse.Namespace, console: Console) -> int:
    import importlib.util
    import subprocess

    from vector_trainer.errors import MissingDependencyError

    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError("streamlit", "web", "The web dashboard")
    app = Path(str(resources.files("vector_trainer").joinpath("webapp.py")))
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--", "--runs", str(Path(args.run_dir).resolve()),
    ]  # fmt: skip
    console.print(f"dashboard on http://{args.host}:{args.port} (Ctrl-C to stop)")
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return EXIT_OK


# -- cost ------------------------------------------------------------------------------------------


def cmd_cost(args: argparse.Namespace, console: Console) -> int:
    from vector_trainer.costguard import check_budget, estimate_cost

    estimate = estimate_cost(args.file, args.model, args.epochs, usd_per_million=args.price_per_million)
    if args.json:
        console.print_json(json.dumps(estimate.to_dict()))
    else:
        bound = "" if estimate.exact else " (upper bound)"
        console.print(
            f"{estimate.n_examples} examples, {estimate.tokens_per_epoch:,} tokens/epoch x {estimate.n_epochs} epochs "
            f"= {estimate.total_tokens:,} tokens on {estimate.model}: "
            f"${estimate.estimated_usd:.4f}{bound}\n{estimate.note}",
            highlight=False,
        )
    check_budget(estimate, args.budget)
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------------------


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (sections mirror the constructor arguments)")
    p.add_argument("--source", choices=["sqlite", "vectorwave"], help="log source (default: sqlite)")
    p.add_argument("--store", help=f"embedded store path (default: {DEFAULT_STORE_HELP})")
    p.add_argument("--function", action="append", help="function to process (repeatable; default: all)")
    p.add_argument("--feedback", help="feedback JSONL (bad_output, fixed_output, ...) for the hook")
    p.add_argument("--out", help="run directory root (default: vectortrainer-run)")
    p.add_argument("--epsilon", type=float, help="neighbourhood radius: neighbours have sim >= 1 - epsilon")
    p.add_argument("--top-k", type=int, help="most picks per strategy")
    p.add_argument("--engine", choices=["auto", "exact", "faiss"], help="neighbour engine")
    p.add_argument("--system-prompt", help="system message of every training example")
    p.add_argument("--trainer", help="trainer registry key (default: openai)")
    p.add_argument("--model", help="base model to fine-tune")
    p.add_argument("--budget", type=float, help="refuse to train when the estimate exceeds this many USD")
    p.add_argument("--epochs", type=int, help="training epochs (default: OpenAI's rule)")
    p.add_argument("--wait", action="store_true", help="poll the job until it finishes")
    p.add_argument("--poll-interval", type=float, default=30.0, help="seconds between polls with --wait")
    p.add_argument("--register-golden", action="store_true", help="register selections as golden data")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="vectortrainer",
        description="Select golden data from LLM logs, synthesize a correction hook from feedback, "
        "and prepare or run fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="extract -> synthesize -> train (a dry run without OPENAI_API_KEY)",
        description="Run the whole loop for every function (or --function) of the log source.",
    )
    _add_run_arguments(run)
    run.add_argument("--demo", action="store_true", help="load the bundled demo logs and feedback first")
    run.set_defaults(handler=cmd_run)

    demo = sub.add_parser("demo", help="'run' on the bundled demo data (no server, no API key)")
    _add_run_arguments(demo)
    demo.set_defaults(handler=cmd_run, demo=True)

    ingest = sub.add_parser("ingest", help="import JSONL/CSV execution records into the embedded store")
    ingest.add_argument("file", help="JSONL or CSV file (optionally .gz); see the README for the format")
    ingest.add_argument("--store", default=DEFAULT_STORE_HELP, help="store path")
    ingest.add_argument(
        "--embedder",
        default="auto",
        choices=["auto", "hashing", "local", "openai"],
        help="embeds records without a vector; auto: openai with OPENAI_API_KEY, local with "
        "--embedding-model, else hashing (lexical, offline)",
    )
    ingest.add_argument("--embedding-model", help="sentence-transformers model path for --embedder local")
    ingest.add_argument("--vector-space", default="provided", help="name of the model that made the file's vectors")
    ingest.set_defaults(handler=cmd_ingest)

    functions = sub.add_parser("functions", help="list the functions in the embedded store")
    functions.add_argument("--store", default=DEFAULT_STORE_HELP, help="store path")
    functions.set_defaults(handler=cmd_functions)

    synth = sub.add_parser("synthesize", help="feedback pairs -> rules -> versioned hook script")
    synth.add_argument("--feedback", required=True, help="feedback JSONL (bad_output, fixed_output, ...)")
    synth.add_argument("--out", required=True, help="directory for generated_prompt_hook.py and rules.json")
    synth.add_argument("--min-support", type=int, default=1, help="pairs needed before a rule is active")
    synth.set_defaults(handler=cmd_synthesize)

    _add_tool_commands(sub)
    return parser


def _add_tool_commands(sub: Any) -> None:
    hooks = sub.add_parser("hooks", help="list, roll back or diff hook versions")
    hooks_sub = hooks.add_subparsers(dest="hooks_command", required=True, metavar="ACTION")
    for name, text in (
        ("list", "list versions"),
        ("rollback", "activate a version (default: the previous one)"),
        ("diff", "diff two versions"),
    ):
        action = hooks_sub.add_parser(name, help=text)
        action.add_argument("--dir", default=".", help="directory holding generated_prompt_hook.py")
        if name == "rollback":
            action.add_argument("version", nargs="?", help="version id, e.g. v0002")
        if name == "diff":
            action.add_argument("a", help="older version id")
            action.add_argument("b", help="newer version id")
    hooks.set_defaults(handler=cmd_hooks)

    train = sub.add_parser("train", help="fine-tune on a chat JSONL file (resumable run directory)")
    train.add_argument("file", help="chat-format JSONL, e.g. a golden.jsonl from 'run'")
    train.add_argument("--trainer", default="openai", help="trainer registry key (openai, local-lora, ...)")
    train.add_argument("--model", help="base model (name for openai; a local path for local-lora)")
    train.add_argument("--budget", type=float, help="refuse to upload when the estimate exceeds this many USD")
    train.add_argument("--epochs", type=int, help="training epochs (default: OpenAI's rule)")
    train.add_argument("--validation-file", help="chat-format JSONL for validation")
    train.add_argument("--out", help="run directory (default: vectortrainer-train/<file stem>)")
    train.add_argument("--wait", action="store_true", help="poll until the job finishes, showing metrics")
    train.add_argument("--poll-interval", type=float, default=30.0, help="seconds between polls with --wait")
    train.set_defaults(handler=cmd_train)

    status = sub.add_parser("status", help="status and metrics of a training job or run directory")
    status.add_argument("target", help="a run directory (with state.json) or a job id")
    status.add_argument("--trainer", default="openai", help="trainer registry key when TARGET is a job id")
    status.set_defaults(handler=cmd_status)

    dashboard = sub.add_parser("dashboard", help="open the web dashboard on run directories (extra 'web')")
    dashboard.add_argument("run_dir", nargs="?", default="vectortrainer-run", help="a run directory or a root of runs")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    dashboard.add_argument("--port", type=int, default=8501, help="port")
    dashboard.set_defaults(handler=cmd_dashboard)

    cost = sub.add_parser("cost", help="estimate the fine-tuning cost of a chat JSONL file")
    cost.add_argument("file", help="chat-format JSONL")
    cost.add_argument("--model", required=True, help="model name (e.g. gpt-4o-mini-2024-07-18)")
    cost.add_argument("--epochs", type=int, help="epochs (default: OpenAI's rule)")
    cost.add_argument(
        "--price-per-million",
        type=float,
        help="USD per 1M tokens, for models without a known price",
    )
    cost.add_argument("--budget", type=float, help="exit 1 when the estimate exceeds this many USD")
    cost.add_argument("--json", action="store_true", help="print the estimate as JSON")
    cost.set_defaults(handler=cmd_cost)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vectortrainer`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # markup=False: file names, rules and messages are data and must print exactly as they are.
    console = Console(soft_wrap=True, markup=False, highlight=False)
    errors = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    try:
        return int(args.handler(args, console))
    except (InputError, ConfigError, EmptyDataError) as exc:
        errors.print(Text.assemble(("error: ", "red"), str(exc)))
        return EXIT_BAD_INPUT
    except VectorTrainerError as exc:
        errors.print(Text.assemble(("error: ", "red"), str(exc)))
        return EXIT_FAILED
    except KeyboardInterrupt:
        errors.print("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
