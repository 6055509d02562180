"""FR-2.5, FR-2.6: the rule set as a safe hook script.

:class:`HookScriptGenerator` renders ``generated_prompt_hook.py`` from
:mod:`~vector_trainer.synthesizer.hook_template` with the rules as literal data, validates its AST
against the template, imports it in an isolated interpreter, self-tests it on the feedback, and
only then activates it (versioned, FR-7).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import pprint
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import Levenshtein

from vector_trainer import _layout
from vector_trainer._params import check_values
from vector_trainer.config import SynthesizerConfig
from vector_trainer.errors import HookValidationError
from vector_trainer.fileio import atomic_write_text
from vector_trainer.synthesizer import hook_template
from vector_trainer.synthesizer.simulate import DroppedRule, drop_harmful
from vector_trainer.synthesizer.versions import HookVersion, HookVersionManager
from vector_trainer.types import FeedbackPair, Rule

SELF_TEST_TIMEOUT_S = 60
_LITERAL_NAMES = ("METADATA", "INJECT_INSTRUCTIONS", "INSTRUCTION_HEADER", "INSTRUCTIONS", "RULES")


@dataclass(frozen=True)
class SelfTestReport:
    """What the isolated self-test of a hook observed."""

    pairs: int
    fixed_exactly: int
    improved: int
    unchanged: int

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class GeneratedHook:
    """A generated, validated and activated hook."""

    path: Path
    sha256: str
    rule_count: int
    version: HookVersion | None
    self_test: SelfTestReport
    dropped: tuple[DroppedRule, ...] = ()


_SELF_TEST_SCRIPT = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("vectortrainer_hook_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
payload = json.load(sys.stdin)
outputs = []
for bad, _fixed, prompt in payload["pairs"]:
    out = module.intercept_output(bad, {})
    shaped = module.intercept_prompt(prompt, {})
    if not isinstance(out, str) or not isinstance(shaped, str):
        raise TypeError("hook returned a non-string")
    outputs.append(out)
lengths = [len(module.intercept_output(text, {})) for text in payload["stress"]]
json.dump({"outputs": outputs, "stress_lengths": lengths}, sys.stdout)
"""
#: Characters of each long, repetitive input the self-test feeds the hook, and how many it feeds.
STRESS_CHARS = 8_192
STRESS_TEXTS = 64


def _template_source() -> str:
    return resources.files("vector_trainer.synthesizer").joinpath("hook_template.py").read_text(encoding="utf-8")


def _strip_literals(tree: ast.Module) -> str:
    """AST dump with the values of the data assignments blanked, to compare code shape."""
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in _LITERAL_NAMES:
            node.value = ast.Constant(value=None)
    return ast.dump(tree, include_attributes=False)


def validate_hook_source(source: str) -> None:
    """Check that ``source`` is the hook template with only literal data changed.

    Raises:
        HookValidationError: On a syntax error, a non-literal data value, or any statement that
            differs from the template.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise HookValidationError(f"generated hook does not parse: {exc}") from exc
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in _LITERAL_NAMES:
            try:
                ast.literal_eval(node.value)  # type: ignore[arg-type]
            except ValueError as exc:
                raise HookValidationError(f"{node.target.id} is not a pure literal") from exc
    if _strip_literals(tree) != _strip_literals(ast.parse(_template_source())):
        raise HookValidationError("generated hook contains code beyond its template")


def hook_rules(hook_path: str | os.PathLike[str]) -> tuple[dict[str, Any], ...]:
    """The rule data of a generated hook file, read as literals (the file is validated against
    the template first and never executed).

    Raises:
        HookValidationError: If the file is not a generated hook.
    """
    path = Path(hook_path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HookValidationError(f"{path} cannot be read ({exc}); pass a generated_prompt_hook.py") from exc
    validate_hook_source(source)
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "RULES":
            return tuple(ast.literal_eval(node.value))  # type: ignore[arg-type]
    return ()


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


def _literals(rule: Rule) -> list[str]:
    return [rule.target, rule.replacement, *rule.segments, *(t for t in rule.template if isinstance(t, str))]


def stress_inputs(rules: Sequence[Rule], pairs: Sequence[FeedbackPair]) -> list[str]:
    """Long, repetitive texts that feed every rule its own patterns over and over (a chain of
    rules whose outputs match each other's targets would blow these up)."""
    seeds = sorted({text for rule in rules for text in _literals(rule) if text.strip()}, key=lambda t: (-len(t), t))
    seeds = seeds[: STRESS_TEXTS // 2] + [p.bad_output for p in pairs if p.bad_output.strip()][: STRESS_TEXTS // 2]
    return [((seed + " ") * (STRESS_CHARS // (len(seed) + 1) + 1))[:STRESS_CHARS] for seed in seeds]


_APPLY_SCRIPT = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("vectortrainer_hook_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
outputs = [module.intercept_output(text, {}) for text in json.load(sys.stdin)]
if not all(isinstance(out, str) for out in outputs):
    raise TypeError("hook returned a non-string")
json.dump(outputs, sys.stdout)
"""


def run_hook_file(
    hook_path: str | os.PathLike[str],
    texts: Sequence[str],
    *,
    python: str | None = None,
    timeout_s: float = SELF_TEST_TIMEOUT_S,
) -> list[str]:
    """``intercept_output`` of a hook file on each text, run in a fresh isolated interpreter (a
    hook is never imported into the caller's process). The file is read once and checked against
    the template first; what runs is that checked copy, so a planted or edited file never executes.

    Raises:
        HookValidationError: If the hook is missing, is not a generated hook, fails to import,
            raises, returns a non-string or runs past ``timeout_s``.
    """
    path = Path(hook_path)
    if not path.is_file():
        raise HookValidationError(f"{path} is not a hook file; pass a generated_prompt_hook.py")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HookValidationError(f"{path} cannot be read ({exc}); pass a generated_prompt_hook.py") from exc
    validate_hook_source(source)
    with tempfile.TemporaryDirectory(prefix="vectortrainer-hook-") as scratch:
        checked = Path(scratch) / _layout.HOOK_FILENAME
        checked.write_text(source, encoding="utf-8")
        outputs = _run_isolated(
            python or sys.executable,
            _APPLY_SCRIPT,
            checked,
            list(texts),
            timeout_s,
            timed_out=f"hook {path} did not finish {len(texts)} texts in {timeout_s:g} s",
            failed=f"hook {path} failed in an isolated interpreter",
        )
    return list(outputs)


def _run_isolated(
    python: str,
    script: str,
    hook_path: Path,
    payload: Any,
    timeout_s: float,
    *,
    timed_out: str,
    failed: str,
    cwd: Path | None = None,
) -> Any:
    """Run ``script`` on a hook file in a fresh isolated interpreter (``payload`` as JSON on its
    stdin) and return what it writes as JSON; the hook is never imported into this process."""
    try:
        proc = subprocess.run(
            [python, "-I", "-c", script, str(hook_path)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout_s,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HookValidationError(timed_out) from exc
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise HookValidationError(f"{failed}: {tail[0]}")
    return json.loads(proc.stdout)


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
        lines = _template_source().splitlines(keepends=True)
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
        """Import the hook in a fresh isolated interpreter and run it on every pair, and on long,
        repetitive inputs built from the rules' own texts (:func:`stress_inputs`).

        Raises:
            HookValidationError: If the import fails, a call raises or returns a non-string, the
                hook moves any pair's bad output further from its fixed output, or any output is
                longer than ``2 x input + the longest literal a rule inserts``.
        """
        with tempfile.TemporaryDirectory(prefix="vectortrainer-hook-") as tmp:
            hook_path = Path(tmp) / _layout.HOOK_FILENAME
            hook_path.write_text(source, encoding="utf-8")
            stress = stress_inputs(rules, pairs)
            payload = {"pairs": [[p.bad_output, p.fixed_output, p.input_prompt] for p in pairs], "stress": stress}
            answer = _run_isolated(
                self.python,
                _SELF_TEST_SCRIPT,
                hook_path,
                payload,
                SELF_TEST_TIMEOUT_S,
                timed_out=f"hook self-test timed out after {SELF_TEST_TIMEOUT_S}s",
                failed="hook failed its isolated import/self-test",
                cwd=Path(tmp),
            )
        outputs = answer["outputs"]
        longest = hook_template.longest_literal(hook_template.compile_rules(tuple(r.to_hook_data() for r in rules)))
        for text, length in zip(stress, answer["stress_lengths"], strict=True):
            if length > 2 * len(text) + longest:
                raise HookValidationError(
                    f"hook turns a {len(text)}-character input into {length} characters "
                    f"(bound: 2 x input + {longest}, the literals its rules may add); refusing it"
                )
        exact = improved = unchanged = 0
        for pair, out in zip(pairs, outputs, strict=True):
            before = Levenshtein.distance(pair.bad_output, pair.fixed_output)
            after = Levenshtein.distance(out, pair.fixed_output)
            if after > before:
                raise HookValidationError(
                    f"hook moves feedback pair {pair.sequence} further from its fixed output "
                    f"({before} -> {after} edits)"
                )
            exact += out == pair.fixed_output
            improved += after < before
            unchanged += out == pair.bad_output
        return SelfTestReport(len(pairs), exact, improved, unchanged)

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
        the self-test passes on what ships.

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
        version: HookVersion | None = None
        if enable_versioning:
            manager = HookVersionManager(
                Path(version_dir) if version_dir else target.parent / _layout.VERSION_DIRNAME, target
            )
            version = manager.add(source, rule_count=len(rules))
        else:
            atomic_write_text(target, source)
        return GeneratedHook(target, digest, len(rules), version, report, tuple(dropped))
