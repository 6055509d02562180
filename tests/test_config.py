"""The configuration mirrors the constructors, declares each default and limit once, and
reports a bad value by its key (from TOML, the CLI and Python alike)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from conftest import one_error_line
from vector_trainer.cli import main
from vector_trainer.config import (
    TRAINER_SETTINGS,
    Config,
    ExtractorConfig,
    GateConfig,
    PipelineConfig,
    SynthesizerConfig,
    config_from_dict,
    load_config,
)
from vector_trainer.errors import ConfigError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.gate import ModelEvaluator, PromotionPolicy
from vector_trainer.pipeline import TrainingPipeline
from vector_trainer.synthesizer import FeedbackDiffAnalyzer, HookScriptGenerator, RuleSetSynthesizer
from vector_trainer.training import LocalLoRATrainer, OpenAITrainer, create_trainer

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "vector_trainer"
#: Constructor arguments that are objects, not settings (injected, never read from TOML).
OBJECTS = {"self", "dataset_manager", "analyzer", "llm", "embedder", "python", "extractor", "synthesizer", "trainer"}
OBJECTS |= {"monitor", "hook_generator", "sleep", "api_key", "hyperparameters", "prices", "client"}
OBJECTS |= {"evaluator", "promotion_policy"}


def _arguments(*constructors: type) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for cls in constructors
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name not in OBJECTS
    }


@pytest.mark.parametrize(
    ("settings", "constructors"),
    [
        (ExtractorConfig, (DensityBasedExtractor,)),
        (SynthesizerConfig, (RuleSetSynthesizer, FeedbackDiffAnalyzer, HookScriptGenerator)),
        (PipelineConfig, (TrainingPipeline,)),
        (TRAINER_SETTINGS["openai"], (OpenAITrainer,)),
        (TRAINER_SETTINGS["local-lora"], (LocalLoRATrainer,)),
    ],
)
def test_config_mirrors_every_constructor_argument_and_default(settings: type, constructors: tuple[type, ...]) -> None:
    arguments = _arguments(*constructors)
    fields = {f.name: f for f in dataclasses.fields(settings)}
    assert set(fields) == set(arguments)
    for name, field in fields.items():
        assert arguments[name].default == field.default, f"{settings.__name__}.{name} default is restated"


def test_the_gate_section_holds_every_setting_of_the_evaluator_and_the_policy() -> None:
    """``[gate]`` also holds settings no constructor takes (the judge's model and endpoint, the
    loop's validation share); each evaluator and policy argument is one of its keys, same default."""
    arguments = {k: p for k, p in _arguments(ModelEvaluator, PromotionPolicy).items() if k not in GATE_OBJECTS}
    fields = {f.name: f for f in dataclasses.fields(GateConfig)}
    assert set(arguments) <= set(fields)
    for name, parameter in arguments.items():
        assert parameter.default == fields[name].default, f"GateConfig.{name} default is restated"


#: Sections whose fields are a constructor's arguments (passed as ``**vars(section)``).
MIRRORED = {
    "extractor": (DensityBasedExtractor,),
    "synthesizer": (RuleSetSynthesizer, FeedbackDiffAnalyzer, HookScriptGenerator),
    "pipeline": (TrainingPipeline,),
}
GATE_OBJECTS = {"hook_path", "judge", "model_for", "seed"}


def _attribute_reads() -> dict[str, set[str]]:
    """``section -> fields`` read as attributes in the package: ``config.<section>.<field>``, or
    ``x.<field>`` where ``x`` is a parameter annotated with the section's class or a name bound
    to ``<...>.<section>``."""
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    by_class = {str(kind): name for name, kind in sections.items()}
    reads: dict[str, set[str]] = {name: set() for name in sections}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "config.py":
            continue
        for scope in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            aliases = {
                a.arg: by_class[name.id]
                for a in [*scope.args.args, *scope.args.kwonlyargs]
                for name in ast.walk(a.annotation or ast.Constant(None))
                if isinstance(name, ast.Name) and name.id in by_class
            }
            for node in ast.walk(scope):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    value = node.value
                    if isinstance(value, ast.Attribute) and value.attr in sections:
                        aliases[node.targets[0].id] = value.attr
            for node in ast.walk(scope):
                if not isinstance(node, ast.Attribute):
                    continue
                owner = node.value
                if isinstance(owner, ast.Attribute) and owner.attr in sections:
                    reads[owner.attr].add(node.attr)
                elif isinstance(owner, ast.Name) and owner.id in aliases:
                    reads[aliases[owner.id]].add(node.attr)
    return reads


def test_every_setting_is_read_by_something() -> None:
    """Each key of each section reaches code: a constructor that mirrors the section takes it, or
    the package reads it off the section (a setting nothing reads is an error, not a no-op)."""
    reads = _attribute_reads()
    unread = []
    for section in dataclasses.fields(Config):
        taken = set(_arguments(*MIRRORED.get(section.name, ())))
        if section.name == "gate":
            taken |= set(_arguments(ModelEvaluator, PromotionPolicy))
        for field in dataclasses.fields(getattr(Config(), section.name)):
            if field.name not in taken | reads[section.name]:
                unread.append(f"{section.name}.{field.name}")
    assert unread == []
    per_trainer = {name: {f.name for f in dataclasses.fields(kind)} for name, kind in TRAINER_SETTINGS.items()}
    assert per_trainer["openai"] <= set(_arguments(OpenAITrainer))
    assert per_trainer["local-lora"] <= set(_arguments(LocalLoRATrainer))


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[extractor]\nepsilon = 1.5\n", r"extractor\.epsilon: must be in \(0, 1\] or 'auto', got 1\.5"),
        ("[extractor]\ntop_k = 0\n", r"extractor\.top_k: must be in \[1, 1000000\], got 0"),
        (
            "[extractor]\nengine = 'gpu'\n",
            r"extractor\.engine: must be one of 'auto', 'exact', 'torch', 'faiss', 'ray', got 'gpu'",
        ),
        ("[extractor]\npage_size = 0\n", r"extractor\.page_size: must be in \[1, 100000\], got 0"),
        ("[synthesizer]\nmin_support = 0\n", r"synthesizer\.min_support: must be in \[1, 1000000\], got 0"),
        ("[trainer]\nmax_budget_usd = nan\n", r"trainer\.max_budget_usd: must be >= 0, got nan"),
        ("[trainer]\nmax_budget_usd = -1\n", r"trainer\.max_budget_usd: must be >= 0, got -1"),
        ("[trainer]\nname = 'local-lora'\nsuffix = 'x'\n", r"trainer\.suffix: trainer 'local-lora' takes no option"),
        ("[trainer]\nname = 'local-lora'\nlora_r = 0\n", r"trainer\.lora_r: must be in \[1, 4096\], got 0"),
        ("[pipeline]\npoll_interval_s = -1\n", r"pipeline\.poll_interval_s: must be in \[0, 86400\]"),
        ("[gate]\nresamples = 1e11\n", r"gate\.resamples: must be an integer"),
        ("[gate]\nresamples = 100000000000\n", r"gate\.resamples: must be in \[100, 100000\]"),
        ("[loop]\ninterval_s = 1e400\n", r"loop\.interval_s: must be in \[1, 604800\]"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "vt.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_constructors_check_the_same_constraints() -> None:
    with pytest.raises(ConfigError, match=r"extractor\.epsilon: must be in \(0, 1\] or 'auto', got 1\.5"):
        DensityBasedExtractor(
            object.__new__(type("S", (), {"iter_executions": 0, "near_vector": 0, "list_functions": 0})), epsilon=1.5
        )
    with pytest.raises(ConfigError, match=r"trainer\.lora_alpha: must be in \[1, 65536\]"):
        LocalLoRATrainer(model="m", lora_alpha=0)
    with pytest.raises(ConfigError, match=r"trainer\.max_budget_usd: must be >= 0, got nan"):
        OpenAITrainer(max_budget_usd=float("nan"))
    from vector_trainer.pipeline import TrainingPipeline

    with pytest.raises(ConfigError, match=r"pipeline\.poll_interval_s: must be in \[0, 86400\], got -5"):
        TrainingPipeline(None, None, OpenAITrainer(), poll_interval_s=-5)  # issue 29: was accepted


def test_each_trainer_gets_only_its_own_options(tmp_path: Path) -> None:
    config = config_from_dict({"trainer": {"name": "local-lora", "model": "m", "lora_r": 4}})
    trainer = create_trainer(config.trainer.name, **config.trainer.options)
    assert isinstance(trainer, LocalLoRATrainer) and trainer.model == "m"
    assert trainer.hyperparameters["lora_r"] == 4
    assert isinstance(create_trainer("local-lora"), LocalLoRATrainer)  # status and cancel need no model


def test_local_lora_train_without_model_is_a_clear_error(tmp_path: Path, capsys) -> None:
    """Regression: 'train FILE --trainer local-lora' passed OpenAI's default model to the local trainer."""
    data = tmp_path / "t.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n')
    code = main(["train", str(data), "--trainer", "local-lora", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "trainer.model: the local-lora trainer needs a base model" in err
    assert "gpt-4o-mini" not in err and one_error_line(err), err


def test_local_lora_status_needs_no_model(tmp_path: Path, capsys) -> None:
    """Regression: 'status JOB --trainer local-lora' always failed with a TypeError about 'model'."""
    code = main(["status", "lora-nope", "--trainer", "local-lora", "--jobs-dir", str(tmp_path)])
    assert code == 1
    assert "no local training job 'lora-nope'" in capsys.readouterr().err


def test_openai_option_on_local_lora_is_a_named_error(tmp_path: Path, capsys) -> None:
    """Regression: '[trainer] suffix = "x"' with name = "local-lora" ended in a raw TypeError."""
    path = tmp_path / "vt.toml"
    path.write_text('[trainer]\nname = "local-lora"\nsuffix = "x"\n', encoding="utf-8")
    code = main(["demo", "--config", str(path), "--out", str(tmp_path / "runs"), "--store", str(tmp_path / "d.db")])
    err = capsys.readouterr().err
    assert code == 2 and "trainer.suffix: trainer 'local-lora' takes no option 'suffix'" in err
    assert "TypeError" not in err


@pytest.mark.parametrize(("toml", "expected"), [("epsilon = 'auto'", "auto"), ("epsilon = 0.25", 0.25), ("", "auto")])
def test_epsilon_is_auto_by_default_and_a_number_still_works(tmp_path: Path, toml: str, expected) -> None:
    path = tmp_path / "vt.toml"
    path.write_text(f"[extractor]\n{toml}\n", encoding="utf-8")
    assert load_config(path).extractor.epsilon == expected


def test_epsilon_word_other_than_auto_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vt.toml"
    path.write_text("[extractor]\nepsilon = 'wide'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"extractor\.epsilon: must be in \(0, 1\] or 'auto', got 'wide'"):
        load_config(path)


def test_every_synthesizer_setting_reaches_the_synthesizer(tmp_path: Path) -> None:
    from vector_trainer.pipeline.factory import build_synthesizer

    path = tmp_path / "vt.toml"
    path.write_text("[synthesizer]\nmin_support = 2\nmax_phrase_words = 7\ngeneral_support = 3\nmin_phrase_chars = 5\n")
    synthesizer = build_synthesizer(load_config(path))
    assert (synthesizer.min_support, synthesizer.max_phrase_words, synthesizer.general_support) == (2, 7, 3)
    assert synthesizer.analyzer.min_phrase_chars == 5


def test_every_toml_block_of_the_readme_is_a_valid_config() -> None:
    import re
    from pathlib import Path

    import tomllib

    from vector_trainer.config import config_from_dict

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        config = config_from_dict(tomllib.loads(block), "README.md")
        assert config is not None


def test_the_judge_metric_needs_a_judge() -> None:
    """Found by a trial: metric = "judge" without judge_model asked every example of both
    models, then decided nothing ("no 'judge' score") and exited 0."""
    with pytest.raises(ConfigError, match=r"gate\.metric: 'judge' needs gate\.judge_model"):
        config_from_dict({"gate": {"metric": "judge"}})
    assert config_from_dict({"gate": {"metric": "judge", "judge_model": "judge-1"}}).gate.metric == "judge"
