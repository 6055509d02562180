"""Shared types: the values that flow between stages and the Protocols that stages depend on.

This module is the bottom of the dependency graph. It imports nothing from the rest of the
package except :mod:`vector_trainer.errors`, and nothing heavy (no vectorwave, no openai).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: Status values VectorWave writes; only SUCCESS rows are ever used as training data.
STATUS_SUCCESS = "SUCCESS"
STATUS_ERROR = "ERROR"
STATUS_FAILURE = "FAILURE"
STATUS_ANOMALY = "ANOMALY"
KNOWN_STATUSES = frozenset({STATUS_SUCCESS, STATUS_ERROR, STATUS_FAILURE, STATUS_ANOMALY})


class SelectionStrategy(str, enum.Enum):
    """Why a log was selected as golden data."""

    STEADY = "steady"
    """A representative (medoid) of a dense region: the model's everyday behaviour."""

    ANOMALY = "anomaly"
    """A low-density but successful log: a new pattern worth learning."""


@dataclass(frozen=True)
class ExecutionLog:
    """One recorded execution of a decorated function: a node of the similarity graph.

    Attributes:
        uuid: Stable identifier of the execution (VectorWave's object uuid).
        function_name: Name of the function that produced the log.
        status: ``SUCCESS``, ``ERROR``, ``FAILURE`` or ``ANOMALY``.
        inputs: The captured call arguments, by parameter name. A log imported from plain text
            has a single entry named ``input``.
        output: The decoded return value (VectorWave stores it as JSON text; this is the value).
            ``None`` when the call failed or the value was not captured.
        error_message: The error text of a failed call.
        timestamp: ISO-8601 timestamp of the call, if known.
        vector: The embedding of the call, or ``None`` when the log has none.
    """

    uuid: str
    function_name: str
    status: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    output: Any = None
    error_message: str | None = None
    timestamp: str | None = None
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def is_success(self) -> bool:
        """Whether the call succeeded (only such logs are training candidates)."""
        return self.status == STATUS_SUCCESS


@dataclass(frozen=True)
class GoldenCandidate:
    """A log selected as golden data, with the evidence for its selection.

    Attributes:
        uuid: The selected log's uuid.
        strategy: Steady-state representative or anomaly.
        density: D(i), the sum of the similarities of the log's neighbours.
        score: Strategy-specific rank score; higher is a stronger pick for both strategies.
        neighbor_count: Number of neighbours within ``sim >= 1 - epsilon``.
        nearest_similarity: Similarity to the most similar other log (``-1`` if it is alone).
        region_size: For steady picks, the size of the dense region it represents (else 0).
        log: The selected execution itself.
    """

    uuid: str
    strategy: SelectionStrategy
    density: float
    score: float
    neighbor_count: int = 0
    nearest_similarity: float = -1.0
    region_size: int = 0
    log: ExecutionLog | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FeedbackPair:
    """A user's correction: the model said ``bad_output``, the user wanted ``fixed_output``.

    Attributes:
        bad_output: What the model produced.
        fixed_output: What it should have produced.
        input_prompt: The user input that led to the output, if known (for a conversation, its
            last user turn).
        context: Free-form metadata (function name, user id, ...).
        sequence: Order of arrival; later feedback wins ties when rules contradict.
        messages: The conversation the output answered (OpenAI-shaped messages), if known.
    """

    bad_output: str
    fixed_output: str
    input_prompt: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)
    sequence: int = 0
    messages: tuple[Mapping[str, Any], ...] = ()


class RuleKind(str, enum.Enum):
    """The discrete edit operations a rule can perform."""

    REPLACE = "replace"
    """Replace a phrase by another, at word boundaries."""
    REMOVE = "remove"
    """Delete a phrase, at word boundaries."""
    PREPEND = "prepend"
    """Make the text start with a phrase (idempotent)."""
    APPEND = "append"
    """Make the text end with a phrase (idempotent)."""
    STRIP_PREFIX = "strip_prefix"
    """Remove a phrase the text starts with."""
    STRIP_SUFFIX = "strip_suffix"
    """Remove a phrase the text ends with."""
    REGEX = "regex"
    """A generalised rewrite (numbers abstracted, or case-insensitive), built by the synthesizer."""


@dataclass(frozen=True)
class Rule:
    """One discrete correction rule, learned from one or more feedback pairs.

    Attributes:
        rule_id: Stable identifier derived from the rule's content.
        kind: The operation.
        target: The phrase the rule acts on (for REGEX, the escaped, bounded pattern).
        replacement: The new phrase (REPLACE, PREPEND, APPEND) or expansion template (REGEX).
        support: How many feedback pairs show this edit.
        sources: Indices (``FeedbackPair.sequence``) of the pairs that show it.
        priority: Application order; higher runs first.
        instruction: A natural-language version of the rule for the prompt side.
        last_seen: Highest source sequence, used to break ties by recency.
        segments: For REGEX, the literal text around each number (``len(numbers) + 1`` parts).
        template: For REGEX, the replacement as literal strings and 1-based number references.
        scope: ``general`` (seen in enough distinct pairs to apply anywhere) or ``sentence``
            (a one-off correction, applied only to the sentence it was seen in).
    """

    rule_id: str
    kind: RuleKind
    target: str
    replacement: str = ""
    support: int = 1
    sources: tuple[int, ...] = ()
    priority: float = 0.0
    instruction: str = ""
    last_seen: int = 0
    segments: tuple[str, ...] = ()
    template: tuple[str | int, ...] = ()
    scope: str = "general"

    def to_hook_data(self) -> dict[str, Any]:
        """The literal data the generated hook needs to apply the rule."""
        data: dict[str, Any] = {"rule_id": self.rule_id, "kind": self.kind.value}
        if self.kind is RuleKind.REGEX:
            data["segments"] = list(self.segments)
            data["template"] = list(self.template)
        else:
            data["target"] = self.target
            data["replacement"] = self.replacement
        if self.scope != "general":
            data["scope"] = self.scope
        return data

    def shown(self) -> tuple[str, str]:
        """``(target, replacement)`` as a person reads them: a REGEX rule's numbers are ``{1}``,
        ``{2}``... in the order they appear in the target (``{1} hrs`` -> ``{1} hours``)."""
        if self.kind is not RuleKind.REGEX:
            return self.target, self.replacement
        target = self.segments[0] + "".join(f"{{{i}}}{part}" for i, part in enumerate(self.segments[1:], 1))
        return target, "".join(part if isinstance(part, str) else f"{{{part}}}" for part in self.template)

    @property
    def pair_numbers(self) -> list[int]:
        """The 1-based numbers of the feedback pairs that show the rule (``sources`` + 1)."""
        return [source + 1 for source in self.sources]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the rule (``shown`` and ``pairs`` are for people: the readable
        target and replacement, and the 1-based pair numbers)."""
        target, replacement = self.shown()
        return {
            "shown": {"target": target, "replacement": replacement},
            "pairs": self.pair_numbers,
            "segments": list(self.segments),
            "template": list(self.template),
            "rule_id": self.rule_id,
            "kind": self.kind.value,
            "target": self.target,
            "replacement": self.replacement,
            "support": self.support,
            "sources": list(self.sources),
            "priority": self.priority,
            "instruction": self.instruction,
            "last_seen": self.last_seen,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class CostEstimate:
    """What a fine-tuning job on a file would cost.

    Attributes:
        model: The model the price was taken for.
        n_examples: Examples in the file.
        tokens_per_epoch: Billed tokens for one pass over the file.
        n_epochs: Epochs the estimate assumes (the requested ones, or OpenAI's default rule).
        total_tokens: ``tokens_per_epoch * n_epochs``.
        usd_per_million: The training price used.
        estimated_usd: The estimated cost in US dollars.
        exact: ``False`` when tokens were over-counted (UTF-8 bytes) because the encoding
            could not be loaded; the figure is then a guaranteed upper bound.
        encoding: The tokenizer used (``o200k_base``, ``cl100k_base`` or ``utf8-bytes``).
        note: Human-readable remarks (fallbacks, price source).
        over_context: Examples longer than the model's training context (billed truncated).
        over_context_lines: Their line numbers in the file.
    """

    model: str
    n_examples: int
    tokens_per_epoch: int
    n_epochs: int
    total_tokens: int
    usd_per_million: float
    estimated_usd: float
    exact: bool
    encoding: str
    note: str = ""
    over_context: int = 0
    over_context_lines: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the estimate."""
        return {
            "model": self.model,
            "n_examples": self.n_examples,
            "tokens_per_epoch": self.tokens_per_epoch,
            "n_epochs": self.n_epochs,
            "total_tokens": self.total_tokens,
            "usd_per_million": self.usd_per_million,
            "estimated_usd": round(self.estimated_usd, 6),
            "exact": self.exact,
            "encoding": self.encoding,
            "note": self.note,
            "over_context": self.over_context,
        }


@dataclass(frozen=True)
class NeighborHit:
    """One result of a nearest-neighbour query through a dataset manager."""

    uuid: str
    similarity: float


@runtime_checkable
class DatasetManagerProtocol(Protocol):
    """The one interface the extractor reads logs through.

    The embedded SQLite store implements it directly; VectorWave's ``VectorWaveDatasetManager``
    (0.2.x and 1.x) is wrapped into it by :func:`vector_trainer.sources.as_dataset_manager`.
    vectorwave itself is never imported by this package: the user's process creates the
    manager and injects it.
    """

    def list_functions(self) -> list[str]:
        """Names of the functions that have logs."""
        ...

    def iter_executions(self, function_name: str, *, batch_size: int = 500) -> Iterator[ExecutionLog]:
        """Every execution of ``function_name``, with vectors, paging through all of them."""
        ...

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float
    ) -> list[NeighborHit]:
        """The logs of ``function_name`` most similar to ``vector`` (cosine), best first."""
        ...

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        """Mark a log as golden data; ``False`` if it already was."""
        ...
