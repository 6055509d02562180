"""FR-2.5, FR-2.6: the rule set as a safe hook script.

:class:`HookScriptGenerator` renders ``generated_prompt_hook.py`` from
:mod:`~vector_trainer.synthesizer.hook_template` with the rules as literal data, validates its AST
against the template (:mod:`.hook_file`), imports it in an isolated interpreter and self-tests it
on the feedback (:mod:`.self_test`), and only then activates it (versioned, FR-7).
"""

from __future__ import annotations

import ast
import hashlib
import os
import pprint
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer._params import check_values
from vector_trainer.config import SynthesizerConfig
from vector_trainer.fileio import atomic_write_text
from vector_trainer.synthesizer import hook_template
from vector_trainer.synthesizer.hook_file import hook_rules, run_hook_file, template_source, validate_hook_source
from vector_trainer.synthesizer.self_test import SelfTestReport, run_self_test, useless_reason
from vector_trainer.synthesizer.simulate import DroppedRule, drop_harmful
from vector_trainer.synthesizer.versions import HookVersion, HookVersionManager
from vector_trainer.types import FeedbackPair, Rule

__all__ = [
    "MAX_INSTRUCTION_CHARS",
    "GeneratedHook",
    "HookScriptGenerator",
    "bounded_instructions",
    "hook_rules",
    "run_hook_file",
    "validate_hook_source",
]


@dataclass(frozen=True)
class GeneratedHook:
    """A generated, validated and activated hook."""

    path: Path
    sha256: str
    rule_count: int
    version: HookVersion | None
    self_test: SelfTestReport
    dropped: tuple[DroppedRule, ...] = ()
    #: Why the hook was not activated (nothing written); ``None`` when it is active.
    not_activated: str | None = None

    @property
    def activated(self) -> bool:
        """Whether the hook was written and made active."""
        return self.not_activated is None


#: Most characters of instructions a hook adds to every prompt (about 500 tokens): the rules
#: still apply to the output; a prompt never grows by more than this.
MAX_INSTRUCTION_CHARS = 2_000


def bounded_instructions(instructions: Sequence[str]) -> list[str]:
    """The instructions, in order (the best-supported rules' first), as long as they fit
    :data:`MAX_INSTRUCTION_CHARS` together."""
    kept: list[str] = []
    used = 0
    for text in instructions:
        if used + len(text) + 3 > MAX_INSTRUCTION_CHARS:
            continue
        kept.append(text)
        used += len(text) + 3  # "- " and the line break
    return kept


class HookScriptGenerator:
    """Writes the rule set as ``generated_prompt_hook.py`` (FR-2.5, FR-2.6, FR-7.4).

    Args:
        inject_instructions: Whether ``intercept_prompt`` appends the rules' instructions.
        python: Interpreter for the isolated import and self-test.
    """

    def __init__(
        self, inject_instructions: bool = SynthesizerConfig.inject_instructions, python: str | None = None
    ) -> None:
        check_values(SynthesizerConfig, "synthesizer", {"inject_instructions": inject_instructions})
        self.inject_instructions = inject_instructions
        self.python = python or sys.executable

    def render(
        self, rules: Sequence[Rule], metadata: dict[str, Any] | None = None, extra_instructions: Sequence[str] = ()
    ) -> str:
        """The hook's source: the template with the rules (and any LLM-proposed instructions)
        as literal data."""
        wanted = [r.instruction for r in rules if r.instruction]
        wanted += [text for text in extra_instructions if text not in wanted]
        instructions = bounded_instructions(wanted)
        metadata = dict(metadata or {})
        if len(instructions) < len(wanted):
            metadata["instructions_left_out"] = len(wanted) - len(instructions)
        values: dict[str, Any] = {
            "METADATA": metadata,
            "INJECT_INSTRUCTIONS": self.inject_instructions,
            "INSTRUCTION_HEADER": hook_template.INSTRUCTION_HEADER,
            "INSTRUCTIONS": tuple(instructions),
            "RULES": tuple(r.to_hook_data() for r in rules),
        }
        lines = template_source().splitlines(keepends=True)
        tree = ast.parse("".join(lines))
        replacements: list[tuple[int, int, str]] = []
        for node in tree.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in values:
                annotation = ast.get_source_segment("".join(lines), node.annotation)
                literal = pprint.pformat(values[node.target.id], width=100, sort_dicts=False)
                text = f"{node.target.id}: {annotation} = {literal}\n"
                replacements.append((node.lineno - 1, node.end_lineno or node.lineno, text))
        for start, end, text in sorted(replacements, reverse=True):
            lines[start:end] = [text]
        return "".join(lines)

    def self_test(self, source: str, pairs: Sequence[FeedbackPair], rules: Sequence[Rule] = ()) -> SelfTestReport:
        """The isolated self-test of ``source`` (:func:`~vector_trainer.synthesizer.self_test.run_self_test`)."""
        return run_self_test(self.python, source, pairs, rules)

    def generate(
        self,
        rules: Sequence[Rule],
        output_path: str | os.PathLike[str] = _layout.HOOK_FILENAME,
        *,
        feedback_pairs: Sequence[FeedbackPair] = (),
        enable_versioning: bool = True,
        version_dir: str | os.PathLike[str] | None = None,
        metadata: dict[str, Any] | None = None,
        extra_instructions: Sequence[str] = (),
    ) -> GeneratedHook:
        """Render, validate, self-test and activate a hook.

        With versioning (the default) the hook is stored as a new version under
        ``version_dir`` (default ``<output dir>/.hook_versions``) and made active; without it
        the file is simply written atomically. A hook that fails validation is never written.

        Rules that would move a feedback pair further from its fixed output are left out first
        (:func:`~vector_trainer.synthesizer.simulate.drop_harmful`, recorded in ``dropped``), so
        the self-test passes on what ships. A hook that would change nothing its feedback shows
        (:func:`useless_reason`) is checked but not activated: the result's ``not_activated``
        says why, and the version in use stays.

        Raises:
            HookValidationError: If the hook fails any check; nothing is activated.
        """
        usable = [p for p in feedback_pairs if isinstance(p.bad_output, str) and isinstance(p.fixed_output, str)]
        rules, dropped = drop_harmful(rules, usable)  # what the self-test would refuse, left out
        source = self.render(rules, metadata, extra_instructions)
        validate_hook_source(source)
        report = self.self_test(source, usable, rules)
        target = Path(output_path)
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
        useless = useless_reason(report, len(rules), bool(extra_instructions) and self.inject_instructions)
        if useless is not None:
            return GeneratedHook(target, digest, len(rules), None, report, tuple(dropped), not_activated=useless)
        version: HookVersion | None = None
        if enable_versioning:
            manager = HookVersionManager(
                Path(version_dir) if version_dir else target.parent / _layout.VERSION_DIRNAME, target
            )
            version = manager.add(source, rule_count=len(rules))
        else:
            atomic_write_text(target, source)
        return GeneratedHook(target, digest, len(rules), version, report, tuple(dropped))
