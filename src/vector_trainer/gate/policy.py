"""When a candidate replaces what users have now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from vector_trainer._params import check_values
from vector_trainer.config import GateConfig
from vector_trainer.gate.evaluate import Evaluation

#: Scores that must not get significantly worse, whatever the deciding metric says.
GUARD_METRICS = ("compliance", "no_damage")


@dataclass(frozen=True)
class Decision:
    """Whether to promote, and why (in words a person reads in the report)."""

    promote: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """The decision :meth:`to_dict` wrote."""
        return cls(bool(data.get("promote", False)), str(data.get("reason", "")))


@dataclass(frozen=True)
class PromotionPolicy:
    """A model is promoted only when it beats the incumbent on ``metric`` by more than ``margin``
    with the whole confidence interval of the difference above zero, and no guard metric
    (compliance with the active hook) is significantly worse. A hook is promoted when it damages
    no more known-good text than the active one and fixes held-out feedback no worse.

    Args:
        metric: The deciding score of a model (``similarity``, ``exact``, ``compliance`` or ``judge``).
        margin: How much better the candidate's mean must be.
    """

    metric: str = GateConfig.metric
    margin: float = GateConfig.margin

    def __post_init__(self) -> None:
        check_values(GateConfig, "gate", {"metric": self.metric, "margin": self.margin})

    def decide(self, evaluation: Evaluation) -> Decision:
        """The decision on a model evaluation."""
        found = evaluation.comparisons.get(self.metric)
        if found is None:
            return Decision(False, f"no '{self.metric}' score to decide on ({'; '.join(evaluation.skipped) or 'none'})")
        summary = (
            f"{self.metric} {found.candidate_mean:.4f} vs {found.incumbent_mean:.4f} on {found.n} examples, "
            f"difference {found.difference:+.4f}, {found.confidence:.0%} interval "
            f"[{found.ci_low:+.4f}, {found.ci_high:+.4f}]"
        )
        if found.difference <= self.margin:
            return Decision(False, f"the incumbent stays: {summary} is not above the margin {self.margin:g}")
        if found.ci_low <= 0:
            return Decision(False, f"the incumbent stays: {summary} includes no gain")
        for guard in GUARD_METRICS:
            worse = evaluation.comparisons.get(guard)
            if guard != self.metric and worse is not None and worse.ci_high < 0:
                return Decision(
                    False,
                    f"the incumbent stays: {summary}, but {guard} is worse "
                    f"({worse.candidate_mean:.4f} vs {worse.incumbent_mean:.4f})",
                )
        return Decision(True, f"promoted: {summary}")

    def decide_hook(self, evaluation: Evaluation) -> Decision:
        """The decision on a hook evaluation."""
        damage = evaluation.comparisons.get("no_damage")
        if damage is not None and damage.difference < 0:
            return Decision(
                False,
                f"the active hook stays: the candidate changes more known-good text "
                f"({1 - damage.candidate_mean:.2%} vs {1 - damage.incumbent_mean:.2%} of {damage.n})",
            )
        closer = evaluation.comparisons.get("closer")
        if closer is not None and closer.ci_high < 0:
            return Decision(
                False,
                f"the active hook stays: the candidate fixes held-out feedback worse "
                f"({closer.candidate_mean:.4f} vs {closer.incumbent_mean:.4f} of the way, {closer.n} pairs)",
            )
        fix = evaluation.comparisons.get("fix")
        told = f"fix {fix.candidate_mean:.2%} vs {fix.incumbent_mean:.2%} on {fix.n} held-out pairs" if fix else ""
        return Decision(True, f"promoted: no more damage{', ' + told if told else ''}")
