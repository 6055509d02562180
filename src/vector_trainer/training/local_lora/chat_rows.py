"""Chat examples as TRL prompt-completion rows, and a sequence length that cuts off no reply.

A fine-tuning example trains on its assistant turns whose ``weight`` is not 0 (a conversation
log's earlier turns carry ``weight: 0``). Each such turn becomes one row: the messages before
it as the ``prompt``, the turn as the ``completion``, so TRL's completion-only loss trains on
the reply and nothing else. The sequence length is set from the data; an example longer than
the model's context, or than an explicit ``max_length``, is refused by name rather than
truncated into training on part of a reply, or on none.

Heavy libraries are not imported here: the tokenizer is passed in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vector_trainer.errors import InputError

#: How many refused examples a message lists.
MAX_LISTED = 10
#: The chat template of a tokenizer that has none (ChatML).
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tool_call_text(message: Mapping[str, Any]) -> str:
    """Tool calls written as text (``<tool_call>{"name", "arguments"}</tool_call>``, as Hermes-
    and Qwen-style templates do), for a chat template that cannot render ``tool_calls``."""
    calls = [
        "<tool_call>\n"
        + json.dumps(
            {"name": call["function"]["name"], "arguments": json.loads(call["function"]["arguments"] or "{}")},
            ensure_ascii=False,
        )
        + "\n</tool_call>"
        for call in message.get("tool_calls") or []
    ]
    text = message.get("content")
    return "\n".join([text, *calls] if isinstance(text, str) and text else calls)


def _clean(message: Mapping[str, Any], template_has_tools: bool) -> dict[str, Any]:
    out = {key: value for key, value in message.items() if key != "weight"}
    if out.get("tool_calls") and not template_has_tools:
        out = {"role": out["role"], "content": _tool_call_text(out)}
    elif out.get("content") is None:
        out["content"] = ""
    return out


def training_rows(example: Mapping[str, Any], *, template_has_tools: bool) -> list[dict[str, Any]]:
    """One prompt-completion row per trained assistant turn of a chat example.

    Args:
        example: A checked chat example (``messages``, optional ``tools``).
        template_has_tools: Whether the tokenizer's chat template renders ``tool_calls``
            (else tool calls are written into the turn's text).
    """
    messages = [_clean(m, template_has_tools) for m in example["messages"]]
    tools = json.dumps(example["tools"], ensure_ascii=False) if example.get("tools") else None
    rows = []
    for index, original in enumerate(example["messages"]):
        if original.get("role") == "assistant" and original.get("weight", 1) != 0:
            row: dict[str, Any] = {"prompt": messages[:index], "completion": [messages[index]]}
            if tools is not None:
                row["tools"] = tools
            rows.append(row)
    return rows


def template_renders_tools(tokenizer: Any) -> bool:
    """Whether a tokenizer's chat template knows ``tool_calls``."""
    return "tool_calls" in str(getattr(tokenizer, "chat_template", "") or "")


def row_length(tokenizer: Any, row: Mapping[str, Any]) -> int:
    """Tokens of a row's prompt and completion together, as the chat template renders them."""
    tools = json.loads(row["tools"]) if row.get("tools") else None
    ids = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tools=tools, tokenize=True)
    if isinstance(ids, Mapping):  # transformers 5 returns a BatchEncoding
        ids = ids["input_ids"]
    return len(ids)


@dataclass(frozen=True)
class LengthPlan:
    """The sequence length a training run uses, and the longest example it was set from."""

    max_length: int
    longest: int
    rows: int


def plan_max_length(
    lengths: Sequence[tuple[str, int]], requested: int | None, context: int | None, where: str
) -> LengthPlan:
    """The sequence length: the longest example (``requested``, when given, must hold it).

    Args:
        lengths: ``(example name, tokens)`` per row.
        requested: An explicit ``max_length``, or ``None`` to take it from the data.
        context: The model's context length, if known.
        where: The training file, for the message.

    Raises:
        InputError: Naming how many examples and which would lose (part of) their reply.
    """
    if not lengths:
        raise InputError(f"{where}: no assistant turn to train on")
    limit = requested if requested is not None else context
    longest = max(n for _, n in lengths)
    if limit is not None and longest > limit:
        over = [(name, n) for name, n in lengths if n > limit]
        shown = ", ".join(f"{name} ({n} tokens)" for name, n in over[:MAX_LISTED])
        what = f"max_length {requested}" if requested is not None else f"the model's context of {context} tokens"
        raise InputError(
            f"{where}: {len(over)} of {len(lengths)} examples are longer than {what}, so their reply would be cut "
            f"off and not trained on: {shown}{' ...' if len(over) > MAX_LISTED else ''}. Shorten or drop them"
            + (", or raise --max-length" if requested is not None else ", or use a model with a longer context")
        )
    return LengthPlan(requested if requested is not None else longest, longest, len(lengths))


def example_rows(
    examples: Iterable[tuple[int, Mapping[str, Any]]], tokenizer: Any
) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """Every example's rows, and each row's ``(line N, tokens)``."""
    has_tools = template_renders_tools(tokenizer)
    rows: list[dict[str, Any]] = []
    lengths: list[tuple[str, int]] = []
    for line_no, example in examples:
        for row in training_rows(example, template_has_tools=has_tools):
            rows.append(row)
            lengths.append((f"line {line_no}", row_length(tokenizer, row)))
    return rows, lengths


def model_context(config: Any, tokenizer: Any) -> int | None:
    """The model's context length (its position embeddings, else the tokenizer's limit)."""
    for value in (getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)):
        if isinstance(value, int) and 0 < value < 10**8:
            return value
    return None


def load_tokenizer(model: str) -> Any:
    """The model's tokenizer, with a pad token and (where it has none) a ChatML chat template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer
