"""FR-2.3: edits become a discrete rule set with support, sources and instructions.

:class:`RuleSetSynthesizer` turns edits into typed rules, merges the same edit seen in several
pairs (support), generalises numbers, resolves contradictions and prunes harmful rules
(:mod:`~vector_trainer.synthesizer.conflicts`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from vector_trainer._params import check_values
from vector_trainer.config import SynthesizerConfig
from vector_trainer.synthesizer.conflicts import (
    Conflict,
    application_key,
    apply_rules,
    prune_harmful,
    resolve_conflicts,
)
from vector_trainer.synthesizer.damage import Damage, KnownGoodIndex, damaging, known_good_index
from vector_trainer.synthesizer.diff import Edit, FeedbackDiff, FeedbackDiffAnalyzer, sentence_rewrites
from vector_trainer.synthesizer.feedback import check_pair
from vector_trainer.synthesizer.injection import reads_like_command
from vector_trainer.synthesizer.llm_advisor import AdvisorError, LLMRuleAdvisor
from vector_trainer.types import FeedbackPair, Rule, RuleKind

_DIGITS = re.compile(r"\d+")
WHITESPACE_ONLY = "only whitespace changed"
_D = SynthesizerConfig


@dataclass(frozen=True)
class SkippedEdit:
    """An edit that did not become a rule, and why."""

    sequence: int
    before: str
    after: str
    reason: str


@dataclass(frozen=True)
class SynthesisResult:
    """The rule set and the evidence behind it."""

    rules: tuple[Rule, ...]
    inactive: tuple[Rule, ...]
    conflicts: tuple[Conflict, ...]
    pruned: tuple[tuple[str, str], ...]
    skipped: tuple[SkippedEdit, ...]
    diffs: tuple[FeedbackDiff, ...] = field(repr=False)
    overruled: tuple[int, ...] = ()
    instructions: tuple[str, ...] = ()
    llm: dict[str, Any] | None = None
    damage: tuple[Damage, ...] = ()
    withheld: tuple[tuple[str, str], ...] = ()
    known_good: int = 0

    def consistent_pairs(self, pairs: Sequence[FeedbackPair]) -> list[FeedbackPair]:
        """The pairs the rule set must not make worse: all but those overruled (by a conflict, or
        by a better-supported rule that they contradict)."""
        overruled = set(self.overruled)
        return [p for p in pairs if p.sequence not in overruled]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report of the synthesis."""
        return {
            "rules": [r.to_dict() for r in self.rules],
            "inactive_rules": [r.to_dict() for r in self.inactive],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "pruned": [{"rule_id": rid, "reason": why} for rid, why in self.pruned],
            "skipped_edits": [s.__dict__ for s in self.skipped],
            "overruled_pairs": list(self.overruled),
            "llm_instructions": list(self.instructions),
            "llm": self.llm,
            "damage_check": {"known_good_texts": self.known_good, "rules": [d.to_dict() for d in self.damage]},
            "withheld_instructions": [{"rule_id": rid, "reason": why} for rid, why in self.withheld],
            "pairs": [
                {
                    "sequence": d.pair.sequence,
                    "distance": d.distance,
                    "similarity": round(d.similarity, 6),
                    "semantic_similarity": round(d.semantic_similarity, 6),
                    "edits": [e.__dict__ for e in d.edits],
                }
                for d in self.diffs
            ],
        }


def _rule_id(kind: RuleKind, key: str, replacement: str) -> str:
    digest = hashlib.sha256(json.dumps([kind.value, key, replacement]).encode("utf-8")).hexdigest()
    return f"{kind.value}-{digest[:10]}"


_INSTRUCTIONS = {
    RuleKind.REPLACE: "Write {replacement} instead of {target}.",
    RuleKind.REMOVE: "Do not write {target}.",
    RuleKind.PREPEND: "Begin the reply with {replacement}.",
    RuleKind.APPEND: "End the reply with {replacement}.",
    RuleKind.STRIP_PREFIX: "Do not begin the reply with {target}.",
    RuleKind.STRIP_SUFFIX: "Do not end the reply with {target}.",
    RuleKind.REGEX: "Rewrite text like {before} as {after}.",
}


def _instruction(kind: RuleKind, target: str, replacement: str, example: tuple[str, str]) -> str:
    """The prompt-side, natural-language form of a rule (texts quoted as JSON strings)."""

    def quote(text: str) -> str:
        return json.dumps(text.strip() if kind is RuleKind.REMOVE else text, ensure_ascii=False)

    return _INSTRUCTIONS[kind].format(
        target=quote(target), replacement=quote(replacement), before=quote(example[0]), after=quote(example[1])
    )


@dataclass
class _Draft:
    kind: RuleKind
    target: str
    replacement: str
    segments: tuple[str, ...] = ()
    template: tuple[str | int, ...] = ()
    example: tuple[str, str] = ("", "")
    sources: set[int] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.target, self.replacement)


def _number_generalisation(before: str, after: str) -> tuple[tuple[str, ...], tuple[str | int, ...]] | None:
    """If both texts hold the same numbers in the same order, abstract them into groups."""
    numbers = _DIGITS.findall(before)
    if not numbers or _DIGITS.findall(after) != numbers:
        return None
    segments = tuple(_DIGITS.split(before))
    template: list[str | int] = []
    for index, part in enumerate(_DIGITS.split(after)):
        if part:
            template.append(part)
        if index < len(numbers):
            template.append(index + 1)
    return segments, tuple(template)


class RuleSetSynthesizer:
    """Turns feedback pairs into a discrete, conflict-free rule set (FR-2.3, FR-2.4).

    Contradictions are resolved by the stated policy: the rule with more support wins; on equal
    support the more recent one (highest pair sequence) wins.

    Args:
        analyzer: The diff analyzer; default :class:`FeedbackDiffAnalyzer`.
        min_support: Rules seen in fewer pairs are reported but not active.
        general_support: Distinct pairs a correction needs before it applies anywhere; below it,
            each pair's correction is scoped to the sentences it was seen in.
        max_phrase_words: Edits longer than this many words are rewrites, not rules (skipped).
        llm: Optional :class:`~vector_trainer.synthesizer.llm_advisor.LLMRuleAdvisor`: arbitrates conflicts
            and proposes prompt-side instructions; on any failure the deterministic path is used
            and the reason is recorded in ``SynthesisResult.llm``.
    """

    def __init__(
        self,
        analyzer: FeedbackDiffAnalyzer | None = None,
        min_support: int = _D.min_support,
        max_phrase_words: int = _D.max_phrase_words,
        llm: LLMRuleAdvisor | None = None,
        general_support: int = _D.general_support,
    ) -> None:
        check_values(
            _D,
            "synthesizer",
            {"min_support": min_support, "max_phrase_words": max_phrase_words, "general_support": general_support},
        )
        self.analyzer = analyzer or FeedbackDiffAnalyzer()
        self.min_support = min_support
        self.general_support = general_support
        self.max_phrase_words = max_phrase_words
        self.llm = llm

    def synthesize(self, pairs: Sequence[FeedbackPair], known_good: Sequence[str] = ()) -> SynthesisResult:
        """Analyse the pairs and build the rule set.

        Args:
            pairs: The feedback pairs.
            known_good: Text nobody complained about (the function's own SUCCESS outputs); with
                the pairs' fixed outputs it is the damage check's reference (:mod:`.damage`).

        Raises:
            InputError: For a pair that is not text or is over the size limit.
        """
        usable = [p for p in pairs if check_pair(p)]
        # A pair whose output needed no fix says that output is right: rules must not make it worse.
        unchanged = [
            p
            for p in pairs
            if isinstance(p.bad_output, str) and p.bad_output.strip() and p.bad_output == p.fixed_output
        ]
        by_sequence = {p.sequence: p for p in usable}
        diffs = self.analyzer.analyze_many(usable)
        drafts, skipped = self._drafts(diffs)
        narrow = {seq for d in drafts.values() if len(d.sources) < self.general_support for seq in d.sources}
        narrow |= {s.sequence for s in skipped if s.reason != WHITESPACE_ONLY}
        general = [self._finalise(d) for d in drafts.values() if len(d.sources) >= self.general_support]
        strips = [r for r in general if r.kind in (RuleKind.STRIP_PREFIX, RuleKind.STRIP_SUFFIX)]
        rules = general + self._scoped(by_sequence, narrow, strips)
        llm_log: dict[str, Any] | None = (
            {"model": self.llm.model, "arbitrated": 0, "proposed": 0, "fallbacks": []} if self.llm else None
        )
        resolved, conflicts = resolve_conflicts(rules, self._arbiter(usable, llm_log))
        kept = {r.rule_id for r in resolved}
        overruled = {seq for r in rules if r.rule_id not in kept for seq in r.sources}
        active = [r for r in resolved if r.support >= self.min_support]
        inactive = [r for r in resolved if r.support < self.min_support]
        evidence = [*usable, *unchanged]
        active, pruned, outliers = prune_harmful(active, [p for p in evidence if p.sequence not in overruled])
        overruled |= outliers
        index = known_good_index(known_good, usable, [p for p in usable if p.sequence not in overruled])
        settled = {r.rule_id for r in active}
        active, damage = self._damage_check(active, by_sequence, narrow | overruled, index, strips)
        if damage:  # demotion added sentence rules: settle the pairs they touch too
            added = [r.rule_id for r in active if r.rule_id not in settled]
            consistent = [p for p in evidence if p.sequence not in overruled]
            active, repruned, outliers = prune_harmful(active, consistent, focus=added)
            pruned += repruned
            overruled |= outliers
        order = sorted(active, key=application_key)
        instructions, withheld = self._instructions(usable, order, llm_log)
        return SynthesisResult(
            rules=tuple(order),
            inactive=tuple(sorted(inactive, key=application_key)),
            conflicts=tuple(conflicts),
            pruned=tuple(pruned),
            skipped=tuple(skipped),
            diffs=tuple(diffs),
            overruled=tuple(sorted(overruled)),
            instructions=instructions,
            llm=llm_log,
            damage=tuple(damage),
            withheld=tuple(withheld),
            known_good=len(index.texts),
        )

    def _damage_check(
        self,
        rules: list[Rule],
        pairs: dict[int, FeedbackPair],
        narrow: set[int],
        index: KnownGoodIndex,
        strips: Sequence[Rule],
    ) -> tuple[list[Rule], list[Damage]]:
        """Demote general rules that change known-good text to the sentences they were seen in,
        and drop scoped rules that still do."""
        harm = damaging([r for r in rules if r.scope == "general"], index)
        damage = [Damage(rid, "demoted", *found) for rid, found in harm.items()]
        demoted = {seq for r in rules if r.rule_id in harm for seq in r.sources} - narrow
        candidates = [r for r in rules if r.rule_id not in harm] + self._scoped(pairs, demoted, strips)
        dropped = damaging([r for r in candidates if r.scope == "sentence"], index)
        damage += [Damage(rid, "dropped", *found) for rid, found in dropped.items()]
        return [r for r in candidates if r.rule_id not in dropped], damage

    def _drafts(self, diffs: Sequence[FeedbackDiff]) -> tuple[dict[tuple[str, str, str], _Draft], list[SkippedEdit]]:
        drafts: dict[tuple[str, str, str], _Draft] = {}
        skipped: list[SkippedEdit] = []
        for diff in diffs:
            for edit in diff.edits:
                draft = self._draft(edit)
                if isinstance(draft, str):
                    skipped.append(SkippedEdit(diff.pair.sequence, edit.before, edit.after, draft))
                    continue
                drafts.setdefault(draft.key, draft).sources.add(diff.pair.sequence)
        return drafts, skipped

    def _scoped(self, pairs: dict[int, FeedbackPair], sequences: set[int], strips: Sequence[Rule]) -> list[Rule]:
        """Each pair's corrections as rewrites of the whole sentences they were seen in (after the
        general strip rules, which the hook applies first)."""
        drafts: dict[tuple[str, str, str], _Draft] = {}
        for seq in sorted(sequences):
            pair = pairs[seq]
            bad = apply_rules(strips, pair.bad_output)  # the hook strips before it rewrites
            for before, after in sentence_rewrites(bad, pair.fixed_output):
                if before.strip():
                    drafts.setdefault(("replace", before, after), _Draft(RuleKind.REPLACE, before, after)).sources.add(
                        seq
                    )
        return [self._finalise(d, scope="sentence") for d in drafts.values()]

    def _instructions(
        self, pairs: Sequence[FeedbackPair], rules: Sequence[Rule], llm_log: dict[str, Any] | None
    ) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
        """LLM-proposed instructions (if any), and the rules whose instruction was withheld."""
        withheld = [
            (r.rule_id, "its text reads like an instruction to the model") for r in rules if _instruction_like(r)
        ]
        if self.llm is None or llm_log is None:
            return (), withheld
        try:
            proposed = self.llm.propose_instructions(pairs, rules)
        except AdvisorError as exc:
            llm_log["fallbacks"].append(f"instructions: {exc}")
            return (), withheld
        safe = tuple(text for text in proposed if not reads_like_command(text))
        withheld += [
            ("llm", f"withheld an LLM instruction that reads like a command: {t[:80]!r}")
            for t in proposed
            if t not in safe
        ]
        llm_log["proposed"] = len(safe)
        return safe, withheld

    def _arbiter(
        self, pairs: Sequence[FeedbackPair], llm_log: dict[str, Any] | None
    ) -> Callable[[str, Rule, Rule], Rule | None] | None:
        advisor = self.llm
        if advisor is None or llm_log is None:
            return None

        def arbitrate(kind: str, first: Rule, second: Rule) -> Rule | None:
            try:
                kept = advisor.resolve_conflict(kind, first, second, pairs)
            except AdvisorError as exc:
                llm_log["fallbacks"].append(f"conflict {first.rule_id}/{second.rule_id}: {exc}")
                return None
            llm_log["arbitrated"] += 1
            return kept

        return arbitrate

    def _draft(self, edit: Edit) -> _Draft | str:
        words = max(len(re.findall(r"\w+", edit.before)), len(re.findall(r"\w+", edit.after)))
        if words > self.max_phrase_words:
            return f"rewrite of {words} words is too large to generalise (max_phrase_words={self.max_phrase_words})"
        if edit.position == "start" and edit.kind == "insert":
            return _Draft(RuleKind.PREPEND, "", edit.after)
        if edit.position == "end" and edit.kind == "insert":
            return _Draft(RuleKind.APPEND, "", edit.after)
        if edit.position == "start" and edit.kind == "delete":
            return _Draft(RuleKind.STRIP_PREFIX, edit.before, "")
        if edit.position == "end" and edit.kind == "delete":
            return _Draft(RuleKind.STRIP_SUFFIX, edit.before, "")
        if not edit.before.strip():
            return WHITESPACE_ONLY
        if edit.kind == "delete":
            return _Draft(RuleKind.REMOVE, edit.before, "")
        generalised = _number_generalisation(edit.before, edit.after)
        if generalised is not None:
            segments, template = generalised
            shape = _DIGITS.sub("#", edit.before)
            target_repr = json.dumps([list(segments), list(template)], ensure_ascii=False)
            return _Draft(RuleKind.REGEX, shape, target_repr, segments, template, (edit.before, edit.after))
        return _Draft(RuleKind.REPLACE, edit.before, edit.after)

    @staticmethod
    def _finalise(draft: _Draft, scope: str = "general") -> Rule:
        sources = tuple(sorted(draft.sources))
        kind, target, replacement = draft.kind, draft.target, draft.replacement
        rule = Rule(
            rule_id=_rule_id(kind, target, replacement) + ("-s" if scope == "sentence" else ""),
            kind=kind,
            target=target,
            replacement=replacement,
            support=len(sources),
            sources=sources,
            priority=float(len(sources)),
            instruction="",
            last_seen=max(sources),
            segments=draft.segments,
            template=draft.template,
            scope=scope,
        )
        if scope != "general" or _instruction_like(rule):
            return rule
        return replace(rule, instruction=_instruction(kind, target, replacement, draft.example))


def _instruction_like(rule: Rule) -> bool:
    """Whether a rule's texts read like a command to the model (never made into an instruction)."""
    texts = (rule.target, rule.replacement, *rule.segments, *(t for t in rule.template if isinstance(t, str)))
    return any(reads_like_command(text) for text in texts)
