"""The damage check: rules are applied to known-good text before a hook can use them.

Known-good text is what nobody complained about: a sample of the function's own SUCCESS outputs
and the fixed outputs of the feedback. A rewrite rule (replace, remove, number pattern) that
changes any of it is damage, whatever its support: the evidence that made the rule does not
explain that change. Boundary rules (prepend, append, strip a prefix or suffix) with general
support are formatting policies that are *meant* to change every output, so only their scoped
forms are checked. Texts are indexed by word, so each rule is tried only on texts that contain
its rarest word: the check is near-linear in rules plus texts.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vector_trainer.synthesizer import hook_template
from vector_trainer.types import Rule, RuleKind

#: Known-good texts sampled (seeded) for the check; more cost time and find little more.
KNOWN_GOOD_SAMPLE = 5_000
_BOUNDARY_KINDS = frozenset({RuleKind.PREPEND, RuleKind.APPEND, RuleKind.STRIP_PREFIX, RuleKind.STRIP_SUFFIX})


@dataclass(frozen=True)
class Damage:
    """A rule that changed known-good text, and what was done about it."""

    rule_id: str
    action: str  # "demoted" (to the sentences it was seen in) or "dropped"
    changed: int
    example: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "rule_id": self.rule_id,
            "action": self.action,
            "changed_known_good": self.changed,
            "example": self.example,
        }


def sample_known_good(texts: Sequence[str], limit: int = KNOWN_GOOD_SAMPLE, seed: int = 0) -> list[str]:
    """Distinct non-blank texts, at most ``limit`` of them (a seeded sample when there are more)."""
    unique = sorted({t for t in texts if isinstance(t, str) and t.strip()})
    if len(unique) <= limit:
        return unique
    return random.Random(seed).sample(unique, limit)


class KnownGoodIndex:
    """Known-good texts with a word index, to find the texts a rule could change."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        postings: dict[str, list[int]] = defaultdict(list)
        for i, text in enumerate(self.texts):
            for key in hook_template.text_keys(text):
                postings[key].append(i)
        self._postings = dict(postings)

    def candidates(self, rule: Rule) -> Sequence[int]:
        """Indices of the texts that hold every key (word or word pair) of the rule (all if it has none)."""
        words = hook_template.required_words(rule.to_hook_data())
        if not words:
            return range(len(self.texts))
        lists = sorted((self._postings.get(w, []) for w in words), key=len)
        found = set(lists[0])
        for other in lists[1:]:
            found.intersection_update(other)
            if not found:
                break
        return sorted(found)

    def changed_by(self, rule: Rule) -> list[str]:
        """The known-good texts that ``rule`` alone would change."""
        compiled = hook_template.compile_rules((rule.to_hook_data(),))
        return [
            self.texts[i]
            for i in self.candidates(rule)
            if hook_template.apply_compiled(compiled, self.texts[i]) != self.texts[i]
        ]


def is_checked(rule: Rule) -> bool:
    """Whether a rule must leave known-good text alone (see the module docstring)."""
    return not (rule.kind in _BOUNDARY_KINDS and rule.scope == "general")


def checked_rule_data(rules: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The rules (in the hook's data form) that must leave known-good text alone."""
    boundary = {kind.value for kind in _BOUNDARY_KINDS}
    return tuple(r for r in rules if not (r["kind"] in boundary and r.get("scope", "general") == "general"))


def damaging(rules: Sequence[Rule], index: KnownGoodIndex) -> dict[str, tuple[int, str]]:
    """``rule_id -> (texts changed, one example)`` for every checked rule that changes known-good text."""
    found: dict[str, tuple[int, str]] = {}
    if not index.texts:
        return found
    for rule in rules:
        if not is_checked(rule):
            continue
        changed = index.changed_by(rule)
        if changed:
            found[rule.rule_id] = (len(changed), changed[0][:200])
    return found
