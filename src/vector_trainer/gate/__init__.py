"""The gate: evaluate each candidate model and hook against the one in use, on held-out
examples, and promote only what is better (a model registry keeps every model and the active
pointer)."""

from vector_trainer._shared import lazy_exports

_EXPORTS = {
    "ChatModel": "vector_trainer.training.chat_models",
    "OpenAIChatModel": "vector_trainer.training.chat_models",
    "LocalChatModel": "vector_trainer.training.local_lora.chat_model",
    "ModelError": "vector_trainer.errors",
    "chat_model_for": "vector_trainer.training.registry",
    "EvalExample": "vector_trainer.gate.evaluate",
    "Evaluation": "vector_trainer.gate.evaluate",
    "ModelEvaluator": "vector_trainer.gate.evaluate",
    "evaluate_hooks": "vector_trainer.gate.evaluate",
    "feedback_examples": "vector_trainer.gate.evaluate",
    "holdout_split": "vector_trainer.gate.evaluate",
    "validation_examples": "vector_trainer.gate.evaluate",
    "PairedComparison": "vector_trainer.gate.stats",
    "paired_bootstrap": "vector_trainer.gate.stats",
    "Decision": "vector_trainer.gate.policy",
    "HookVerdict": "vector_trainer.gate.verdicts",
    "ModelVerdict": "vector_trainer.gate.verdicts",
    "PromotionPolicy": "vector_trainer.gate.policy",
    "LLMJudge": "vector_trainer.gate.judge",
    "RUBRIC": "vector_trainer.gate.judge",
    "Promoter": "vector_trainer.gate.promote",
    "ModelRecord": "vector_trainer.gate.registry",
    "ModelRegistry": "vector_trainer.gate.registry",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
