"""What the gate decided about a run's hook and its model: typed values, written to
``evaluation.json``, the run summary and the loop's state by their ``to_dict`` only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vector_trainer._shared import mapping_at
from vector_trainer.gate.policy import Decision


@dataclass(frozen=True)
class HookVerdict:
    """The gate's verdict on a run's hook.

    Attributes:
        decision: Whether it became the live hook, and why.
        evaluation: The evaluation against the live hook (``Evaluation.to_dict()``); ``None``
            when the run made no hook.
    """

    decision: Decision
    evaluation: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"evaluation", "decision"}`` (no evaluation when there was none)."""
        head = {} if self.evaluation is None else {"evaluation": dict(self.evaluation)}
        return {**head, "decision": self.decision.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HookVerdict:
        """The verdict :meth:`to_dict` wrote."""
        return cls(Decision.from_dict(mapping_at(data, "decision")), _optional_mapping(data.get("evaluation")))


@dataclass(frozen=True)
class ModelVerdict:
    """The gate's verdict on a run's trained model.

    Attributes:
        decision: Whether it became the active model, and why.
        model_id: Its id in the function's registry; ``None`` when nothing was trained.
        evaluation: The evaluation against the active model (``Evaluation.to_dict()``), when one ran.
        pending: The evaluation could not reach a model for a passing reason: the model stays
            registered and undecided, and the next cycle gates it.
    """

    decision: Decision
    model_id: str | None = None
    evaluation: Mapping[str, Any] | None = None
    pending: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"model_id", "evaluation", "decision", "pending"}``, each part only
        when it is there."""
        out: dict[str, Any] = {} if self.model_id is None else {"model_id": self.model_id}
        if self.evaluation is not None:
            out["evaluation"] = dict(self.evaluation)
        out["decision"] = self.decision.to_dict()
        if self.pending:
            out["pending"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelVerdict:
        """The verdict :meth:`to_dict` wrote."""
        model_id = data.get("model_id")
        return cls(
            Decision.from_dict(mapping_at(data, "decision")),
            None if model_id is None else str(model_id),
            _optional_mapping(data.get("evaluation")),
            bool(data.get("pending", False)),
        )


def _optional_mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None
