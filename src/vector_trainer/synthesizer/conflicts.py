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
        f"equal support {kept.support}; more recent (pair {kept.last_seen + 1} > {dropped.last_seen + 1}, 1-based)",
    )


def _same_target_groups(rules: Sequence[Rule]) -> Iterable[list[Rule]]:
    """Rewrites of one phrase to different texts (each group is settled as a tournament)."""
    by_target: dict[tuple[bool, str], list[Rule]] = defaultdict(list)
    for rule in rules:
        if rule.kind in (RuleKind.REPLACE, RuleKind.REMOVE, RuleKind.REGEX):
            by_target[(rule.kind is RuleKind.REGEX, rule.target)].append(rule)
    return (group for group in by_target.values() if len(group) > 1)


def _conflict_groups(rules: Sequence[Rule]) -> Iterable[tuple[str, Rule, Rule]]:
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

    def settle(kind: str, first: Rule, second: Rule) -> Rule:
        chosen = arbiter(kind, first, second) if arbiter else None
        if chosen is not None:
            kept, dropped = chosen, second if chosen is first else first
            reason = "chosen by the LLM advisor"
        else:
            kept, dropped, reason = _wins(first, second)
        del alive[dropped.rule_id]
        conflicts.append(Conflict(kind, kept.rule_id, dropped.rule_id, reason))
        return kept

    ordered = sorted(rules, key=lambda r: r.rule_id)
    for group in _same_target_groups(ordered):  # linear: each rule meets the current winner once
        winner = group[0]
        for challenger in group[1:]:
            winner = settle("same_target", winner, challenger)
    for kind, first, second in list(_conflict_groups([r for r in ordered if r.rule_id in alive])):
        if first.rule_id in alive and second.rule_id in alive:
            settle(kind, first, second)
    return [r for r in rules if r.rule_id in alive], conflicts


def compile_rules(rules: Sequence[Rule]) -> tuple[tuple[int, str, Any, Any], ...]:
    """Rules compiled by the hook template's own code."""
    return hook_template.compile_rules(tuple(r.to_hook_data() for r in rules))


def apply_rules(rules: Sequence[Rule], text: str) -> str:
    """Apply rules exactly as the generated hook does (same code: the hook template)."""
    return hook_template.apply_compiled(compile_rules(rules), text)


class RuleApplier:
    """Applies a shrinking set of rules to many texts, trying on each text only the rules that
    could match it: every rule is keyed by the longest word of its target (rules without one,
    such as prepend and append, are tried everywhere), so work grows with the rules that match,
    not with all rules times all texts."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        ordered = sorted(rules, key=application_key)
        self.rules = {r.rule_id: r for r in ordered}
        self.alive = set(self.rules)
        self._position = {r.rule_id: i for i, r in enumerate(ordered)}
        self._compiled = {r.rule_id: hook_template.compile_rule(r.to_hook_data()) for r in ordered}
        self._longest = hook_template.longest_literal(tuple(self._compiled.values()))
        keys = hook_template.rule_keys(tuple(r.to_hook_data() for r in ordered))
        self._key = {r.rule_id: key for r, key in zip(ordered, keys, strict=True)}
        self._by_word: dict[str, list[str]] = defaultdict(list)
        self._everywhere: list[str] = []
        for rule in ordered:
            key = self._key[rule.rule_id]
            (self._by_word[key] if key else self._everywhere).append(rule.rule_id)

    def candidates(self, text: str) -> list[str]:
        """Live rules that could change ``text``, in application order (keys are looked up in the
        text after the strips, as the hook does)."""
        found = {rid for rid in self._everywhere if rid in self.alive}
        for key in hook_template.text_keys(self.stripped(text)):
            found.update(self._by_word.get(key, ()))
        return sorted((rid for rid in found if rid in self.alive), key=self._position.__getitem__)

    def stripped(self, text: str) -> str:
        """``text`` after the live strip rules: what the rewrites see."""
        live = sorted((rid for rid in self._everywhere if rid in self.alive), key=self._position.__getitem__)
        return hook_template.strip_boundaries(tuple(self._compiled[rid] for rid in live), text)

    def texts_for(self, rule_id: str, index: dict[str, list[int]], count: int) -> Iterable[int]:
        """Indices of the texts (of a word index) that rule could change."""
        key = self._key[rule_id]
        return index.get(key, ()) if key else range(count)

    def apply(self, text: str, only: str | None = None) -> str:
        """``text`` after the live rules (or after the single rule ``only``)."""
        ids = [only] if only is not None else self.candidates(text)
        compiled = sorted((self._compiled[rid] for rid in ids), key=lambda entry: entry[0])
        return hook_template.apply_compiled(tuple(compiled), text, self._longest)


def _votes_against(
    applier: RuleApplier,
    rule: Rule,
    pairs: Sequence[FeedbackPair],
    pair_index: dict[str, list[int]],
    baseline: list[int],
    overruled: set[int],
    settled: dict[str, list[int]],
) -> int:
    """The pairs (not overruled) that ``rule`` alone moves further from their fix, counted only
    as far as the vote needs: once they reach its support the rule loses and is never asked
    again. A rule that survives a full count keeps its list in ``settled`` (what a rule does to a
    pair alone does not depend on the other rules), so later votes only recount."""
    if rule.rule_id in settled:
        return sum(1 for j in settled[rule.rule_id] if pairs[j].sequence not in overruled)
    hurts: list[int] = []
    votes = 0
    for j in applier.texts_for(rule.rule_id, pair_index, len(pairs)):
        pair = pairs[j]
        out = applier.apply(pair.bad_output, rule.rule_id)
        if out != pair.bad_output and Levenshtein.distance(out, pair.fixed_output) > baseline[j]:
            hurts.append(j)
            votes += pair.sequence not in overruled
            if votes >= rule.support:
                return votes
    settled[rule.rule_id] = hurts
    return votes


def prune_harmful(
    rules: list[Rule], pairs: Sequence[FeedbackPair], focus: Iterable[str] | None = None
) -> tuple[list[Rule], list[tuple[str, str]], set[int]]:
    """Settle every pair that the rule set moves further from its fixed output.

    The weakest rule that hurts the pair is put to a vote, like a conflict: its support against
    the number of pairs it hurts on its own. If it has more support, the pair is the outlier and
    is *overruled* (reported, and not used to self-test the hook); otherwise the rule is pruned
    and the pairs it could touch are checked again. Pairs and rules are indexed by word, so the
    work is near-linear in pairs plus rules.

    Args:
        rules: The rule set.
        pairs: The pairs it must not make worse.
        focus: Rule ids that are new since the pairs were last settled; only the pairs they could
            touch are checked (all pairs when omitted).

    Returns:
        The surviving rules, ``(rule_id, reason)`` of pruned rules, and the overruled pair
        sequences.
    """
    applier = RuleApplier(rules)
    pair_index: dict[str, list[int]] = defaultdict(list)
    for i, pair in enumerate(pairs):  # keys of the text as given and as the rewrites first see it
        keys = hook_template.text_keys(pair.bad_output) | hook_template.text_keys(applier.stripped(pair.bad_output))
        for key in keys:
            pair_index[key].append(i)
    baseline = [Levenshtein.distance(p.bad_output, p.fixed_output) for p in pairs]

    def harm(i: int, only: str | None = None) -> int:
        return Levenshtein.distance(applier.apply(pairs[i].bad_output, only), pairs[i].fixed_output) - baseline[i]

    pruned: list[tuple[str, str]] = []
    overruled: set[int] = set()
    settled: dict[str, list[int]] = {}
    if focus is None:
        dirty = set(range(len(pairs)))
    else:
        dirty = {j for rid in focus if rid in applier.rules for j in applier.texts_for(rid, pair_index, len(pairs))}
    while dirty:  # rounds: a pair touched by several pruned rules is checked again once, not once per rule
        queue, dirty = sorted(dirty), set()
        this_round = set(queue)
        for i in queue:
            if pairs[i].sequence in overruled or harm(i) <= 0:
                continue
            worse = pairs[i]
            single = {rid: harm(i, rid) for rid in applier.candidates(worse.bad_output)}
            culprits = [rid for rid, h in single.items() if h > 0] or [
                rid for rid in single if applier.apply(worse.bad_output, rid) != worse.bad_output
            ]
            if not culprits:
                overruled.add(worse.sequence)
                continue
            victim = min(
                (applier.rules[rid] for rid in culprits),
                key=lambda r: (r.support, -single[r.rule_id], r.last_seen, r.rule_id),
            )
            votes_against = _votes_against(applier, victim, pairs, pair_index, baseline, overruled, settled)
            if victim.support > votes_against:
                overruled.add(worse.sequence)
                continue
            applier.alive.discard(victim.rule_id)
            pruned.append(
                (
                    victim.rule_id,
                    f"made feedback pair {worse.sequence} worse "
                    f"(support {victim.support}, hurts {votes_against} pairs)",
                )
            )
            # Only the pairs the pruned rule could change can come out differently; those still
            # ahead in this round will be checked anyway.
            touched = applier.texts_for(victim.rule_id, pair_index, len(pairs))
            dirty.update(j for j in touched if j <= i or j not in this_round)
            dirty.add(i)
    return [r for r in rules if r.rule_id in applier.alive], pruned, overruled


def application_key(rule: Rule) -> tuple[int, float, int, str]:
    """The order in which rules claim text: sentence-scoped rewrites first (their replacement is
    the whole corrected sentence), then higher priority, then longer target, then id."""
    return (0 if rule.scope == "sentence" else 1, -rule.priority, -len(rule.target), rule.rule_id)
