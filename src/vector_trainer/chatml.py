"""Chat-format (ChatML) training examples: rendering logs faithfully and OpenAI's format checks.

The checks follow OpenAI's fine-tuning format (chat, multi-turn, tools): every line is an
object with a ``messages`` list and optional ``tools`` / ``parallel_tool_calls``; each message
has a known ``role`` and only the keys its role may carry; content is a string (or, for a user,
a list of text and image parts), absent only on an assistant turn that calls tools; tool calls
are ``{"id", "type": "function", "function": {"name", "arguments"}}`` with ``arguments`` JSON
text; a ``tool`` message answers an earlier call by ``tool_call_id``; ``weight`` (0 or 1) only on
assistant turns; and at least one assistant turn is trained on (weight not 0).
"""

from __future__ import annotations

import datetime
import decimal
import json
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from vector_trainer.conversation import Conversation
from vector_trainer.fileio import loads_bounded

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
#: The keys each role's messages may carry in OpenAI's fine-tuning format.
ALLOWED_MESSAGE_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "system": frozenset({"role", "content", "name"}),
        "user": frozenset({"role", "content", "name"}),
        "assistant": frozenset({"role", "content", "name", "tool_calls", "function_call", "refusal", "weight"}),
        "tool": frozenset({"role", "content", "tool_call_id"}),
        "function": frozenset({"role", "content", "name"}),
    }
)
ALLOWED_ROLES = frozenset(ALLOWED_MESSAGE_KEYS)
#: Top-level keys of an example besides ``messages``.
ALLOWED_EXAMPLE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
MIN_TRAINING_EXAMPLES = 10
#: Name of the single captured argument of a log imported from plain text.
PLAIN_INPUT_KEY = "input"


def _as_json(value: Any) -> Any:
    """What JSON carries of a value it has no type for: a date or time (a Weaviate ``date``
    property) as ISO text, a UUID or finite decimal as text, a NumPy scalar as its Python value."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID) or (isinstance(value, decimal.Decimal) and value.is_finite()):
        return str(value)
    if isinstance(value, decimal.Decimal):
        raise ValueError(f"{value} is not a JSON number")
    item = getattr(value, "item", None)  # a NumPy scalar
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    raise TypeError(f"a {type(value).__name__} value has no JSON form")


def render_value(value: Any) -> str:
    """A captured value as text: strings as they are, anything else as compact JSON (dates and
    times as ISO text, UUIDs and decimals as text, NumPy scalars as numbers).

    Raises:
        ValueError: If the value holds NaN or an infinity, which JSON cannot carry (rendering
            them as ``NaN`` would teach a model to answer with text no parser accepts).
        TypeError: If it holds a value with no JSON form (bytes, a set).
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False, default=_as_json)


def text_problem(inputs: Mapping[str, Any], output: Any) -> str | None:
    """Why a log's input or output cannot be rendered, else ``None``: ``"non_json_number"`` (it
    holds NaN or an infinity) or ``"non_json_value"`` (a value with no JSON form, such as bytes).
    Strings, the usual case, cost nothing to check."""
    for value in (*inputs.values(), output):
        if isinstance(value, str) or value is None:
            continue
        try:
            render_value(value)
        except ValueError:
            return "non_json_number"
        except TypeError:
            return "non_json_value"
    return None


def template_fields(template: str) -> list[str]:
    """The input names a prompt template uses (``"Q: {question}"`` -> ``["question"]``).

    Only plain names are allowed: no attribute or index access, no conversion, no format spec,
    so a template can only place input values, never reach into them.

    Raises:
        ValueError: Saying what is wrong (a malformed brace, or a field that is not a plain name).
    """
    fields = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"{shown} is not a plain input name (write {{question}}; double braces for a literal)")
        fields.append(name)
    return fields


def render_prompt(inputs: Mapping[str, Any], template: str | None = None) -> str:
    """The user message of a log: ``template`` filled with its named inputs (each rendered by
    :func:`render_value`), or :func:`render_input` without a template.

    Raises:
        KeyError: Naming an input the template uses and the log lacks.
        ValueError: If a value holds NaN or an infinity.
    """
    if not template:
        return render_input(inputs)
    values = {name: render_value(inputs[name]) for name in template_fields(template)}
    return template.format_map(values)


def render_input(inputs: Mapping[str, Any]) -> str:
    """The user message for a log's captured arguments.

    A single argument is rendered as its value (the usual ``question``/``message``/``input``
    parameter); several arguments as ``name: value`` lines in their recorded order, so that
    nothing the function received is lost.
    """
    if len(inputs) == 1:
        return render_value(next(iter(inputs.values())))
    return "\n".join(f"{name}: {render_value(value)}" for name, value in inputs.items())


def render_output(output: Any) -> str:
    """The assistant message for a decoded return value (strings verbatim, else JSON)."""
    if output is None:
        return ""
    return render_value(output)


@dataclass(frozen=True)
class FormatIssue:
    """A problem found in one training example."""

    severity: str  # "error" (the example is unusable) or "warning"
    message: str


def plain_prompt(system_prompt: str | None, user: str) -> list[dict[str, Any]]:
    """The prompt of a single-input log: the system message (omitted when empty), the user turn."""
    return [{"role": "system", "content": system_prompt}] * bool(system_prompt) + [{"role": "user", "content": user}]


def build_example(system_prompt: str | None, user: str, assistant: str) -> dict[str, Any]:
    """A ``{"messages": [...]}`` example; the system message is omitted when empty."""
    return {"messages": [*plain_prompt(system_prompt, user), {"role": "assistant", "content": assistant}]}


def conversation_prompt(conversation: Conversation, system_prompt: str | None = None) -> list[dict[str, Any]]:
    """A conversation's prompt as a training example holds it: the messages exactly as logged,
    every earlier assistant turn with ``"weight": 0``; ``system_prompt`` fills in only a
    conversation that has no system message of its own."""
    messages = [message.to_openai() for message in conversation.messages]
    for message in messages:
        if message["role"] == "assistant":
            message["weight"] = 0
    if system_prompt and not conversation.system_messages:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def conversation_example(conversation: Conversation, system_prompt: str | None = None) -> dict[str, Any]:
    """A conversation log as a fine-tuning example: the messages exactly as logged, every earlier
    assistant turn with ``"weight": 0`` (only the logged reply is trained on), the reply last, the
    offered tools at the top level. ``system_prompt`` fills in only a conversation that has no
    system message of its own.

    Raises:
        ValueError: If the conversation has no reply.
    """
    if conversation.reply is None:
        raise ValueError("the conversation has no reply to train on")
    example: dict[str, Any] = {
        "messages": [*conversation_prompt(conversation, system_prompt), conversation.reply.to_openai()]
    }
    if conversation.tools:
        example["tools"] = [dict(tool) for tool in conversation.tools]
    return example


def _content_issue(role: str, message: Mapping[str, Any]) -> str | None:
    content = message.get("content")
    if content is None:
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            return None
        return "lacks 'content'"
    if isinstance(content, str):
        return "has empty content" if not content.strip() and role in {"user", "assistant"} else None
    if isinstance(content, list) and content and role == "user":
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("text", "image_url"):
                return "has a content part that is neither text nor image_url"
        return None
    return "content is not a string"


def _tool_call_issue(call: Any) -> str | None:
    if not isinstance(call, dict) or call.get("type") != "function" or not isinstance(call.get("id"), str):
        return "a tool call is not {'id', 'type': 'function', 'function': {...}}"
    function = call.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        return "a tool call has no function name"
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        return f"tool call {call['id']!r}: 'arguments' must be a JSON string"
    try:
        loads_bounded(arguments)
    except ValueError as exc:
        return f"tool call {call['id']!r}: 'arguments' is not valid JSON ({exc})"
    return None


def _tool_calls_issues(index: int, calls: Any, called: set[str]) -> list[FormatIssue]:
    """Issues of a message's ``tool_calls``; each well-formed call's id is added to ``called``."""
    if calls is None:
        return []
    if not isinstance(calls, list) or not calls:
        return [FormatIssue("error", f"message {index} 'tool_calls' must be a non-empty list")]
    issues: list[FormatIssue] = []
    for call in calls:
        call_problem = _tool_call_issue(call)
        if call_problem is None and call["id"] in called:
            call_problem = f"tool call id {call['id']!r} is used twice"
        if call_problem:
            issues.append(FormatIssue("error", f"message {index}: {call_problem}"))
        else:
            called.add(call["id"])
    return issues


def _message_issues(index: int, message: Any, called: set[str]) -> list[FormatIssue]:
    if not isinstance(message, dict):
        return [FormatIssue("error", f"message {index} is not an object")]
    role = message.get("role")
    if not isinstance(role, str) or role not in ALLOWED_ROLES:
        return [FormatIssue("error", f"message {index} has unrecognised role {role!r}")]
    issues: list[FormatIssue] = []
    unknown = set(message) - ALLOWED_MESSAGE_KEYS[role]
    if unknown:
        issues.append(FormatIssue("error", f"message {index} ({role}) has unrecognised keys {sorted(unknown)}"))
    problem = _content_issue(role, message)
    if problem:
        issues.append(FormatIssue("error", f"message {index} ({role}) {problem}"))
    if ("weight" in message and message["weight"] not in (0, 1)) or isinstance(message.get("weight"), bool):
        issues.append(FormatIssue("error", f"message {index} weight must be 0 or 1"))
    issues += _tool_calls_issues(index, message.get("tool_calls"), called)
    answered = message.get("tool_call_id")
    if role == "tool" and (not isinstance(answered, str) or answered not in called):
        issues.append(FormatIssue("error", f"message {index} (tool) answers no earlier tool call"))
    return issues


def _tools_issues(example: dict[str, Any]) -> list[FormatIssue]:
    tools = example.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        return [FormatIssue("error", "'tools' must be a list")]
    names = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            return [FormatIssue("error", "a tool is not {'type': 'function', 'function': {'name', ...}}")]
        names.append(function["name"])
    if len(set(names)) != len(names):
        return [FormatIssue("error", "'tools' names a function twice")]
    return []


def check_example(example: Any) -> list[FormatIssue]:
    """OpenAI's format checks for one example; an empty list means it is valid."""
    if not isinstance(example, dict):
        return [FormatIssue("error", "example is not a JSON object")]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [FormatIssue("error", "missing or empty 'messages' list")]
    issues = [FormatIssue("error", f"unrecognised key {key!r}") for key in sorted(set(example) - ALLOWED_EXAMPLE_KEYS)]
    issues += _tools_issues(example)
    if "parallel_tool_calls" in example and not isinstance(example["parallel_tool_calls"], bool):
        issues.append(FormatIssue("error", "'parallel_tool_calls' must be true or false"))
    called: set[str] = set()
    for index, message in enumerate(messages):
        issues += _message_issues(index, message, called)
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    trained = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant" and m.get("weight") != 0]
    if "assistant" not in roles:
        issues.append(FormatIssue("error", "example has no assistant message"))
    elif not trained:
        issues.append(FormatIssue("error", "every assistant message has weight 0: nothing would be trained on"))
    if "user" not in roles:
        issues.append(FormatIssue("warning", "example has no user message"))
    if "system" not in roles:
        issues.append(FormatIssue("warning", "example has no system message"))
    return issues


def is_valid_example(example: Any) -> bool:
    """Whether an example passes every error-level check."""
    return not any(issue.severity == "error" for issue in check_example(example))
