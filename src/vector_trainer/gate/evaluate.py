"""Evaluate a candidate against the incumbent on examples neither was trained on.

Models answer the golden validation split and held-out feedback prompts; each answer is scored
by its semantic similarity to the reference answer (the function's embedder), by a normalised
exact match (:mod:`.scores`) and by compliance with the active hook (``intercept_output`` leaves
it unchanged). Hooks are scored by their fix
rate on held-out feedback and by the known-good text they change. Every comparison is paired
(both systems on the same examples) with a bootstrap interval.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import Levenshtein
import numpy as np

from vector_trainer._params import check_values
from vector_trainer.chatml import PLAIN_INPUT_KEY, render_prompt, template_fields
from vector_trainer.config import GateConfig
from vector_trainer.conversation import message_text
from vector_trainer.errors import EmptyDataError, InputError
from vector_trainer.fileio import iter_jsonl
from vector_trainer.gate.judge import LLMJudge
from vector_trainer.gate.scores import embedding_similarity, exact_match
from vector_trainer.gate.stats import PairedComparison, paired_bootstrap
from vector_trainer.sources.embedders import Embedder, HashingEmbedder
from vector_trainer.synthesizer import hook_template
from vector_trainer.synthesizer.hook_file import hook_rules, run_hook_file
from vector_trainer.training.chat_models import ChatModel, answer_all
from vector_trainer.training.registry import chat_model_for
from vector_trainer.types import FeedbackPair

#: Per-example rows kept in a report (the means and intervals use every example).
REPORT_EXAMPLES = 50


@dataclass(frozen=True)
class EvalExample:
    """One held-out question with the answer it should get.

    Attributes:
        messages: The conversation up to the answer as ``(role, text)`` (what a judge reads).
        reference: The answer it should get.
        origin: Where it came from (``golden.validation.jsonl:3``, ``feedback:17``).
        prompt: The conversation as the model is asked it (tool calls and results kept), when
            it was logged as messages; else built from ``messages``.
    """

    messages: tuple[tuple[str, str], ...]
    reference: str
    origin: str
    prompt: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def asked(cls, messages: Sequence[Mapping[str, Any]], reference: str, origin: str) -> EvalExample:
        """An example asking ``messages`` as logged (``weight``, a training key, dropped)."""
        full = tuple({k: v for k, v in m.items() if k != "weight"} for m in messages)
        return cls(tuple((str(m.get("role")), message_text(m)) for m in full), reference, origin, full)

    def chat(self) -> list[dict[str, Any]]:
        """The messages in chat-completions form."""
        return [dict(m) for m in self.prompt] or [{"role": role, "content": text} for role, text in self.messages]


def validation_examples(path: str | os.PathLike[str]) -> list[EvalExample]:
    """The examples of a chat JSONL file (e.g. ``golden.validation.jsonl``): each line's messages
    up to its last assistant turn, which is the reference. Conversations keep their tool calls
    and tool results (``weight`` is a training key and is dropped); an example whose reference is
    a tool call, not text, cannot be scored against a text answer and is left out.

    Raises:
        InputError: Naming ``file:line`` of a line without a final assistant message.
    """
    examples = []
    for line, row in iter_jsonl(path):
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
            raise InputError(f"{path}:{line}: expected {{'messages': [...]}} ending with an assistant message")
        *prompt, last = messages
        if last.get("role") != "assistant" or not prompt:
            raise InputError(f"{path}:{line}: the last message must be the assistant's answer, after a prompt")
        if not isinstance(last.get("content"), str):
            if last.get("tool_calls"):
                continue
            raise InputError(f"{path}:{line}: the assistant's answer has no text content")
        asked = [m for m in prompt if isinstance(m, dict)]
        examples.append(EvalExample.asked(asked, last["content"], f"{Path(path).name}:{line}"))
    return examples


def feedback_examples(
    pairs: Sequence[FeedbackPair], system_prompt: str | None = None, prompt_template: str | None = None
) -> list[EvalExample]:
    """Held-out feedback as examples: the conversation (or the input prompt) asked, the fixed output
    as reference (pairs with neither cannot be asked and are left out).

    Args:
        pairs: The held-out pairs.
        system_prompt: The function's system message.
        prompt_template: The function's prompt template; applied when it places the single
            ``{input}`` (a feedback prompt is one text), else the prompt is asked as recorded.
    """
    head = (("system", system_prompt),) if system_prompt else ()
    usable = prompt_template if prompt_template and set(template_fields(prompt_template)) == {PLAIN_INPUT_KEY} else None
    return [
        EvalExample.asked(p.messages, p.fixed_output, f"feedback:{p.sequence}")
        if p.messages
        else EvalExample(
            (*head, ("user", render_prompt({PLAIN_INPUT_KEY: p.input_prompt}, usable))),
            p.fixed_output,
            f"feedback:{p.sequence}",
        )
        for p in pairs
        if p.messages or p.input_prompt.strip()
    ]


def holdout_split(
    pairs: Sequence[FeedbackPair], every: int = GateConfig.holdout_every
) -> tuple[list[FeedbackPair], list[FeedbackPair]]:
    """``(to learn from, held out)``: every ``every``-th pair by a hash of its content, so a pair
    stays on the same side as feedback grows."""
    learn: list[FeedbackPair] = []
    held: list[FeedbackPair] = []
    for pair in pairs:
        digest = hashlib.sha256(f"{pair.bad_output}\x00{pair.fixed_output}".encode("utf-8", "surrogatepass"))
        (held if int.from_bytes(digest.digest()[:8], "big") % every == 0 else learn).append(pair)
    return learn, held


@dataclass(frozen=True)
class Evaluation:
    """Candidate against incumbent: a comparison per metric, and some examples to read.

    Attributes:
        kind: ``model`` or ``hook``.
        candidate: The candidate's name (a model id, a hook path or version).
        incumbent: The incumbent's.
        comparisons: Metric name -> paired comparison.
        examples: Up to :data:`REPORT_EXAMPLES` per-example rows.
        skipped: Why examples or metrics were left out.
    """

    kind: str
    candidate: str
    incumbent: str
    comparisons: dict[str, PairedComparison]
    examples: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``evaluation.json``)."""
        return {
            "kind": self.kind,
            "candidate": self.candidate,
            "incumbent": self.incumbent,
            "comparisons": {name: c.to_dict() for name, c in self.comparisons.items()},
            "examples": self.examples,
            "skipped": self.skipped,
        }


class ModelEvaluator:
    """Scores two chat models (and two hooks) on the same held-out examples.

    Args:
        embedder: The function's embedder (similarity of answer and reference); lexical if omitted.
        hook_path: The active hook; answers it would change are not compliant. No compliance
            score without it (:meth:`evaluate` can name another).
        judge: An LLM judge; adds the ``judge`` score (pairwise, order-swapped) when given.
        max_examples: At most this many examples are asked (the first ones).
        resamples: Bootstrap resamples.
        confidence: Interval level.
        holdout_every: Every n-th feedback pair (by content) is held out of learning to test on.
        max_tokens: Longest answer asked of a model reached by :meth:`reach`.
        timeout_s: Seconds to wait for one answer of a model reached by :meth:`reach`.
        model_for: How :meth:`reach` reaches a registered model: ``(provider, model) -> ChatModel``;
            by default :func:`~vector_trainer.training.registry.chat_model_for`.
        seed: Bootstrap seed.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        hook_path: str | os.PathLike[str] | None = None,
        judge: LLMJudge | None = None,
        max_examples: int = GateConfig.max_examples,
        resamples: int = GateConfig.resamples,
        confidence: float = GateConfig.confidence,
        holdout_every: int = GateConfig.holdout_every,
        max_tokens: int = GateConfig.max_tokens,
        timeout_s: float = GateConfig.timeout_s,
        model_for: Callable[[str, str], ChatModel] | None = None,
        seed: int = 0,
    ) -> None:
        check_values(
            GateConfig,
            "gate",
            {
                "max_examples": max_examples,
                "resamples": resamples,
                "confidence": confidence,
                "holdout_every": holdout_every,
                "max_tokens": max_tokens,
                "timeout_s": timeout_s,
            },
        )
        self.embedder = embedder or HashingEmbedder()
        self.hook_path = Path(hook_path) if hook_path else None
        self.judge = judge
        self.max_examples = max_examples
        self.resamples = resamples
        self.confidence = confidence
        self.holdout_every = holdout_every
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.model_for = model_for
        self.seed = seed

    def reach(self, provider: str, model: str, *, base_url: str | None = None, api_key: str | None = None) -> ChatModel:
        """The chat model behind a registry entry (``model_for`` when given, else an
        OpenAI-compatible endpoint at ``base_url``, or transformers for ``local-lora``)."""
        if self.model_for is not None:
            return self.model_for(provider, model)
        return chat_model_for(
            provider, model, base_url=base_url, api_key=api_key, timeout_s=self.timeout_s, max_tokens=self.max_tokens
        )

    def split(self, pairs: Sequence[FeedbackPair]) -> tuple[list[FeedbackPair], list[FeedbackPair]]:
        """``(to learn from, held out)`` by :func:`holdout_split` with ``holdout_every``."""
        return holdout_split(pairs, self.holdout_every)

    def _compare(
        self, metric: str, candidate: Sequence[float] | np.ndarray, incumbent: Sequence[float] | np.ndarray
    ) -> PairedComparison:
        return paired_bootstrap(
            metric, candidate, incumbent, resamples=self.resamples, confidence=self.confidence, seed=self.seed
        )

    def similarity(self, answers: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each answer to its reference, in the embedder's space."""
        return embedding_similarity(self.embedder, answers, references)

    def evaluate(
        self,
        candidate: ChatModel,
        incumbent: ChatModel,
        examples: Sequence[EvalExample],
        *,
        hook_path: str | os.PathLike[str] | None = None,
    ) -> Evaluation:
        """Ask both models every example and compare their scores.

        Args:
            candidate: The new model.
            incumbent: The model in use.
            examples: Held-out examples (the first ``max_examples`` are asked).
            hook_path: The active hook for the compliance score, instead of the one given at construction.

        Raises:
            EmptyDataError: If there are no examples.
            ModelError: If a model (or the judge) cannot answer (the incumbent stays; nothing is promoted).
        """
        hook = Path(hook_path) if hook_path else self.hook_path
        chosen = list(examples)[: self.max_examples]
        if not chosen:
            raise EmptyDataError("no held-out examples to evaluate on (a validation split or feedback with prompts)")
        references = [e.reference for e in chosen]
        asked = [e.chat() for e in chosen]
        answers = {"candidate": answer_all(candidate, asked), "incumbent": answer_all(incumbent, asked)}
        scores = {
            side: {"similarity": self.similarity(texts, references), "exact": exact_match(texts, references)}
            for side, texts in answers.items()
        }
        skipped = []
        if hook is not None:
            for side, texts in answers.items():
                hooked = run_hook_file(hook, texts)
                scores[side]["compliance"] = np.array([h == t for h, t in zip(hooked, texts, strict=True)], float)
        else:
            skipped.append("compliance: no active hook given")
        verdicts: list[tuple[str | None, str | None]] = []
        if self.judge is not None:
            judged = [
                self.judge.compare(e.messages, e.reference, c, i)
                for e, c, i in zip(chosen, answers["candidate"], answers["incumbent"], strict=True)
            ]
            verdicts = [j.verdicts for j in judged]
            scores["candidate"]["judge"] = np.array([j.score for j in judged])
            scores["incumbent"]["judge"] = 1.0 - scores["candidate"]["judge"]
            unread = sum(v is None for pair in verdicts for v in pair)
            if unread:
                skipped.append(f"judge: {unread} of {2 * len(judged)} verdicts could not be read (counted as ties)")
        comparisons = {
            metric: self._compare(metric, scores["candidate"][metric], scores["incumbent"][metric])
            for metric in scores["candidate"]
        }
        rows = [
            {
                "origin": e.origin,
                "reference": e.reference,
                "candidate": answers["candidate"][i],
                "incumbent": answers["incumbent"][i],
                **{f"{side}_{m}": round(float(scores[side][m][i]), 4) for side in scores for m in scores[side]},
                **({"judge_verdicts": list(verdicts[i])} if verdicts else {}),
            }
            for i, e in enumerate(chosen[:REPORT_EXAMPLES])
        ]
        return Evaluation("model", candidate.name, incumbent.name, comparisons, rows, skipped)

    def evaluate_hooks(
        self,
        candidate: str | os.PathLike[str],
        incumbent: str | os.PathLike[str] | None,
        held_out: Sequence[FeedbackPair],
        known_good: Sequence[str],
    ) -> Evaluation:
        """:func:`evaluate_hooks` with this evaluator's bootstrap settings."""
        return evaluate_hooks(
            candidate,
            incumbent,
            held_out,
            known_good,
            resamples=self.resamples,
            confidence=self.confidence,
            seed=self.seed,
        )


def evaluate_hooks(
    candidate: str | os.PathLike[str],
    incumbent: str | os.PathLike[str] | None,
    held_out: Sequence[FeedbackPair],
    known_good: Sequence[str],
    *,
    resamples: int = GateConfig.resamples,
    confidence: float = GateConfig.confidence,
    seed: int = 0,
) -> Evaluation:
    """A candidate hook against the active one (or against no hook).

    Metrics (higher is better): ``fix`` (held-out feedback turned exactly into its fix), ``closer``
    (its edit distance to the fix shrank, normalised) and ``no_damage`` (known-good text left
    unchanged by the rules the damage check covers: general prepend, append and strip rules are
    formatting policies meant to change every output, ADR-017).

    Raises:
        EmptyDataError: If there is neither held-out feedback nor known-good text.
    """
    if not held_out and not known_good:
        raise EmptyDataError("no held-out feedback and no known-good text to evaluate the hook on")
    bad = [p.bad_output for p in held_out]
    sides = {"candidate": run_hook_file(candidate, bad)}
    sides["incumbent"] = run_hook_file(incumbent, bad) if incumbent else list(bad)
    scores: dict[str, dict[str, list[float]]] = {}
    for side, fixed in sides.items():
        hook = candidate if side == "candidate" else incumbent
        kept = _unchanged(hook, known_good) if hook else [1.0] * len(known_good)
        scores[side] = {
            "fix": [float(out == p.fixed_output) for out, p in zip(fixed, held_out, strict=True)],
            "closer": [_closer(p, out) for out, p in zip(fixed, held_out, strict=True)],
            "no_damage": kept,
        }
    comparisons = {
        metric: paired_bootstrap(
            metric,
            scores["candidate"][metric],
            scores["incumbent"][metric],
            resamples=resamples,
            confidence=confidence,
            seed=seed,
        )
        for metric in ("fix", "closer", "no_damage")
        if scores["candidate"][metric]
    }
    rows = [
        {"origin": f"feedback:{p.sequence}", "reference": p.fixed_output, "candidate": c, "incumbent": i}
        for p, c, i in zip(held_out[:REPORT_EXAMPLES], sides["candidate"], sides["incumbent"], strict=False)
    ]
    skipped = [] if held_out else ["fix, closer: no held-out feedback"]
    return Evaluation("hook", str(candidate), str(incumbent or "no hook"), comparisons, rows, skipped)


def _unchanged(hook: str | os.PathLike[str], texts: Sequence[str]) -> list[float]:
    """1.0 for each text the hook's checked rules leave alone (rules are data, applied here by
    the hook template's own code; the hook file itself is not executed)."""
    index = hook_template.index_rules(hook_rules(hook))
    return [float(hook_template.apply_compiled(hook_template.select_rules(index, t), t) == t) for t in texts]


def _closer(pair: FeedbackPair, output: str) -> float:
    """How much of the way from the bad output to the fix an output went (negative: away)."""
    before = Levenshtein.distance(pair.bad_output, pair.fixed_output)
    if before == 0:
        return 0.0
    return (before - Levenshtein.distance(output, pair.fixed_output)) / before
