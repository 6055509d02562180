"""Gate one function's candidates against what is live, and promote only what is better.

A function's live state sits in one directory (its *home*)::

    <home>/hook/generated_prompt_hook.py, hook/.hook_versions/   the live hook and its versions
    <home>/models/models.json                                   the model registry

A candidate hook becomes a new live hook version only when :meth:`PromotionPolicy.decide_hook`
says so; a trained model is registered and becomes active only when :meth:`PromotionPolicy.decide`
says so. Every decision is recorded with its reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer._shared import utc_now
from vector_trainer.errors import ModelError, VectorTrainerError
from vector_trainer.gate.evaluate import EvalExample, Evaluation, ModelEvaluator
from vector_trainer.gate.policy import Decision, PromotionPolicy
from vector_trainer.gate.registry import ModelRegistry
from vector_trainer.gate.verdicts import HookVerdict, ModelVerdict
from vector_trainer.synthesizer.versions import open_hook_versions
from vector_trainer.types import FeedbackPair

#: Waits before the second and third try of an evaluation that failed for a passing reason.
RETRY_DELAYS_S = (5.0, 30.0)


class Promoter:
    """Evaluates a run's candidates against one function's live hook and active model.

    Args:
        home: The function's live directory (``hook/`` and ``models/`` inside).
        evaluator: Scores candidates and reaches registered models.
        policy: Decides.
        endpoint: ``(base_url, api_key)`` of the OpenAI-compatible endpoint serving trained
            models (``None`` parts: ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``).
        retry_delays_s: Seconds to wait before each new try of an evaluation that failed for a
            passing reason; when every try fails, the model stays pending (never rejected).
        sleep: Injected sleep (tests).
    """

    def __init__(
        self,
        home: str | os.PathLike[str],
        evaluator: ModelEvaluator,
        policy: PromotionPolicy,
        *,
        endpoint: tuple[str | None, str | None] = (None, None),
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.home = Path(home)
        self.evaluator = evaluator
        self.policy = policy
        self._endpoint = endpoint
        self.retry_delays_s = tuple(retry_delays_s)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"Promoter({str(self.home)!r}, base_url={self._endpoint[0]!r})"

    def _reach(self, provider: str, model: str) -> Any:
        base_url, api_key = self._endpoint
        return self.evaluator.reach(provider, model, base_url=base_url, api_key=api_key)

    @property
    def live_hook(self) -> Path:
        """The live hook file (it may not exist yet)."""
        return self.home / _layout.HOOK_DIRNAME / _layout.HOOK_FILENAME

    @property
    def registry(self) -> ModelRegistry:
        """The function's model registry."""
        return ModelRegistry(self.home / _layout.MODELS_DIRNAME)

    def gate_hook(
        self,
        hook_path: str | os.PathLike[str] | None,
        rules: int,
        held_out: Sequence[FeedbackPair],
        known_good: Sequence[str],
        absent: str | None = None,
    ) -> HookVerdict:
        """Evaluate a run's hook against the live one; on promotion it becomes a new live version.

        Args:
            hook_path: The run's hook; ``None`` when the run made none.
            rules: How many rules it holds.
            held_out: Feedback pairs no rule was learnt from.
            known_good: Texts nobody flagged.
            absent: Why the run has no hook (reported), when ``hook_path`` is ``None``.

        Returns:
            The verdict (no evaluation when there is no candidate hook).
        """
        if not hook_path:
            why = absent or "no feedback to learn from"
            return HookVerdict(Decision(False, f"no hook this run ({why}); the live hook stays"))
        live = self.live_hook
        evaluation = self.evaluator.evaluate_hooks(hook_path, live if live.is_file() else None, held_out, known_good)
        decision = self.policy.decide_hook(evaluation)
        if decision.promote:
            source = Path(hook_path).read_text(encoding="utf-8")
            live.parent.mkdir(parents=True, exist_ok=True)
            manager = open_hook_versions(live.parent)
            active = manager.active()
            if active is None or manager.source(active.version_id) != source:
                version = manager.add(source, rules)
                decision = Decision(True, f"{decision.reason}; live hook is now {version.version_id}")
        return HookVerdict(decision, evaluation.to_dict())

    def _rejected(self, model_id: str, why: str) -> ModelVerdict:
        decision = Decision(False, f"the incumbent stays: {why}")
        self.registry.reject(model_id, decision.reason)
        return ModelVerdict(decision, model_id)

    def gate_model(
        self,
        trained: str | None,
        *,
        provider: str,
        base_model: str,
        examples: Sequence[EvalExample],
        run_dir: str | os.PathLike[str],
        job_id: str = "",
        untrained: str = "no trained model yet",
    ) -> ModelVerdict:
        """Register a run's trained model, evaluate it against the active one (the base model
        when none is active) and promote it only if the policy says so.

        Args:
            trained: The trained model: a model id, or a local job's adapter directory; ``None``
                when the run trained nothing.
            provider: The trainer that made it (``openai``, ``local-lora``, ...).
            base_model: The model it was trained from.
            examples: Held-out examples neither model was trained on.
            run_dir: The run that trained it (kept in the registry).
            job_id: The job that trained it (kept in the registry).
            untrained: Why there is no trained model, reported when ``trained`` is ``None``.

        Returns:
            The verdict; only a decision when nothing was trained.
        """
        if not trained:
            return ModelVerdict(Decision(False, f"the incumbent stays: {untrained}"))
        registry = self.registry
        record = registry.add(provider, base_model, trained, job_id=job_id, run_dir=str(run_dir))
        active = registry.active()
        incumbent_provider, incumbent_model = (active.provider, active.model) if active else (provider, base_model)
        live = self.live_hook
        for delay in (*self.retry_delays_s, None):
            try:
                evaluation = self.evaluator.evaluate(
                    self._reach(record.provider, record.model),
                    self._reach(incumbent_provider, incumbent_model),
                    examples,
                    hook_path=live if live.is_file() else None,
                )
                break
            except ModelError as exc:
                if not exc.transient:
                    return self._rejected(record.model_id, f"evaluation failed: {exc}")
                if delay is None:  # it may pass: the model stays registered and pending, not rejected
                    tries = len(self.retry_delays_s) + 1
                    reason = f"the incumbent stays for now: evaluation pending after {tries} tries: {exc}"
                    return ModelVerdict(Decision(False, reason), record.model_id, pending=True)
                self._sleep(delay)
            except VectorTrainerError as exc:
                return self._rejected(record.model_id, f"evaluation failed: {exc}")
        decision = self.policy.decide(evaluation)
        registry.record_evaluation(record.model_id, evaluation_summary(evaluation, decision))
        if decision.promote:
            registry.promote(record.model_id, decision.reason)
        else:
            registry.reject(record.model_id, decision.reason)
        return ModelVerdict(decision, record.model_id, evaluation.to_dict())


def evaluation_summary(evaluation: Evaluation, decision: Decision) -> dict[str, Any]:
    """What the registry keeps of an evaluation: the comparisons and the decision."""
    return {
        "against": evaluation.incumbent,
        "comparisons": {k: v.to_dict() for k, v in evaluation.comparisons.items()},
        "decision": decision.to_dict(),
        "at": utc_now(),
    }
