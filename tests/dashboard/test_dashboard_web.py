"""The web dashboard: Streamlit AppTest on recorded runs (each view, rollback through the UI,
damaged runs), and an end-to-end check in headless Chromium."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from fake_openai import VALID_KEY, FakeOpenAIServer
from vector_trainer._layout import function_dirname
from vector_trainer.cli import main
from vector_trainer.dashboard._web_views import LOSS_COLOR, STRATEGY_COLORS
from vector_trainer.dashboard.runview import DASHBOARD_TOKEN_ENV, DASHBOARD_TOKEN_PARAM, write_actions_allowed
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.gate import ModelRegistry
from vector_trainer.pipeline import TrainingPipeline
from vector_trainer.sources.store import SQLiteLogStore
from vector_trainer.synthesizer import HookScriptGenerator, RuleSetSynthesizer, load_feedback
from vector_trainer.synthesizer.versions import HookVersionManager
from vector_trainer.training import OpenAITrainer

PERSONA_DIR = function_dirname("persona_chat")
APP = str(Path(importlib.util.find_spec("vector_trainer.dashboard").submodule_search_locations[0]) / "webapp.py")
SECRET = "sk-dashboard-SECRET-never-shown-123456"
SESSION_TOKEN = "session-token-for-the-tests"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded demo (dry run) plus a full run whose training went through the real openai
    client to the local stand-in server, so it has real job metrics."""
    base = tmp_path_factory.mktemp("dashboard")
    cwd = Path.cwd()
    os.chdir(base)
    try:
        assert main(["demo", "--out", "runs/demo"]) == 0
    finally:
        os.chdir(cwd)
    feedback = load_feedback(
        Path(importlib.util.find_spec("vector_trainer").origin).parent / "demo" / "demo_feedback.jsonl"
    )
    persona = [p for p in feedback if p.context.get("function_name") == "persona_chat"]
    hook_path = base / "runs" / "demo" / PERSONA_DIR / "hook" / "generated_prompt_hook.py"
    rules = RuleSetSynthesizer().synthesize(persona[:3]).rules
    HookScriptGenerator().generate(rules, hook_path)  # a second version, v0002, now active
    with FakeOpenAIServer() as server, SQLiteLogStore(base / ".vectortrainer" / "demo.db") as store:
        trainer = OpenAITrainer(api_key=VALID_KEY, base_url=server.base_url, model="gpt-4o-mini", max_budget_usd=5)
        pipeline = TrainingPipeline(
            DensityBasedExtractor(store, top_k=20),
            RuleSetSynthesizer(),
            trainer,
            sleep=lambda _s: None,
            poll_interval_s=0,
        )
        pipeline.run("persona_chat", persona, base / "runs" / "full" / "persona_chat", wait=True)
    return base / "runs"


def app(
    runs_root: Path, monkeypatch: pytest.MonkeyPatch, run: Path | None = None, *, token: str | None = None
) -> AppTest:
    monkeypatch.setenv("VECTORTRAINER_RUNS", str(runs_root))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv(DASHBOARD_TOKEN_ENV, SESSION_TOKEN)
    at = AppTest.from_file(APP, default_timeout=60)
    if token is not None:
        at.query_params[DASHBOARD_TOKEN_PARAM] = token
    at.run()
    if run is not None:
        at.selectbox(key="run").select(str(run)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def chart_rows(chart):
    """The data a chart was sent with (Arrow IPC in the element's datasets)."""
    import pyarrow as pa

    frames = [pa.ipc.open_stream(ds.data.data).read_all().to_pandas() for ds in chart.proto.datasets]
    return frames[0]


def test_overview_projection_density_and_training_curves(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(runs, monkeypatch, runs / "full" / "persona_chat")
    assert at.header[0].value == "persona_chat: ok"
    titles = [
        spec.get("title", {}).get("text") if isinstance(spec.get("title"), dict) else spec.get("title")
        for spec in chart_specs(at)
    ]
    assert titles == ["Log vectors, 2-D PCA", "Training curves", "Density D(i) distribution"]
    projection = chart_specs(at)[0]
    assert projection["encoding"]["color"]["scale"]["range"] == [
        STRATEGY_COLORS[k] for k in ("steady", "anomaly", "unselected")
    ]
    curves = chart_specs(at)[1]
    assert curves["resolve"]["scale"]["y"] == "independent"  # loss ~1-10 and accuracy 0-1, each readable
    curve_rows = chart_rows(at.get("vega_lite_chart")[1])
    assert sorted(set(curve_rows["step"])) == [1, 2, 3]
    assert set(curve_rows["metric"]) == {"train loss", "accuracy"}
    assert (
        len(chart_rows(at.get("vega_lite_chart")[0]))
        == json.loads((runs / "full" / "persona_chat" / "projection.json").read_text())["n_shown"]
    )
    assert {m.label: m.value for m in at.metric}["training"] == "succeeded"


def test_golden_rules_and_training_views(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(runs, monkeypatch, runs / "demo" / PERSONA_DIR, token=SESSION_TOKEN)
    report = json.loads((runs / "demo" / PERSONA_DIR / "golden.report.json").read_text())
    golden = next(d for d in at.dataframe if {"strategy", "user", "assistant"} <= set(d.value.columns))
    assert (golden.value["strategy"] != "feedback").sum() == report["examples"]["written"]
    assert (golden.value["strategy"] == "feedback").sum() > 0  # the fixes are trained on too (issue 27)
    assert any("strip_prefix" in str(d.value) for d in at.dataframe)  # the rules table
    assert {s.key for s in at.selectbox} == {"run", "diff_from", "diff_to", "rollback_version"}
    assert any(c.language == "diff" for c in at.code)
    assert any(m.label == "estimated cost" for m in at.metric)
    assert SECRET not in str(at._tree)  # the API key is never shown


def test_rollback_through_the_ui(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = runs / "demo" / PERSONA_DIR
    manager = HookVersionManager(run / "hook" / ".hook_versions", run / "hook" / "generated_prompt_hook.py")
    assert manager.active().version_id == "v0002"
    for presented in (None, "guessed-" + SESSION_TOKEN):  # a websocket client without the printed link
        at = app(runs, monkeypatch, run, token=presented)
        assert not [b for b in at.button if b.key == "rollback_button"]
        assert any(i.value.startswith("Read-only session") for i in at.info)
    at = app(runs, monkeypatch, run, token=SESSION_TOKEN)
    assert at.selectbox(key="rollback_version").options == ["v0001"]  # never the active one
    assert at.button(key="rollback_button").disabled  # nothing confirmed
    at.selectbox(key="rollback_version").select("v0001").run()
    assert at.button(key="rollback_button").disabled  # still needs the confirmation
    at.checkbox(key="rollback_confirm").check().run()
    at.button(key="rollback_button").click().run()
    assert any(s.value.startswith("v0001 is now the active hook") for s in at.success)
    assert manager.active().version_id == "v0001"
    assert manager.active_path.read_text() == manager.source("v0001")
    manager.rollback("v0002")  # leave the shared fixture as it was


@pytest.fixture(scope="module")
def looped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two loop cycles through the real openai client to the local stand-in: the first trains a
    model that answers better than the base model (promoted), the second (new feedback) one that
    answers no better than the first (rejected)."""
    base = tmp_path_factory.mktemp("looped")
    cwd, saved = Path.cwd(), {k: os.environ.get(k) for k in ("OPENAI_API_KEY",)}
    os.chdir(base)
    try:
        os.environ.pop("OPENAI_API_KEY", None)
        assert main(["demo", "--out", "warmup"]) == 0
        feedback = Path(importlib.util.find_spec("vector_trainer").origin).parent / "demo" / "demo_feedback.jsonl"
        with FakeOpenAIServer() as server:
            server.script.polls_before_done = 0
            server.script.chat_reply = lambda r: r["messages"][-1]["content"] if r["model"].startswith("ft:") else "?"
            os.environ["OPENAI_API_KEY"] = VALID_KEY
            loop = ["loop", "--once", "--store", ".vectortrainer/demo.db", "--out", "runs", "--function",
                    "support_faq", "--base-url", server.base_url, "--wait", "--poll-interval", "0"]  # fmt: skip
            assert main(loop) == 0
            # another selection (a byte-identical training file would reuse the first job: issue 30)
            assert main([*loop, "--feedback", str(feedback), "--top-k", "20"]) == 0
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return base / "runs"


def test_the_gate_tab_shows_decisions_registry_and_cycles(looped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = looped / function_dirname("support_faq")
    at = app(looped, monkeypatch, home / "cycles" / "c0002")

    def frame(*columns: str):
        return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))

    tables = [d.value for d in at.dataframe if {"metric", "candidate", "low", "high"} <= set(d.value.columns)]
    hook_and_model = [["no_damage"], ["compliance", "exact", "similarity"]]
    assert [sorted(t["metric"]) for t in tables] == hook_and_model
    assert all((t["n"] > 0).all() for t in tables)
    models = frame("model_id", "active", "provider")
    assert list(models["model_id"]) == ["m0001", "m0002"] and list(models["active"]) == [True, False]
    cycles = frame("cycle", "why")
    assert list(cycles["cycle"]) == ["c0001", "c0002"] and "the feedback changed" in cycles["why"].iloc[1]
    assert any(w.value.startswith("the incumbent stays") for w in at.warning)  # m0002 is no better
    titles = [spec.get("title") for spec in chart_specs(at)]
    assert "model: difference and confidence interval" in titles
    charts = dict(zip(titles, at.get("vega_lite_chart"), strict=True))
    interval = chart_rows(charts["model: difference and confidence interval"])
    assert {"difference", "low", "high"} <= set(interval.columns)
    assert any(i.value.startswith("Read-only session") for i in at.info)  # no token: no model rollback


def test_model_rollback_through_the_ui(looped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = looped / function_dirname("support_faq")
    at = app(looped, monkeypatch, home / "cycles" / "c0001", token=SESSION_TOKEN)
    assert at.selectbox(key="model_rollback_version").options == ["m0002"]  # never the active one
    assert at.button(key="model_rollback_button").disabled
    at.checkbox(key="model_rollback_confirm").check().run()
    at.button(key="model_rollback_button").click().run()
    assert any(s.value.startswith("m0002 is now the active model") for s in at.success)
    registry = ModelRegistry(home / "models")
    assert registry.active().model_id == "m0002" and registry.history()[-1]["action"] == "rollback"
    registry.rollback("m0001")  # leave the shared fixture as it was


def test_an_ungated_run_says_how_to_gate_it(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(runs, monkeypatch, runs / "full" / "persona_chat")
    assert any(i.value.startswith("This run was not gated") for i in at.info)


def test_damaged_and_empty_runs_are_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app(tmp_path / "nothing-here", monkeypatch)
    assert "No runs under" in at.warning[0].value
    half = tmp_path / "runs" / "half"
    half.mkdir(parents=True)
    (half / "state.json").write_text('{"function_name": "half", "stages": {"extract": {"status": "done"}}}')
    (half / "events.jsonl").write_text('{"kind": "stage_start", "stage": "extract"}\n{not json\n')
    (half / "golden.report.json").write_text('{"examples": {"written": 0}, "selected": []')  # half-written
    at = app(tmp_path / "runs", monkeypatch)
    assert at.header[0].value == "half: in progress (2 damaged: see Problems)"
    problems = " | ".join(w.value for w in at.warning)
    assert "skipped 1 corrupted line" in problems
    assert "golden.report.json cannot be read" in problems
    assert "no summary.json" in problems
    assert any("No projection yet" in i.value for i in at.info)


def test_misshapen_files_cost_a_section_not_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "runs" / "odd"
    run.mkdir(parents=True)
    (run / "state.json").write_text('{"function_name": "odd", "stages": ["extract", "train"], "training": 3}')
    (run / "cost.json").write_text('{"estimated_usd": "lots"}')
    (run / "rules.json").write_text('{"conflicts": [{"kind": "x"}, "not a conflict"]}')  # unforeseen
    at = app(tmp_path / "runs", monkeypatch)
    assert not at.exception
    assert at.header[0].value.startswith("odd: in progress (") and "damaged: see Problems" in at.header[0].value
    problems = " | ".join(w.value for w in at.warning)
    assert "state.json: 'stages' is not an object; ignored" in problems
    assert "state.json: 'training' is not an object" in problems
    assert "cost.json: 'estimated_usd' is not a number" in problems
    errors = [e.value for e in at.error]
    assert any(e.startswith("Rules & hook cannot be shown: a file of this run is damaged") for e in errors)
    assert at.tabs[3].children  # the Training tab still rendered


def test_write_actions_need_the_configured_token() -> None:
    assert not write_actions_allowed("anything", {})  # no token configured: read-only
    assert not write_actions_allowed(None, {DASHBOARD_TOKEN_ENV: "t0ken"})
    assert not write_actions_allowed("", {DASHBOARD_TOKEN_ENV: ""})
    assert not write_actions_allowed("t0ken!", {DASHBOARD_TOKEN_ENV: "t0ken"})
    assert write_actions_allowed("t0ken", {DASHBOARD_TOKEN_ENV: "t0ken"})


def test_cli_execs_streamlit_with_the_token_in_its_environment(tmp_path, mocker, capsys) -> None:
    execve = mocker.patch("os.execve")
    main(["dashboard", str(tmp_path), "--port", "8599"])
    program, argv, env = execve.call_args.args
    assert program == sys.executable and argv[1:4] == ["-m", "streamlit", "run"]
    token = env[DASHBOARD_TOKEN_ENV]
    assert len(token) >= 32 and token not in " ".join(argv)  # /proc/PID/cmdline is world-readable
    assert f"http://127.0.0.1:8599/?{DASHBOARD_TOKEN_PARAM}={token}" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _count_near(image, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int(np.count_nonzero(np.all(np.abs(pixels - np.asarray(rgb, dtype=np.int16)) <= tolerance, axis=-1)))


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.mark.slow
@pytest.mark.integration
def test_dashboard_in_headless_chromium(runs: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    playwright_missing = importlib.util.find_spec("playwright") is None
    if browser is None or playwright_missing:
        if os.environ.get("VECTORTRAINER_REQUIRE_INTEGRATION") == "1":
            pytest.fail("needs Debian's chromium (apt-get install chromium) and the playwright package")
        pytest.skip("needs Debian's chromium and the playwright package")
    from PIL import Image

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vector_trainer.cli",
            "dashboard",
            str(runs / "full" / "persona_chat"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OPENAI_API_KEY": SECRET},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the dashboard did not start")
        shot = tmp_path / "dashboard.png"
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=browser,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = chromium.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.wait_for_function(
                'document.querySelectorAll(\'[data-testid="stVegaLiteChart"] canvas, '
                '[data-testid="stVegaLiteChart"] svg\').length >= 3',
                timeout=60_000,
            )
            page.wait_for_timeout(1500)  # let vega finish drawing
            headers = page.locator("h2").all_inner_texts()
            page.screenshot(path=str(shot), full_page=True)
            chromium.close()
        assert any("persona_chat: ok" in h for h in headers)
        assert shot.exists(), "chromium wrote no screenshot"
        image = Image.open(shot)
        assert _count_near(image, _rgb(STRATEGY_COLORS["steady"])) > 50, "projection (steady points) not rendered"
        assert _count_near(image, _rgb(STRATEGY_COLORS["anomaly"])) > 20, "projection (anomaly points) not rendered"
        assert _count_near(image, _rgb(LOSS_COLOR)) > 50, "training loss curve not rendered"
    finally:
        server.terminate()  # SIGTERM to the PID the CLI started: that PID is Streamlit itself
        server.wait(timeout=30)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "Streamlit kept serving after its PID was stopped"


def test_importing_the_app_runs_nothing(tmp_path: Path) -> None:
    """Issue 29: ``import vector_trainer.dashboard.webapp`` (a documentation build, a test
    collector) used to run the whole app; now only Streamlit's run of the script does."""
    code = (
        "import streamlit as st\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('the app ran on import')\n"
        "st.set_page_config = refuse\n"
        "import vector_trainer.dashboard.webapp as app\n"
        "assert callable(app.main)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
