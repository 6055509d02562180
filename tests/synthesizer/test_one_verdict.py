"""Issue 27 (one verdict, bookkeeping): the generator never emits a hook its own self-test
refuses, and synthesize says what it learnt from how many pairs, of which function."""

from __future__ import annotations

import json
from pathlib import Path

from vector_trainer._layout import function_dirname
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


def test_a_hook_that_fixes_none_of_its_pairs_is_never_activated(tmp_path: Path) -> None:
    """Issue 27: "self-test fixed 0/2 pairs exactly", activated anyway. Now it is checked, its
    verdicts reported, and nothing is written: the version in use stays."""
    pairs = [FeedbackPair("open 9 hrs", "open 9 hours", sequence=0), FeedbackPair("2 hrs", "2 hours", sequence=1)]
    out = tmp_path / "generated_prompt_hook.py"
    first = HookScriptGenerator().generate([_rule("r", "hrs", "hours")], out, feedback_pairs=pairs)
    assert first.activated and [v.verdict for v in first.self_test.verdicts] == ["fixed", "fixed"]
    before = out.read_text(encoding="utf-8")
    idle = HookScriptGenerator().generate([_rule("r", "cat", "feline")], out, feedback_pairs=pairs)
    assert not idle.activated and "fix none of its 2 feedback pairs" in (idle.not_activated or "")
    assert [v.verdict for v in idle.self_test.verdicts] == ["unchanged", "unchanged"]
    assert out.read_text(encoding="utf-8") == before and len(list((tmp_path / ".hook_versions").glob("v*"))) == 1
    closer = HookScriptGenerator().generate([_rule("r", "hrs", "hour")], out, feedback_pairs=pairs)
    assert [v.verdict for v in closer.self_test.verdicts] == ["closer", "closer"]  # "wifi -> wi-Fi": still wrong
    assert not closer.activated and "fix none of its 2 feedback pairs exactly" in (closer.not_activated or "")
    none = HookScriptGenerator().generate([], out, feedback_pairs=pairs)
    assert not none.activated and "would change nothing" in (none.not_activated or "")
    advised = HookScriptGenerator().generate([], out, feedback_pairs=pairs, extra_instructions=["Write hours."])
    assert advised.activated  # an LLM instruction acts on the prompt, where the gate judges it


def test_synthesize_reports_every_pair_and_strict_fails_an_unfixed_one(tmp_path: Path, capsys) -> None:
    rows = [{"bad_output": f"Open {i} hrs a day.", "fixed_output": f"Open {i} hours a day."} for i in range(3)]
    contradiction = [
        {"bad_output": "Refunds take 30 days of a charge.", "fixed_output": "Refunds take 30 days of a payment."},
        {"bad_output": "Refunds take 30 days of a payment.", "fixed_output": "Refunds take 30 days of a charge."},
    ]
    fixable = _write(tmp_path / "fixable.jsonl", rows)
    assert main(["synthesize", "--feedback", str(fixable), "--out", str(tmp_path / "h"), "--strict"]) == 0
    assert "fixes 3 of 3 feedback pairs exactly" in capsys.readouterr().out
    verdicts = json.loads((tmp_path / "h" / "rules.json").read_text(encoding="utf-8"))["self_test"]["verdicts"]
    assert [(v["pair"], v["verdict"]) for v in verdicts] == [(0, "fixed"), (1, "fixed"), (2, "fixed")]
    mixed = _write(tmp_path / "mixed.jsonl", rows + contradiction)
    assert main(["synthesize", "--feedback", str(mixed), "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "fixes 4 of 5 feedback pairs exactly" in out and "1 were overruled" in out
    assert main(["synthesize", "--feedback", str(mixed), "--out", str(tmp_path / "s"), "--strict"]) == 3


def test_a_hook_of_only_contradictions_is_not_activated_by_synthesize(tmp_path: Path, capsys) -> None:
    rows = [
        {"bad_output": "Refunds take 30 days of a charge.", "fixed_output": "Refunds take 30 days of a payment."},
        {"bad_output": "Refunds take 30 days of a payment.", "fixed_output": "Refunds take 30 days of a charge."},
    ]
    feedback = _write(tmp_path / "fb.jsonl", rows)
    assert main(["synthesize", "--feedback", str(feedback), "--out", str(tmp_path / "n")]) == 0
    assert "hook NOT activated" not in capsys.readouterr().out  # the more recent pair wins: 1 of 2 fixed


def _noisy_feedback(cycle: int) -> list[dict]:
    """Feedback as users give it, growing each cycle: fixes, contradictions, rewrites of style,
    corrections that delete most of a reply, other scripts, emoji, near-duplicates."""
    base = [
        ("Refunds are available within 30 days of a charge.", "Refunds are available within 30 days of a payment."),
        ("Refunds are available within 30 days of a payment.", "Refunds are available within 30 days of a charge."),
        ("Hardware ships within 2 business days.", "Hardware ships in 2 business days! 🚚"),
        ("Tracking is in Orders.", "Ok."),
        ("Dear customer, your invoice is under Billing.", "Hey! Invoice -> Billing, top right."),
        ("팬 여러분 안녕하세요!", "스텔라리 안녕하세요!"),
        ("팬 여러분께 감사해요 💫", "스텔라리께 감사해요 💫"),
        ("wifi works in the lobby", "Wi-Fi works in the lobby"),
        ("Contact teh helpdesk.", "Contact the helpdesk."),
        ("", "Something went wrong; please retry."),
        ("Open 9 to 5.", "Open 9 to 5."),
    ]
    rows = [{"function_name": "support_faq", "input_prompt": f"q{i}", "bad_output": b, "fixed_output": f}
            for i, (b, f) in enumerate(base[: 4 + 2 * cycle])]  # fmt: skip
    return [*rows, {**rows[0], "input_prompt": f"again {cycle}"}]


def test_a_loop_over_five_cycles_of_noisy_feedback_never_stops_on_the_synthesizer(tmp_path: Path, monkeypatch) -> None:
    """Issue 27 goal: each cycle's feedback changes (so each check runs a cycle), none fails."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "warmup"]) == 0  # loads the demo store
    feedback = tmp_path / "feedback.jsonl"
    args = ["loop", "--once", "--store", ".vectortrainer/demo.db", "--out", "runs", "--function", "support_faq"]
    for cycle in range(5):
        rows = [r for r in _noisy_feedback(cycle) if r["bad_output"] and r["bad_output"] != r["fixed_output"]]
        _write(feedback, rows)
        assert main([*args, "--feedback", str(feedback)]) == 0, cycle
    state = json.loads((tmp_path / "runs" / function_dirname("support_faq") / "loop.json").read_text(encoding="utf-8"))
    assert len(state["cycles"]) == 5 and not [c for c in state["cycles"] if c.get("failed")]


def test_a_store_reply_with_the_target_in_the_same_surrounding_words_is_evidence() -> None:
    """Issue 27: known-good is text that does not hold the corrected mistake in the form the
    feedback shows: the whole flagged sentence, or the target among the same words."""
    from vector_trainer.synthesizer.damage import damaging, known_good_index

    pairs = [FeedbackPair("Contact the helpdesk about cards.", "Contact the support team about cards.", sequence=0)]
    rule = Rule("r", RuleKind.REPLACE, "helpdesk", "support team", support=1, sources=(0,))
    store = ["Please contact the helpdesk about loans, we reply fast.", "Write to the helpdesk anytime."]
    found = damaging([rule], known_good_index(store, pairs, pairs))
    assert found == {"r": (1, "Write to the helpdesk anytime.")}


def test_a_pair_with_nothing_to_fix_is_named_and_not_counted_as_fixed(tmp_path: Path) -> None:
    """Found by a trial: a pair whose bad and fixed outputs are the same counted as "fixed"."""
    pairs = [FeedbackPair("open 9 hrs", "open 9 hours", sequence=0), FeedbackPair("same", "same", sequence=1)]
    hook = HookScriptGenerator().generate([_rule("r", "hrs", "hours")], tmp_path / "h.py", feedback_pairs=pairs)
    assert [v.verdict for v in hook.self_test.verdicts] == ["fixed", "nothing to fix"]
    assert hook.self_test.fixed_exactly == 1 and hook.activated
