"""Selected logs as checked ChatML examples, split into training and validation files."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from vector_trainer.chatml import check_example
from vector_trainer.types import ExecutionLog, GoldenCandidate

#: A selected log and its ChatML example.
Picked = tuple[GoldenCandidate, dict[str, Any]]


def split_examples(examples: list[Picked], fraction: float) -> tuple[list[Picked], list[Picked]]:
    """``(train, validation)``: the validation share is ``fraction`` of the examples (at least one
    when ``fraction > 0`` and there are two or more), chosen by the hash of their uuid, so the
    same log lands in the same split whatever else was selected."""
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    n_val = max(1, math.floor(len(examples) * fraction))
    ranked = sorted(examples, key=lambda item: hashlib.sha256(item[0].uuid.encode()).hexdigest())
    held_out = {c.uuid for c, _ in ranked[:n_val]}
    return (
        [item for item in examples if item[0].uuid not in held_out],
        [item for item in examples if item[0].uuid in held_out],
    )


def build_examples(
    candidates: Sequence[GoldenCandidate], to_example: Callable[[ExecutionLog], dict[str, Any]]
) -> tuple[list[Picked], list[dict[str, Any]], Counter]:
    """Each candidate's example; those the format checks reject (with their reasons), and the
    checks' warnings counted by message."""
    examples: list[Picked] = []
    rejected: list[dict[str, Any]] = []
    warnings: Counter[str] = Counter()
    for cand in candidates:
        assert cand.log is not None
        example = to_example(cand.log)
        issues = check_example(example)
        errors = [i.message for i in issues if i.severity == "error"]
        if errors:
            rejected.append({"uuid": cand.uuid, "reasons": errors})
            continue
        warnings.update(i.message for i in issues)
        examples.append((cand, example))
    return examples, rejected, warnings


def register_picks(manager: Any, picked: list[Picked]) -> dict[str, int]:
    """Register each written example's log as golden data in the source, with its evidence."""
    written = skipped = 0
    for cand, _ in picked:
        note = f"vectortrainer {cand.strategy.value}: density={cand.density:.4f} score={cand.score:.4f}"
        if manager.register_as_golden(cand.uuid, note=note, tags=[cand.strategy.value]):
            written += 1
        else:
            skipped += 1
    return {"written": written, "already_registered": skipped}
