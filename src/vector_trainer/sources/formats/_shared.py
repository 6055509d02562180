"""What the log formats share: the SUCCESS rule and time stamps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from vector_trainer.errors import InputError
from vector_trainer.types import STATUS_ERROR, STATUS_FAILURE, STATUS_SUCCESS

#: Finish reasons of a reply that must not be learned from, and why.
BAD_FINISH_REASONS: Mapping[str, str] = {
    "length": "the reply was cut off at the token limit (finish_reason 'length')",
    "max_tokens": "the reply was cut off at the token limit (finish_reason 'max_tokens')",
    "content_filter": "the reply was filtered (finish_reason 'content_filter')",
}
#: The function name a format without one files its logs under, unless told otherwise.
DEFAULT_FUNCTION = "chat"


def reply_status(finish_reasons: Iterable[Any], reply: Mapping[str, Any] | str | None) -> tuple[str, str | None]:
    """``(status, error_message)`` of a call that returned ``reply`` with these finish reasons."""
    for reason in finish_reasons:
        if isinstance(reason, str) and reason.lower() in BAD_FINISH_REASONS:
            return STATUS_FAILURE, BAD_FINISH_REASONS[reason.lower()]
    if isinstance(reply, Mapping):
        if reply.get("refusal"):
            return STATUS_FAILURE, f"the model refused: {reply['refusal']}"
        if not reply.get("content") and not reply.get("tool_calls") and not reply.get("function_call"):
            return STATUS_FAILURE, "the reply is empty"
    elif reply is None or not str(reply).strip():
        return STATUS_FAILURE, "the reply is empty"
    return STATUS_SUCCESS, None


def error_record(message: str) -> dict[str, Any]:
    """The status fields of a call that failed with ``message``."""
    return {"status": STATUS_ERROR, "error_message": message, "output": None}


def iso_from_unix(seconds: Any, where: str, scale: float = 1.0) -> str | None:
    """An ISO-8601 UTC time stamp from a Unix time (``scale`` 1e9 for nanoseconds).

    Raises:
        InputError: If the value is not a number (nanosecond strings, as OTLP JSON writes them, are).
    """
    if seconds in (None, "", 0, "0"):
        return None
    try:
        value = float(seconds) / scale
        return datetime.fromtimestamp(value, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (TypeError, ValueError, OverflowError, OSError):
        raise InputError(f"{where}: time stamp {seconds!r} is not a Unix time") from None


def pick_function(explicit: str | None, *candidates: Any) -> str:
    """The function name: the one asked for, else the first candidate that is a non-empty string."""
    if explicit:
        return explicit
    return next((c.strip() for c in candidates if isinstance(c, str) and c.strip()), DEFAULT_FUNCTION)
