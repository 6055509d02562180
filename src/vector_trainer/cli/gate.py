"""``vectortrainer evaluate``, ``models`` and ``loop``: the gate and the unattended cycle."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vector_trainer._shared import printable
from vector_trainer.cli.commands import EXIT_FAILED, EXIT_OK, EXIT_STRICT, base_config, functions_to_run, run_config
from vector_trainer.config import Config, PipelineConfig, with_overrides
from vector_trainer.errors import ConfigError, InputError
from vector_trainer.fileio import atomic_write_json

if TYPE_CHECKING:
    from vector_trainer.pipeline.results import SynthesizeResult


def _gate_config(args: argparse.Namespace) -> Config:
    config = base_config(args)
    return with_overrides(
        config,
        "gate",
        metric=args.metric,
        margin=args.margin,
        max_examples=args.max_examples,
        judge_model=args.judge_model,
        judge_base_url=args.judge_base_url or (args.base_url if args.judge_model else None),
    )


def print_evaluation(console: Console, evaluation: Any, decision: Any) -> None:
    """The comparisons as a table, then the decision."""
    table = Table("metric", "n", "candidate", "incumbent", "difference", "interval", title=evaluation.kind)
    for name, c in evaluation.comparisons.items():
        table.add_row(
            name,
            str(c.n),
            f"{c.candidate_mean:.4f}",
            f"{c.incumbent_mean:.4f}",
            f"{c.difference:+.4f}",
            f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] ({c.confidence:.0%})",
        )
    console.print(table)
    for note in evaluation.skipped:
        console.print(Text.assemble(("note: ", "yellow"), note))
    console.print(Text(printable(decision.reason), style="green" if decision.promote else "yellow"))


def cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer evaluate``: a candidate model (or hook) against the incumbent."""
    from vector_trainer.gate.evaluate import feedback_examples, validation_examples
    from vector_trainer.pipeline.factory import build_evaluator, build_policy
    from vector_trainer.synthesizer.feedback import load_feedback, load_known_good, pairs_for_function

    config = _gate_config(args)
    policy = build_policy(config)
    evaluator = build_evaluator(config)
    pairs = load_feedback(args.feedback) if args.feedback else []
    if args.function:
        pairs = pairs_for_function(pairs, args.function)
    if args.candidate_hook:
        known_good = load_known_good(args.known_good) if args.known_good else []
        evaluation = evaluator.evaluate_hooks(args.candidate_hook, args.active_hook, pairs, known_good)
        decision = policy.decide_hook(evaluation)
    else:
        if not args.candidate or not args.incumbent:
            raise InputError("evaluate needs --candidate and --incumbent models (or --candidate-hook for hooks)")
        examples = validation_examples(args.validation) if args.validation else []
        examples += feedback_examples(pairs, args.system_prompt)

        def reach(model: str) -> Any:
            return evaluator.reach(args.provider, model, base_url=args.base_url)

        evaluation = evaluator.evaluate(reach(args.candidate), reach(args.incumbent), examples, hook_path=args.hook)
        decision = policy.decide(evaluation)
    print_evaluation(console, evaluation, decision)
    if args.out:
        path = atomic_write_json(
            Path(args.out) / "evaluation.json", {**evaluation.to_dict(), "decision": decision.to_dict()}
        )
        console.print(f"written {path}")
    if args.strict and not decision.promote:
        return EXIT_STRICT  # a CI gate: a refused candidate fails the step
    return EXIT_OK


def cmd_models(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer models list|promote|rollback``."""
    from vector_trainer.gate.registry import REGISTRY_FILENAME, ModelRegistry

    if not (Path(args.dir) / REGISTRY_FILENAME).is_file():
        raise InputError(
            f"{args.dir} holds no model registry ({REGISTRY_FILENAME} is missing); run 'vectortrainer loop'"
        )
    registry = ModelRegistry(args.dir)
    if args.models_command == "list":
        table = Table("model", "provider", "base", "model id / adapter", "job", "created", "active")
        for m in registry.list_models():
            table.add_row(
                m.model_id, m.provider, m.base_model, m.model, m.job_id, m.created_at, "*" if m.active else ""
            )
        console.print(table)
        for event in registry.history()[-10:]:
            console.print(
                f"{event.get('at', '')} {event['action']} {event.get('model_id', '')} {event.get('reason', '')}"
            )
    elif args.models_command == "promote":
        record = registry.promote(args.model_id, "promoted by hand")
        console.print(f"active model is now {record.model_id} ({record.model})")
    else:
        record = registry.rollback(args.model_id)
        console.print(f"active model is now {record.model_id} ({record.model})")
    return EXIT_OK


def _count_logs(source: Any, function_name: str) -> int:
    count = getattr(source, "count", None)
    if callable(count):
        return int(count(function_name))
    return sum(1 for _ in source.iter_executions(function_name))


def hook_fixes(synthesis: SynthesizeResult | None) -> str:
    """What a cycle's hook makes of the feedback it learnt from, in one line."""
    if synthesis is None:
        return "no feedback pairs to learn from"
    test = synthesis.self_test
    overruled = len(synthesis.overruled_pairs)
    line = (
        f"the hook fixes {test.fixed_exactly} of {test.pairs + overruled} pairs it learnt "
        f"from exactly ({test.improved} closer in all, {overruled} overruled by a contradicting pair)"
    )
    if synthesis.hook_not_activated:
        line += f"; not activated: {synthesis.hook_not_activated}"
    return line


def _loop_config(args: argparse.Namespace) -> Config:
    """The loop's configuration, checked before any cycle runs."""
    # --interval is checked like [loop] interval_s (a number >= 1)
    config = with_overrides(run_config(args), "loop", min_new_logs=args.min_new_logs, interval_s=args.interval)
    # The loop keeps its cycles, live hooks and registries under --out: a live_dir set elsewhere
    # would be ignored, so it is refused by name.
    live = Path(config.pipeline.live_dir).resolve()
    if config.pipeline.live_dir != PipelineConfig.live_dir and live != Path(config.run.out).resolve():
        raise ConfigError(
            f"pipeline.live_dir: the loop keeps live hooks and registries in its home (--out "
            f"{config.run.out}), not in {config.pipeline.live_dir!r}; remove pipeline.live_dir or pass --out "
            f"{config.pipeline.live_dir}"
        )
    config = with_overrides(config, "pipeline", live_dir=config.run.out)
    if config.extractor.validation_fraction == 0:  # the gate needs examples no model was trained on
        config = with_overrides(config, "extractor", validation_fraction=config.gate.validation_fraction)
    return config


def cmd_loop(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer loop``: check for new logs or feedback and run a gated cycle."""
    from vector_trainer.dashboard.terminal import CLIDashboard
    from vector_trainer.pipeline.factory import build_pipeline
    from vector_trainer.pipeline.loop import ContinuousLoop
    from vector_trainer.sources.detect import open_source
    from vector_trainer.synthesizer.feedback import load_feedback
    from vector_trainer.training.registry import trainer_from_config

    config = _loop_config(args)
    source = open_source(config.source, embedding=config.embedding)
    trainer = trainer_from_config(config.trainer)
    trainer.check_ready()
    loop = ContinuousLoop(
        config,
        lambda _name: build_pipeline(config, source=source, trainer=trainer, monitor=CLIDashboard(console), gated=True),
        lambda: functions_to_run(config, source),
        lambda name: _count_logs(source, name),
    )

    def feedback() -> list[Any]:
        return load_feedback(config.run.feedback) if config.run.feedback else []

    def report(outcomes: list[Any]) -> int:
        """Print each function's outcome; the exit code of the check."""
        for outcome in outcomes:
            shown = printable(outcome.function_name)
            if not outcome.ran:
                console.print(f"{shown}: {'; '.join(outcome.notes)}")
                continue
            console.print(f"{shown}: cycle {outcome.cycle_dir} ({'; '.join(outcome.reasons)})")
            if outcome.failed:
                console.print(Text(f"  failed in {printable(outcome.failed)}; the next cycle starts fresh", "red"))
                continue
            console.print(f"  feedback: {printable(hook_fixes(outcome.synthesis))}")
            for part, verdict in (("hook", outcome.hook), ("model", outcome.model)):
                console.print(f"  {part}: {printable(verdict.decision.reason if verdict else '')}")
            for note in outcome.notes:
                console.print(f"  {printable(note)}")
        if any(outcome.failed for outcome in outcomes):
            return EXIT_FAILED
        unfixed = any(o.ran and o.synthesis is not None and not o.synthesis.fixes_every_pair for o in outcomes)
        return EXIT_STRICT if args.strict and unfixed else EXIT_OK

    if args.once:
        return report(loop.run_once(feedback()))
    while True:  # a failed cycle is recorded and the loop goes on: unattended means it never stops for good
        report(loop.run_once(feedback()))
        interval = config.loop.interval_s
        console.print(f"next check in {interval:g} s (Ctrl-C stops; a cycle cut short resumes on the next start)")
        time.sleep(interval)
