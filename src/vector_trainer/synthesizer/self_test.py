"""The isolated self-test of a generated hook, and the verdict it gives each feedback pair.

The hook is imported in a fresh isolated interpreter and run on every pair and on long,
repetitive inputs built from the rules' own texts. It fails when a call raises or returns a
non-string, a pair moves further from its fix, or an output outgrows ``2 x input + the longest
literal a rule inserts``. :func:`useless_reason` says when a hook that passes must still not be
activated.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer.errors import HookValidationError
from vector_trainer.synthesizer import hook_template
from vector_trainer.synthesizer.hook_file import RUN_TIMEOUT_S, run_isolated
from vector_trainer.synthesizer.simulate import edits_to_fix
from vector_trainer.types import FeedbackPair, Rule


@dataclass(frozen=True)
class PairVerdict:
    """What the hook makes of one feedback pair's bad output.

    ``verdict`` is ``fixed`` (exactly the fixed output), ``closer`` (fewer edits from it),
    ``unchanged`` (the hook leaves the pair alone: no surface rule expresses its correction; it
    still becomes a training example) or ``nothing to fix`` (its bad and fixed outputs are the
    same). A hook that moves a pair further away never ships.
    """

    pair: int
    verdict: str
    edits_before: int
    edits_after: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class SelfTestReport:
    """What the isolated self-test of a hook observed."""

    pairs: int
    fixed_exactly: int
    improved: int
    unchanged: int
    verdicts: tuple[PairVerdict, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``verdicts`` one entry per pair, in the order given)."""
        counts: dict[str, Any] = {k: v for k, v in self.__dict__.items() if k != "verdicts"}
        return {**counts, "verdicts": [v.to_dict() for v in self.verdicts]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SelfTestReport:
        """The report :meth:`to_dict` wrote (counts missing from an older file read as 0)."""
        counts = {name: _count(data.get(name)) for name in ("pairs", "fixed_exactly", "improved", "unchanged")}
        raw = data.get("verdicts")
        verdicts = tuple(
            PairVerdict(
                _count(item.get("pair")),
                str(item.get("verdict", "")),
                _count(item.get("edits_before")),
                _count(item.get("edits_after")),
            )
            for item in (raw if isinstance(raw, list) else ())
            if isinstance(item, Mapping)
        )
        return cls(**counts, verdicts=verdicts)


def _count(value: Any) -> int:
    """A count as a report wrote it; anything else (a damaged file) reads as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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


def _literals(rule: Rule) -> list[str]:
    return [rule.target, rule.replacement, *rule.segments, *(t for t in rule.template if isinstance(t, str))]


def stress_inputs(rules: Sequence[Rule], pairs: Sequence[FeedbackPair]) -> list[str]:
    """Long, repetitive texts that feed every rule its own patterns over and over (a chain of
    rules whose outputs match each other's targets would blow these up)."""
    seeds = sorted({text for rule in rules for text in _literals(rule) if text.strip()}, key=lambda t: (-len(t), t))
    seeds = seeds[: STRESS_TEXTS // 2] + [p.bad_output for p in pairs if p.bad_output.strip()][: STRESS_TEXTS // 2]
    return [((seed + " ") * (STRESS_CHARS // (len(seed) + 1) + 1))[:STRESS_CHARS] for seed in seeds]


def useless_reason(report: SelfTestReport, rules: int, instructions: bool) -> str | None:
    """Why a hook learnt from feedback must not be activated, or ``None``: its rules turn none of
    its own feedback pairs exactly into their fix (or it has none), and no LLM instruction (which
    acts on the prompt, where only the gate can judge it) comes with them. A hook that only brings
    pairs closer is refused too: ``wifi -> wi-Fi`` is closer to ``Wi-Fi`` and still wrong. A hook
    generated without feedback pairs is the caller's explicit choice and always activated."""
    if instructions or not report.pairs:
        return None
    if rules == 0:
        return "no rule survived synthesis and no instruction was proposed: the hook would change nothing"
    if report.fixed_exactly == 0:
        return (
            f"its {rules} rules fix none of its {report.pairs} feedback pairs exactly (self-test: {report.improved} "
            "only closer to their fix); the corrections still become training examples"
        )
    return None


def run_self_test(
    python: str, source: str, pairs: Sequence[FeedbackPair], rules: Sequence[Rule] = ()
) -> SelfTestReport:
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
        answer = run_isolated(
            python,
            _SELF_TEST_SCRIPT,
            hook_path,
            payload,
            RUN_TIMEOUT_S,
            timed_out=f"hook self-test timed out after {RUN_TIMEOUT_S}s",
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
    verdicts = []
    for pair, out in zip(pairs, outputs, strict=True):
        before, after = edits_to_fix(pair, out)
        if after > before:
            raise HookValidationError(
                f"hook moves feedback pair {pair.sequence} further from its fixed output ({before} -> {after} edits)"
            )
        if before == 0:
            verdict = "nothing to fix"
        else:
            verdict = "fixed" if out == pair.fixed_output else "closer" if after < before else "unchanged"
        verdicts.append(PairVerdict(pair.sequence, verdict, before, after))
    exact = sum(v.verdict == "fixed" for v in verdicts)
    improved = sum(v.edits_after < v.edits_before for v in verdicts)
    unchanged = sum(o == p.bad_output for o, p in zip(outputs, pairs, strict=True))
    return SelfTestReport(len(pairs), exact, improved, unchanged, tuple(verdicts))
