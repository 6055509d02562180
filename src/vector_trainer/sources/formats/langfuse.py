"""Langfuse exports of generations.

One object is a Langfuse observation (``type: "GENERATION"``, ``input``, ``output``, ``level``,
``statusMessage``, ``name``, ``startTime``), a trace holding them (``observations``), or an API
page (``{"data": [...]}``). ``input`` is the message list (or ``{"messages", "tools"}``);
``output`` the assistant message or its text. Observations of other types are skipped. The
function name is the observation's ``name`` unless one is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from vector_trainer.errors import InputError
from vector_trainer.sources.formats._shared import error_record, pick_function, reply_status

GENERATION = "GENERATION"
#: Langfuse's observation types: an export may start with any of them.
OBSERVATION_TYPES = frozenset({"GENERATION", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EMBEDDING"})


def looks_like(raw: Mapping[str, Any]) -> bool:
    """Whether an object is a Langfuse observation, a trace with observations, or an API page of them."""
    kind = str(raw.get("type", "")).upper()
    if kind == GENERATION or isinstance(raw.get("observations"), list):
        return True
    if kind in OBSERVATION_TYPES and "traceId" in raw and "function_name" not in raw:
        return True
    data = raw.get("data")
    return isinstance(data, list) and bool(data) and isinstance(data[0], Mapping) and "type" in data[0]


def _observations(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if isinstance(raw.get("observations"), list):
        return raw["observations"]
    if isinstance(raw.get("data"), list):
        return [item for obs in raw["data"] if isinstance(obs, Mapping) for item in _observations(obs) or [obs]]
    return [raw]


def generation_record(obs: Mapping[str, Any], where: str, function_name: str | None) -> dict[str, Any]:
    """The record of one generation.

    Raises:
        InputError: If its ``input`` is not a message list.
    """
    raw_input = obs.get("input")
    if isinstance(raw_input, Mapping) and "messages" in raw_input:
        prompt = {
            "messages": raw_input["messages"],
            **({"tools": raw_input["tools"]} if raw_input.get("tools") else {}),
        }
    elif isinstance(raw_input, list):
        prompt = {"messages": raw_input}
    else:
        raise InputError(f"{where}: generation {obs.get('id', '?')} has no message list as 'input'")
    record: dict[str, Any] = {
        "function_name": pick_function(function_name, obs.get("name")),
        "input": prompt,
        "uuid": obs.get("id"),
        "timestamp": obs.get("startTime"),
    }
    output = obs.get("output")
    if isinstance(output, Mapping) and isinstance(output.get("choices"), list) and output["choices"]:
        output = output["choices"][0].get("message")
    if obs.get("level") == "ERROR":
        record.update(error_record(str(obs.get("statusMessage") or "level ERROR")))
    elif output is None:
        record.update(error_record("the generation recorded no output"))
    else:
        finish = (obs.get("metadata") or {}).get("finish_reason") if isinstance(obs.get("metadata"), Mapping) else None
        status, problem = reply_status([finish], output)
        record.update(status=status, output=output, error_message=problem)
    return record


def from_observation(
    raw: Mapping[str, Any], where: str, function_name: str | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One record per generation in a Langfuse object (see the module docstring)."""
    for obs in _observations(raw):
        if not isinstance(obs, Mapping):
            raise InputError(f"{where}: an observation is not an object")
        if str(obs.get("type", GENERATION)).upper() == GENERATION:
            obs_where = f"{where} generation {obs.get('id', '?')}"
            yield obs_where, generation_record(obs, obs_where, function_name)
