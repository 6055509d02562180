"""Preference pairs (OpenAI's preference fine-tuning format) as TRL DPO rows.

A line of ``preferences.jsonl`` is ``{"input": {"messages": [...]}, "preferred_output":
[assistant message], "non_preferred_output": [assistant message]}`` -- the format OpenAI's
``method: {"type": "dpo"}`` jobs read. TRL's ``DPOTrainer`` reads the same pair as
``{"prompt": messages, "chosen": [message], "rejected": [message]}`` (conversational). Each
side is checked as the chat example it completes, so a pair is valid exactly when both of its
conversations are valid fine-tuning examples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vector_trainer.chatml import check_example
from vector_trainer.training.local_lora.chat_rows import row_length

SIDES = ("preferred_output", "non_preferred_output")


def check_preference(row: Any) -> list[str]:
    """What is wrong with one preference line (empty when it is valid). A fault of the prompt is
    named once, as ``input.messages``; a fault of one answer by its side."""
    if not isinstance(row, Mapping):
        return ["a preference line must be a JSON object"]
    prompt = row.get("input", {}).get("messages") if isinstance(row.get("input"), Mapping) else None
    if not isinstance(prompt, list) or not prompt:
        return ["'input' must be an object with a non-empty 'messages' list"]
    errors = []
    last = prompt[-1].get("role") if isinstance(prompt[-1], Mapping) else None
    if last not in ("user", "tool"):
        errors.append(f"'input.messages' must end with a user (or tool) message, got role {last!r}")
    found: dict[str, list[str]] = {}
    for side in SIDES:
        output = row.get(side)
        if not isinstance(output, list) or len(output) != 1 or not isinstance(output[0], Mapping):
            errors.append(f"'{side}' must be a list holding one assistant message")
        elif output[0].get("role") != "assistant":
            errors.append(f"'{side}' must hold an assistant message, got role {output[0].get('role')!r}")
        else:
            example = {"messages": [*prompt, dict(output[0])]}
            found[side] = [i.message for i in check_example(example) if i.severity == "error"]
    shared = [e for e in found.get(SIDES[0], []) if len(found) == 2 and e in found[SIDES[1]]]
    errors += [f"input.messages: {e}" for e in shared]
    answer = f"message {len(prompt)}"
    for side, side_errors in found.items():
        errors += [f"{side}: {e.replace(answer, 'the answer')}" for e in side_errors if e not in shared]
    if not errors and row["preferred_output"] == row["non_preferred_output"]:
        errors.append("'preferred_output' and 'non_preferred_output' are the same answer")
    return errors


def preference_rows(
    examples: Iterable[tuple[int, Mapping[str, Any]]], tokenizer: Any
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """TRL's conversational preference rows, and each row's ``(line N, tokens)`` (its longer side)."""
    rows: list[dict[str, Any]] = []
    lengths: list[tuple[str, int]] = []
    for line_no, example in examples:
        prompt = [{k: v for k, v in m.items() if k != "weight"} for m in example["input"]["messages"]]
        row = {"prompt": prompt, "chosen": example["preferred_output"], "rejected": example["non_preferred_output"]}
        longer = max(
            row_length(tokenizer, {"prompt": prompt, "completion": row[side]}) for side in ("chosen", "rejected")
        )
        rows.append(row)
        lengths.append((f"line {line_no}", longer))
    return rows, lengths
