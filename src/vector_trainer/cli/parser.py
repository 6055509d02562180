"""The ``vectortrainer`` argument parser. Flags default to ``None`` so that the configuration
(:mod:`vector_trainer.config`) stays the one place defaults live; help texts quote them from it."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from vector_trainer import __version__
from vector_trainer._params import options_of
from vector_trainer.config import (
    DEFAULT_TRAIN_ROOT,
    DEFAULT_TRAINER,
    EMBEDDING_VIEWS,
    TRAINER_SETTINGS,
    EmbeddingConfig,
    ExtractorConfig,
    GateConfig,
    LoopConfig,
    PipelineConfig,
    RunConfig,
    SourceConfig,
    SynthesizerConfig,
)
from vector_trainer.sources.columnar import DEFAULT_ROWS_PER_FILE
from vector_trainer.sources.formats import LOG_FORMATS
from vector_trainer.sources.store import DEFAULT_ON_DUPLICATE, ON_DUPLICATE

#: Flags whose name is not the option's (``--budget`` sets ``max_budget_usd``).
_FLAG_NAMES = {"max_budget_usd": "budget", "n_epochs": "epochs", "usd_per_million": "price_per_million"}
#: Every option of a built-in trainer has a flag: flag destination -> option name.
TRAINER_FLAGS = {
    _FLAG_NAMES.get(f.name, f.name): f.name for cls in TRAINER_SETTINGS.values() for f in dataclasses.fields(cls)
}


def _command(subparsers: Any, name: str, *, help: str, **options: Any) -> argparse.ArgumentParser:
    """A sub-command whose one-line ``help`` (in the list of commands) is also the description
    its own ``--help`` starts with."""
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help, description=help, **options)
    return parser


def _default(settings: type, key: str) -> str:
    return f"(default: {getattr(settings, key)})"


def _flag_type(annotation: Any) -> Any:
    """The argparse type of a settings field (``str | list[str]`` options take a comma list)."""
    text = str(annotation)
    if "list" in text:
        return lambda value: [part.strip() for part in value.split(",")] if "," in value else value
    for name, kind in (("float", float), ("int", int)):
        if name in text:
            return kind
    return str


def _add_trainer_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per option of the built-in trainers, its help naming which trainer takes it and
    each one's default (read from the settings: nothing restated here)."""
    g = p.add_argument_group("trainer options (each trainer takes its own)")
    g.add_argument("--trainer", help=f"trainer registry key: openai, local-lora, ... (default: {DEFAULT_TRAINER})")
    seen: dict[str, list[str]] = {}
    annotations: dict[str, Any] = {}
    for key, cls in TRAINER_SETTINGS.items():
        for f in dataclasses.fields(cls):
            doc = f.metadata.get("doc", "")
            default = "" if "default" in doc else f" (default: {'none' if f.default is None else f.default})"
            seen.setdefault(f.name, []).append(f"{key}: {doc}{default}")
            annotations.setdefault(f.name, f.type)
    for flag, option in TRAINER_FLAGS.items():
        g.add_argument(
            "--" + flag.replace("_", "-"),
            dest=flag,
            type=_flag_type(annotations[option]),
            help="; ".join(seen[option]).replace("%", "%%"),
        )


def _add_view_arguments(p: argparse.ArgumentParser) -> None:
    """The embedder and the view flags of ``ingest`` and ``reembed`` (defaults from ``[embedding]``)."""
    p.add_argument("--config", help="TOML config file: its [embedding] section gives the defaults below")
    p.add_argument(
        "--embedder",
        choices=options_of(EmbeddingConfig, "embedder"),
        help="embeds records without a vector; auto: openai with OPENAI_API_KEY, local with "
        f"--embedding-model, else hashing (lexical, offline) {_default(EmbeddingConfig, 'embedder')}",
    )
    p.add_argument(
        "--embedding-model",
        help="--embedder local: a sentence-transformers model directory (default: the bundled all-MiniLM-L6-v2); "
        "--embedder openai: the embedding model (default: text-embedding-3-small; OPENAI_BASE_URL for Ollama, vLLM)",
    )
    p.add_argument(
        "--view",
        choices=EMBEDDING_VIEWS,
        help="what a conversation's vector embeds: its last user turn, it with earlier turns (history), the "
        f"reply, one input (field, with --input-field) or the whole input {_default(EmbeddingConfig, 'view')}",
    )
    p.add_argument("--input-field", help="the input argument view 'field' embeds")
    p.add_argument("--history-chars", type=int, help=f"view history {_default(EmbeddingConfig, 'history_chars')}")


def _epsilon(text: str) -> float | str:
    """``auto`` or a number (its range is checked with the rest of the configuration)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1] or 'auto', got {text!r}") from None


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (sections mirror the constructor arguments)")
    p.add_argument(
        "--source", choices=["sqlite", "vectorwave", "parquet"], help=f"log source {_default(SourceConfig, 'kind')}"
    )
    p.add_argument("--store", help=f"embedded store path, or the parquet directory {_default(SourceConfig, 'store')}")
    p.add_argument("--function", action="append", help="function to process (repeatable; default: all)")
    p.add_argument("--feedback", help="feedback JSONL (bad_output, fixed_output, ...) for the hook")
    p.add_argument("--out", help=f"run directory root {_default(RunConfig, 'out')}")
    p.add_argument(
        "--epsilon",
        type=_epsilon,
        help=f"neighbours have sim >= 1 - epsilon, or 'auto' {_default(ExtractorConfig, 'epsilon')}",
    )
    p.add_argument("--top-k", type=int, help=f"most picks per strategy {_default(ExtractorConfig, 'top_k')}")
    p.add_argument(
        "--engine", choices=options_of(ExtractorConfig, "engine"), help=f"{_default(ExtractorConfig, 'engine')}"
    )
    p.add_argument("--ray-address", help="engine ray: the cluster to join (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument(
        "--system-prompt", help="system message of every single-input example and of conversations logged without one"
    )
    p.add_argument(
        "--reembed",
        action="store_true",
        default=None,
        help="embed each log's [embedding] view (default: a conversation's last user turn) as it is read, "
        "instead of its stored vector",
    )
    _add_trainer_arguments(p)
    p.add_argument("--wait", action="store_true", default=None, help="poll the job until it finishes")
    p.add_argument(
        "--poll-interval", type=float, help=f"seconds between polls {_default(PipelineConfig, 'poll_interval_s')}"
    )
    p.add_argument("--register-golden", action="store_true", default=None, help="register picks as golden data")


def build_parser(handlers: dict[str, Any]) -> argparse.ArgumentParser:
    """The argument parser; ``handlers`` maps each command to its function."""
    parser = argparse.ArgumentParser(
        prog="vectortrainer",
        description="Select golden data from LLM logs, synthesize a correction hook from feedback, "
        "and prepare or run fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = _command(sub, "run", help="extract -> synthesize -> train (a dry run without OPENAI_API_KEY)")
    _add_run_arguments(run)
    run.add_argument("--demo", action="store_true", help="load the bundled demo logs and feedback first")
    run.set_defaults(handler=handlers["run"])

    demo = _command(sub, "demo", help="'run' on the bundled demo data (no server, no API key)")
    _add_run_arguments(demo)
    demo.set_defaults(handler=handlers["run"], demo=True)

    ingest = _command(sub, "ingest", help="import JSONL/CSV execution records into the embedded store")
    ingest.add_argument("file", help="JSONL or CSV file (optionally .gz); see the README for the format")
    ingest.add_argument("--store", default=SourceConfig.store, help=f"store path {_default(SourceConfig, 'store')}")
    ingest.add_argument("--vector-space", default="provided", help="name of the model that made the file's vectors")
    ingest.add_argument(
        "--format",
        default="auto",
        choices=["auto", *LOG_FORMATS],
        help="records (ours), openai (request/response logs), chat ({'messages': [...]} files), otel (OTLP JSON "
        "GenAI spans), langfuse (generations); auto: detected from the first object (default: auto)",
    )
    ingest.add_argument(
        "--function", dest="function_name", help="function of logs whose format names none (default: the format's)"
    )
    _add_view_arguments(ingest)
    ingest.add_argument(
        "--on-duplicate",
        choices=ON_DUPLICATE,
        default=DEFAULT_ON_DUPLICATE,
        help="a uuid already stored or repeated in the file: keep the first (skip), replace it (update) "
        f"or stop (error) (default: {DEFAULT_ON_DUPLICATE})",
    )
    ingest.set_defaults(handler=handlers["ingest"])

    reembed = _command(
        sub, "reembed", help="re-embed the embedded store's logs from a view (e.g. a conversation's last user turn)"
    )
    reembed.add_argument("--store", default=SourceConfig.store, help=f"store path {_default(SourceConfig, 'store')}")
    reembed.add_argument("--function", action="append", help="function to re-embed (repeatable; default: all)")
    _add_view_arguments(reembed)
    reembed.set_defaults(handler=handlers["reembed"])

    export = _command(sub, "export-logs", help="write a log source to Parquet files (for --engine ray)")
    export.add_argument("out", help="directory to write (one sub-directory per function; replaced when done)")
    export.add_argument("--source", choices=["sqlite", "vectorwave"], default=SourceConfig.kind, help="log source")
    export.add_argument("--store", default=SourceConfig.store, help=f"store path {_default(SourceConfig, 'store')}")
    export.add_argument("--function", action="append", help="function to export (repeatable; default: all)")
    export.add_argument(
        "--rows-per-file", type=int, default=DEFAULT_ROWS_PER_FILE, help="rows per Parquet file (one task each)"
    )
    export.set_defaults(handler=handlers["export-logs"])

    functions = _command(sub, "functions", help="list the functions in the embedded store")
    functions.add_argument("--store", default=SourceConfig.store, help=f"store path {_default(SourceConfig, 'store')}")
    functions.set_defaults(handler=handlers["functions"])

    synth = _command(sub, "synthesize", help="feedback pairs -> rules -> versioned hook script")
    synth.add_argument("--feedback", required=True, help="feedback JSONL (bad_output, fixed_output, ...)")
    synth.add_argument("--out", required=True, help="directory for generated_prompt_hook.py and rules.json")
    synth.add_argument("--config", help="TOML config file (its [synthesizer] section is used)")
    synth.add_argument(
        "--min-support",
        type=int,
        help=f"pairs needed before a rule is active {_default(SynthesizerConfig, 'min_support')}",
    )
    synth.add_argument("--function", help="learn only from this function's pairs (their function_name)")
    synth.add_argument(
        "--known-good", help="text nobody complained about (one per line, or JSONL) for the damage check"
    )
    synth.add_argument(
        "--store", help=f"with --function, its SUCCESS outputs are known-good {_default(SourceConfig, 'store')}"
    )
    synth.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when no hook is activated or a pair is not fixed exactly (for CI; default: exit 0)",
    )
    synth.set_defaults(handler=handlers["synthesize"])

    _add_tool_commands(sub, handlers)
    _add_gate_commands(sub, handlers)
    return parser


def _add_tool_commands(sub: Any, handlers: dict[str, Any]) -> None:
    hooks = _command(sub, "hooks", help="list, roll back or diff hook versions")
    hooks_sub = hooks.add_subparsers(dest="hooks_command", required=True, metavar="ACTION")
    for name, text in (
        ("list", "list versions"),
        ("rollback", "activate a version (default: the previous one)"),
        ("diff", "diff two versions"),
    ):
        action = _command(hooks_sub, name, help=text)
        action.add_argument("--dir", default=".", help="directory holding generated_prompt_hook.py")
        if name == "rollback":
            action.add_argument("version", nargs="?", help="version id, e.g. v0002")
        if name == "diff":
            action.add_argument("a", help="older version id")
            action.add_argument("b", help="newer version id")
    hooks.set_defaults(handler=handlers["hooks"])

    train = _command(sub, "train", help="fine-tune on a chat JSONL file (resumable run directory)")
    train.add_argument("file", help="chat-format JSONL, e.g. a golden.jsonl from 'run'")
    train.add_argument("--config", help="TOML config file (its [trainer] and [pipeline] sections are used)")
    _add_trainer_arguments(train)
    train.add_argument("--validation-file", help="chat-format JSONL for validation")
    train.add_argument(
        "--out", help=f"run directory (default: {DEFAULT_TRAIN_ROOT}/<file's folder>-<file stem>-<hash>)"
    )
    train.add_argument("--wait", action="store_true", help="poll until the job finishes, showing metrics")
    train.add_argument(
        "--poll-interval", type=float, help=f"seconds between polls {_default(PipelineConfig, 'poll_interval_s')}"
    )
    train.set_defaults(handler=handlers["train"])

    for name, text in (("status", "status and metrics of"), ("cancel", "cancel")):
        job = _command(sub, name, help=f"{text} a training job or a run directory's job")
        job.add_argument("target", help="a run directory (with state.json) or a job id")
        job.add_argument("--config", help="TOML config file (its [trainer] section is used)")
        job.add_argument("--trainer", help=f"trainer registry key when TARGET is a job id (default: {DEFAULT_TRAINER})")
        job.add_argument("--jobs-dir", help="local-lora: where its job directories are")
        job.add_argument(
            "--base-url",
            help="openai: the endpoint (default: the one the run's job was created with, else the config's)",
        )
        job.set_defaults(handler=handlers[name])

    dashboard = _command(sub, "dashboard", help="open the web dashboard on run directories (extra 'web')")
    dashboard.add_argument("run_dir", nargs="?", default=RunConfig.out, help="a run directory or a root of runs")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default: localhost only)")
    dashboard.add_argument("--port", type=int, default=8501, help="port")
    dashboard.set_defaults(handler=handlers["dashboard"])

    cost = _command(sub, "cost", help="estimate the fine-tuning cost of a chat JSONL file")
    cost.add_argument("file", help="chat-format JSONL")
    cost.add_argument("--model", required=True, help="model name (e.g. gpt-4o-mini-2024-07-18)")
    cost.add_argument("--epochs", type=int, help="epochs (default: OpenAI's rule)")
    cost.add_argument("--price-per-million", type=float, help="USD per 1M tokens, for models without a known price")
    cost.add_argument("--budget", type=float, help="exit 1 when the estimate exceeds this many USD")
    cost.add_argument("--json", action="store_true", help="print the estimate as JSON")
    cost.set_defaults(handler=handlers["cost"])


def _add_gate_commands(sub: Any, handlers: dict[str, Any]) -> None:
    """The parsers of ``evaluate``, ``models`` and ``loop``."""
    evaluate = _command(sub, "evaluate", help="compare a candidate model or hook with the incumbent")
    evaluate.add_argument("--candidate", help="candidate model: a served model id, or an adapter directory")
    evaluate.add_argument(
        "--strict", action="store_true", help="exit 3 when the candidate is refused (for CI; default: exit 0)"
    )
    evaluate.add_argument("--incumbent", help="the model in use now (e.g. the base model)")
    evaluate.add_argument("--provider", default="openai", help="openai (any OpenAI-compatible endpoint) or local-lora")
    evaluate.add_argument("--base-url", help="OpenAI-compatible endpoint (vLLM, Ollama; default OPENAI_BASE_URL)")
    evaluate.add_argument("--validation", help="chat JSONL of held-out examples (e.g. golden.validation.jsonl)")
    evaluate.add_argument("--feedback", help="held-out feedback JSONL (pairs with input_prompt are asked)")
    evaluate.add_argument("--function", help="only this function's feedback pairs")
    evaluate.add_argument("--system-prompt", help="system message for feedback prompts")
    evaluate.add_argument("--hook", help="the active hook: answers it would change are not compliant")
    evaluate.add_argument("--candidate-hook", help="evaluate this hook file instead of a model")
    evaluate.add_argument("--active-hook", help="the hook in use now (default: no hook)")
    evaluate.add_argument("--known-good", help="known-good text (one per line, or JSONL) for the hook's damage")
    evaluate.add_argument(
        "--metric", choices=options_of(GateConfig, "metric"), help=f"deciding score {_default(GateConfig, 'metric')}"
    )
    evaluate.add_argument("--judge-model", help="add an LLM judge's pairwise, order-swapped verdict (a model id)")
    evaluate.add_argument("--judge-base-url", help="the judge's OpenAI-compatible endpoint (default: --base-url)")
    evaluate.add_argument("--margin", type=float, help=f"gain needed {_default(GateConfig, 'margin')}")
    evaluate.add_argument("--max-examples", type=int, help=f"examples asked {_default(GateConfig, 'max_examples')}")
    evaluate.add_argument("--config", help="TOML config file (its [gate] section is used)")
    evaluate.add_argument("--out", help="directory to write evaluation.json into")
    evaluate.set_defaults(handler=handlers["evaluate"])

    models = _command(sub, "models", help="list, promote or roll back a function's trained models")
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    for name, text in (
        ("list", "list models and recent history"),
        ("promote", "activate a model"),
        ("rollback", "activate the previous model (or the one named)"),
    ):
        action = _command(models_sub, name, help=text)
        action.add_argument("--dir", required=True, help="a function's registry directory (<out>/<function>/models)")
        if name != "list":
            action.add_argument("model_id", nargs="?" if name == "rollback" else None, help="model id, e.g. m0002")
    models.set_defaults(handler=handlers["models"])

    loop = _command(sub, "loop", help="run gated cycles when new logs or feedback arrive")
    _add_run_arguments(loop)
    loop.add_argument("--once", action="store_true", help="check once and exit (for cron; exit 1 when a cycle failed)")
    loop.add_argument(
        "--interval",
        type=float,
        help=f"without --once, check every this many seconds, forever (default: [loop] interval_s, "
        f"{LoopConfig.interval_s:g}); a failed cycle is recorded and the loop goes on",
    )
    loop.add_argument(
        "--min-new-logs", type=int, help=f"new logs that start a cycle (default: {LoopConfig.min_new_logs})"
    )
    loop.add_argument(
        "--strict",
        action="store_true",
        help="with --once, exit 3 when a cycle's hook is not activated or leaves a feedback pair unfixed",
    )
    loop.set_defaults(handler=handlers["loop"])
