"""FR-2.2: what changed between a bad and a fixed output.

:class:`FeedbackDiffAnalyzer` measures each correction: Levenshtein distance and ratio, the cosine
similarity of the two texts' embeddings, and the edits at word/phrase level with their position
(start, middle, end).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import Levenshtein
import numpy as np

from vector_trainer._params import check_values
from vector_trainer.config import SynthesizerConfig
from vector_trainer.sources.embedders import Embedder, HashingEmbedder, cosine_similarity
from vector_trainer.synthesizer import hook_template
from vector_trainer.types import FeedbackPair

_TOKEN = re.compile(r"\w+|[^\w\s]|\s+", re.UNICODE)


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

    def __init__(
        self, embedder: Embedder | None = None, min_phrase_chars: int = SynthesizerConfig.min_phrase_chars
    ) -> None:
        check_values(SynthesizerConfig, "synthesizer", {"min_phrase_chars": min_phrase_chars})
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
        ops = aligned(a, b)
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
        widened: list[tuple[int, int, int, int]] = []
        for window in (self._widen(a, b, *window) for window in merged):
            if widened and window[0] < widened[-1][1]:  # widening made two edits share a word: one edit
                widened[-1] = (
                    widened[-1][0],
                    max(widened[-1][1], window[1]),
                    widened[-1][2],
                    max(widened[-1][3], window[3]),
                )
            else:
                widened.append(window)
        return [self._edit(a, b, *window) for window in widened]

    def _widen(self, a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> tuple[int, int, int, int]:
        at_start = i1 == 0 and j1 == 0
        at_end = i2 == len(a) and j2 == len(b)
        position = "start" if at_start else "end" if at_end else "middle"
        core = "".join(a[i1:i2]).strip() or "".join(b[j1:j2]).strip()
        is_replace = i1 != i2 and j1 != j2
        short = display_width(core) < self.min_phrase_chars  # 고객 is a whole word, as "client" is
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
        return i1, i2, j1, j2

    @staticmethod
    def _edit(a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> Edit:
        at_start = i1 == 0 and j1 == 0
        at_end = i2 == len(a) and j2 == len(b)
        position = "start" if at_start else "end" if at_end else "middle"
        before, after = without_shared_particle("".join(a[i1:i2]), "".join(b[j1:j2]))
        kind = "insert" if not before else "delete" if not after else "replace"
        return Edit(kind, before, after, position, len("".join(a[:i1])))


def display_width(text: str) -> int:
    """Columns ``text`` takes: 2 for a wide character (Hangul, kana, CJK), else 1. A Hangul
    syllable carries about what two Latin letters do, so short edits are judged alike."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


#: Characters of a Korean stem left after a shared particle is taken off (a one-syllable stem
#: such as 바 in 바다 -> 하다 is a word's start, not a word).
MIN_KOREAN_STEM = 2


def without_shared_particle(before: str, after: str) -> tuple[str, str]:
    """A Korean replacement with the particle chain both sides end in taken off
    (아메리카노를 -> 카페라테를 becomes 아메리카노 -> 카페라테), so corrections seen with
    different particles are one edit, and the hook's particle-aware matching applies it before
    any particle. Anything else is returned as it is."""
    after_stems = hook_template.korean_stems(after)
    for stem in sorted(hook_template.korean_stems(before) - {before}, key=len):  # the longest chain first
        chain = before[len(stem) :]
        other = after[: len(after) - len(chain)]
        long_enough = min(len(stem.strip()), len(other.strip())) >= MIN_KOREAN_STEM
        if after.endswith(chain) and other in after_stems and other != stem and long_enough:
            return stem, other
    return before, after


_SENTENCE = hook_template.SENTENCE
#: A scoped correction's context is widened with neighbouring sentences to at least this many words.
SCOPE_MIN_WORDS = 4


#: Tokens (words, spaces, punctuation) of the two texts' differing middle above which they are
#: compared as one rewrite, not word by word: the word alignment is quadratic, this bound keeps
#: a 100,000-character pair to milliseconds. Real corrections are far below it.
MAX_ALIGNED_TOKENS = 4_000


def aligned(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """``SequenceMatcher`` opcodes of two token lists, in time linear in their length beyond a
    bounded middle: the common prefix and suffix are matched first, and a differing middle longer
    than :data:`MAX_ALIGNED_TOKENS` is one ``replace`` (a rewrite, too long to be a rule)."""
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end = 0
    while end < limit - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    a_mid, b_mid = a[start : len(a) - end], b[start : len(b) - end]
    if len(a_mid) + len(b_mid) > MAX_ALIGNED_TOKENS:
        middle = [("replace", start, len(a) - end, start, len(b) - end)]
    else:
        middle = [
            (tag, i1 + start, i2 + start, j1 + start, j2 + start)
            for tag, i1, i2, j1, j2 in SequenceMatcher(None, a_mid, b_mid, autojunk=False).get_opcodes()
        ]
    head = [("equal", 0, start, 0, start)] if start else []
    tail = [("equal", len(a) - end, len(a), len(b) - end, len(b))] if end else []
    return head + middle + tail


def _word_count(text: str) -> int:
    return len(re.findall(r"\w+", text))


def sentence_rewrites(bad: str, fixed: str) -> list[tuple[str, str]]:
    """The sentences of ``bad`` that changed, each with what it became in ``fixed``.

    Sentences are aligned as units; an inserted or deleted sentence travels with an unchanged
    neighbour, and a context shorter than :data:`SCOPE_MIN_WORDS` words takes in its neighbours,
    so each rewrite is specific to the text it was seen in.
    """
    a_spans = [m.span() for m in _SENTENCE.finditer(bad)]
    b_spans = [m.span() for m in _SENTENCE.finditer(fixed)]
    if not a_spans or not b_spans:
        return [(bad.strip(), fixed.strip())] if bad.strip() != fixed.strip() else []
    a_text = [bad[s:e] for s, e in a_spans]
    b_text = [fixed[s:e] for s, e in b_spans]
    rewrites: list[tuple[str, str]] = []
    for tag, *window in aligned(a_text, b_text):
        if tag == "equal":
            continue
        i1, i2, j1, j2 = _widen(bad, a_spans, len(b_spans), *window)
        if i1 == i2 or j1 == j2:
            return [(bad.strip(), fixed.strip())]
        rewrites.append((bad[a_spans[i1][0] : a_spans[i2 - 1][1]], fixed[b_spans[j1][0] : b_spans[j2 - 1][1]]))
    return rewrites


def _widen(
    bad: str, a_spans: list[tuple[int, int]], b_count: int, i1: int, i2: int, j1: int, j2: int
) -> tuple[int, int, int, int]:
    """Grow a changed sentence window with unchanged neighbours until it is specific enough."""
    while i1 == i2 or j1 == j2 or _word_count(bad[a_spans[i1][0] : a_spans[i2 - 1][1]]) < SCOPE_MIN_WORDS:
        if i1 > 0 and j1 > 0:
            i1, j1 = i1 - 1, j1 - 1
        elif i2 < len(a_spans) and j2 < b_count:
            i2, j2 = i2 + 1, j2 + 1
        else:
            break
    return i1, i2, j1, j2
