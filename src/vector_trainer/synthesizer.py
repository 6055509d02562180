"""FR-2: feedback pairs -> word-level edits -> a discrete rule set -> a safe hook script.

* :class:`FeedbackDiffAnalyzer` measures each correction: Levenshtein distance and ratio, the
  cosine similarity of the two texts' embeddings, and the edits at word/phrase level with their
  position (start, middle, end).
* :class:`RuleSetSynthesizer` turns edits into typed rules, merges the same edit seen in
  several pairs (support), generalises numbers, detects contradictions and resolves them by
  support, then recency; it then prunes any rule that makes a known pair worse.
* :class:`HookScriptGenerator` renders ``generated_prompt_hook.py`` from
  :mod:`vector_trainer.hook_template` with the rules as literal data, validates its AST against
  the template, imports it in an isolated interpreter, self-tests it on the feedback, and only
  then activates it (versioned, FR-7).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pprint
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from importlib import resources
from pathlib import Path
from typing import Any

import Levenshtein
import numpy as np

from vector_trainer import hook_template
from vector_trainer.embedders import Embedder, HashingEmbedder, cosine_similarity
from vector_trainer.errors import ConfigError, HookValidationError, InputError
from vector_trainer.fileio import atomic_write_text, iter_jsonl
from vector_trainer.hook_versions import HookVersion, HookVersionManager
from vector_trainer.llm_advisor import AdvisorError, LLMRuleAdvisor
from vector_trainer.types import FeedbackPair, Rule, RuleKind

HOOK_FILENAME = "generated_prompt_hook.py"
VERSION_DIRNAME = ".hook_versions"
DEFAULT_MIN_SUPPORT = 1
DEFAULT_MAX_PHRASE_WORDS = 12
DEFAULT_MIN_PHRASE_CHARS = 4
MAX_FEEDBACK_CHARS = 100_000
SELF_TEST_TIMEOUT_S = 60
_TOKEN = re.compile(r"\w+|[^\w\s]|\s+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_LITERAL_NAMES = ("METADATA", "INJECT_INSTRUCTIONS", "INSTRUCTION_HEADER", "INSTRUCTIONS", "RULES")


# -- analysis --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One word/phrase-level change between a bad and a fixed text.

    Attributes:
        kind: ``insert``, ``delete`` or ``replace``.
        before: Text removed (with enough neighbouring context to be specific).
        after: Text added in its place.
        position: ``start``, ``middle`` or ``end`` of the text.
        offset: Character offset of ``before`` in the bad text.
    """

    kind: str
    before: str
    after: str
    position: str
    offset: int


@dataclass(frozen=True)
class FeedbackDiff:
    """How a fixed text differs from the bad one."""

    pair: FeedbackPair
    distance: int
    similarity: float
    semantic_similarity: float
    edits: tuple[Edit, ...]


def tokenize(text: str) -> list[str]:
    """Words, single punctuation marks and whitespace runs; ``"".join`` restores the text."""
    return _TOKEN.findall(text)


def _is_space(token: str) -> bool:
    return token.isspace()


def _is_word(token: str) -> bool:
    return bool(token) and (token[0].isalnum() or token[0] == "_")


class FeedbackDiffAnalyzer:
    """Finds what changed between a bad and a fixed output.

    Args:
        embedder: Embeds texts for the semantic difference; default: the offline hashing
            embedder (lexical; pass a sentence-transformers or OpenAI embedder for semantics).
        min_phrase_chars: Edits shorter than this are widened to the neighbouring words so that a
            rule about "a" -> "an" does not fire on every "a".
    """

    def __init__(self, embedder: Embedder | None = None, min_phrase_chars: int = DEFAULT_MIN_PHRASE_CHARS) -> None:
        self.embedder = embedder or HashingEmbedder()
        self.min_phrase_chars = min_phrase_chars

    def analyze(self, pair: FeedbackPair) -> FeedbackDiff:
        """Measure one pair."""
        return self.analyze_many([pair])[0]

    def analyze_many(self, pairs: Sequence[FeedbackPair]) -> list[FeedbackDiff]:
        """Measure many pairs (embeddings computed in one batch)."""
        if not pairs:
            return []
        texts = [p.bad_output for p in pairs] + [p.fixed_output for p in pairs]
        vectors = self.embedder.embed(texts)
        n = len(pairs)
        return [
            FeedbackDiff(
                pair=pair,
                distance=Levenshtein.distance(pair.bad_output, pair.fixed_output),
                similarity=Levenshtein.ratio(pair.bad_output, pair.fixed_output),
                semantic_similarity=cosine_similarity(np.asarray(vectors[i]), np.asarray(vectors[n + i])),
                edits=tuple(self.edits(pair.bad_output, pair.fixed_output)),
            )
            for i, pair in enumerate(pairs)
        ]

    def edits(self, bad: str, fixed: str) -> list[Edit]:
        """Word-level edits from ``bad`` to ``fixed``; changes separated only by whitespace are
        merged into one phrase edit."""
        a, b = tokenize(bad), tokenize(fixed)
        ops = [op for op in SequenceMatcher(None, a, b, autojunk=False).get_opcodes()]
        merged: list[list[int]] = []
        for index, (tag, i1, i2, j1, j2) in enumerate(ops):
            if tag == "equal":
                continue
            previous = ops[index - 1] if index else None
            joinable = (
                merged
                and previous is not None
                and previous[0] == "equal"
                and merged[-1][1] == previous[1]
                and all(_is_space(t) for t in a[previous[1] : previous[2]])
            )
            if joinable:
                merged[-1][1], merged[-1][3] = i2, j2
            else:
                merged.append([i1, i2, j1, j2])
        return [self._edit(a, b, *window) for window in merged]

    def _edit(self, a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> Edit:
        at_start = i1 == 0 and j1 == 0
        at_end = i2 == len(a) and j2 == len(b)
        position = "start" if at_start else "end" if at_end else "middle"
        core = "".join(a[i1:i2]).strip() or "".join(b[j1:j2]).strip()
        is_replace = i1 != i2 and j1 != j2
        short = len(core) < self.min_phrase_chars
        if (position == "middle" and (i1 == i2 or short)) or (is_replace and short):
            # Widen to the nearest word on each side (those tokens are equal in both texts).
            while i1 > 0 and j1 > 0 and not _is_word(a[i1 - 1]):
                i1, j1 = i1 - 1, j1 - 1
            if i1 > 0 and j1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            # A unit after a number ("12 hrs") is specific enough: numbers generalise later.
            if not a[i1].isdigit():
                while i2 < len(a) and j2 < len(b) and not _is_word(a[i2]):
                    i2, j2 = i2 + 1, j2 + 1
                if i2 < len(a) and j2 < len(b):
                    i2, j2 = i2 + 1, j2 + 1
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        kind = "insert" if not before else "delete" if not after else "replace"
        return Edit(kind, before, after, position, len("".join(a[:i1])))


# -- synthesis -------------------------------------------------------------------------------


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
        max_phrase_words: Edits longer than this many words are rewrites, not rules (skipped).
        llm: Optional :class:`~vector_trainer.llm_advisor.LLMRuleAdvisor`: arbitrates conflicts
            and proposes prompt-side instructions; on any failure the deterministic path is used
            and the reason is recorded in ``SynthesisResult.llm``.
    """

    def __init__(
        self,
        analyzer: FeedbackDiffAnalyzer | None = None,
        min_support: int = DEFAULT_MIN_SUPPORT,
        max_phrase_words: int = DEFAULT_MAX_PHRASE_WORDS,
        llm: LLMRuleAdvisor | None = None,
    ) -> None:
        if min_support < 1:
            raise ConfigError(f"min_support must be >= 1, got {min_support}")
        if max_phrase_words < 1:
            raise ConfigError(f"max_phrase_words must be >= 1, got {max_phrase_words}")
        self.analyzer = analyzer or FeedbackDiffAnalyzer()
        self.min_support = min_support
        self.max_phrase_words = max_phrase_words
        self.llm = llm

    def synthesize(self, pairs: Sequence[FeedbackPair]) -> SynthesisResult:
        """Analyse the pairs and build the rule set.

        Raises:
            InputError: For a pair that is not text or is over the size limit.
        """
        usable = [p for p in pairs if _check_pair(p)]
        diffs = self.analyzer.analyze_many(usable)
        drafts: dict[tuple[str, str, str], _Draft] = {}
        skipped: list[SkippedEdit] = []
        for diff in diffs:
            for edit in diff.edits:
                draft = self._draft(edit)
                if isinstance(draft, str):
                    skipped.append(SkippedEdit(diff.pair.sequence, edit.before, edit.after, draft))
                    continue
                existing = drafts.setdefault(draft.key, draft)
                existing.sources.add(diff.pair.sequence)
        rules = [self._finalise(d) for d in drafts.values()]
        llm_log: dict[str, Any] | None = (
            {"model": self.llm.model, "arbitrated": 0, "proposed": 0, "fallbacks": []} if self.llm else None
        )
        resolved, conflicts = _resolve_conflicts(rules, self._arbiter(usable, llm_log))
        kept = {r.rule_id for r in resolved}
        overruled = sorted({seq for r in rules if r.rule_id not in kept for seq in r.sources})
        active = [r for r in resolved if r.support >= self.min_support]
        inactive = [r for r in resolved if r.support < self.min_support]
        evidence = [p for p in usable if p.sequence not in set(overruled)]
        active, pruned, outliers = _prune_harmful(active, evidence)
        overruled = sorted(set(overruled) | outliers)
        order = sorted(active, key=_application_key)
        instructions: tuple[str, ...] = ()
        if self.llm is not None and llm_log is not None:
            try:
                instructions = tuple(self.llm.propose_instructions(usable, order))
                llm_log["proposed"] = len(instructions)
            except AdvisorError as exc:
                llm_log["fallbacks"].append(f"instructions: {exc}")
        return SynthesisResult(
            rules=tuple(order),
            inactive=tuple(sorted(inactive, key=_application_key)),
            conflicts=tuple(conflicts),
            pruned=tuple(pruned),
            skipped=tuple(skipped),
            diffs=tuple(diffs),
            overruled=tuple(overruled),
            instructions=instructions,
            llm=llm_log,
        )

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
            return "only whitespace changed"
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
    def _finalise(draft: _Draft) -> Rule:
        sources = tuple(sorted(draft.sources))
        kind, target, replacement = draft.kind, draft.target, draft.replacement
        return Rule(
            rule_id=_rule_id(kind, target, replacement),
            kind=kind,
            target=target,
            replacement=replacement,
            support=len(sources),
            sources=sources,
            priority=float(len(sources)),
            instruction=_instruction(kind, target, replacement, draft.example),
            last_seen=max(sources),
            segments=draft.segments,
            template=draft.template,
        )


def _application_key(rule: Rule) -> tuple[float, int, str]:
    return (-rule.priority, -len(rule.target), rule.rule_id)


def _check_pair(pair: FeedbackPair) -> bool:
    for name in ("bad_output", "fixed_output"):
        value = getattr(pair, name)
        if not isinstance(value, str):
            raise InputError(f"feedback pair {pair.sequence}: '{name}' must be a string, got {type(value).__name__}")
        if len(value) > MAX_FEEDBACK_CHARS:
            raise InputError(
                f"feedback pair {pair.sequence}: '{name}' has {len(value)} characters; "
                f"the limit is {MAX_FEEDBACK_CHARS}"
            )
    return bool(pair.bad_output.strip() or pair.fixed_output.strip()) and pair.bad_output != pair.fixed_output


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


def _resolve_conflicts(
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


def _compile(rules: Sequence[Rule]) -> tuple[tuple[int, str, Any, Any], ...]:
    return hook_template.compile_rules(tuple(r.to_hook_data() for r in rules))


def apply_rules(rules: Sequence[Rule], text: str) -> str:
    """Apply rules exactly as the generated hook does (same code: the hook template)."""
    return hook_template.apply_compiled(_compile(rules), text)


def _moves_away(compiled: tuple[tuple[int, str, Any, Any], ...], pair: FeedbackPair) -> int:
    """How much further (in edits) compiled rules move a pair's bad output from its fixed output."""
    baseline = Levenshtein.distance(pair.bad_output, pair.fixed_output)
    return Levenshtein.distance(hook_template.apply_compiled(compiled, pair.bad_output), pair.fixed_output) - baseline


def _prune_harmful(
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
    active = sorted(rules, key=_application_key)
    pruned: list[tuple[str, str]] = []
    overruled: set[int] = set()
    while active:
        compiled = _compile(active)
        worse = next((p for p in pairs if p.sequence not in overruled and _moves_away(compiled, p) > 0), None)
        if worse is None:
            break
        singles = {r.rule_id: _compile([r]) for r in active}
        harm = {r.rule_id: _moves_away(singles[r.rule_id], worse) for r in active}
        culprits = [r for r in active if harm[r.rule_id] > 0] or [
            r for r in active if apply_rules([r], worse.bad_output) != worse.bad_output
        ]
        if not culprits:
            overruled.add(worse.sequence)
            continue
        victim = min(culprits, key=lambda r: (r.support, -harm[r.rule_id], r.last_seen, r.rule_id))
        votes_against = sum(
            1 for p in pairs if p.sequence not in overruled and _moves_away(singles[victim.rule_id], p) > 0
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


# -- feedback files ----------------------------------------------------------------------------


def load_feedback(path: str | os.PathLike[str]) -> list[FeedbackPair]:
    """Read feedback JSONL: ``bad_output``, ``fixed_output``, optional ``input_prompt``, ``context``.

    Raises:
        InputError: ``file:line: ...`` for the first malformed line.
    """
    pairs: list[FeedbackPair] = []
    name = os.fspath(path)
    if not Path(path).is_file():
        raise InputError(f"{name}: no such file")
    for line_no, record in iter_jsonl(path):
        where = f"{name}:{line_no}"
        for key in ("bad_output", "fixed_output"):
            if not isinstance(record.get(key), str):
                raise InputError(f"{where}: missing field '{key}' (a string)")
            if len(record[key]) > MAX_FEEDBACK_CHARS:
                raise InputError(
                    f"{where}: '{key}' has {len(record[key])} characters; the limit is {MAX_FEEDBACK_CHARS}"
                )
        prompt = record.get("input_prompt", "")
        if not isinstance(prompt, str):
            raise InputError(f"{where}: 'input_prompt' must be a string")
        context = record.get("context", {})
        if not isinstance(context, dict):
            raise InputError(f"{where}: 'context' must be an object")
        if "function_name" in record:
            context = {**context, "function_name": record["function_name"]}
        pairs.append(FeedbackPair(record["bad_output"], record["fixed_output"], prompt, context, sequence=len(pairs)))
    return pairs


# -- hook generation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfTestReport:
    """What the isolated self-test of a hook observed."""

    pairs: int
    fixed_exactly: int
    improved: int
    unchanged: int

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class GeneratedHook:
    """A generated, validated and activated hook."""

    path: Path
    sha256: str
    rule_count: int
    version: HookVersion | None
    self_test: SelfTestReport


_SELF_TEST_SCRIPT = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("vectortrainer_hook_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
pairs = json.load(sys.stdin)
outputs = []
for bad, _fixed, prompt in pairs:
    out = module.intercept_output(bad, {})
    shaped = module.intercept_prompt(prompt, {})
    if not isinstance(out, str) or not isinstance(shaped, str):
        raise TypeError("hook returned a non-string")
    outputs.append(out)
json.dump(outputs, sys.stdout)
"""


def _template_source() -> str:
    return resources.files("vector_trainer").joinpath("hook_template.py").read_text(encoding="utf-8")


def _strip_literals(tree: ast.Module) -> str:
    """AST dump with the values of the data assignments blanked, to compare code shape."""
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in _LITERAL_NAMES:
            node.value = ast.Constant(value=None)
    return ast.dump(tree, include_attributes=False)


def validate_hook_source(source: str) -> None:
    """Check that ``source`` is the hook template with only literal data changed.

    Raises:
        HookValidationError: On a syntax error, a non-literal data value, or any statement that
            differs from the template.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise HookValidationError(f"generated hook does not parse: {exc}") from exc
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in _LITERAL_NAMES:
            try:
                ast.literal_eval(node.value)  # type: ignore[arg-type]
            except ValueError as exc:
                raise HookValidationError(f"{node.target.id} is not a pure literal") from exc
    if _strip_literals(tree) != _strip_literals(ast.parse(_template_source())):
        raise HookValidationError("generated hook contains code beyond its template")


class HookScriptGenerator:
    """Writes the rule set as ``generated_prompt_hook.py`` (FR-2.5, FR-2.6, FR-7.4).

    Args:
        inject_instructions: Whether ``intercept_prompt`` appends the rules' instructions.
        python: Interpreter for the isolated import and self-test.
    """

    def __init__(self, inject_instructions: bool = True, python: str | None = None) -> None:
        self.inject_instructions = inject_instructions
        self.python = python or sys.executable

    def render(
        self, rules: Sequence[Rule], metadata: dict[str, Any] | None = None, extra_instructions: Sequence[str] = ()
    ) -> str:
        """The hook's source: the template with the rules (and any LLM-proposed instructions)
        as literal data."""
        instructions = [r.instruction for r in rules if r.instruction]
        instructions += [text for text in extra_instructions if text not in instructions]
        values: dict[str, Any] = {
            "METADATA": dict(metadata or {}),
            "INJECT_INSTRUCTIONS": self.inject_instructions,
            "INSTRUCTION_HEADER": hook_template.INSTRUCTION_HEADER,
            "INSTRUCTIONS": tuple(instructions),
            "RULES": tuple(r.to_hook_data() for r in rules),
        }
        lines = _template_source().splitlines(keepends=True)
        tree = ast.parse("".join(lines))
        replacements: list[tuple[int, int, str]] = []
        for node in tree.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in values:
                annotation = ast.get_source_segment("".join(lines), node.annotation)
                literal = pprint.pformat(values[node.target.id], width=100, sort_dicts=False)
                text = f"{node.target.id}: {annotation} = {literal}\n"
                replacements.append((node.lineno - 1, node.end_lineno or node.lineno, text))
        for start, end, text in sorted(replacements, reverse=True):
            lines[start:end] = [text]
        return "".join(lines)

    def self_test(self, source: str, pairs: Sequence[FeedbackPair]) -> SelfTestReport:
        """Import the hook in a fresh isolated interpreter and run it on every pair.

        Raises:
            HookValidationError: If the import fails, a call raises or returns a non-string, or
                the hook moves any pair's bad output further from its fixed output.
        """
        with tempfile.TemporaryDirectory(prefix="vectortrainer-hook-") as tmp:
            hook_path = Path(tmp) / HOOK_FILENAME
            hook_path.write_text(source, encoding="utf-8")
            payload = json.dumps([[p.bad_output, p.fixed_output, p.input_prompt] for p in pairs])
            try:
                proc = subprocess.run(
                    [self.python, "-I", "-c", _SELF_TEST_SCRIPT, str(hook_path)],
                    input=payload,
                    capture_output=True,
                    text=True,
                    encoding="utf-8",
                    timeout=SELF_TEST_TIMEOUT_S,
                    cwd=tmp,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise HookValidationError(f"hook self-test timed out after {SELF_TEST_TIMEOUT_S}s") from exc
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise HookValidationError(f"hook failed its isolated import/self-test: {tail[0]}")
        outputs = json.loads(proc.stdout)
        exact = improved = unchanged = 0
        for pair, out in zip(pairs, outputs, strict=True):
            before = Levenshtein.distance(pair.bad_output, pair.fixed_output)
            after = Levenshtein.distance(out, pair.fixed_output)
            if after > before:
                raise HookValidationError(
                    f"hook moves feedback pair {pair.sequence} further from its fixed output "
                    f"({before} -> {after} edits)"
                )
            exact += out == pair.fixed_output
            improved += after < before
            unchanged += out == pair.bad_output
        return SelfTestReport(len(pairs), exact, improved, unchanged)

    def generate(
        self,
        rules: Sequence[Rule],
        output_path: str | os.PathLike[str] = HOOK_FILENAME,
        *,
        feedback_pairs: Sequence[FeedbackPair] = (),
        enable_versioning: bool = True,
        version_dir: str | os.PathLike[str] | None = None,
        metadata: dict[str, Any] | None = None,
        extra_instructions: Sequence[str] = (),
    ) -> GeneratedHook:
        """Render, validate, self-test and activate a hook.

        With versioning (the default) the hook is stored as a new version under
        ``version_dir`` (default ``<output dir>/.hook_versions``) and made active; without it
        the file is simply written atomically. A hook that fails validation is never written.

        Raises:
            HookValidationError: If the hook fails any check; nothing is activated.
        """
        usable = [p for p in feedback_pairs if isinstance(p.bad_output, str) and isinstance(p.fixed_output, str)]
        source = self.render(rules, metadata, extra_instructions)
        validate_hook_source(source)
        report = self.self_test(source, usable)
        target = Path(output_path)
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
        version: HookVersion | None = None
        if enable_versioning:
            manager = HookVersionManager(Path(version_dir) if version_dir else target.parent / VERSION_DIRNAME, target)
            version = manager.add(source, rule_count=len(rules))
        else:
            atomic_write_text(target, source)
        return GeneratedHook(target, digest, len(rules), version, report)
