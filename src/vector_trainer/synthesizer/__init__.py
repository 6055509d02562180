"""FR-2 and FR-7: feedback pairs -> edits -> a discrete rule set -> a safe, versioned hook.

``from vector_trainer.synthesizer import FeedbackDiffAnalyzer, RuleSetSynthesizer,
HookScriptGenerator`` (the seed README's example) works; names are loaded on first use.
"""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

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
__getattr__ = lazy_exports(__name__, _EXPORTS)
