"""An LLM judge: a fixed rubric, pairwise, asked in both orders.

Pairwise judges favour the answer shown first (position bias). Each example is judged twice,
with the answers swapped; only a preference that survives the swap counts. A verdict that flips
with the order, or that cannot be read, is a tie.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from vector_trainer.training.chat_models import ChatModel

#: The judge's instructions. Fixed, so scores from different cycles compare.
RUBRIC = (
    "You compare two answers to the same conversation. Judge them against the reference answer, "
    "which is known to be right, on these points in this order: 1. correctness and agreement "
    "with the reference; 2. completeness (nothing the reference gives is missing); 3. following "
    "the requested format and tone; 4. no invented facts. Length by itself is not a merit. "
    "Reply with your reasoning in at most two sentences, then a last line that is exactly one of: "
    "A, B, TIE."
)
#: The last line of a verdict.
_VERDICT = re.compile(r"\b(A|B|TIE)\b\W*$")
#: Score of the first answer when the verdict is A, B or a tie.
_SCORES = {"A": 1.0, "B": 0.0, "TIE": 0.5}


@dataclass(frozen=True)
class JudgedPair:
    """One example judged in both orders.

    Attributes:
        score: The candidate's score: 1 (better in both orders), 0 (worse in both), 0.5 otherwise.
        verdicts: The verdicts read with the candidate first and with it second (``None``: unreadable).
    """

    score: float
    verdicts: tuple[str | None, str | None]


def read_verdict(reply: str) -> str | None:
    """``A``, ``B`` or ``TIE`` from a judge's reply (its last non-empty line), else ``None``."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    found = _VERDICT.search(lines[-1].upper()) if lines else None
    return found.group(1) if found else None


class LLMJudge:
    """Pairwise comparison of two answers by a chat model, with the order swapped.

    Args:
        model: The judge (any OpenAI-compatible endpoint; a strong model, not one under test).
        rubric: Its instructions; the default :data:`RUBRIC` ends with the verdict format.
    """

    def __init__(self, model: ChatModel, rubric: str = RUBRIC) -> None:
        self.model = model
        self.rubric = rubric

    @property
    def name(self) -> str:
        """The judge model's name."""
        return self.model.name

    def _ask(self, conversation: str, reference: str, first: str, second: str) -> str | None:
        prompt = (
            f"Conversation:\n{conversation}\n\nReference answer:\n{reference}\n\n"
            f"Answer A:\n{first}\n\nAnswer B:\n{second}"
        )
        return read_verdict(
            self.model.answer([{"role": "system", "content": self.rubric}, {"role": "user", "content": prompt}])
        )

    def compare(
        self, messages: Sequence[tuple[str, str]], reference: str, candidate: str, incumbent: str
    ) -> JudgedPair:
        """Judge the candidate's answer against the incumbent's, in both orders.

        Raises:
            ModelError: If the judge cannot be reached.
        """
        conversation = "\n".join(f"{role}: {content}" for role, content in messages)
        first = self._ask(conversation, reference, candidate, incumbent)
        second = self._ask(conversation, reference, incumbent, candidate)
        as_first = _SCORES.get(first or "", 0.5)
        as_second = 1.0 - _SCORES.get(second or "", 0.5)
        agreed = as_first == as_second and first is not None and second is not None
        return JudgedPair(as_first if agreed else 0.5, (first, second))
