"""FR-2.1: feedback pairs from JSONL files, checked record by record."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vector_trainer.conversation import ConversationError, message_text, parse_messages
from vector_trainer.errors import InputError
from vector_trainer.fileio import iter_json_lines, iter_jsonl, iter_text_lines
from vector_trainer.types import FeedbackPair

#: Longest bad or fixed output accepted, in characters.
MAX_FEEDBACK_CHARS = 100_000


def load_feedback(path: str | os.PathLike[str]) -> list[FeedbackPair]:
    """Read feedback JSONL: ``bad_output``, ``fixed_output``, optional ``input_prompt``, ``context``,
    and ``messages``: the conversation the bad output answered, instead of ``input_prompt`` (whose
    default is then its last user turn).

    Raises:
        InputError: ``file:line: ...`` for the first malformed line.
    """
    pairs: list[FeedbackPair] = []
    name = os.fspath(path)
    if not Path(path).is_file():
        raise InputError(f"{name}: no such file")
    for line_no, record in iter_jsonl(path):
        where = f"{name}:{line_no}"
        for key in ("bad_output", "fixed_output"):
            if not isinstance(record.get(key), str):
                raise InputError(f"{where}: missing field '{key}' (a string)")
            if len(record[key]) > MAX_FEEDBACK_CHARS:
                raise InputError(
                    f"{where}: '{key}' has {len(record[key])} characters; the limit is {MAX_FEEDBACK_CHARS}"
                )
        prompt = record.get("input_prompt", "")
        if not isinstance(prompt, str):
            raise InputError(f"{where}: 'input_prompt' must be a string")
        context = record.get("context", {})
        if not isinstance(context, dict):
            raise InputError(f"{where}: 'context' must be an object")
        if "function_name" in record:
            context = {**context, "function_name": record["function_name"]}
        messages = _messages(record.get("messages"), where)
        if messages and not prompt:
            prompt = next((message_text(m) for m in reversed(messages) if m["role"] == "user"), "")
        pairs.append(
            FeedbackPair(
                record["bad_output"], record["fixed_output"], prompt, context, sequence=len(pairs), messages=messages
            )
        )
    return pairs


def _messages(raw: Any, where: str) -> tuple[dict[str, Any], ...]:
    if raw is None:
        return ()
    try:
        return tuple(m.to_openai() for m in parse_messages(raw, "messages"))
    except ConversationError as exc:
        raise InputError(f"{where}: {exc}") from None


def check_pair(pair: FeedbackPair) -> bool:
    """Whether a pair carries a correction (texts differ and are not both blank).

    Raises:
        InputError: If a text is not a string or is over :data:`MAX_FEEDBACK_CHARS`.
    """
    for name in ("bad_output", "fixed_output"):
        value = getattr(pair, name)
        if not isinstance(value, str):
            raise InputError(f"feedback pair {pair.sequence}: '{name}' must be a string, got {type(value).__name__}")
        if len(value) > MAX_FEEDBACK_CHARS:
            raise InputError(
                f"feedback pair {pair.sequence}: '{name}' has {len(value)} characters; "
                f"the limit is {MAX_FEEDBACK_CHARS}"
            )
    return bool(pair.bad_output.strip() or pair.fixed_output.strip()) and pair.bad_output != pair.fixed_output


def pairs_for_function(pairs: Sequence[FeedbackPair], function_name: str) -> list[FeedbackPair]:
    """The pairs of one function: those naming it, and those naming no function."""
    return [p for p in pairs if p.context.get("function_name") in (None, function_name)]


#: Fields read, in order, from each line of a JSONL known-good file.
KNOWN_GOOD_FIELDS = ("output", "fixed_output", "text")


def load_known_good(path: str | os.PathLike[str]) -> list[str]:
    """Known-good text for the damage check: a ``.jsonl`` file (each line a JSON string, or an
    object with ``output``, ``fixed_output`` or ``text``) or a plain text file (one per line).

    Raises:
        InputError: ``file:line: ...`` for a JSONL line with none of those fields.
    """
    name = os.fspath(path)
    if not Path(path).is_file():
        raise InputError(f"{name}: no such file (known-good text: one output per line, or JSONL)")
    if not name.endswith((".jsonl", ".jsonl.gz")):
        return [line.rstrip("\r\n") for _, line in iter_text_lines(path) if line.strip()]
    texts: list[str] = []
    for line_no, raw in iter_json_lines(path):
        value = (
            next((raw[k] for k in KNOWN_GOOD_FIELDS if isinstance(raw.get(k), str)), None)
            if isinstance(raw, dict)
            else raw
        )
        if not isinstance(value, str):
            raise InputError(
                f"{name}:{line_no}: expected a string or an object with one of {', '.join(KNOWN_GOOD_FIELDS)}"
            )
        texts.append(value)
    return texts
