"""The optional LLM path of the synthesizer (FR-2.4).

An OpenAI-compatible chat model (OpenAI, or a local vLLM / Ollama server through ``base_url``)
proposes natural-language instructions for the prompt side and arbitrates contradicting rules.
Everything it answers is validated before use; any failure (network, HTTP error, malformed
JSON, an answer outside the allowed set) raises :class:`AdvisorError`, and the synthesizer
falls back to its deterministic path and records why. Whatever the model says only ever enters
the hook as literal data (ADR-006).

Opt-in: feedback texts are sent to the configured endpoint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from vector_trainer._shared import chat_client
from vector_trainer.errors import VectorTrainerError, redact
from vector_trainer.types import FeedbackPair, Rule

DEFAULT_ADVISOR_MODEL = "gpt-4o-mini"
MAX_INSTRUCTIONS = 8
MAX_INSTRUCTION_CHARS = 300
MAX_PAIRS_IN_PROMPT = 20
MAX_TEXT_CHARS_IN_PROMPT = 400
DEFAULT_TIMEOUT_S = 30.0

_PROPOSE_SYSTEM = (
    "You turn user corrections of a model's outputs into short, general writing instructions for that model. "
    'Answer with JSON only: {"instructions": ["...", ...]} with at most '
    f"{MAX_INSTRUCTIONS} instructions of at most {MAX_INSTRUCTION_CHARS} characters each."
)
_RESOLVE_SYSTEM = (
    "Two correction rules learned from user feedback contradict each other. Decide which one to keep, "
    'given the feedback. Answer with JSON only: {"keep": "<rule_id>"} using one of the two rule ids.'
)


class AdvisorError(VectorTrainerError):
    """The LLM could not be reached or gave an answer that failed validation."""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS_IN_PROMPT else text[:MAX_TEXT_CHARS_IN_PROMPT] + "..."


def _pairs_payload(pairs: Sequence[FeedbackPair]) -> list[dict[str, str]]:
    return [{"bad": _clip(p.bad_output), "fixed": _clip(p.fixed_output)} for p in pairs[:MAX_PAIRS_IN_PROMPT]]


def _rule_payload(rule: Rule) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "kind": rule.kind.value,
        "target": rule.target,
        "replacement": rule.replacement,
        "support": rule.support,
    }


class LLMRuleAdvisor:
    """Asks an OpenAI-compatible chat model for instructions and conflict decisions.

    Args:
        client: An ``openai.OpenAI``-shaped client; built from the other arguments if omitted.
        model: Chat model name.
        api_key: Key; defaults to ``OPENAI_API_KEY`` (a local server may accept any string).
        base_url: OpenAI-compatible endpoint, e.g. ``http://localhost:11434/v1`` for Ollama.
        timeout_s: Request timeout.
    """

    def __init__(
        self,
        client: Any = None,
        model: str = DEFAULT_ADVISOR_MODEL,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.model = model
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._client = client

    @property
    def client(self) -> Any:
        """The chat client, created on first use."""
        if self._client is None:
            self._client = chat_client(self._api_key, self.base_url, self.timeout_s, "The LLM rule advisor")
        return self._client

    def _ask(self, system: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                temperature=0,
                response_format={"type": "json_object"},
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
                ],
            )
            content = response.choices[0].message.content or ""
        except Exception as exc:
            waited = f"{self.base_url or 'the OpenAI API'} (model {self.model}, timeout {self.timeout_s:g} s)"
            message = f"LLM request to {waited} failed: {type(exc).__name__}: {exc}"
            raise AdvisorError(redact(message, self._api_key)) from None
        try:
            answer = json.loads(content)
        except json.JSONDecodeError as exc:
            raise AdvisorError(f"LLM answer is not JSON ({exc.msg})") from None
        if not isinstance(answer, dict):
            raise AdvisorError("LLM answer is not a JSON object")
        return answer

    def propose_instructions(self, pairs: Sequence[FeedbackPair], rules: Sequence[Rule]) -> list[str]:
        """Natural-language instructions for the prompt side, validated.

        Raises:
            AdvisorError: On any failure or an answer that is not a short list of strings.
        """
        answer = self._ask(
            _PROPOSE_SYSTEM, {"corrections": _pairs_payload(pairs), "rules": [r.instruction for r in rules]}
        )
        raw = answer.get("instructions")
        if not isinstance(raw, list) or not raw or len(raw) > MAX_INSTRUCTIONS:
            raise AdvisorError(f"'instructions' must be a list of 1..{MAX_INSTRUCTIONS} strings")
        out: list[str] = []
        for item in raw:
            if not isinstance(item, str) or not item.strip() or len(item) > MAX_INSTRUCTION_CHARS:
                raise AdvisorError(f"every instruction must be a non-empty string of <= {MAX_INSTRUCTION_CHARS} chars")
            text = " ".join(item.split())
            if text not in out:
                out.append(text)
        return out

    def resolve_conflict(self, kind: str, first: Rule, second: Rule, pairs: Sequence[FeedbackPair]) -> Rule:
        """Which of two contradicting rules to keep.

        Raises:
            AdvisorError: On any failure or an answer naming neither rule.
        """
        relevant = [p for p in pairs if p.sequence in set(first.sources) | set(second.sources)]
        answer = self._ask(
            _RESOLVE_SYSTEM,
            {
                "conflict": kind,
                "rules": [_rule_payload(first), _rule_payload(second)],
                "feedback": _pairs_payload(relevant),
            },
        )
        keep = answer.get("keep")
        for rule in (first, second):
            if keep == rule.rule_id:
                return rule
        raise AdvisorError(f"'keep' must be {first.rule_id!r} or {second.rule_id!r}, got {keep!r}")
