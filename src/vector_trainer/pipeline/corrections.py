"""Corrections teach the model too: the training data after the hook, and preference pairs.

After a run's hook is made, and before anything is paid for:

* every golden example whose reply the hook would change is written with the corrected reply
  (training would otherwise teach the model the very mistake the feedback corrects), in the
  training and the validation file alike;
* every feedback pair the hook learnt from that says what it answered (``messages``, or an
  ``input_prompt``) becomes a training example with its fixed output;
* the same pairs are written as preference data in OpenAI's preference fine-tuning format
  (``preferences.jsonl``: ``input.messages``, ``preferred_output`` = the fix,
  ``non_preferred_output`` = the bad output), usable for ``method: {"type": "dpo"}`` jobs and
  by TRL's DPO trainer.

Files are rewritten atomically; the rules are read from the hook as data (never executed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vector_trainer.chatml import PLAIN_INPUT_KEY, check_example, conversation_prompt, plain_prompt, render_prompt
from vector_trainer.conversation import Conversation, parse_messages
from vector_trainer.fileio import atomic_write_jsonl, iter_jsonl
from vector_trainer.pipeline.rundir import TrainingInput
from vector_trainer.synthesizer.hook_file import hook_rules
from vector_trainer.synthesizer.simulate import apply_rule_data
from vector_trainer.types import FeedbackPair

PREFERENCES_FILENAME = "preferences.jsonl"


def _correct_file(path: Path, rules: tuple[dict[str, Any], ...]) -> tuple[list[dict[str, Any]], int]:
    examples = [example for _, example in iter_jsonl(path)]
    last = [e["messages"][-1] for e in examples]
    texts = [m.get("content") if isinstance(m.get("content"), str) else "" for m in last]
    changed = 0
    for message, before, after in zip(last, texts, apply_rule_data(rules, texts), strict=True):
        if before and after != before:
            message["content"] = after
            changed += 1
    return examples, changed


def prompt_of(pair: FeedbackPair, system_prompt: str, template: str | None) -> list[dict[str, Any]] | None:
    """The messages a feedback pair answered: its conversation, or its input prompt as the app
    sends it (``None`` when the pair says neither)."""
    if pair.messages:
        return conversation_prompt(Conversation(parse_messages(list(pair.messages))), system_prompt)
    if not pair.input_prompt.strip():
        return None
    return plain_prompt(system_prompt, render_prompt({PLAIN_INPUT_KEY: pair.input_prompt}, template))


def correct_training_data(
    train: TrainingInput,
    hook_path: str | os.PathLike[str] | None,
    pairs: Sequence[FeedbackPair],
    system_prompt: str,
    template: str | None,
    out_dir: Path,
) -> tuple[TrainingInput, dict[str, Any]]:
    """Apply the hook to the golden replies, add the feedback as examples, write preferences.

    ``hook_path`` ``None`` (no hook activated this run) leaves the golden replies as they are.

    Returns:
        The training input to train on, and what was done (counts and the preference file).
    """
    rules = hook_rules(hook_path) if hook_path is not None else ()
    examples, corrected = _correct_file(train.train_path, rules)
    added = preferences = 0
    preference_rows: list[dict[str, Any]] = []
    for pair in pairs:
        prompt = prompt_of(pair, system_prompt, template)
        if prompt is None:
            continue
        example = {"messages": [*prompt, {"role": "assistant", "content": pair.fixed_output}]}
        if not any(i.severity == "error" for i in check_example(example)):
            examples.append(example)
            added += 1
        preference_rows.append(
            {
                "input": {"messages": [{k: v for k, v in m.items() if k != "weight"} for m in prompt]},
                "preferred_output": [{"role": "assistant", "content": pair.fixed_output}],
                "non_preferred_output": [{"role": "assistant", "content": pair.bad_output}],
            }
        )
        preferences += 1
    atomic_write_jsonl(train.train_path, examples)
    validation_corrected = 0
    if train.validation_path is not None and train.validation_path.is_file():
        validation, validation_corrected = _correct_file(train.validation_path, rules)
        atomic_write_jsonl(train.validation_path, validation)
    preference_path = out_dir / PREFERENCES_FILENAME
    if preference_rows:
        atomic_write_jsonl(preference_path, preference_rows)
    report = {
        "replies_corrected": corrected,
        "validation_replies_corrected": validation_corrected,
        "feedback_examples": added,
        "preference_pairs": preferences,
        "preferences_path": str(preference_path) if preference_rows else None,
    }
    return TrainingInput(train.train_path, train.validation_path, len(examples)), report
