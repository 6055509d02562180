"""The pipeline (run directory, resume, failures, monitors), the CLI and the dashboard."""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conftest import ListSource, clustered, fill_store, make_log
from vector_trainer._layout import function_dirname
from vector_trainer.chatml import is_valid_example
from vector_trainer.cli import build_parser, main
from vector_trainer.config import load_config
from vector_trainer.dashboard import CLIDashboard
from vector_trainer.errors import ConfigError, PipelineError, TrainerError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.pipeline import TrainingPipeline
from vector_trainer.pipeline.monitor import PipelineMonitor
from vector_trainer.pipeline.results import ExtractResult, RunSummary, SkippedStage, SynthesizeResult, TrainResult
from vector_trainer.sources.store import SQLiteLogStore
from vector_trainer.synthesizer import RuleSetSynthesizer
from vector_trainer.synthesizer.self_test import SelfTestReport
from vector_trainer.training import BaseTrainer
from vector_trainer.types import FeedbackPair

ROOT = Path(__file__).resolve().parents[2]


class RecordingTrainer(BaseTrainer):
    """An in-memory backend that records every call; ``fail_status_once`` simulates a crash
    right after the job was created."""

    name = "recording"

    def __init__(self, fail_status_once: bool = False, final: str = "succeeded") -> None:
        self.calls: list[str] = []
        self.fail_status_once = fail_status_once
        self.final = final
        self.polls = 0

    def prepare_data(self, jsonl_path: Any) -> str:
        self.calls.append("prepare")
        return "file-1"

    def start_training(self, file_id: str, **hyperparameters: Any) -> str:
        self.calls.append("start")
        return "job-1"

    def get_status(self, job_id: str) -> dict[str, Any]:
        if self.fail_status_once:
            self.fail_status_once = False
            raise TrainerError("connection lost")
        self.polls += 1
        return {"id": job_id, "status": "running" if self.polls < 3 else self.final}

    def get_result(self, job_id: str) -> dict[str, Any]:
        if self.final == "failed":
            raise TrainerError("job failed: bad data")
        return {"id": job_id, "fine_tuned_model": "ft:model:1"}

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        return [{"step": s, "train_loss": 1.0 / s} for s in range(1, self.polls + 1)]


def _source() -> ListSource:
    X, _ = clustered([30, 15, 6], dim=12, spread=0.05, seed=3)
    return ListSource([make_log(i, v) for i, v in enumerate(X)])


PAIRS = [FeedbackPair(f"Dear customer, item {i}", f"Hey friend, item {i}", sequence=i) for i in range(3)]


def _pipeline(trainer: BaseTrainer, monitor: PipelineMonitor | None = None) -> TrainingPipeline:
    return TrainingPipeline(
        DensityBasedExtractor(_source(), top_k=5),
        RuleSetSynthesizer(),
        trainer,
        monitor,
        sleep=lambda _s: None,
    )


def test_run_writes_every_artifact(tmp_path: Path) -> None:
    trainer = RecordingTrainer()
    summary = _pipeline(trainer).run("fn", PAIRS, tmp_path, wait=True)
    assert summary.status == "ok"
    assert summary.train is not None and summary.train.fine_tuned_model == "ft:model:1"
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written == summary.to_dict() and RunSummary.from_dict(written) == summary
    assert list(written["stages"]) == ["extract", "synthesize", "train"]
    for name in (
        "golden.jsonl",
        "golden.report.json",
        "rules.json",
        "state.json",
        "events.jsonl",
        "summary.json",
        "hook/generated_prompt_hook.py",
        "hook/.hook_versions/manifest.json",
    ):
        assert (tmp_path / name).exists(), name
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["stage"] for e in events if e["kind"] == "stage_start"] == [
        "extract",
        "synthesize",
        "train",
    ]
    assert [e["metrics"]["step"] for e in events if e["kind"] == "metrics"] == [1, 2, 3]
    overview = summary.overview
    assert overview["golden"]["examples"] == overview["golden"]["steady"] + overview["golden"]["anomaly"] > 0
    assert set(overview["golden"]["density"]) == {"min", "median", "max"}
    assert overview["rules"] == {"count": 1, "conflicts": 0}
    assert overview["training"]["final_model"] == "ft:model:1" and len(overview["training"]["metrics"]) == 3


def test_rerun_after_crash_does_not_upload_or_create_again(tmp_path: Path) -> None:
    trainer = RecordingTrainer(fail_status_once=True)
    with pytest.raises(PipelineError, match="stage 'train' failed: connection lost"):
        _pipeline(trainer).run("fn", PAIRS, tmp_path)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["training"]["job_id"] == "job-1" and state["stages"]["train"]["status"] == "failed"
    summary = _pipeline(trainer).run("fn", PAIRS, tmp_path, wait=True)
    assert trainer.calls == ["prepare", "start"]
    assert summary.train is not None and summary.train.job_id == "job-1"


def test_failed_job_fails_the_stage(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="job failed: bad data"):
        _pipeline(RecordingTrainer(final="failed")).run("fn", PAIRS, tmp_path, wait=True)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "failed"


def test_a_raising_monitor_never_breaks_the_pipeline(tmp_path: Path, caplog) -> None:
    class Broken(PipelineMonitor):
        def on_progress(self, stage: str, current: int, total: int) -> None:
            raise RuntimeError("dashboard crashed")

    summary = _pipeline(RecordingTrainer(), Broken()).run("fn", PAIRS, tmp_path)
    assert summary.status == "ok"
    assert "dashboard crashed" in caplog.text


def test_dry_run_never_submits(tmp_path: Path, monkeypatch) -> None:
    from vector_trainer.training import OpenAITrainer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    summary = _pipeline(OpenAITrainer(model="gpt-4o-mini")).run("fn", [], tmp_path)
    train = summary.train
    assert train is not None and train.mode == "dry_run" and "job_id" not in train.to_dict()
    assert summary.synthesize is None and summary.stages["synthesize"] == SkippedStage("no feedback pairs given")
    assert json.loads((tmp_path / "cost.json").read_text())["model"] == "gpt-4o-mini-2024-07-18"


def test_dashboard_plain_and_live() -> None:
    plain = io.StringIO()
    dashboard = CLIDashboard(Console(file=plain, force_terminal=False, width=120))
    dashboard.on_stage_start("extract")
    dashboard.on_progress("extract", 2, 4)
    extracted = ExtractResult(steady=3, anomaly=1, examples=4)
    dashboard.on_stage_complete("extract", extracted)
    dashboard.print_summary(RunSummary("fn", "runs/fn", "2026-01-01T00:00:00Z", {"extract": extracted}))
    synthesized = SynthesizeResult(self_test=SelfTestReport(2, 0, 0, 2), hook_not_activated="its 1 rules fix none")
    dashboard.on_stage_complete("synthesize", synthesized)
    text = plain.getvalue()
    assert "extract: 2/4" in text and "Steady: 3 | Anomaly: 1 | Total: 4" in text and "runs/fn" in text
    assert "fixes 0/2 pairs exactly | hook not activated" in text
    live = io.StringIO()
    dashboard = CLIDashboard(Console(file=live, force_terminal=True, width=120))
    dashboard.on_stage_start("extract")
    dashboard.on_progress("extract", 1, 4)
    dashboard.print_summary(RunSummary("fn", "x", "2026-01-01T00:00:00Z"))
    assert "Extracting golden data" in live.getvalue()


def test_training_updates_read_as_one_line_each_and_the_result_is_named() -> None:
    plain = io.StringIO()
    dashboard = CLIDashboard(Console(file=plain, force_terminal=False, width=120))
    dashboard.on_stage_start("train")
    row = {"step": 29, "total_steps": 60, "epoch": 1.45, "train_loss": 5.9683308601379395, "learning_rate": 1e-4}
    dashboard.on_metrics("train", row)
    dashboard.on_metrics("train", {"step": 3, "train_loss": 0.5, "train_accuracy": 0.8125, "valid_loss": None})
    adapter = TrainResult("submitted", "succeeded", artifacts={"adapter_dir": "runs/fn/jobs/j1/adapter"})
    dashboard.print_summary(RunSummary("fn", "runs/fn", "2026-01-01T00:00:00Z", {"train": adapter}))
    lines = plain.getvalue().splitlines()
    assert "[train] step 29/60 | epoch 1.45 | loss 5.9683 | lr 1.00e-04" in lines
    assert "[train] step 3 | loss 0.5000 | accuracy 0.812" in lines
    assert lines[-1] == "trained adapter: runs/fn/jobs/j1/adapter"
    live = io.StringIO()
    dashboard = CLIDashboard(Console(file=live, force_terminal=True, width=160))
    dashboard.on_stage_start("train")
    dashboard.on_metrics("train", row)
    assert dashboard._progress.tasks[0].total == 60 and dashboard._progress.tasks[0].completed == 29
    tuned = TrainResult("submitted", "succeeded", fine_tuned_model="ft:x")
    dashboard.print_summary(RunSummary("fn", "r", "2026-01-01T00:00:00Z", {"train": tuned}))
    assert "fine-tuned model: ft:x" in live.getvalue()


# -- CLI -----------------------------------------------------------------------------------------


def test_demo_end_to_end(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "runs"]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("next: ")]
    assert said[0] == "next: see it: vectortrainer dashboard runs" and "OPENAI_API_KEY" in said[-1]
    for function in ("persona_chat", "support_faq"):
        run = tmp_path / "runs" / function_dirname(function)
        lines = (run / "golden.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) >= 10 and all(is_valid_example(json.loads(line)) for line in lines)
        ast.parse((run / "hook" / "generated_prompt_hook.py").read_text(encoding="utf-8"))
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "ok" and summary["stages"]["train"]["mode"] == "dry_run"
        report = json.loads((run / "golden.report.json").read_text())
        assert report["logs"]["by_status"]["ERROR"] > 0
        assert report["examples"]["steady"] > 0 and report["examples"]["anomaly"] > 0
    rules = json.loads((tmp_path / "runs" / function_dirname("persona_chat") / "rules.json").read_text())
    assert any(r["kind"] == "strip_prefix" and r["support"] >= 3 for r in rules["rules"])
    assert main(["hooks", "list", "--dir", f"runs/{function_dirname('persona_chat')}/hook"]) == 0
    assert main(["hooks", "list", "--dir", "runs/persona_chat/hook"]) == 2  # the pre-slug path: named, not empty


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Every command path of ``parser`` (``("hooks", "rollback")`` and the like), with its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


def test_every_help_is_clear(capsys) -> None:
    """Every command, found from the parser itself (none can be forgotten), prints its help, says
    what it does, and explains each of its options."""
    parser = build_parser()
    commands = dict(_subcommands(parser))
    assert {"run", "loop", "evaluate", "models", "cancel", "reembed", ("hooks", "rollback")} <= {
        c[0] if len(c) == 1 else c for c in commands
    }
    for path, sub in [((), parser), *commands.items()]:
        with pytest.raises(SystemExit) as info:
            parser.parse_args([*path, "--help"])
        assert info.value.code == 0
        assert capsys.readouterr().out.strip(), path
        assert path == () or (sub.description or "").strip(), f"{' '.join(path)}: no description"
        options = [a for a in sub._actions if not isinstance(a, argparse._SubParsersAction)]
        unexplained = [a.dest for a in options if not (a.help or "").strip()]
        assert not unexplained, f"{' '.join(path) or 'vectortrainer'}: options without help: {unexplained}"
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    assert "extract -> synthesize -> train" in capsys.readouterr().out


def test_config_unknown_key_named(tmp_path: Path) -> None:
    path = tmp_path / "vt.toml"
    path.write_text("[extractor]\nepsillon = 0.2\n")
    with pytest.raises(ConfigError, match=r"unknown key 'extractor\.epsillon'"):
        load_config(path)
    path.write_text("[extractor]\ntop_k = 'many'\n")
    with pytest.raises(ConfigError, match=r"extractor\.top_k: must be an integer, got 'many'"):
        load_config(path)
    path.write_text("[extractr]\n")
    with pytest.raises(ConfigError, match=r"unknown section '\[extractr\]'"):
        load_config(path)
    path.write_text('[extractor]\nepsilon = 0.25\ntop_k = 7\n[trainer]\nmax_budget_usd = 5\n[run]\nfunctions = ["a"]\n')
    config = load_config(path)
    assert (config.extractor.epsilon, config.extractor.top_k, config.trainer.options["max_budget_usd"]) == (
        0.25,
        7,
        5,
    )
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2


def test_run_on_empty_store_is_a_clear_error(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "typo.db"
    for command in (
        ["run", "--store", str(missing), "--out", str(tmp_path / "o")],
        ["functions", "--store", str(missing)],
    ):
        assert main(command) == 2
        assert f"there is no store at {missing}" in capsys.readouterr().err
        assert not missing.exists()  # a reader never creates a store
    SQLiteLogStore(tmp_path / "empty.db").close()
    assert main(["run", "--store", str(tmp_path / "empty.db"), "--out", str(tmp_path / "o")]) == 2
    assert "holds no logs" in capsys.readouterr().err


def test_an_unknown_function_is_bad_input_said_once(tmp_path: Path, capsys) -> None:
    with SQLiteLogStore(tmp_path / "logs.db") as store:
        fill_store(store, [make_log(i, [1.0, float(i)], function="known") for i in range(3)])
    assert main(["run", "--store", str(tmp_path / "logs.db"), "--function", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("no logs for --function 'nope'") == 1 and "functions with logs: known" in err


def test_synthesize_and_hooks_cli(tmp_path: Path, capsys) -> None:
    feedback = tmp_path / "fb.jsonl"
    feedback.write_text(
        "".join(json.dumps({"bad_output": p.bad_output, "fixed_output": p.fixed_output}) + "\n" for p in PAIRS)
    )
    out = tmp_path / "hook"
    assert main(["synthesize", "--feedback", str(feedback), "--out", str(out)]) == 0
    feedback.write_text(json.dumps({"bad_output": "the colour", "fixed_output": "the color"}) + "\n")
    assert main(["synthesize", "--feedback", str(feedback), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["hooks", "diff", "v0001", "v0002", "--dir", str(out)]) == 0
    diff = capsys.readouterr().out
    assert "RULES: tuple[dict[str, Any], ...]" in diff  # printed as data, never parsed as rich markup
    assert main(["hooks", "rollback", "--dir", str(out)]) == 0
    assert "Hey friend" in (out / "generated_prompt_hook.py").read_text(encoding="utf-8")
    assert main(["hooks", "rollback", "v0009", "--dir", str(out)]) == 2


def test_cost_cli(tmp_path: Path, capsys) -> None:
    path = tmp_path / "t.jsonl"
    example = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    path.write_text(json.dumps(example) + "\n")
    assert main(["cost", str(path), "--model", "gpt-4o-mini", "--epochs", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_epochs"] == 2
    assert main(["cost", str(path), "--model", "unknown-model"]) == 2  # bad input: name a price
    assert main(["cost", str(path), "--model", "gpt-4o", "--budget", "0"]) == 1
    err = capsys.readouterr().err
    assert "nothing was uploaded" not in err and "a training run with this budget would refuse it" in err
    assert main(["cost", str(path), "--model", "gpt-4o"]) == 0
    assert "shared/reference" not in capsys.readouterr().out  # no internal note paths


def test_readme_python_example_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "runs"]) == 0  # fills .vectortrainer/demo.db
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- python-example -->\s*```python\n(.*?)```", readme, re.S)
    assert block, "README lost its Python example marker"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    assert Path(namespace["golden_data_path"]).exists()


def test_train_runs_never_collide_and_local_jobs_stay_in_the_run(tmp_path: Path) -> None:
    from vector_trainer.cli.commands import in_run
    from vector_trainer.cli.jobs import default_train_dir
    from vector_trainer.config import Config, with_overrides

    a, b = (default_train_dir(tmp_path / name / "golden.jsonl") for name in ("support", "persona"))
    assert a != b and a.parent == b.parent and a.name.startswith("support-golden")
    local = with_overrides(Config(), "trainer", name="local-lora", model="m")
    assert in_run(local, tmp_path / "run").trainer.options["jobs_dir"] == str(tmp_path / "run" / "jobs")
    chosen = with_overrides(local, "trainer", jobs_dir="/srv/jobs")
    assert in_run(chosen, tmp_path / "run").trainer.options["jobs_dir"] == "/srv/jobs"
    assert "jobs_dir" not in in_run(Config(), tmp_path / "run").trainer.options  # openai has no jobs


def test_per_function_prompt_templates_and_system_prompts(tmp_path: Path, monkeypatch, capsys) -> None:
    """Training examples carry the prompt the app really sends, per function, from TOML."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "warmup"]) == 0
    config = tmp_path / "c.toml"
    config.write_text(
        '[source]\nstore = ".vectortrainer/demo.db"\n'
        '[extractor.system_prompts]\nsupport_faq = "You are VectorCloud support."\n'
        '[extractor.prompt_templates]\nsupport_faq = "Customer question: {question}\\nProduct: {product}"\n',
        encoding="utf-8",
    )
    assert main(["run", "--config", str(config), "--out", "runs", "--function", "support_faq"]) == 0
    run = tmp_path / "runs" / function_dirname("support_faq")
    first = json.loads((run / "golden.jsonl").read_text(encoding="utf-8").splitlines()[0])["messages"]
    assert first[0] == {"role": "system", "content": "You are VectorCloud support."}
    assert re.fullmatch(r"Customer question: .+\nProduct: Vector\w+", first[1]["content"], re.S)
    report = json.loads((run / "golden.report.json").read_text())
    assert report["parameters"]["prompt_template"].startswith("Customer question:")
    capsys.readouterr()
    config.write_text('[extractor.prompt_templates]\nsupport_faq = "{question.__class__}"\n', encoding="utf-8")
    assert main(["run", "--config", str(config), "--store", ".vectortrainer/demo.db", "--out", "r2"]) == 2
    assert "extractor.prompt_templates.support_faq: {question.__class__} is not a plain input name" in (
        capsys.readouterr().err
    )
    config.write_text('[extractor.prompt_templates]\nsupport_faq = "{customer}"\n', encoding="utf-8")
    args = ["run", "--config", str(config), "--store", ".vectortrainer/demo.db", "--out", "r3", "--function"]
    assert main([*args, "support_faq"]) == 1
    assert "uses {customer}, but the log's inputs are question, product" in capsys.readouterr().out


def test_a_second_demo_says_the_logs_are_there(tmp_path: Path, monkeypatch) -> None:
    """Found by a trial: a second 'run --demo' printed "demo: 0 logs of  in ..."."""
    from vector_trainer.cli.commands import _prepare_demo
    from vector_trainer.config import Config

    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    console = Console(file=out, width=200)
    _prepare_demo(Config(), console)
    _prepare_demo(Config(), console)
    first, second = out.getvalue().splitlines()
    assert (
        first.startswith("demo: 336 logs of ") and second == "demo: the demo logs are already in .vectortrainer/demo.db"
    )
