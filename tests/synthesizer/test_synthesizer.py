"""FR-2 and FR-7: edits, rules, contradictions, safe hook generation and versioning."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import Levenshtein
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import load_hook
from vector_trainer.errors import HookValidationError, InputError, ManifestCorruptedError
from vector_trainer.synthesizer import (
    FeedbackDiffAnalyzer,
    HookScriptGenerator,
    RuleSetSynthesizer,
    apply_rules,
    load_feedback,
    validate_hook_source,
)
from vector_trainer.synthesizer.versions import HookVersionManager
from vector_trainer.types import FeedbackPair, RuleKind


def pair(bad: str, fixed: str, seq: int = 0) -> FeedbackPair:
    return FeedbackPair(bad, fixed, sequence=seq)


class TestAnalyzer:
    def test_word_level_edits_with_positions(self) -> None:
        edits = FeedbackDiffAnalyzer().edits("Sure! The color is red", "The colour is red. Bye")
        assert [(e.kind, e.before, e.after, e.position) for e in edits] == [
            ("delete", "Sure! ", "", "start"),
            ("replace", "color", "colour", "middle"),
            ("insert", "", ". Bye", "end"),
        ]

    def test_measures(self) -> None:
        diff = FeedbackDiffAnalyzer().analyze(pair("The color is red.", "The colour is red."))
        assert diff.distance == 1
        assert 0.9 < diff.similarity < 1.0
        assert 0.0 <= diff.semantic_similarity <= 1.0 + 1e-6

    def test_short_edits_are_widened_to_their_words(self) -> None:
        (edit,) = FeedbackDiffAnalyzer().edits("I have a apple today", "I have an apple today")
        assert (edit.before, edit.after) == ("have a apple", "have an apple")


class TestRules:
    def test_prototype_corruption_does_not_happen(self) -> None:
        result = RuleSetSynthesizer().synthesize([pair("The color is red.", "The colour is blue.")])
        assert apply_rules(result.rules, "The color is red.") == "The colour is blue."
        assert apply_rules(result.rules, "The colors are reddish.") == "The colors are reddish."

    def test_same_edit_in_several_pairs_is_one_rule(self) -> None:
        pairs = [pair(f"Dear customer, item {i} ships.", f"Hey friend, item {i} ships.", i) for i in range(3)]
        result = RuleSetSynthesizer().synthesize(pairs)
        (rule,) = result.rules
        assert (rule.kind, rule.target, rule.replacement, rule.support, rule.sources) == (
            RuleKind.REPLACE,
            "Dear customer",
            "Hey friend",
            3,
            (0, 1, 2),
        )
        assert apply_rules(result.rules, "Dear customer, welcome!") == "Hey friend, welcome!"

    def test_numbers_generalise(self) -> None:
        pairs = [pair(f"Valid for {n} hrs only.", f"Valid for {n} hours only.", i) for i, n in enumerate([12, 48])]
        result = RuleSetSynthesizer().synthesize(pairs)
        (rule,) = result.rules
        assert rule.kind is RuleKind.REGEX and rule.support == 2
        assert apply_rules(result.rules, "Done in 3 hrs, or 100 hrs at most") == "Done in 3 hours, or 100 hours at most"
        assert apply_rules(result.rules, "5hrs") == "5hrs"

    def test_edges_prepend_append_strip(self) -> None:
        pairs = [pair(f"As an AI, answer {i}", f"answer {i} ☕", i) for i in range(2)]
        result = RuleSetSynthesizer().synthesize(pairs)
        kinds = {r.kind for r in result.rules}
        assert kinds == {RuleKind.STRIP_PREFIX, RuleKind.APPEND}
        assert apply_rules(result.rules, "As an AI, hello") == "hello ☕"
        assert apply_rules(result.rules, "hello ☕") == "hello ☕"  # idempotent

    def test_inverse_contradiction_support_wins(self) -> None:
        pairs = [
            pair("colour", "color", 0),
            pair("a colour b", "a color b", 1),
            pair("x color y", "x colour y", 2),
        ]
        result = RuleSetSynthesizer(general_support=1).synthesize(pairs)  # every edit general: the conflict policy
        assert [c.kind for c in result.conflicts] == ["inverse"]
        assert "support 2 > 1" in result.conflicts[0].reason
        (rule,) = result.rules
        assert (rule.target, rule.replacement) == ("colour", "color")

    def test_same_target_tie_broken_by_recency(self) -> None:
        pairs = [pair("x teh y", "x the y", 0), pair("x teh y", "x tech y", 1)]
        result = RuleSetSynthesizer(general_support=1).synthesize(pairs)  # every edit general: the conflict policy
        assert [c.kind for c in result.conflicts] == ["same_target"]
        assert "more recent" in result.conflicts[0].reason
        assert [r.replacement for r in result.rules] == ["x tech y"]

    def test_append_and_remove_contradict(self) -> None:
        pairs = [pair("hi", "hi ☕", 0), pair("yo ☕", "yo", 1), pair("ok", "ok ☕", 2)]
        result = RuleSetSynthesizer(general_support=1).synthesize(pairs)  # every edit general: the conflict policy
        assert [c.kind for c in result.conflicts] == ["add_remove"]
        assert [r.kind for r in result.rules] == [RuleKind.APPEND]

    def test_rule_that_hurts_another_pair_is_pruned(self) -> None:
        pairs = [pair("color red", "colour red", 0), pair("color and color", "color and color!", 1)]
        result = RuleSetSynthesizer(general_support=1).synthesize(pairs)  # every edit general: the conflict policy
        assert result.pruned or result.damage  # pruned by the vote, or demoted by the damage check
        for p in pairs:
            assert Levenshtein.distance(
                apply_rules(result.rules, p.bad_output), p.fixed_output
            ) <= Levenshtein.distance(p.bad_output, p.fixed_output)

    def test_noise_pair_does_not_veto_a_well_supported_rule(self) -> None:
        pairs = [pair(f"ships in {n} hrs", f"ships in {n} hours", i) for i, n in enumerate([1, 2, 3, 4])]
        pairs.append(pair("ships in 5 hrs now", "now 5 hrs in ships", 4))  # an idiosyncratic rewrite
        result = RuleSetSynthesizer(general_support=1).synthesize(pairs)  # every edit general: the conflict policy
        assert any(r.kind is RuleKind.REGEX and r.support == 4 for r in result.rules)
        assert 4 in result.overruled
        assert [p.sequence for p in result.consistent_pairs(pairs)] == [0, 1, 2, 3]
        assert apply_rules(result.rules, "back in 9 hrs") == "back in 9 hours"

    def test_min_support_and_empty_pairs(self) -> None:
        pairs = [pair("", ""), pair("same", "same"), pair("a cat", "a dog", 1)]
        result = RuleSetSynthesizer(min_support=2).synthesize(pairs)
        assert result.rules == () and len(result.inactive) == 1

    def test_huge_text_rejected(self) -> None:
        with pytest.raises(InputError, match="limit"):
            RuleSetSynthesizer().synthesize([pair("x" * 200_001, "y")])


class TestHook:
    def test_generated_hook_parses_imports_and_applies(self, tmp_path: Path) -> None:
        pairs = [pair(f"Dear customer, ship {i}", f"Hey friend, ship {i} ☕", i) for i in range(3)]
        rules = RuleSetSynthesizer().synthesize(pairs).rules
        hook = HookScriptGenerator().generate(rules, tmp_path / "generated_prompt_hook.py", feedback_pairs=pairs)
        assert hook.self_test.fixed_exactly == 3
        module = load_hook(hook.path)
        assert module.intercept_output("Dear customer, hello", {}) == "Hey friend, hello ☕"
        assert module.intercept_output("untouched ☕", {}) == "untouched ☕"
        prompt = module.intercept_prompt("What time is it?", {})
        assert prompt.startswith("What time is it?") and "Hey friend" in prompt
        assert hook.version.version_id == "v0001"
        chat = [
            {"role": "system", "content": "너는 스텔라야."},
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "오늘 몇 시야?"},
        ]
        sent = module.intercept_prompt(chat, {})
        assert sent[:2] == chat[:2] and sent[3:] == chat[2:]  # the user's own turn is untouched
        assert sent[2]["role"] == "system" and "Hey friend" in sent[2]["content"]
        assert chat[2] == {"role": "user", "content": "오늘 몇 시야?"}  # the caller's list is not changed

    def test_unversioned_generation(self, tmp_path: Path) -> None:
        hook = HookScriptGenerator().generate([], tmp_path / "h.py", enable_versioning=False)
        assert hook.version is None and hook.path.exists() and not (tmp_path / ".hook_versions").exists()

    def test_validation_rejects_extra_code(self) -> None:
        source = HookScriptGenerator().render([])
        validate_hook_source(source)
        with pytest.raises(HookValidationError, match="beyond its template"):
            validate_hook_source(source + "\nimport os\nos.system('echo pwned')\n")
        with pytest.raises(HookValidationError, match="not a pure literal"):
            validate_hook_source(
                source.replace(
                    "RULES: tuple[dict[str, Any], ...] = ()",
                    "RULES: tuple[dict[str, Any], ...] = (__import__('os'),)",
                )
            )

    def test_failing_hook_is_never_activated(self, tmp_path: Path, monkeypatch) -> None:
        generator = HookScriptGenerator()
        good = generator.generate([], tmp_path / "generated_prompt_hook.py")
        broken = generator.render([]).replace(
            "return apply_compiled(select_rules(_INDEX, model_output), model_output, _LONGEST)",
            "raise RuntimeError('x')",
        )
        monkeypatch.setattr(generator, "render", lambda *args, **kwargs: broken)
        monkeypatch.setattr("vector_trainer.synthesizer.hook.validate_hook_source", lambda source: None)
        with pytest.raises(HookValidationError, match="isolated import/self-test"):
            generator.generate([], tmp_path / "generated_prompt_hook.py", feedback_pairs=[pair("a", "b")])
        assert (tmp_path / "generated_prompt_hook.py").read_text() == good.path.read_text()
        assert [v.version_id for v in HookVersionManager(tmp_path / ".hook_versions", good.path).list_versions()] == [
            "v0001"
        ]


HOSTILE_PIECES = [
    *"ab \n\t'\"\\{}()[].*+?^$|#",
    '"""',
    "'''",
    "__import__('os')",
    "\\x00",
    "é",
    "☕",
    "word",
    "42",
]
HOSTILE = st.lists(st.sampled_from(HOSTILE_PIECES), max_size=12).map("".join)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=HOSTILE, bad=HOSTILE, fixed=HOSTILE, suffix=HOSTILE)
def test_hostile_feedback_is_only_ever_data(tmp_path_factory, prefix, bad, fixed, suffix) -> None:
    pairs = [pair(prefix + bad + suffix, prefix + fixed + suffix, 0), pair(bad, fixed, 1)]
    rules = RuleSetSynthesizer().synthesize(pairs).rules
    source = HookScriptGenerator().render(rules)
    validate_hook_source(source)  # parses; nothing beyond the template's statements
    tree = ast.parse(source)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "intercept_output" in names and "intercept_prompt" in names
    path = tmp_path_factory.mktemp("hook") / "generated_prompt_hook.py"
    path.write_text(source, encoding="utf-8")
    module = load_hook(path)
    for p in pairs:
        assert module.intercept_output(p.bad_output, {}) == apply_rules(rules, p.bad_output)
    probe = "zzz untouched zzz"
    assert module.intercept_output(probe, {}) == apply_rules(rules, probe)
    if not any(r.kind in (RuleKind.PREPEND, RuleKind.APPEND) for r in rules):
        assert module.intercept_output(probe, {}) == probe


class TestVersions:
    def _manager(self, tmp_path: Path) -> HookVersionManager:
        return HookVersionManager(tmp_path / ".hook_versions", tmp_path / "generated_prompt_hook.py")

    def test_add_list_rollback_diff(self, tmp_path: Path) -> None:
        manager = self._manager(tmp_path)
        v1 = manager.add("A = 1\n", rule_count=1)
        v2 = manager.add("A = 2\n", rule_count=2)
        assert [v.version_id for v in manager.list_versions()] == ["v0001", "v0002"]
        assert manager.active().version_id == "v0002"
        assert manager.rollback().version_id == "v0001"
        assert manager.active_path.read_text() == "A = 1\n"
        assert manager.rollback("v0002").version_id == "v0002"
        assert "-A = 1" in manager.diff(v1.version_id, v2.version_id)
        assert manager.add("A = 1\n", rule_count=1).version_id == "v0001"  # identical content reused
        manager.rollback("v0001")
        with pytest.raises(InputError, match="no earlier hook version"):
            manager.rollback()
        with pytest.raises(InputError, match="unknown hook version 'v9'"):
            manager.rollback("v9")
        manifest = json.loads(manager.manifest_path.read_text())
        assert [e["active"] for e in manifest["versions"]] == [True, False]
        assert set(manifest["versions"][0]) >= {
            "version_id",
            "created_at",
            "rule_count",
            "sha256",
            "active",
        }
        assert manager.verify() == []

    def test_verify_reports_hand_edits(self, tmp_path: Path) -> None:
        manager = self._manager(tmp_path)
        manager.add("A = 1\n", rule_count=0)
        manager.active_path.write_text("A = 666\n")
        assert "does not match active version v0001" in manager.verify()[0]
        manager.rollback("v0001")
        assert manager.verify() == []

    def test_corrupted_manifest_is_reported_not_overwritten(self, tmp_path: Path) -> None:
        manager = self._manager(tmp_path)
        manager.add("A = 1\n", rule_count=0)
        manager.manifest_path.write_text("{ not json")
        with pytest.raises(ManifestCorruptedError, match="not valid JSON"):
            manager.add("A = 2\n", rule_count=0)
        assert manager.manifest_path.read_text() == "{ not json"
        manager.manifest_path.write_text('{"schema": 1, "versions": "nope"}')
        with pytest.raises(ManifestCorruptedError, match="not a schema-1 manifest"):
            manager.list_versions()

    def test_kill_during_writes_leaves_old_or_new(self, tmp_path: Path) -> None:
        script = (
            "import sys\n"
            "from vector_trainer.synthesizer.versions import HookVersionManager\n"
            "m = HookVersionManager(sys.argv[1] + '/.hook_versions', sys.argv[1] + '/generated_prompt_hook.py')\n"
            "i = 0\n"
            "while True:\n"
            "    i += 1\n"
            "    m.add('X = %d\\n' % i + '#' * 50000 + '\\n', rule_count=i)\n"
        )
        manager = self._manager(tmp_path)
        for delay in (0.3, 0.45, 0.6, 0.75):
            proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env={**os.environ})
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            versions = manager.list_versions()  # parses: never half-written
            hashes = {v.sha256 for v in versions}
            for version in versions:
                assert (manager.version_dir / version.file).exists()
            if manager.active_path.exists():
                active = manager.active_path.read_text()
                assert hashlib.sha256(active.encode()).hexdigest() in hashes
            leftovers = [p for p in tmp_path.rglob("*.tmp")]
            assert all(p.name.startswith(".") for p in leftovers)


def test_load_feedback_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "fb.jsonl"
    path.write_text(
        json.dumps({"bad_output": "a", "fixed_output": "b", "function_name": "f"})
        + "\n"
        + json.dumps({"bad_output": "a"})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"fb.jsonl:2: missing field 'fixed_output'"):
        load_feedback(path)
    path.write_text(json.dumps({"bad_output": "a", "fixed_output": "b", "function_name": "f"}) + "\n")
    (loaded,) = load_feedback(path)
    assert loaded.context == {"function_name": "f"}
