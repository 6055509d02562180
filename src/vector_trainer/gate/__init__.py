"""The gate: evaluate each candidate model and hook against the one in use, on held-out
examples, and promote only what is better (a model registry keeps every model and the active
pointer)."""

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.errors import ModelError as ModelError
    from vector_trainer.gate.evaluate import EvalExample as EvalExample
    from vector_trainer.gate.evaluate import Evaluation as Evaluation
    from vector_trainer.gate.evaluate import ModelEvaluator as ModelEvaluator
    from vector_trainer.gate.evaluate import evaluate_hooks as evaluate_hooks
    from vector_trainer.gate.evaluate import feedback_examples as feedback_examples
    from vector_trainer.gate.evaluate import holdout_split as holdout_split
    from vector_trainer.gate.evaluate import validation_examples as validation_examples
    from vector_trainer.gate.judge import RUBRIC as RUBRIC
    from vector_trainer.gate.judge import LLMJudge as LLMJudge
    from vector_trainer.gate.policy import Decision as Decision
    from vector_trainer.gate.policy import PromotionPolicy as PromotionPolicy
    from vector_trainer.gate.promote import Promoter as Promoter
    from vector_trainer.gate.registry import ModelRecord as ModelRecord
    from vector_trainer.gate.registry import ModelRegistry as ModelRegistry
    from vector_trainer.gate.stats import PairedComparison as PairedComparison
    from vector_trainer.gate.stats import paired_bootstrap as paired_bootstrap
    from vector_trainer.gate.verdicts import HookVerdict as HookVerdict
    from vector_trainer.gate.verdicts import ModelVerdict as ModelVerdict
    from vector_trainer.training.chat_models import ChatModel as ChatModel
    from vector_trainer.training.chat_models import OpenAIChatModel as OpenAIChatModel
    from vector_trainer.training.local_lora.chat_model import LocalChatModel as LocalChatModel
    from vector_trainer.training.registry import chat_model_for as chat_model_for


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
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
