"""The damage check: rules are applied to known-good text before a hook can use them.

Known-good text is what nobody complained about: a sample of the function's own SUCCESS outputs
and the fixed outputs of the feedback, less any text that holds a mistake the feedback corrects
(a sentence of a bad output that its fix changed, or a changed word with the same words on
either side of it as in the bad output): such a text is evidence for the rule, not damage
against it. A rule of any kind (rewrite, prepend, append, strip) that changes known-good
text is damage, whatever its support: the evidence that made the rule does not explain that
change. A rule is never checked against the fixed outputs of its own pairs. Texts are indexed by
word, so each rule is tried only on texts that contain its rarest word: the check is
near-linear in rules plus texts.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vector_trainer.synthesizer import hook_template
from vector_trainer.synthesizer.diff import aligned
from vector_trainer.types import Rule

#: Known-good texts sampled (seeded) for the check; more cost time and find little more.
KNOWN_GOOD_SAMPLE = 5_000
_SENTENCE_MARK = "\x00"  # how hook_template.text_keys marks a sentence key
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"\w+")
#: Longest run of words (changed words and their two neighbours) kept as a flagged context;
#: longer changes are rewrites, recognised by their whole sentence.
MAX_CONTEXT_WORDS = 8


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


def _sentence_forms(text: str) -> set[str]:
    """A text's sentences as keys, numbers abstracted (``It takes # hrs.``): the same sentence
    with other numbers is the same mistake."""
    return {_DIGITS.sub("#", k) for k in hook_template.text_keys(text) if k.startswith(_SENTENCE_MARK)}


def _words(text: str) -> list[str]:
    return [_DIGITS.sub("#", w) for w in _WORD.findall(text.casefold())]


def _changed_contexts(bad: str, fixed: str) -> set[tuple[str, ...]]:
    """Each change of ``bad`` with the word on either side of it (case folded, numbers
    abstracted): ``Please make a return`` -> ``start`` gives ``(please, make, a)``. A change at
    either end of the text has a neighbour on one side only and is left to the sentence check."""
    words = _words(bad)
    contexts = set()
    for tag, i1, i2, _j1, _j2 in aligned(words, _words(fixed)):
        if tag != "equal" and i1 > 0 and i2 < len(words) and i2 - i1 + 2 <= MAX_CONTEXT_WORDS:
            contexts.add(tuple(words[i1 - 1 : i2 + 1]))
    return contexts


@dataclass(frozen=True)
class Flagged:
    """The mistakes the feedback corrects: the sentences of bad outputs that their fixes changed
    (numbers abstracted), and each changed word with its neighbours."""

    sentences: frozenset[str]
    contexts: frozenset[tuple[str, ...]]

    def held_by(self, text: str) -> bool:
        """Whether ``text`` holds a flagged sentence or a flagged context."""
        if not self.sentences.isdisjoint(_sentence_forms(text)):
            return True
        if not self.contexts:
            return False
        words = _words(text)
        lengths = {len(c) for c in self.contexts}
        return any(tuple(words[i : i + n]) in self.contexts for n in lengths for i in range(len(words) - n + 1))


def flagged_mistakes(pairs: Sequence[Any]) -> Flagged:
    """The mistakes corrected by ``pairs`` (see :class:`Flagged`)."""
    sentences: set[str] = set()
    contexts: set[tuple[str, ...]] = set()
    for pair in pairs:
        sentences |= _sentence_forms(pair.bad_output) - _sentence_forms(pair.fixed_output)
        contexts |= _changed_contexts(pair.bad_output, pair.fixed_output)
    return Flagged(frozenset(sentences), frozenset(contexts))


def without_flagged(texts: Sequence[str], flagged: Flagged) -> list[str]:
    """The texts that hold none of the flagged mistakes (the rest are evidence, not known-good)."""
    if not flagged.sentences and not flagged.contexts:
        return list(texts)
    return [t for t in texts if not flagged.held_by(t)]


class KnownGoodIndex:
    """Known-good texts with a word index, to find the texts a rule could change.

    Args:
        texts: The known-good texts.
        origins: For a text that is a pair's fixed output, the sequences of those pairs (a rule
            is not checked against the fixed outputs of its own pairs).
    """

    def __init__(self, texts: Sequence[str], origins: dict[str, set[int]] | None = None) -> None:
        self.texts = list(texts)
        self.origins = origins or {}
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


def known_good_index(
    known_good: Sequence[str], pairs: Sequence[Any], fixes: Sequence[Any], limit: int = KNOWN_GOOD_SAMPLE
) -> KnownGoodIndex:
    """The damage check's reference: the store's texts that hold no corrected mistake of
    ``pairs`` (those are evidence), and the fixed outputs of ``fixes`` (each known as its pairs')."""
    origins: dict[str, set[int]] = {}
    for pair in fixes:
        origins.setdefault(pair.fixed_output, set()).add(pair.sequence)
    good = [*without_flagged(known_good, flagged_mistakes(pairs)), *(p.fixed_output for p in fixes)]
    return KnownGoodIndex(sample_known_good(good, limit), origins)


def damaging(rules: Sequence[Rule], index: KnownGoodIndex) -> dict[str, tuple[int, str]]:
    """``rule_id -> (texts changed, one example)`` for every rule that changes known-good text."""
    found: dict[str, tuple[int, str]] = {}
    if not index.texts:
        return found
    for rule in rules:
        own = set(rule.sources)
        changed = [t for t in index.changed_by(rule) if not (t in index.origins and index.origins[t] <= own)]
        if changed:
            found[rule.rule_id] = (len(changed), changed[0][:200])
    return found
