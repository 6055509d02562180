"""Issue 28: a normalised exact match beside the embedding similarity, chosen by the task, and
models that answer in batches asked in batches."""

from __future__ import annotations

from vector_trainer.gate import EvalExample, ModelEvaluator, PromotionPolicy
from vector_trainer.gate.scores import exact_match, normalise_answer

LABELS = ["card_arrival", "lost_or_stolen_card", "exchange_rate", "top_up_failed"] * 10
EXAMPLES = [EvalExample((("user", f"query {i}"),), label, f"test:{i}") for i, label in enumerate(LABELS)]


class Batched:
    """A model answering in batches: right on every example but the first ``wrong``."""

    def __init__(self, name: str, wrong: int) -> None:
        self.name, self.wrong, self.batches = name, wrong, 0

    def answer(self, messages) -> str:  # pragma: no cover - the evaluator must batch
        raise AssertionError("asked one at a time")

    def answer_many(self, conversations) -> list[str]:
        self.batches += 1
        index = {f"query {i}": i for i in range(len(LABELS))}
        rows = [index[c[-1]["content"]] for c in conversations]
        return [("card_delivery_estimate" if i < self.wrong else f" '{LABELS[i].upper()}'.") for i in rows]


def test_normalised_answers_compare_what_the_model_meant() -> None:
    assert normalise_answer("  `Card_Arrival`.\n") == "card_arrival" == normalise_answer("**card_arrival**")
    assert exact_match(["ｃａｒｄ arrival!", "card arrival"], ["card arrival", "card_arrival"]).tolist() == [1.0, 0.0]


def test_the_exact_metric_is_reported_and_decides_when_declared() -> None:
    good, bad = Batched("good", wrong=0), Batched("bad", wrong=30)
    evaluation = ModelEvaluator(resamples=200).evaluate(good, bad, EXAMPLES)
    assert good.batches == 1 and bad.batches == 1  # one call each: the model batches as it can
    exact = evaluation.comparisons["exact"]
    assert exact.candidate_mean == 1.0 and exact.incumbent_mean == 0.25
    assert "similarity" in evaluation.comparisons
    decision = PromotionPolicy(metric="exact").decide(evaluation)
    assert decision.promote and decision.reason.startswith("promoted: exact 1.0000 vs 0.2500")
    assert (
        not PromotionPolicy(metric="exact").decide(ModelEvaluator(resamples=200).evaluate(bad, good, EXAMPLES)).promote
    )
