"""FR-2.4: contradicting rules, and rules that make a known pair worse.

Contradictions (one phrase with two rewrites, A->B against B->A, adding against removing the
same text) are settled by the arbiter (the optional LLM advisor) or by support, then recency.
A rule that moves a pair further from its fixed output is put to a vote: it is pruned unless its
support outweighs the pairs it hurts, in which case those pairs are reported as overruled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import Levenshtein

from vector_trainer.synthesizer import hook_template
from vector_trainer.types import FeedbackPair, Rule, RuleKind


@dataclass(frozen=True)
class Conflict:
    """Two rules that cannot both hold, and how the conflict was resolved."""

    kind: str  # "inverse", "same_target" or "add_remove"
    kept: str
    dropped: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "kept": self.kept,
            "dropped": self.dropped,
            "reason": self.reason,
        }


def _wins(a: Rule, b: Rule) -> tuple[Rule, Rule, str]:
    if a.support != b.support:
        kept, dropped = (a, b) if a.support > b.support else (b, a)
        return kept, dropped, f"support {kept.support} > {dropped.support}"
    kept, dropped = (a, b) if (a.last_seen, a.rule_id) >= (b.last_seen, b.rule_id) else (b, a)
    return (
        kept,
        dropped,
        f"equal support {kept.support}; more recent (pair {kept.last_seen} > {dropped.last_seen})",
    )


def _conflict_groups(rules: Sequence[Rule]) -> Iterable[tuple[str, Rule, Rule]]:
    rewrites = [r for r in rules if r.kind in (RuleKind.REPLACE, RuleKind.REMOVE, RuleKind.REGEX)]
    by_target: dict[tuple[bool, str], list[Rule]] = defaultdict(list)
    for rule in rewrites:
        by_target[(rule.kind is RuleKind.REGEX, rule.target)].append(rule)
    for group in by_target.values():
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                yield "same_target", first, second
    replaces = {(r.target, r.replacement): r for r in rules if r.kind is RuleKind.REPLACE}
    for (target, replacement), rule in sorted(replaces.items()):
        inverse = replaces.get((replacement, target))
        if inverse is not None and target < replacement:
            yield "inverse", rule, inverse
    edges = {(r.kind, r.target or r.replacement): r for r in rules}
    for add, remove in (
        (RuleKind.APPEND, RuleKind.STRIP_SUFFIX),
        (RuleKind.PREPEND, RuleKind.STRIP_PREFIX),
    ):
        for (kind, text), rule in sorted(edges.items(), key=lambda item: item[1].rule_id):
            if kind is add and (remove, text) in edges:
                yield "add_remove", rule, edges[(remove, text)]
    removes = {r.target: r for r in rules if r.kind is RuleKind.REMOVE}
    for rule in rules:
        if rule.kind in (RuleKind.APPEND, RuleKind.PREPEND) and rule.replacement in removes:
            yield "add_remove", rule, removes[rule.replacement]


def resolve_conflicts(
    rules: list[Rule], arbiter: Callable[[str, Rule, Rule], Rule | None] | None = None
) -> tuple[list[Rule], list[Conflict]]:
    """Drop the losing side of every contradiction: the arbiter's (LLM) choice when it gives a
    valid one, else support, then recency."""
    alive = {r.rule_id: r for r in rules}
    conflicts: list[Conflict] = []
    for kind, first, second in list(_conflict_groups(sorted(rules, key=lambda r: r.rule_id))):
        if first.rule_id not in alive or second.rule_id not in alive:
            continue
        chosen = arbiter(kind, first, second) if arbiter else None
        if chosen is not None:
            kept, dropped = chosen, second if chosen is first else first
            reason = "chosen by the LLM advisor"
        else:
            kept, dropped, reason = _wins(first, second)
        del alive[dropped.rule_id]
        conflicts.append(Conflict(kind, kept.rule_id, dropped.rule_id, reason))
    return [r for r in rules if r.rule_id in alive], conflicts


def compile_rules(rules: Sequence[Rule]) -> tuple[tuple[int, str, Any, Any], ...]:
    """Rules compiled by the hook template's own code."""
    return hook_template.compile_rules(tuple(r.to_hook_data() for r in rules))


def apply_rules(rules: Sequence[Rule], text: str) -> str:
    """Apply rules exactly as the generated hook does (same code: the hook template)."""
    return hook_template.apply_compiled(compile_rules(rules), text)


def moves_away(compiled: tuple[tuple[int, str, Any, Any], ...], pair: FeedbackPair) -> int:
    """How much further (in edits) compiled rules move a pair's bad output from its fixed output."""
    baseline = Levenshtein.distance(pair.bad_output, pair.fixed_output)
    return Levenshtein.distance(hook_template.apply_compiled(compiled, pair.bad_output), pair.fixed_output) - baseline


def prune_harmful(
    rules: list[Rule], pairs: Sequence[FeedbackPair]
) -> tuple[list[Rule], list[tuple[str, str]], set[int]]:
    """Settle every pair that the rule set moves further from its fixed output.

    The weakest rule that hurts the pair is put to a vote, like a conflict: its support against
    the number of pairs it hurts on its own. If it has more support, the pair is the outlier and
    is *overruled* (reported, and not used to self-test the hook); otherwise the rule is pruned.

    Returns:
        The surviving rules, ``(rule_id, reason)`` of pruned rules, and the overruled pair
        sequences.
    """
    active = sorted(rules, key=application_key)
    pruned: list[tuple[str, str]] = []
    overruled: set[int] = set()
    while active:
        compiled = compile_rules(active)
        worse = next((p for p in pairs if p.sequence not in overruled and moves_away(compiled, p) > 0), None)
        if worse is None:
            break
        singles = {r.rule_id: compile_rules([r]) for r in active}
        harm = {r.rule_id: moves_away(singles[r.rule_id], worse) for r in active}
        culprits = [r for r in active if harm[r.rule_id] > 0] or [
            r for r in active if apply_rules([r], worse.bad_output) != worse.bad_output
        ]
        if not culprits:
            overruled.add(worse.sequence)
            continue
        victim = min(culprits, key=lambda r: (r.support, -harm[r.rule_id], r.last_seen, r.rule_id))
        votes_against = sum(
            1 for p in pairs if p.sequence not in overruled and moves_away(singles[victim.rule_id], p) > 0
        )
        if victim.support > votes_against:
            overruled.add(worse.sequence)
        else:
            active.remove(victim)
            pruned.append(
                (
                    victim.rule_id,
                    f"made feedback pair {worse.sequence} worse (support {victim.support}, "
                    f"hurts {votes_against} pairs)",
                )
            )
    return active, pruned, overruled


def application_key(rule: Rule) -> tuple[float, int, str]:
    """The order in which rules are applied: higher priority, then longer target, then id."""
    return (-rule.priority, -len(rule.target), rule.rule_id)
