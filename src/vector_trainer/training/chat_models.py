"""Chat models, what a trainer makes and the gate evaluates: anything that answers a chat,
reached through an OpenAI-compatible endpoint (OpenAI, vLLM serving a LoRA adapter, Ollama) or
loaded locally (:class:`~vector_trainer.training.local_lora.chat_model.LocalChatModel`).

A trainer says how to reach the models it makes (:meth:`BaseTrainer.chat_model
<vector_trainer.training.base.BaseTrainer.chat_model>`). The heavy libraries are imported on
first use, never at import time.
"""

from __future__ import annotations

import os
from typing import Any, Protocol, runtime_checkable

from vector_trainer._shared import chat_client
from vector_trainer.config import GateConfig
from vector_trainer.errors import InputError, ModelError, redact

Messages = list[dict[str, str]]


#: HTTP statuses that say "try again later".
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
TRANSIENT_ERRORS = frozenset({"APIConnectionError", "APITimeoutError", "RateLimitError", "InternalServerError"})


#: Characters kept per asked token: an answer beyond it came from a server ignoring max_tokens.
CHARS_PER_TOKEN_CAP = 16
TRUNCATED_NOTE = " [truncated by VectorTrainer: longer than max_tokens allows]"


def capped(answer: str, max_tokens: int) -> str:
    """An answer cut to what ``max_tokens`` can hold (a hostile or broken server may send
    megabytes), with a note saying so."""
    limit = max_tokens * CHARS_PER_TOKEN_CAP
    return answer if len(answer) <= limit else answer[:limit] + TRUNCATED_NOTE


def is_transient(exc: BaseException) -> bool:
    """Whether an SDK error may pass on its own (rate limit, timeout, 5xx, connection)."""
    status = getattr(exc, "status_code", None)
    return type(exc).__name__ in TRANSIENT_ERRORS or (
        isinstance(status, int) and (status in TRANSIENT_STATUSES or status >= 500)
    )


@runtime_checkable
class ChatModel(Protocol):
    """Something that answers a chat: the system and user messages in, the assistant's text out."""

    name: str

    def answer(self, messages: Messages) -> str:
        """The model's reply to ``messages``."""
        ...


def answer_all(model: ChatModel, conversations: list[Messages]) -> list[str]:
    """``model``'s reply to each conversation: in batches where the model can (``answer_many``,
    as a local model does), else one request at a time."""
    many = getattr(model, "answer_many", None)
    if callable(many):
        answers = list(many(conversations))
        if len(answers) != len(conversations):
            raise ModelError(f"{model.name} gave {len(answers)} answers to {len(conversations)} conversations")
        return answers
    return [model.answer(messages) for messages in conversations]


class OpenAIChatModel:
    """A model behind an OpenAI-compatible chat-completions endpoint.

    Args:
        model: The model name the endpoint serves (a fine-tuned id, a vLLM LoRA module name, ...).
        base_url: The endpoint; ``OPENAI_BASE_URL`` or the OpenAI API when omitted.
        api_key: Defaults to ``OPENAI_API_KEY`` (local servers accept any string).
        timeout_s: Seconds to wait for one answer.
        max_tokens: Longest answer asked for.
        client: An ``openai.OpenAI``-shaped client (built from the other arguments if omitted).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = GateConfig.timeout_s,
        max_tokens: int = GateConfig.max_tokens,
        client: Any = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise InputError("a model to evaluate needs a name (the model id the endpoint serves)")
        self.name = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self._client = client

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.name!r}, base_url={self.base_url!r})"

    @property
    def client(self) -> Any:
        """The chat client, created on first use."""
        if self._client is None:
            self._client = chat_client(self._api_key, self.base_url, self.timeout_s, "Evaluating a model over HTTP")
        return self._client

    def answer(self, messages: Messages) -> str:
        """Ask the endpoint (temperature 0).

        Raises:
            ModelError: Naming the endpoint, the model and the timeout, with secrets redacted.
        """
        try:
            response = self.client.chat.completions.create(
                model=self.name, messages=messages, temperature=0, max_tokens=self.max_tokens
            )
            return capped(response.choices[0].message.content or "", self.max_tokens)
        except Exception as exc:
            waited = f"{self.base_url or 'the OpenAI API'} (model {self.name}, timeout {self.timeout_s:g} s)"
            raise ModelError(
                redact(f"chat request to {waited} failed: {type(exc).__name__}: {exc}", self._api_key),
                transient=is_transient(exc),
            ) from None
