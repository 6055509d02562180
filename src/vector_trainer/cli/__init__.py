"""The ``vectortrainer`` command line: a thin layer over the library.

Exit codes: 0 success, 1 a stage or backend failed, 2 bad input or configuration, 3 with
``--strict`` when what was asked for was not achieved (a refused candidate, a feedback pair the
hook does not fix), 130 interrupted (the run directory is left resumable).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from vector_trainer.cli import commands, feedback, gate, jobs
from vector_trainer.cli.commands import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED
from vector_trainer.cli.parser import build_parser as _build_parser
from vector_trainer.errors import (
    ConfigError,
    EmptyDataError,
    InputError,
    MissingDependencyError,
    UnknownModelError,
    VectorTrainerError,
    redact,
)

HANDLERS = {
    "run": commands.cmd_run,
    "ingest": commands.cmd_ingest,
    "reembed": commands.cmd_reembed,
    "export-logs": commands.cmd_export_logs,
    "functions": commands.cmd_functions,
    "synthesize": feedback.cmd_synthesize,
    "hooks": feedback.cmd_hooks,
    "train": jobs.cmd_train,
    "status": jobs.cmd_status,
    "cancel": jobs.cmd_cancel,
    "dashboard": jobs.cmd_dashboard,
    "cost": jobs.cmd_cost,
    "evaluate": gate.cmd_evaluate,
    "models": gate.cmd_models,
    "loop": gate.cmd_loop,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    return _build_parser(HANDLERS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vectortrainer`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    # markup=False: file names, rules and messages are data and must print exactly as they are.
    console = Console(soft_wrap=True, markup=False, highlight=False)
    errors = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
    try:
        return int(args.handler(args, console))
    except (InputError, ConfigError, EmptyDataError, MissingDependencyError, UnknownModelError) as exc:
        errors.print(Text.assemble(("error: ", "red"), redact(str(exc))))
        return EXIT_BAD_INPUT
    except VectorTrainerError as exc:
        errors.print(Text.assemble(("error: ", "red"), redact(str(exc))))
        return EXIT_FAILED
    except KeyboardInterrupt:
        errors.print("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
