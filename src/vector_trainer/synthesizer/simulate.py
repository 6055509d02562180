"""What a hook will do, simulated in this process with the template's own code (rules as data).

The isolated self-test refuses a hook that moves any feedback pair further from its fixed
output. Rather than emit such a hook (and fail the whole run, for good, since the same feedback
gives the same rules), the generator simulates exactly that check first and drops the rules
that cause it: one verdict, computed the same way twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import Levenshtein

from vector_trainer.synthesizer import hook_template
from vector_trainer.types import FeedbackPair, Rule


@dataclass(frozen=True)
class DroppedRule:
    """A rule left out of the hook, and the pair it would have moved away from its fix."""

    rule_id: str
    pair: int
    reason: str


def hook_outputs(rules: Sequence[Rule], texts: Sequence[str]) -> list[str]:
    """``intercept_output`` of a hook holding ``rules``, on each text."""
    return apply_rule_data(tuple(rule.to_hook_data() for rule in rules), texts)


def apply_rule_data(rules: tuple[dict[str, Any], ...], texts: Sequence[str]) -> list[str]:
    """``intercept_output`` of a hook whose ``RULES`` literal is ``rules``, on each text."""
    index = hook_template.index_rules(rules)
    longest = hook_template.longest_literal(index[0])
    return [hook_template.apply_compiled(hook_template.select_rules(index, t), t, longest) for t in texts]


def edits_to_fix(pair: FeedbackPair, output: str) -> tuple[int, int]:
    """Edits from the pair's bad output, and from ``output``, to its fixed output: the measure
    of both the self-test and its simulation here."""
    return Levenshtein.distance(pair.bad_output, pair.fixed_output), Levenshtein.distance(output, pair.fixed_output)


def _worse(rules: Sequence[Rule], pairs: Sequence[FeedbackPair]) -> tuple[FeedbackPair, int, int] | None:
    outputs = hook_outputs(rules, [p.bad_output for p in pairs])
    for pair, out in zip(pairs, outputs, strict=True):
        before, after = edits_to_fix(pair, out)
        if after > before:
            return pair, before, after
    return None


def drop_harmful(rules: Sequence[Rule], pairs: Sequence[FeedbackPair]) -> tuple[list[Rule], list[DroppedRule]]:
    """The rules without those that move a pair further from its fixed output (the self-test's
    check), and what was dropped. Of the rules that change a harmed pair, the one that hurts it
    most alone goes first; when none hurts alone (an interaction), all of them go."""
    kept, dropped = list(rules), []
    while kept and (found := _worse(kept, pairs)) is not None:
        pair, before, after = found
        alone = {r.rule_id: hook_outputs([r], [pair.bad_output])[0] for r in kept}
        acting = [r for r in kept if alone[r.rule_id] != pair.bad_output]
        harm = {r.rule_id: edits_to_fix(pair, alone[r.rule_id])[1] - before for r in acting}
        worst = max(acting, key=lambda r: harm[r.rule_id], default=None)
        culprits = [worst] if worst is not None and harm[worst.rule_id] > 0 else acting or kept
        reason = f"moves feedback pair {pair.sequence} further from its fixed output ({before} -> {after} edits)"
        dropped += [DroppedRule(r.rule_id, pair.sequence, reason) for r in culprits]
        kept = [r for r in kept if r not in culprits]
    return kept, dropped
