"""Embedding views: which text of a log its vector is made from.

A conversation's serialised input is mostly boilerplate (a long system prompt, retrieved
context) that every call shares; a sentence embedder that stops at 256 word pieces then gives
every call the same vector. What identifies a request is its last user turn, so that is the
default view. Single-input logs embed their rendered input, as they always have, unless the
view names a field or the reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vector_trainer._shared import vector_problem
from vector_trainer.chatml import render_input, render_output, render_value
from vector_trainer.config import EmbeddingConfig
from vector_trainer.conversation import Conversation, conversation_of
from vector_trainer.errors import ConfigError, InputError
from vector_trainer.sources.embedders import Embedder
from vector_trainer.types import STATUS_SUCCESS, ExecutionLog


@dataclass(frozen=True)
class EmbeddingView:
    """A declared choice of the text to embed (``[embedding]``: ``view``, ``history_chars``, ``input_field``).

    Attributes:
        kind: ``last_user``, ``history`` (the last user turn and the turns before it, up to
            ``history_chars``), ``reply``, ``field`` (the input argument ``input_field``), or
            ``whole`` (the whole rendered input).
        history_chars: Budget of earlier turns for ``history``.
        input_field: The argument ``field`` embeds.
    """

    kind: str = EmbeddingConfig.view
    history_chars: int = EmbeddingConfig.history_chars
    input_field: str = EmbeddingConfig.input_field

    def __post_init__(self) -> None:
        if self.kind == "field" and not self.input_field:
            raise ConfigError("embedding.input_field: view 'field' needs the name of the input argument to embed")

    @classmethod
    def from_config(cls, config: EmbeddingConfig) -> EmbeddingView:
        """The view an ``[embedding]`` section declares."""
        return cls(config.view, config.history_chars, config.input_field)

    @property
    def name(self) -> str:
        """How reports name the view (``last_user``, ``history:1000``, ``field:question``)."""
        if self.kind == "history":
            return f"history:{self.history_chars}"
        if self.kind == "field":
            return f"field:{self.input_field}"
        return self.kind

    def text(self, inputs: Mapping[str, Any], output: Any = None, *, where: str = "log") -> str:
        """The text to embed for a log's inputs and output.

        Raises:
            InputError: For view ``field`` on a log without that input, naming ``where``.
        """
        if self.kind == "field":
            if self.input_field not in inputs:
                raise InputError(
                    f"{where}: has no input '{self.input_field}' to embed (its inputs: {', '.join(inputs)}); "
                    "set [embedding] input_field to one of them, or choose another view"
                )
            return render_value(inputs[self.input_field])
        if self.kind == "reply":
            return render_output(output)
        conversation = conversation_of(inputs) if self.kind != "whole" else None
        if conversation is None:
            return render_input(inputs)
        return self._conversation_text(conversation)

    def _conversation_text(self, conversation: Conversation) -> str:
        messages = [m for m in conversation.messages if m.role != "system"]
        last = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages) - 1)
        if last < 0:  # only system messages: they are all there is to tell calls apart
            return "\n".join(m.text for m in conversation.messages)
        anchor = messages[last].text
        if self.kind != "history":
            return anchor
        kept: list[str] = []
        budget = self.history_chars
        for message in reversed(messages[:last]):
            piece = f"{message.role}: {message.text}"
            if len(piece) > budget:
                break
            kept.append(piece)
            budget -= len(piece) + 1
        return "\n".join([*reversed(kept), anchor])


def embedding_space(embedder: Embedder, view: EmbeddingView) -> str:
    """The name of the space vectors made by ``embedder`` from ``view`` live in (the embedder's
    name for the default view, so stores made before views existed keep their space)."""
    return embedder.name if view.kind == EmbeddingView.kind else f"{embedder.name}@{view.name}"


def _view_text(view: EmbeddingView, where: str, log: ExecutionLog) -> str:
    """The view's text; a failed call with none there (no reply to embed) embeds its input: it
    is never a graph node, but it is stored like the rest."""
    text = view.text(log.inputs, log.output, where=where)
    if text.strip() or log.status == STATUS_SUCCESS:
        return text
    return render_input(log.inputs) or (log.error_message or "")


def embed_logs(logs: Sequence[tuple[str, ExecutionLog]], embedder: Embedder, view: EmbeddingView) -> np.ndarray:
    """The vectors of ``(where, log)`` pairs: ``view``'s text of each, embedded in one batch.

    Raises:
        InputError: Naming the log whose text the view cannot take, or whose vector is unusable.
    """
    if not logs:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = np.asarray(embedder.embed([_view_text(view, where, log) for where, log in logs]), dtype=np.float32)
    for (where, _), vector in zip(logs, vectors, strict=True):
        if vector_problem(vector) is not None:
            problem = f"the embedder made an unusable vector from its {view.name} text (no words?); add a vector"
            raise InputError(f"{where}: {problem}")
    return vectors
