"""FR-2 and FR-7: feedback pairs -> edits -> a discrete rule set -> a safe, versioned hook.

``from vector_trainer.synthesizer import FeedbackDiffAnalyzer, RuleSetSynthesizer,
HookScriptGenerator`` (the seed README's example) works; names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.synthesizer.conflicts import Conflict as Conflict
    from vector_trainer.synthesizer.conflicts import apply_rules as apply_rules
    from vector_trainer.synthesizer.diff import Edit as Edit
    from vector_trainer.synthesizer.diff import FeedbackDiff as FeedbackDiff
    from vector_trainer.synthesizer.diff import FeedbackDiffAnalyzer as FeedbackDiffAnalyzer
    from vector_trainer.synthesizer.diff import tokenize as tokenize
    from vector_trainer.synthesizer.feedback import load_feedback as load_feedback
    from vector_trainer.synthesizer.hook import GeneratedHook as GeneratedHook
    from vector_trainer.synthesizer.hook import HookScriptGenerator as HookScriptGenerator
    from vector_trainer.synthesizer.hook_file import run_hook_file as run_hook_file
    from vector_trainer.synthesizer.hook_file import validate_hook_source as validate_hook_source
    from vector_trainer.synthesizer.llm_advisor import LLMRuleAdvisor as LLMRuleAdvisor
    from vector_trainer.synthesizer.rules import RuleSetSynthesizer as RuleSetSynthesizer
    from vector_trainer.synthesizer.rules import SkippedEdit as SkippedEdit
    from vector_trainer.synthesizer.rules import SynthesisResult as SynthesisResult
    from vector_trainer.synthesizer.self_test import SelfTestReport as SelfTestReport
    from vector_trainer.synthesizer.versions import HookVersion as HookVersion
    from vector_trainer.synthesizer.versions import HookVersionManager as HookVersionManager
    from vector_trainer.synthesizer.versions import open_hook_versions as open_hook_versions


_EXPORTS = {
    "FeedbackDiffAnalyzer": "vector_trainer.synthesizer.diff",
    "FeedbackDiff": "vector_trainer.synthesizer.diff",
    "Edit": "vector_trainer.synthesizer.diff",
    "tokenize": "vector_trainer.synthesizer.diff",
    "RuleSetSynthesizer": "vector_trainer.synthesizer.rules",
    "SynthesisResult": "vector_trainer.synthesizer.rules",
    "SkippedEdit": "vector_trainer.synthesizer.rules",
    "Conflict": "vector_trainer.synthesizer.conflicts",
    "apply_rules": "vector_trainer.synthesizer.conflicts",
    "load_feedback": "vector_trainer.synthesizer.feedback",
    "HookScriptGenerator": "vector_trainer.synthesizer.hook",
    "GeneratedHook": "vector_trainer.synthesizer.hook",
    "SelfTestReport": "vector_trainer.synthesizer.self_test",
    "validate_hook_source": "vector_trainer.synthesizer.hook_file",
    "run_hook_file": "vector_trainer.synthesizer.hook_file",
    "HookVersionManager": "vector_trainer.synthesizer.versions",
    "HookVersion": "vector_trainer.synthesizer.versions",
    "open_hook_versions": "vector_trainer.synthesizer.versions",
    "LLMRuleAdvisor": "vector_trainer.synthesizer.llm_advisor",
}
__all__ = sorted(_EXPORTS)
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
