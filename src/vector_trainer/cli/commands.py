"""``run``, ``demo``, ``ingest``, ``reembed``, ``export-logs`` and ``functions``: arguments -> config ->
library calls. No domain logic lives here."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from vector_trainer._layout import CYCLES_DIRNAME, LOOP_STATE_FILENAME, function_dirname
from vector_trainer._shared import printable
from vector_trainer.cli.parser import TRAINER_FLAGS
from vector_trainer.config import DEMO_STORE, Config, SourceConfig, load_config, with_overrides
from vector_trainer.errors import EmptyDataError, InputError, MissingDependencyError, VectorTrainerError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
#: ``--strict`` (``evaluate``, ``synthesize``, ``loop``): what was asked for was not achieved.
EXIT_STRICT = 3
DEMO_LOGS = "demo_logs.jsonl.gz"
DEMO_FEEDBACK = "demo_feedback.jsonl"
DEMO_VECTOR_SPACE = "all-MiniLM-L6-v2"


def demo_file(name: str) -> Path:
    """A file of the bundled demo data."""
    return Path(str(resources.files("vector_trainer") / "demo" / name))


def trainer_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The trainer options given as flags (only those given)."""
    return {
        option: getattr(args, flag) for flag, option in TRAINER_FLAGS.items() if getattr(args, flag, None) is not None
    }


def base_config(args: argparse.Namespace) -> Config:
    """The ``--config`` file's configuration, or the defaults."""
    return load_config(args.config) if getattr(args, "config", None) else Config()


def run_config(args: argparse.Namespace) -> Config:
    """The configuration of ``run``/``demo``: the file, then the flags over it (all validated)."""
    config = base_config(args)
    config = with_overrides(config, "source", store=args.store, kind=args.source)
    config = with_overrides(
        config,
        "extractor",
        epsilon=args.epsilon,
        top_k=args.top_k,
        engine=args.engine,
        ray_address=args.ray_address,
        system_prompt=args.system_prompt,
    )
    config = with_overrides(config, "embedding", reembed=args.reembed)
    config = with_overrides(config, "trainer", name=args.trainer, **trainer_flags(args))
    config = with_overrides(
        config, "pipeline", poll_interval_s=args.poll_interval, register_golden=args.register_golden
    )
    return with_overrides(config, "run", out=args.out, functions=args.function, feedback=args.feedback, wait=args.wait)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer run`` and ``vectortrainer demo``."""
    from vector_trainer.dashboard.terminal import CLIDashboard
    from vector_trainer.pipeline.factory import build_pipeline
    from vector_trainer.sources.detect import open_source
    from vector_trainer.synthesizer.feedback import load_feedback, pairs_for_function
    from vector_trainer.training.registry import trainer_from_config

    config = run_config(args)
    if getattr(args, "demo", False):
        config = _prepare_demo(config, console)
    source = open_source(config.source, embedding=config.embedding)
    functions = functions_to_run(config, source)
    pairs = load_feedback(config.run.feedback) if config.run.feedback else []
    trainer = trainer_from_config(config.trainer)
    trainer.check_ready()
    failures = 0
    for function_name in functions:
        dashboard = CLIDashboard(console)
        run_dir = Path(config.run.out) / function_dirname(function_name)
        if (run_dir / LOOP_STATE_FILENAME).exists() or (run_dir / CYCLES_DIRNAME).is_dir():
            raise InputError(
                f"{run_dir} is a loop's live directory: its hook and models change only through the gate; "
                "give 'run' another --out"
            )
        trainer = trainer_from_config(in_run(config, run_dir).trainer)
        pipeline = build_pipeline(config, source=source, trainer=trainer, monitor=dashboard)
        shown = printable(function_name)
        try:
            summary = pipeline.run(
                function_name, pairs_for_function(pairs, function_name), run_dir, wait=config.run.wait
            )
        except VectorTrainerError as exc:
            dashboard.close()
            if isinstance(exc.__cause__, MissingDependencyError):
                raise exc.__cause__ from None  # a missing extra is a setup problem: exit 2, with the pip line
            console.print(Text(f"{shown}: {printable(str(exc))}", style="red"))
            failures += 1
            continue
        except KeyboardInterrupt:
            dashboard.close()
            console.print(f"interrupted; run the same command again to resume from {run_dir}")
            return EXIT_INTERRUPTED
        dashboard.print_summary(summary)
    for line in next_steps(config, dry_run=trainer.dry_run, feedback=bool(pairs)):
        console.print(f"next: {line}")
    return EXIT_FAILED if failures else EXIT_OK


def next_steps(config: Config, *, dry_run: bool, feedback: bool) -> list[str]:
    """What to do after a run, in one or two short lines."""
    steps = [f"see it: vectortrainer dashboard {config.run.out}"]
    if not feedback:
        steps.append("teach the hook: --feedback feedback.jsonl (bad_output -> fixed_output pairs; see the README)")
    if dry_run:
        steps.append('train for real: set OPENAI_API_KEY, or --trainer local-lora --model DIR (pip install ".[local]")')
    return steps


def in_run(config: Config, run_dir: Path) -> Config:
    """``config`` with the trainer's own files kept inside ``run_dir``
    (:meth:`~vector_trainer.training.base.BaseTrainer.run_options`) where the config does not
    place them."""
    from vector_trainer.training.registry import trainer_class

    extra = trainer_class(config.trainer.name).run_options(run_dir)
    unset = {key: value for key, value in extra.items() if key not in config.trainer.options}
    return with_overrides(config, "trainer", **unset) if unset else config


def functions_to_run(config: Config, source: Any) -> list[str]:
    """``[run] functions`` (each checked to have logs), or every function of the source.

    Raises:
        EmptyDataError: If the source holds no logs.
        InputError: Naming a requested function without logs, and the ones that have some.
    """
    known = source.list_functions()
    where = config.source.store if config.source.kind == "sqlite" else "the source"
    if not known:
        raise EmptyDataError(
            f"{where} holds no logs. Import some with 'vectortrainer ingest FILE', or try 'vectortrainer demo'"
        )
    unknown = [name for name in config.run.functions if name not in known]
    if unknown:
        listed = " (see 'vectortrainer functions')" if config.source.kind == "sqlite" else ""  # it reads stores only
        raise InputError(
            f"no logs for --function {', '.join(map(repr, unknown))} in {where}; functions with logs: "
            f"{', '.join(known)}{listed}"
        )
    return list(config.run.functions) or known


def _prepare_demo(config: Config, console: Console) -> Config:
    from vector_trainer.sources.embedders import HashingEmbedder
    from vector_trainer.sources.ingest import ingest_file
    from vector_trainer.sources.store import SQLiteLogStore

    store_path = config.source.store if config.source.store != SourceConfig.store else DEMO_STORE
    with SQLiteLogStore(store_path) as store:
        summary = ingest_file(demo_file(DEMO_LOGS), store, HashingEmbedder(), vector_space=DEMO_VECTOR_SPACE)
    loaded = summary.inserted + summary.updated
    if loaded:
        console.print(f"demo: {loaded} logs of {', '.join(summary.functions)} in {store_path}")
    else:  # a second demo: the store holds them already
        console.print(f"demo: the demo logs are already in {store_path}")
    config = with_overrides(config, "source", store=store_path, kind="sqlite")
    if config.run.feedback is None:
        config = with_overrides(config, "run", feedback=str(demo_file(DEMO_FEEDBACK)))
    return config


def embedding_config(args: argparse.Namespace) -> Config:
    """The configuration of ``ingest``/``reembed``: the file's ``[embedding]``, then the flags over it."""
    return with_overrides(
        base_config(args),
        "embedding",
        embedder=args.embedder,
        model=args.embedding_model,
        view=args.view,
        input_field=args.input_field,
        history_chars=args.history_chars,
    )


def embedding_choice(args: argparse.Namespace) -> tuple[Any, Any]:
    """``(embedder, view)`` of ``ingest``/``reembed`` (:func:`embedding_config`)."""
    from vector_trainer.sources.embedding_cache import configured_embedder
    from vector_trainer.sources.views import EmbeddingView

    settings = embedding_config(args).embedding
    return configured_embedder(settings), EmbeddingView.from_config(settings)


def cmd_ingest(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer ingest FILE``."""
    embedder, view = embedding_choice(args)
    new_store = not Path(args.store).exists()
    try:
        summary = _ingest(args, console, embedder, view)
    except BaseException:
        if new_store:  # a failed import leaves no empty store behind
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{args.store}{suffix}").unlink(missing_ok=True)
        raise
    skipped = f", {summary.skipped} skipped as duplicates" if summary.skipped else ""
    console.print(
        f"imported {summary.inserted} new and {summary.updated} updated logs{skipped} "
        f"({printable(', '.join(summary.functions)) or 'none new'}) into {args.store}"
    )
    reused = getattr(embedder, "reused", 0)
    cached = f" ({reused} of them from the cache {embedder.path})" if reused else ""
    vectors = (
        f"{summary.embedded} embedded with {summary.embedder} from view {summary.view}{cached}"
        if summary.embedder
        else "vectors from the file"
    )
    console.print(f"vectors: {vectors}")
    console.print(f"next: vectortrainer functions --store {args.store}   then   vectortrainer run --store {args.store}")
    return EXIT_OK


def _ingest(args: argparse.Namespace, console: Console, embedder: Any, view: Any) -> Any:
    from vector_trainer.sources.ingest import ingest_file
    from vector_trainer.sources.store import SQLiteLogStore

    with (
        SQLiteLogStore(args.store) as store,
        Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        ) as progress,
    ):
        task = progress.add_task("reading records", total=None)
        started = time.monotonic()

        def show(done: int, embedded: int) -> None:
            rate = embedded / max(time.monotonic() - started, 1e-9)
            text = f"{done:,} records read, {embedded:,} embedded with {embedder.name}"
            progress.update(task, description=f"{text} ({rate:,.0f}/s)" if embedded else text)

        return ingest_file(
            args.file,
            store,
            embedder,
            vector_space=args.vector_space,
            on_duplicate=args.on_duplicate,
            on_progress=show,
            view=view,
            log_format=args.format,
            function_name=args.function_name,
        )


def cmd_reembed(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer reembed``: every vector of the store's functions made again from a view."""
    from vector_trainer.sources.reembed import reembed_store
    from vector_trainer.sources.store import SQLiteLogStore

    embedder, view = embedding_choice(args)
    with SQLiteLogStore(args.store, create=False) as store:
        config = with_overrides(Config(), "source", store=args.store)
        functions = functions_to_run(with_overrides(config, "run", functions=args.function), store)
        for function_name in functions:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task(f"embedding {printable(function_name)}", total=store.count(function_name))
                count, space = reembed_store(
                    store, function_name, embedder, view, on_progress=_completed(progress, task)
                )
            console.print(f"{printable(function_name)}: {count:,} logs re-embedded into '{printable(space)}'")
    console.print(f"next: vectortrainer run --store {args.store}")
    return EXIT_OK


def _completed(progress: Progress, task: TaskID) -> Callable[[int], None]:
    """A callback setting how much of ``task`` is done (rich takes it by keyword only)."""
    return lambda done: progress.update(task, completed=done)


def cmd_export_logs(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer export-logs OUT``."""
    from vector_trainer.sources.columnar_export import export_parquet
    from vector_trainer.sources.detect import open_source

    source = open_source(SourceConfig(kind=args.source, store=args.store))
    summary = export_parquet(source, args.out, functions=args.function, rows_per_file=args.rows_per_file)
    for name, rows in summary.rows.items():
        console.print(f"{printable(name)}: {rows:,} logs in {summary.files[name]} files")
    console.print(f"wrote {args.out}; run on it with --source parquet --store {args.out} --engine ray")
    return EXIT_OK


def cmd_functions(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer functions``."""
    from vector_trainer.sources.store import SQLiteLogStore

    with SQLiteLogStore(args.store, create=False) as store:
        table = Table("function", "logs", "vectors")
        for name in store.list_functions():
            space = store.vector_space(name)
            table.add_row(printable(name), str(store.count(name)), f"{space[1]}-d {space[0]}" if space else "none")
        console.print(table)
    return EXIT_OK
