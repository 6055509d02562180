"""Chat-format (ChatML) training examples: rendering logs faithfully and OpenAI's format checks.

The checks follow OpenAI's fine-tuning data-preparation cookbook: every line is an object
with a ``messages`` list; each message has a ``role`` and string ``content``; only the keys
role, content, name, function_call and weight are allowed; roles are system, user, assistant,
function or tool; every example has an assistant message.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
ALLOWED_MESSAGE_KEYS = frozenset({"role", "content", "name", "function_call", "weight"})
ALLOWED_ROLES = frozenset({"system", "user", "assistant", "function", "tool"})
MIN_TRAINING_EXAMPLES = 10
#: Name of the single captured argument of a log imported from plain text.
PLAIN_INPUT_KEY = "input"


def render_value(value: Any) -> str:
    """A captured value as text: strings as they are, anything else as compact JSON.

    Raises:
        ValueError: If the value holds NaN or an infinity, which JSON cannot carry (rendering
            them as ``NaN`` would teach a model to answer with text no parser accepts).
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


def text_problem(inputs: Mapping[str, Any], output: Any) -> str | None:
    """``"non_json_number"`` when a log's input or output cannot be rendered (it holds NaN or an
    infinity), else ``None``. Strings, the usual case, cost nothing to check."""
    for value in (*inputs.values(), output):
        if isinstance(value, str) or value is None:
            continue
        try:
            render_value(value)
        except ValueError:
            return "non_json_number"
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


def build_example(system_prompt: str | None, user: str, assistant: str) -> dict[str, Any]:
    """A ``{"messages": [...]}`` example; the system message is omitted when empty."""
    messages: list[dict[str, str]] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user})
    messages.append({"role": "assistant", "content": assistant})
    return {"messages": messages}


def check_example(example: Any) -> list[FormatIssue]:
    """OpenAI's format checks for one example; an empty list means it is valid."""
    if not isinstance(example, dict):
        return [FormatIssue("error", "example is not a JSON object")]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [FormatIssue("error", "missing or empty 'messages' list")]
    issues: list[FormatIssue] = []
    roles: list[str] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            issues.append(FormatIssue("error", f"message {index} is not an object"))
            continue
        unknown = set(message) - ALLOWED_MESSAGE_KEYS
        if unknown:
            issues.append(FormatIssue("error", f"message {index} has unrecognised keys {sorted(unknown)}"))
        if "role" not in message or "content" not in message:
            issues.append(FormatIssue("error", f"message {index} lacks 'role' or 'content'"))
            continue
        role, content = message["role"], message["content"]
        if role not in ALLOWED_ROLES:
            issues.append(FormatIssue("error", f"message {index} has unrecognised role {role!r}"))
        roles.append(role)
        if not isinstance(content, str):
            issues.append(FormatIssue("error", f"message {index} content is not a string"))
        elif not content.strip() and role in {"user", "assistant"}:
            issues.append(FormatIssue("error", f"message {index} ({role}) has empty content"))
    if "assistant" not in roles:
        issues.append(FormatIssue("error", "example has no assistant message"))
    if "user" not in roles:
        issues.append(FormatIssue("warning", "example has no user message"))
    if "system" not in roles:
        issues.append(FormatIssue("warning", "example has no system message"))
    return issues


def is_valid_example(example: Any) -> bool:
    """Whether an example passes every error-level check."""
    return not any(issue.severity == "error" for issue in check_example(example))
