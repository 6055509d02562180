"""Exception hierarchy. Every error a user can cause derives from :class:`VectorTrainerError`
and carries a message that names the offending record or key and says how to fix it."""

from __future__ import annotations

import re
from typing import Any

_SECRET_PATTERN = re.compile(r"(sk-[A-Za-z0-9_\-]{3})[A-Za-z0-9_\-*]{6,}")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@:]*(?::[^/\s@]*)?@")
#: A secret passed in a URL's query string (``?api-key=...``, ``&token=...``, signed URLs).
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:api[-_]?key|key|token|access[-_]?token|auth|authorization|secret|client[-_]?secret|"
    r"password|passwd|pwd|sig|signature|x-amz-signature|x-goog-signature|code)=)[^&#\s'\"]+"
)
_AUTH_HEADER = re.compile(r"(?i)\b(authorization|api[-_]?key|x-api-key)(['\"]?\s*[:=]\s*['\"]?)(bearer\s+)?[^\s'\",}]+")


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret masked, and anything shaped like a credential: OpenAI-style
    keys (``sk-...``), ``user:password@`` in URLs (``ray://`` included), secrets in a URL's query
    string (``?api-key=``, ``&token=``, signatures), and ``Authorization``/``api_key`` values."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _QUERY_SECRET.sub(r"\1***", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}***", text)
    return _SECRET_PATTERN.sub(r"\1***", text)


def redact_value(value: Any, *secrets: str | None) -> Any:
    """A copy of a JSON-like value with :func:`redact` applied to every string in it."""
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, dict):
        return {key: redact_value(item, *secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item, *secrets) for item in value]
    return value


def install_command(extra: str) -> str:
    """The pip command that adds an extra, run from a clone of VectorTrainer (the package is not
    on PyPI)."""
    return f'pip install ".[{extra}]"'


class VectorTrainerError(Exception):
    """Base class of every error raised on purpose by vector_trainer."""


class InputError(VectorTrainerError):
    """A record, file or argument is malformed. The message names it (``file:line: ...``)."""


class ConfigError(VectorTrainerError):
    """A configuration file or value is invalid. The message names the bad key."""


class EmptyDataError(VectorTrainerError):
    """There is nothing to work on (no logs, no usable vectors, no successful logs)."""


class BudgetExceededError(VectorTrainerError):
    """The estimated training cost is over the budget; nothing was uploaded."""

    def __init__(self, message: str, *, estimated_usd: float, budget_usd: float) -> None:
        super().__init__(message)
        self.estimated_usd = estimated_usd
        self.budget_usd = budget_usd


class UnknownModelError(VectorTrainerError):
    """No training price is known for the model and none was given."""


class HookValidationError(VectorTrainerError):
    """A generated hook failed validation (parse, isolated import or self-test); not activated."""


class ManifestCorruptedError(VectorTrainerError):
    """The hook version manifest cannot be read; it is left untouched for the user to inspect."""


class TrainerError(VectorTrainerError):
    """A training backend refused or failed a request. Never contains credentials."""


class MissingDependencyError(VectorTrainerError):
    """An optional extra is needed for this feature; the message gives the pip command."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the '{package}' package, which is not installed. "
            f"Install it from the VectorTrainer checkout with: {install_command(extra)}"
        )
        self.package = package
        self.extra = extra


class PipelineError(VectorTrainerError):
    """A pipeline stage failed; ``stage`` names it and ``__cause__`` holds the original error."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"stage '{stage}' failed: {message}")
        self.stage = stage
        self.message = message


class ModelError(VectorTrainerError):
    """A model could not answer (the message says what was asked and what was waited for).

    Attributes:
        transient: The cause may pass (a rate limit, a timeout, a server error, a lost
            connection): asking again later may succeed.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
