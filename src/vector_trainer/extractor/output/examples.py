"""Selected logs as checked ChatML examples, split into training and validation files."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from vector_trainer.chatml import (
    build_example,
    check_example,
    conversation_example,
    render_output,
    render_prompt,
)
from vector_trainer.conversation import ConversationError, conversation_of
from vector_trainer.errors import InputError
from vector_trainer.types import ExecutionLog, GoldenCandidate

#: A selected log and its ChatML example.
Picked = tuple[GoldenCandidate, dict[str, Any]]


def log_example(log: ExecutionLog, system_prompt: str, template: str | None = None) -> dict[str, Any]:
    """The ChatML example of a log.

    A conversation log is the conversation as logged (:func:`~vector_trainer.chatml.conversation_example`:
    its own system messages, every earlier turn, tool calls and tools, only the reply trained
    on; ``system_prompt`` fills in only when it has none). Any other log is its input as the app
    sends it (``template``, if any) as the user turn and its decoded output as the assistant turn.

    Raises:
        InputError: If the log's input or output holds NaN or an infinity, lacks an input the
            template uses, or is a malformed conversation.
    """
    try:
        conversation = conversation_of(log.inputs, log.output)
    except ConversationError as exc:
        raise InputError(f"log {log.uuid}: {exc}") from None
    if conversation is not None:
        return conversation_example(conversation, system_prompt)
    try:
        user, assistant = render_prompt(log.inputs, template), render_output(log.output)
    except KeyError as exc:
        raise InputError(
            f"log {log.uuid}: prompt_templates.{log.function_name} uses {{{exc.args[0]}}}, but the log's "
            f"inputs are {', '.join(log.inputs) or 'none'}; fix the template or the log"
        ) from None
    except ValueError as exc:
        raise InputError(
            f"log {log.uuid}: its input or output holds NaN or Infinity, which a training file cannot carry"
        ) from exc
    return build_example(system_prompt, user, assistant)


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
