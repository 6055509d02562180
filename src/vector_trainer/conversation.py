"""Conversations: a log whose prompt is a list of chat messages, validated once at the boundary.

A conversation log keeps the exact prompt the model saw: ``inputs["messages"]`` (system, user,
assistant and tool messages in OpenAI's chat shape; an assistant turn may hold ``tool_calls``),
optionally ``inputs["tools"]`` (the function definitions it was offered), and its reply as the
output: a string, or an assistant message (possibly with ``tool_calls`` instead of text). Any
other captured argument (``model``, ``temperature``...) stays an input but is not part of the
prompt.

Every reader (ingest, VectorWave rows, trace formats) normalises messages with
:func:`normalise_messages` and replies with :func:`normalise_reply`, so what is stored is one
canonical shape: tool-call ``arguments`` are JSON *strings* (OpenAI's fine-tuning format), text
content parts are joined, ``developer`` messages are system messages. The typed view
(:class:`Conversation`) is built from that shape by :func:`conversation_of`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vector_trainer.fileio import MAX_NESTING, loads_bounded, too_deep

#: The input that holds a conversation's messages (what VectorWave captures for ``def chat(messages, ...)``).
MESSAGES_KEY = "messages"
#: The input that holds the tool definitions the model was offered.
TOOLS_KEY = "tools"
ROLES = ("system", "user", "assistant", "tool", "function")
#: Roles read as another: OpenAI's ``developer`` messages are its system messages.
ROLE_ALIASES = {"developer": "system"}
#: Content parts that carry text (OpenAI's ``text``, OTel's ``text``, Anthropic-style ``input_text``).
TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})
#: Text parts of one message are joined with this (the model read them in order).
PART_SEPARATOR = "\n"


class ConversationError(ValueError):
    """A message list or reply that cannot be a conversation; the message says which and why."""


@dataclass(frozen=True)
class ToolCall:
    """One function call an assistant turn asked for.

    Attributes:
        id: The call's id, answered by a ``tool`` message with the same ``tool_call_id``.
        name: The function's name.
        arguments: The arguments as JSON text (as OpenAI's fine-tuning format wants them).
    """

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict[str, Any]:
        """``{"id", "type": "function", "function": {"name", "arguments"}}``."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation (OpenAI's chat shape).

    Attributes:
        role: ``system``, ``user``, ``assistant``, ``tool`` or ``function``.
        content: The text (``None`` for an assistant turn that only calls tools); a user message
            with images keeps its list of content parts.
        name: Optional participant or function name.
        tool_calls: The calls an assistant turn made.
        tool_call_id: For a ``tool`` message, the call it answers.
    """

    role: str
    content: str | tuple[Mapping[str, Any], ...] | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        """The message's text (:func:`message_text` of its OpenAI form)."""
        return message_text(self.to_openai())

    def to_openai(self) -> dict[str, Any]:
        """The message as OpenAI's chat and fine-tuning formats write it."""
        message: dict[str, Any] = {"role": self.role}
        if self.content is not None or not self.tool_calls:
            message["content"] = list(map(dict, self.content)) if isinstance(self.content, tuple) else self.content
        if self.name is not None:
            message["name"] = self.name
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


@dataclass(frozen=True)
class Conversation:
    """A logged chat call: the messages the model saw, the tools it was offered, its reply.

    Attributes:
        messages: The prompt, in order.
        tools: Tool definitions (``{"type": "function", "function": {...}}``), as logged.
        reply: The assistant message the model answered with.
    """

    messages: tuple[ChatMessage, ...]
    tools: tuple[Mapping[str, Any], ...] = ()
    reply: ChatMessage | None = None

    @property
    def system_messages(self) -> tuple[ChatMessage, ...]:
        """The system messages of the prompt."""
        return tuple(m for m in self.messages if m.role == "system")


def _part_text(part: Mapping[str, Any]) -> str | None:
    """The text of a text part (``text`` or ``content``), ``None`` for another kind of part."""
    kind = part.get("type", "text")
    if not isinstance(kind, str):
        raise ConversationError(f"a content part's 'type' must be a string, got {type(kind).__name__}")
    if kind not in TEXT_PART_TYPES:
        return None
    text = part.get("text", part.get("content"))
    if not isinstance(text, str):
        raise ConversationError(f"a content part ({kind}) has no string 'text'")
    return text


def _text_of_parts(parts: Sequence[Any], where: str, *, keep_images: bool) -> str | tuple[Mapping[str, Any], ...]:
    """Text parts joined into one string; a user message with images keeps its parts, every
    text part written as ``{"type": "text", "text"}``."""
    normal: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        if isinstance(part, str):
            normal.append({"type": "text", "text": part})
            continue
        if not isinstance(part, Mapping):
            raise ConversationError(f"{where} content part {index} is not an object or a string")
        try:
            text = _part_text(part)
        except ConversationError as exc:
            raise ConversationError(f"{where} content part {index}: {exc}") from None
        if text is not None:
            normal.append({"type": "text", "text": text})
        elif part.get("type") == "image_url" and keep_images:
            normal.append(dict(part))
        else:
            raise ConversationError(
                f"{where} content part {index} has type {part.get('type')!r}; only text parts (and images in user "
                "messages) can be trained on"
            )
    if any(p["type"] == "image_url" for p in normal):
        return tuple(normal)
    return PART_SEPARATOR.join(p["text"] for p in normal)


def _arguments_text(raw: Any, where: str) -> str:
    if raw is None:
        return "{}"
    if isinstance(raw, str):
        try:
            loads_bounded(raw)
        except ValueError as exc:
            raise ConversationError(f"{where} 'arguments' is not usable JSON text ({exc})") from None
        return raw
    if isinstance(raw, (Mapping, list)):
        try:
            if too_deep(raw, MAX_NESTING):
                raise ValueError(f"nested more than {MAX_NESTING} levels")
            text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError as exc:
            raise ConversationError(f"{where} 'arguments' cannot be JSON text ({exc})") from None
        return text
    raise ConversationError(f"{where} 'arguments' must be JSON text or an object, got {type(raw).__name__}")


def parse_tool_call(raw: Any, where: str) -> ToolCall:
    """A tool call in OpenAI's shape (``{"id", "type", "function": {"name", "arguments"}}``) or
    the flat one traces use (``{"id", "name", "arguments"}``).

    Raises:
        ConversationError: Naming ``where`` and what is missing.
    """
    if not isinstance(raw, Mapping):
        raise ConversationError(f"{where} is not an object")
    nested = raw.get("function")
    function: Mapping[str, Any] = nested if isinstance(nested, Mapping) else raw
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise ConversationError(f"{where} has no function name")
    call_id = raw.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise ConversationError(f"{where} has no 'id' (a tool message answers a call by its id)")
    return ToolCall(call_id, name, _arguments_text(function.get("arguments"), f"{where} {name}"))


#: Placeholder id of a deprecated ``function`` message until it is linked to its call.
_FUNCTION_ANSWER = "\x00function"


def where_id(where: str) -> str:
    """A stable call id from a message's place (``messages[3]`` -> ``3``; the reply's: ``reply``)."""
    return "".join(ch for ch in where if ch.isdigit()) or "reply"


def _message_content(content: Any, where: str, role: str) -> str | tuple[Mapping[str, Any], ...] | None:
    """A message's content: text (text parts joined), or a user's parts when they hold images."""
    if isinstance(content, list):
        return _text_of_parts(content, where, keep_images=role == "user")
    if content is not None and not isinstance(content, str):
        raise ConversationError(f"{where} content must be a string or a list of parts")
    return content


def _message_calls(raw: Mapping[str, Any], where: str, role: str) -> tuple[ToolCall, ...]:
    """A message's tool calls, the deprecated ``function_call`` read as one."""
    calls_raw = raw.get("tool_calls") or []
    if not isinstance(calls_raw, list):
        raise ConversationError(f"{where} 'tool_calls' must be a list")
    legacy = raw.get("function_call")
    if legacy is not None and not calls_raw and role == "assistant":  # the deprecated form, as one tool call
        if not isinstance(legacy, Mapping):
            raise ConversationError(f"{where} 'function_call' must be an object")
        calls_raw = [{"id": f"call_{where_id(where)}", "type": "function", "function": legacy}]
    if calls_raw and role != "assistant":
        raise ConversationError(f"{where} ({role}) has tool_calls; only assistant messages call tools")
    return tuple(parse_tool_call(call, f"{where} tool_calls[{i}]") for i, call in enumerate(calls_raw))


def parse_message(raw: Any, where: str) -> ChatMessage:
    """One chat message, checked (keys beyond OpenAI's chat shape are ignored).

    Raises:
        ConversationError: Naming ``where`` and the field at fault.
    """
    if not isinstance(raw, Mapping):
        raise ConversationError(f"{where} is not an object")
    role = raw.get("role")
    role = ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
    if role not in ROLES:
        raise ConversationError(f"{where} has role {raw.get('role')!r}; use one of {', '.join(ROLES)}")
    content = _message_content(raw.get("content"), where, role)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise ConversationError(f"{where} 'name' must be a string")
    calls = _message_calls(raw, where, role)
    call_id = raw.get("tool_call_id")
    if role == "function":  # the deprecated answer to a function_call: a tool message (linked by parse_messages)
        role, call_id = "tool", call_id if isinstance(call_id, str) and call_id else _FUNCTION_ANSWER
        name = None
    if role == "tool" and (not isinstance(call_id, str) or not call_id):
        raise ConversationError(f"{where} (tool) has no 'tool_call_id' naming the call it answers")
    if role == "assistant" and content is None and not calls:
        raise ConversationError(f"{where} (assistant) has neither content nor tool_calls")
    if role != "assistant" and content is None:
        raise ConversationError(f"{where} ({role}) has no content")
    return ChatMessage(role, content, name, calls, call_id if role == "tool" else None)


def parse_messages(raw: Any, where: str = "messages") -> tuple[ChatMessage, ...]:
    """A prompt's messages, checked: a non-empty list, each a message, and every tool message
    answering a call an earlier assistant turn made.

    Raises:
        ConversationError: Naming ``where[i]`` and the field at fault.
    """
    if not isinstance(raw, list) or not raw:
        raise ConversationError(f"{where} must be a non-empty list of chat messages")
    messages = list(parse_message(item, f"{where}[{i}]") for i, item in enumerate(raw))
    called: set[str] = set()
    last_call: str | None = None
    for index in range(len(messages)):
        message = messages[index]
        ids = [call.id for call in message.tool_calls]
        if len(set(ids)) != len(ids) or called.intersection(ids):
            raise ConversationError(f"{where}[{index}] repeats a tool call id; every call needs its own id")
        called.update(ids)
        last_call = ids[-1] if ids else last_call
        if message.tool_call_id == _FUNCTION_ANSWER:  # a deprecated function message answers the last call
            message = messages[index] = ChatMessage("tool", message.content, tool_call_id=last_call or "")
        if message.role == "tool" and message.tool_call_id not in called:
            raise ConversationError(
                f"{where}[{index}] answers tool call {message.tool_call_id!r}, which no earlier assistant turn made"
            )
    return tuple(messages)


def parse_tools(raw: Any, where: str = "tools") -> tuple[Mapping[str, Any], ...]:
    """Tool definitions in OpenAI's shape (a flat ``{"name", "parameters"}``, as traces write it,
    is wrapped into it).

    Raises:
        ConversationError: Naming the definition without a name.
    """
    if not isinstance(raw, list | None):
        raise ConversationError(f"{where} must be a list of tool definitions")
    tools: list[Mapping[str, Any]] = []
    for index, item in enumerate(raw or ()):
        if not isinstance(item, Mapping):
            raise ConversationError(f"{where}[{index}] is not an object")
        nested = item.get("function")
        if nested is not None and not isinstance(nested, Mapping):
            raise ConversationError(f"{where}[{index}] 'function' must be an object")
        function = nested if isinstance(nested, Mapping) else {k: v for k, v in item.items() if k != "type"}
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise ConversationError(f"{where}[{index}] has no function name")
        tools.append({"type": "function", "function": dict(function)})
    return tuple(tools)


def parse_reply(raw: Any, where: str = "output") -> ChatMessage:
    """A conversation's reply: a string, or an assistant message (``role`` may be omitted).

    Raises:
        ConversationError: For anything else.
    """
    if isinstance(raw, str):
        return ChatMessage("assistant", raw)
    if isinstance(raw, Mapping) and raw.get("role", "assistant") == "assistant":
        return parse_message({**raw, "role": "assistant"}, where)
    raise ConversationError(f"{where} must be the reply text or an assistant message")


def message_text(message: Mapping[str, Any]) -> str:
    """A stored (OpenAI-shaped) message's text (text parts joined), its tool calls as
    ``name(arguments)`` lines."""
    content = message.get("content")
    if isinstance(content, list):
        text = PART_SEPARATOR.join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        )
    else:
        text = content if isinstance(content, str) else ""
    calls = [f"{c['function']['name']}({c['function']['arguments']})" for c in message.get("tool_calls") or []]
    return "\n".join([text, *calls] if text else calls)


def is_conversation_input(inputs: Mapping[str, Any]) -> bool:
    """Whether a log's captured inputs hold a chat prompt (a ``messages`` list of role-bearing objects)."""
    messages = inputs.get(MESSAGES_KEY)
    return (
        isinstance(messages, list) and bool(messages) and all(isinstance(m, Mapping) and "role" in m for m in messages)
    )


def normalise_inputs(inputs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A conversation's inputs in the canonical stored shape (other arguments kept as they are).

    Raises:
        ConversationError: Naming the message or tool at fault.
    """
    normal = dict(inputs)
    normal[MESSAGES_KEY] = [m.to_openai() for m in parse_messages(inputs[MESSAGES_KEY], f"{where} messages")]
    if inputs.get(TOOLS_KEY) is not None:
        normal[TOOLS_KEY] = [dict(t) for t in parse_tools(inputs[TOOLS_KEY], f"{where} tools")]
    return normal


def normalise_reply(output: Any, where: str) -> Any:
    """A conversation's reply in the stored shape: text stays text; an assistant message with
    tool calls (or other fields) is kept as the normalised message; one with only text is its text.

    Raises:
        ConversationError: If it is neither.
    """
    reply = parse_reply(output, where)
    if isinstance(reply.content, str) and not reply.tool_calls and reply.name is None:
        return reply.content
    return reply.to_openai()


def normalise_conversation(
    inputs: Mapping[str, Any], output: Any, *, strict_reply: bool = True
) -> tuple[dict[str, Any], Any]:
    """A conversation log's inputs and reply in the stored shape. Only a reply to learn from
    (``strict_reply``: a SUCCESS log's) must be one; a failed call's reply (a refusal, a filtered
    or empty reply) is kept as logged.

    Raises:
        ConversationError: Naming the message, tool or reply at fault.
    """
    normal = normalise_inputs(inputs, "input")
    if output is None:
        return normal, None
    try:
        return normal, normalise_reply(output, "output")
    except ConversationError:
        if strict_reply:
            raise
        return normal, output


def conversation_of(inputs: Mapping[str, Any], output: Any = None) -> Conversation | None:
    """The typed conversation of a log's inputs and output, or ``None`` when its inputs are not
    a chat prompt (a single-input log).

    Raises:
        ConversationError: If the messages or the reply are malformed (stored logs were
            normalised on the way in, so this names a log that bypassed the checks).
    """
    if not is_conversation_input(inputs):
        return None
    reply = parse_reply(output) if output is not None else None
    return Conversation(parse_messages(inputs[MESSAGES_KEY]), parse_tools(inputs.get(TOOLS_KEY)), reply)
