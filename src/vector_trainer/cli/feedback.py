"""``synthesize`` and ``hooks``: feedback -> rules -> a versioned hook, and its versions.
Arguments -> config -> library calls; no domain logic lives here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vector_trainer._layout import HOOK_FILENAME
from vector_trainer.cli.commands import EXIT_OK, EXIT_STRICT, base_config
from vector_trainer.config import SourceConfig, with_overrides
from vector_trainer.errors import InputError

#: Feedback pair numbers listed per rule in the synthesize table.
MAX_PAIRS_SHOWN = 5
#: Characters of a rule's target and replacement shown in the synthesize table.
MAX_SHOWN_CHARS = 120
#: Pairs the hook does not fix exactly listed by synthesize (all of them are in rules.json).
MAX_VERDICTS_SHOWN = 20


def _clipped(text: str) -> str:
    """A rule's text as the table shows it: at most :data:`MAX_SHOWN_CHARS` (rules.json has it all)."""
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + f"... (+{len(text) - MAX_SHOWN_CHARS})"


def _known_good(args: argparse.Namespace) -> list[str]:
    """``--known-good FILE``, plus the function's SUCCESS outputs in the store (with ``--function``)."""
    from vector_trainer.chatml import render_value
    from vector_trainer.sources.store import SQLiteLogStore
    from vector_trainer.synthesizer.feedback import load_known_good

    texts = load_known_good(args.known_good) if args.known_good else []
    store = Path(args.store or SourceConfig.store)
    if args.function and store.is_file():
        with SQLiteLogStore(store) as logs:
            texts += [
                render_value(log.output)
                for log in logs.iter_executions(args.function)
                if log.status == "SUCCESS" and log.output is not None
            ]
    return texts


def _pairs_of_function(args: argparse.Namespace) -> list[Any]:
    """The feedback pairs to learn from: one function's (``--function``, or the only one named)."""
    from vector_trainer.synthesizer.feedback import load_feedback

    pairs = load_feedback(args.feedback)
    if not pairs:
        raise InputError(f"{args.feedback}: no feedback pairs; nothing to learn a hook from")
    named = sorted({str(p.context.get("function_name")) for p in pairs if p.context.get("function_name")})
    if args.function:
        pairs = [p for p in pairs if p.context.get("function_name") == args.function]
        if not pairs:
            known = ", ".join(named) or "none"
            raise InputError(f"{args.feedback}: no pair has function_name '{args.function}' (functions named: {known})")
    elif len(named) > 1:  # one hook per function: their corrections must not mix
        raise InputError(f"{args.feedback} holds pairs of {len(named)} functions ({', '.join(named)}); add --function")
    return pairs


def print_verdicts(console: Console, self_test: Any, overruled: Sequence[int]) -> None:
    """One line of counts, and a row for each pair the hook does not fix exactly (1-based)."""
    verdicts = self_test.verdicts
    counts = {kind: sum(v.verdict == kind for v in verdicts) for kind in ("fixed", "closer", "unchanged")}
    console.print(
        f"self-test: the hook fixes {counts['fixed']} of {len(verdicts) + len(overruled)} feedback pairs exactly; "
        f"{counts['closer']} more come closer to their fix, {counts['unchanged']} are left unchanged and "
        f"{len(overruled)} were overruled by a contradicting pair"
    )
    missed = [(v.pair, v.verdict, f"{v.edits_before} -> {v.edits_after}") for v in verdicts if v.verdict != "fixed"]
    missed = sorted(missed + [(pair, "overruled", "-") for pair in overruled])
    if not missed:
        return
    table = Table("pair", "verdict", "edits to its fix (before -> after)")
    for pair, verdict, edits in missed[:MAX_VERDICTS_SHOWN]:
        table.add_row(str(pair + 1), verdict, edits)
    console.print(table)
    if len(missed) > MAX_VERDICTS_SHOWN:
        console.print(f"... and {len(missed) - MAX_VERDICTS_SHOWN} more (every pair's verdict is in rules.json)")


def cmd_synthesize(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer synthesize``: feedback -> rules.json and a new hook version.

    Exit 0 whether or not a hook was activated (the output says which); with ``--strict``, exit 3
    when no hook was activated or a pair (overruled ones included) is not fixed exactly.
    """
    from vector_trainer._layout import RULES_FILENAME
    from vector_trainer.fileio import atomic_write_json
    from vector_trainer.pipeline.factory import build_synthesizer
    from vector_trainer.synthesizer.hook import HookScriptGenerator

    config = with_overrides(base_config(args), "synthesizer", min_support=args.min_support)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out takes the directory for the hook and rules.json")
    pairs = _pairs_of_function(args)
    result = build_synthesizer(config).synthesize(pairs, known_good=_known_good(args))
    hook = HookScriptGenerator(inject_instructions=config.synthesizer.inject_instructions).generate(
        result.rules,
        out / HOOK_FILENAME,
        feedback_pairs=result.consistent_pairs(pairs),
        extra_instructions=result.instructions,
    )
    dropped = {d.rule_id for d in hook.dropped}
    table = Table("kind", "target", "replacement", "support", "pairs (1-based)")
    for rule in result.rules:
        if rule.rule_id in dropped:
            continue
        target, replacement = (_clipped(text) for text in rule.shown())
        shown = ", ".join(map(str, rule.pair_numbers[:MAX_PAIRS_SHOWN]))
        more = f" +{len(rule.sources) - MAX_PAIRS_SHOWN}" if len(rule.sources) > MAX_PAIRS_SHOWN else ""
        table.add_row(rule.kind.value, repr(target), repr(replacement), str(rule.support), shown + more)
    console.print(table)
    for conflict in result.conflicts:
        console.print(
            f"conflict ({conflict.kind}): kept {conflict.kept}, dropped {conflict.dropped}: {conflict.reason}"
        )
    for item in hook.dropped:
        console.print(f"left out rule {item.rule_id}: it {item.reason}")
    overruled = sorted(result.overruled)
    print_verdicts(console, hook.self_test, overruled)
    scoped = sum(rule.scope == "sentence" for rule in result.rules if rule.rule_id not in dropped)
    learnt = (
        f"{hook.rule_count} rules from {len(pairs)} pairs ({scoped} scoped to the sentence they were seen in; "
        f"{len(result.damage)} demoted or dropped for changing some of {result.known_good} known-good texts)"
    )
    if hook.not_activated:
        console.print(Text(f"{learnt}; hook NOT activated: {hook.not_activated}. The hook in use stays.", "yellow"))
        return EXIT_STRICT if args.strict else EXIT_OK
    # Written once the hook is active, so rules.json always describes the active hook.
    atomic_write_json(out / RULES_FILENAME, {**result.to_dict(), "self_test": hook.self_test.to_dict()})
    version = hook.version.version_id if hook.version else "unversioned"
    console.print(f"{learnt} -> {hook.path} ({version})")
    if args.strict and (overruled or hook.self_test.fixed_exactly < hook.self_test.pairs):
        return EXIT_STRICT
    return EXIT_OK


def cmd_hooks(args: argparse.Namespace, console: Console) -> int:
    """``vectortrainer hooks list|rollback|diff``."""
    from vector_trainer.synthesizer.versions import open_hook_versions

    if not Path(args.dir).is_dir():
        raise InputError(f"{args.dir} is not a directory; --dir takes the folder holding {HOOK_FILENAME}")
    manager = open_hook_versions(args.dir)
    if not manager.version_dir.is_dir():
        raise InputError(f"{args.dir} holds no hook versions ({manager.version_dir} is missing); run synthesize first")
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
