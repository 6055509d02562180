"""Issue 27 (one verdict, bookkeeping): the generator never emits a hook its own self-test
refuses, and synthesize says what it learnt from how many pairs, of which function."""

from __future__ import annotations

import json
from pathlib import Path

from vector_trainer.cli import main
from vector_trainer.synthesizer import HookScriptGenerator
from vector_trainer.synthesizer.simulate import drop_harmful, hook_outputs
from vector_trainer.types import FeedbackPair, Rule, RuleKind


def _rule(rule_id: str, target: str, replacement: str) -> Rule:
    return Rule(rule_id, RuleKind.REPLACE, target, replacement, support=2, sources=(0, 1))


def test_a_rule_that_moves_a_pair_away_from_its_fix_is_left_out_and_the_rest_ships(tmp_path: Path) -> None:
    good = _rule("good", "hrs", "hours")
    bad = _rule("bad", "cat", "feline creature")  # pair 1 keeps 'cat': this rule takes it further away
    pairs = [
        FeedbackPair("open 9 hrs", "open 9 hours", sequence=0),
        FeedbackPair("the cat sat 2 hrs", "the cat sat 2 hours", sequence=1),
    ]
    hook = HookScriptGenerator().generate([good, bad], tmp_path / "generated_prompt_hook.py", feedback_pairs=pairs)
    assert [d.rule_id for d in hook.dropped] == ["bad"] and "pair 1" in hook.dropped[0].reason
    assert hook.rule_count == 1 and hook.self_test.fixed_exactly == 2


def test_when_no_rule_hurts_alone_every_acting_rule_goes() -> None:
    pairs = [FeedbackPair("x y", "x y z", sequence=0)]
    kept, dropped = drop_harmful([_rule("a", "x", "xx x"), _rule("b", "y", "q")], pairs)
    assert hook_outputs(kept, ["x y"]) == ["x y"] and {d.rule_id for d in dropped} >= {"b"}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_synthesize_bookkeeping(tmp_path: Path, capsys) -> None:
    empty = _write(tmp_path / "empty.jsonl", [])
    assert main(["synthesize", "--feedback", str(empty), "--out", str(tmp_path / "h0")]) == 2
    assert "no feedback pairs" in capsys.readouterr().err
    rows = [{"function_name": f, "bad_output": f"Answer {i} hrs", "fixed_output": f"Answer {i} hours"}
            for i, f in enumerate(["faq"] * 3 + ["chat"] * 2)]  # fmt: skip
    mixed = _write(tmp_path / "mixed.jsonl", rows)
    assert main(["synthesize", "--feedback", str(mixed), "--out", str(tmp_path / "h1")]) == 2
    assert "holds pairs of 2 functions (chat, faq); add --function" in capsys.readouterr().err
    assert main(["synthesize", "--feedback", str(mixed), "--function", "nope", "--out", str(tmp_path / "h2")]) == 2
    assert "functions named: chat, faq" in capsys.readouterr().err
    assert main(["synthesize", "--feedback", str(mixed), "--function", "faq", "--out", str(tmp_path / "h3")]) == 0
    assert "1 rules from 3 pairs" in capsys.readouterr().out


def test_store_replies_holding_the_corrected_mistake_are_evidence_not_damage() -> None:
    """Issue 27: the store's own replies contain the mistake being corrected; they used to demote
    the rule ("changed_known_good": 2, the example literally a bad_output) so the logged mistakes
    were never fixed."""
    from vector_trainer.synthesizer import RuleSetSynthesizer

    pairs = [
        FeedbackPair("안녕하세요 팬 여러분! 오늘도 고마워요 💫", "안녕하세요 스텔라리! 오늘도 고마워요 💫", sequence=0),
        FeedbackPair("팬 여러분 콘서트에서 만나요!", "스텔라리 콘서트에서 만나요!", sequence=1),
    ]
    store = [p.bad_output for p in pairs] + ["팬미팅은 토요일이에요.", "오늘 날씨 좋아요!"]
    result = RuleSetSynthesizer().synthesize(pairs, known_good=store)
    general = [r for r in result.rules if r.scope == "general"]
    assert [(r.target, r.replacement) for r in general] == [("팬 여러분", "스텔라리")], result.damage
    assert hook_outputs(result.rules, ["팬 여러분께 감사해요", "팬미팅은 토요일이에요."]) == [
        "스텔라리께 감사해요",
        "팬미팅은 토요일이에요.",  # a compound in known-good text: untouched
    ]


def test_a_correction_is_never_dropped_for_its_own_fixed_output() -> None:
    """A pair that only adds a closing sentence: its own fix ends with that sentence already."""
    from vector_trainer.synthesizer import RuleSetSynthesizer

    pair = FeedbackPair("Your order ships today.", "Your order ships today. Thanks for waiting!", sequence=0)
    result = RuleSetSynthesizer().synthesize([pair])
    assert result.rules and hook_outputs(result.rules, [pair.bad_output]) == [pair.fixed_output]
