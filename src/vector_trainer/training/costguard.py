"""FR-6: the token-cost guardrail. It never under-estimates.

* Tokens are counted with the model's own tiktoken encoding (``o200k_base`` for the gpt-4o and
  gpt-4.1 families, ``cl100k_base`` for older models) plus OpenAI's per-message overhead
  (3 per message, 1 per ``name``, 3 for the reply priming).
* Offline, the ranks come from the ``bpe-openai`` package when it is installed (extra
  ``exact-tokens``; see ``training.tokens``). When the encoding still cannot be loaded, every
  string is counted as its UTF-8 byte length instead. Byte-level BPE never produces more tokens
  than bytes, so that figure is a guaranteed upper bound, and the estimate says so.
* Cost = tokens per epoch x the epochs actually requested (or OpenAI's default rule) x price.
* An unknown model is refused unless a price is given: no cheaper fallback.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from vector_trainer._params import check_values
from vector_trainer.chatml import MIN_TRAINING_EXAMPLES, check_example
from vector_trainer.config import OpenAITrainerConfig
from vector_trainer.errors import BudgetExceededError, ConfigError, InputError, UnknownModelError
from vector_trainer.fileio import iter_jsonl
from vector_trainer.training.tokens import load_token_counter
from vector_trainer.types import CostEstimate

PRICES_AS_OF = "2026-11"
PRICES_SOURCE = "OpenAI fine-tuning pricing as published in late 2026"
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3
DEFAULT_EPOCHS = 3
#: The most epochs OpenAI's default rule chooses (an explicit ``n_epochs`` may go up to the
#: limit declared once in ``OpenAITrainerConfig.n_epochs``).
MIN_EPOCHS, MAX_EPOCHS = 1, 25
MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 100, 25_000
#: Top-level example keys whose definitions are billed with the example.
BILLED_DEFINITIONS = ("tools", "functions")
#: Longest training example these models take (OpenAI truncates longer ones and bills the rest).
TRAINING_CONTEXT_TOKENS = 65_536
MAX_LINES_IN_NOTE = 10


@dataclass(frozen=True)
class ModelPrice:
    """Training price of one model.

    Attributes:
        usd_per_million: USD per 1M training tokens.
        encoding: The tiktoken encoding of the model.
        context_limit: Per-example token limit used for billing, when known (``None``: no
            clamping, which can only over-estimate).
        source: Where the price comes from.
        as_of: When it was read.
    """

    usd_per_million: float
    encoding: str
    context_limit: int | None = None
    source: str = PRICES_SOURCE
    as_of: str = PRICES_AS_OF


#: Training prices, USD per 1M tokens. Override per call with ``prices=`` or ``usd_per_million=``.
MODEL_TRAINING_PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        "gpt-4.1-2025-04-14": ModelPrice(25.00, "o200k_base", TRAINING_CONTEXT_TOKENS),
        "gpt-4.1-mini-2025-04-14": ModelPrice(5.00, "o200k_base", TRAINING_CONTEXT_TOKENS),
        "gpt-4.1-nano-2025-04-14": ModelPrice(1.50, "o200k_base", TRAINING_CONTEXT_TOKENS),
        "gpt-4o-2024-08-06": ModelPrice(25.00, "o200k_base", TRAINING_CONTEXT_TOKENS),
        "gpt-4o-mini-2024-07-18": ModelPrice(3.00, "o200k_base", TRAINING_CONTEXT_TOKENS),
    }
)
#: Short names resolve to the dated snapshot OpenAI fine-tunes.
MODEL_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "gpt-4.1": "gpt-4.1-2025-04-14",
        "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
        "gpt-4o": "gpt-4o-2024-08-06",
        "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    }
)
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4")


def encoding_for_model(model: str) -> str:
    """The tiktoken encoding name of a model (o200k_base for 4o/4.1 and newer, else cl100k_base)."""
    return "o200k_base" if model.startswith(_O200K_PREFIXES) else "cl100k_base"


def resolve_price(
    model: str,
    *,
    prices: Mapping[str, ModelPrice] | None = None,
    usd_per_million: float | None = None,
) -> tuple[str, ModelPrice]:
    """The canonical model name and its price.

    Args:
        model: Model name or alias.
        prices: Table that overrides (and extends) :data:`MODEL_TRAINING_PRICES`.
        usd_per_million: Explicit price; used for models that are in no table.

    Raises:
        UnknownModelError: If no price is known and none is given.
    """
    table = {**MODEL_TRAINING_PRICES, **(prices or {})}
    name = MODEL_ALIASES.get(model, model)
    if usd_per_million is not None:
        if isinstance(usd_per_million, bool) or usd_per_million <= 0 or not math.isfinite(usd_per_million):
            raise ConfigError(f"trainer.usd_per_million: must be a finite number > 0, got {usd_per_million}")
        base = table.get(name)
        if base is not None and usd_per_million < base.usd_per_million:
            raise ConfigError(
                f"trainer.usd_per_million: {usd_per_million} USD/1M is below the known price of '{name}' "
                f"({base.usd_per_million} USD/1M, {base.source}); a given price may only raise a known one, "
                "so the guard never under-estimates. Drop the price to use the table's."
            )
        return name, ModelPrice(
            usd_per_million,
            base.encoding if base else encoding_for_model(name),
            base.context_limit if base else None,
            source="given by the user" + (", above the table's price" if base is not None else ""),
            as_of="",
        )
    if name in table:
        return name, table[name]
    known = ", ".join(sorted(table))
    raise UnknownModelError(
        f"no training price is known for model '{model}'. Known: {known}. "
        "Pass a price (--price-per-million / usd_per_million=) to estimate it; "
        "VectorTrainer never guesses a cheaper price."
    )


def default_epochs(n_examples: int) -> int:
    """OpenAI's default: 3 epochs, adjusted so examples x epochs stays in 100..25,000."""
    if n_examples <= 0:
        return DEFAULT_EPOCHS
    epochs = DEFAULT_EPOCHS
    if n_examples * epochs < MIN_TARGET_EXAMPLES:
        epochs = min(MAX_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / n_examples))
    elif n_examples * epochs > MAX_TARGET_EXAMPLES:
        epochs = max(MIN_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return epochs


def count_example_tokens(example: Mapping[str, Any], count: Callable[[str], int]) -> int:
    """Tokens of one chat example as OpenAI's cookbook counts them, plus its tool and function
    definitions (billed as part of the example), counted as their JSON text."""
    total = TOKENS_REPLY_PRIMING
    for key in BILLED_DEFINITIONS:
        if example.get(key):
            total += count(json.dumps(example[key], ensure_ascii=False))
    for message in example["messages"]:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += count(value)
            elif value is not None and key != "weight":
                total += count(json.dumps(value, ensure_ascii=False))
            if key == "name":
                total += TOKENS_PER_NAME
    return total


def estimate_cost(
    jsonl_path: str | os.PathLike[str],
    model: str,
    n_epochs: int | None = None,
    *,
    prices: Mapping[str, ModelPrice] | None = None,
    usd_per_million: float | None = None,
    token_counter: Callable[[str], int] | None = None,
) -> CostEstimate:
    """Estimate what fine-tuning ``model`` on a chat-format JSONL file would cost.

    Args:
        jsonl_path: The training file; every line must pass OpenAI's format checks.
        model: Model name or alias.
        n_epochs: Requested epochs; ``None`` applies OpenAI's default rule.
        prices: Price-table overrides.
        usd_per_million: Explicit price (needed for models in no table).
        token_counter: Inject a counter (tests); default: the model's tiktoken encoding.

    Raises:
        UnknownModelError: Unknown model without a price.
        InputError: A malformed line (``file:line: ...``) or an empty file.
    """
    name, price = resolve_price(model, prices=prices, usd_per_million=usd_per_million)
    if token_counter is not None:
        count, encoding, exact, note = token_counter, price.encoding, True, ""
    else:
        count, encoding, exact, note = load_token_counter(price.encoding)
    per_epoch = 0
    n_examples = 0
    over_context: list[int] = []
    file_name = os.fspath(jsonl_path)
    for line_no, example in iter_jsonl(jsonl_path):
        errors = [i.message for i in check_example(example) if i.severity == "error"]
        if errors:
            raise InputError(f"{file_name}:{line_no}: not a valid chat example: {'; '.join(errors)}")
        tokens = count_example_tokens(example, count)
        if price.context_limit is not None and tokens > price.context_limit:
            over_context.append(line_no)
            tokens = price.context_limit
        per_epoch += tokens
        n_examples += 1
    if n_examples == 0:
        raise InputError(f"{file_name}: no training examples")
    if n_epochs is not None:
        check_values(OpenAITrainerConfig, "trainer", {"n_epochs": n_epochs})
    epochs = n_epochs if n_epochs is not None else default_epochs(n_examples)
    total = per_epoch * epochs
    notes = [note] if note else []
    if n_epochs is None:
        notes.append(f"{epochs} epochs by OpenAI's default rule for {n_examples} examples")
    if over_context:
        shown = ", ".join(str(n) for n in over_context[:MAX_LINES_IN_NOTE])
        notes.append(
            f"{len(over_context)} examples (lines {shown}) are longer than {name}'s training context of "
            f"{price.context_limit:,} tokens and will be truncated; shorten or drop them"
        )
    if n_examples < MIN_TRAINING_EXAMPLES:
        notes.append(f"OpenAI requires at least {MIN_TRAINING_EXAMPLES} examples; this file has {n_examples}")
    notes.append(
        f"price {price.usd_per_million} USD/1M tokens ({price.source}{', ' + price.as_of if price.as_of else ''})"
    )
    return CostEstimate(
        model=name,
        n_examples=n_examples,
        tokens_per_epoch=per_epoch,
        n_epochs=epochs,
        total_tokens=total,
        usd_per_million=price.usd_per_million,
        estimated_usd=total * price.usd_per_million / 1_000_000,
        exact=exact,
        encoding=encoding,
        note="; ".join(n.rstrip(".") for n in notes),
        over_context=len(over_context),
        over_context_lines=tuple(over_context),
    )


def check_context(estimate: CostEstimate, where: str) -> None:
    """Refuse a file with examples longer than the model's training context: their end, the
    reply trained on, would be cut off (the local trainer refuses the same way).

    Raises:
        InputError: Naming how many examples and which lines.
    """
    if not estimate.over_context:
        return
    lines = ", ".join(str(n) for n in estimate.over_context_lines[:MAX_LINES_IN_NOTE])
    more = " ..." if estimate.over_context > MAX_LINES_IN_NOTE else ""
    raise InputError(
        f"{where}: {estimate.over_context} of {estimate.n_examples} examples are longer than {estimate.model}'s "
        f"training context, so their reply would be cut off and not trained on (lines {lines}{more}); "
        "shorten or drop them"
    )


def check_budget_value(max_budget_usd: float | None, key: str = "trainer.max_budget_usd") -> None:
    """Refuse a budget that is not a finite number >= 0 (``nan`` would let anything through).

    Raises:
        ConfigError: Naming ``key``.
    """
    if max_budget_usd is None:
        return
    bad = isinstance(max_budget_usd, bool) or not isinstance(max_budget_usd, (int, float))
    if bad or not math.isfinite(max_budget_usd) or max_budget_usd < 0:
        raise ConfigError(f"{key}: must be a finite number >= 0 (USD), got {max_budget_usd!r}")


def check_budget(
    estimate: CostEstimate, max_budget_usd: float | None, *, refused: str = "nothing was uploaded"
) -> None:
    """Refuse an estimate over budget (FR-6.3); ``None`` disables the guard (FR-6.5).

    Args:
        estimate: The cost estimate.
        max_budget_usd: The budget in USD.
        refused: What the refusal means for the caller, said in the message.

    Raises:
        BudgetExceededError: If ``estimate.estimated_usd > max_budget_usd``.
    """
    if max_budget_usd is None:
        return
    check_budget_value(max_budget_usd)
    if estimate.estimated_usd > max_budget_usd:
        bound = "" if estimate.exact else " (an upper bound: the exact tokenizer was unavailable)"
        raise BudgetExceededError(
            f"estimated cost ${estimate.estimated_usd:.4f}{bound} for {estimate.total_tokens:,} tokens "
            f"({estimate.n_epochs} epochs of {estimate.tokens_per_epoch:,}) on {estimate.model} exceeds the budget "
            f"${max_budget_usd:.4g}; {refused}. "
            "Raise the budget, lower the epochs, or select fewer examples.",
            estimated_usd=estimate.estimated_usd,
            budget_usd=max_budget_usd,
        )
