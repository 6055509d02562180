"""The Ray engine on a local Ray with 2 CPUs, against the exact engine (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import clustered, make_log, require_modules
from vector_trainer.errors import EmptyDataError, MissingDependencyError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.epsilon import choose_epsilon
from vector_trainer.sources.columnar import ParquetLogs
from vector_trainer.sources.columnar_export import export_parquet
from vector_trainer.sources.memory import InMemoryLogs

pytestmark = pytest.mark.slow
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
#: Noise per dimension of the repeated real vectors (each copy is a paraphrase-like variant).
COPY_NOISE = 0.02


@pytest.fixture(scope="module")
def local_ray():
    require_modules(("ray", "pyarrow", "faiss"), "pip install -e '.[distributed]'")
    from vector_trainer.extractor.distributed.engine import connect

    ray = connect(None, num_cpus=2)
    yield ray
    ray.shutdown()


def _require_real_data() -> None:
    """Skip, naming the path, where the checkout has no ``../shared`` beside it (CI has it)."""
    if not SHARED.is_dir():
        pytest.skip(f"no real data at {SHARED}")


def _real(n: int) -> np.ndarray:
    _require_real_data()
    base = np.vstack(
        [
            np.load(SHARED / "banking77" / "banking77_minilm_f16.npy"),
            np.load(SHARED / "nluplusplus_hotels" / "hotels_minilm_f16.npy"),
        ]
    ).astype(np.float32)
    rng = np.random.default_rng(5)
    copies = [base] + [
        base + COPY_NOISE * rng.standard_normal(base.shape, dtype=np.float32) for _ in range(n // len(base))
    ]
    return normalize_rows(np.vstack(copies)[:n])


def test_20k_real_vectors_match_the_exact_engine(local_ray) -> None:
    from vector_trainer.extractor.distributed.engine import RayEngine

    X = _real(20_000)
    threshold = choose_epsilon(X, "auto").threshold
    exact = ExactEngine().density(X, threshold)
    stages: list[str] = []
    engine = RayEngine(on_progress=lambda stage, done, total: stages.append(stage))
    approx = engine.density(X, threshold)
    recall = approx.neighbor_count.sum() / exact.neighbor_count.sum()
    has = exact.density > 0
    error = np.abs(approx.density - exact.density)[has] / exact.density[has]
    assert recall >= 0.95
    assert error.mean() <= 0.02
    assert (approx.neighbor_count <= exact.neighbor_count).all()  # a cell scan can only miss neighbours
    hits = sum(
        np.intersect1d(a, b).size for a, b in zip(exact.knn_index[:, :10], approx.knn_index[:, :10], strict=True)
    )
    assert hits / exact.knn_index[:, :10].size >= 0.9
    assert approx.approximate and approx.engine == "ray"
    assert "neighbour recall" in approx.note and "Ray tasks" in approx.note
    assert {"statistics", "scan", "collect"} <= set(stages)


def _banking_source(n: int) -> tuple[InMemoryLogs, dict[str, str]]:
    _require_real_data()
    rows = json.loads((SHARED / "banking77" / "banking77_rows.json").read_text(encoding="utf-8"))
    X = np.load(SHARED / "banking77" / "banking77_minilm_f16.npy").astype(np.float32)
    train = [i for i, r in enumerate(rows) if r[2] == "train"][:n]
    source = InMemoryLogs.from_arrays("bank", X[train], [rows[i][0] for i in train], [rows[i][1] for i in train])
    return source, {f"bank-{j}": rows[i][1] for j, i in enumerate(train)}


def test_extraction_from_parquet_on_ray_selects_like_the_single_machine(local_ray, tmp_path) -> None:
    source, intent = _banking_source(10_003)
    export_parquet(source, tmp_path / "pq", rows_per_file=2048)
    parquet = ParquetLogs(tmp_path / "pq")
    steps: list[int] = []
    result = DensityBasedExtractor(parquet, top_k=77, engine="ray").extract(
        "bank", tmp_path / "ray" / "golden.jsonl", on_progress=lambda step, _total: steps.append(step)
    )
    single = DensityBasedExtractor(source, top_k=77).extract("bank", tmp_path / "one" / "golden.jsonl")
    report = json.loads(result.report_path.read_text(encoding="utf-8"))
    assert report["engine"]["name"] == "ray" and "neighbour recall" in report["engine"]["note"]
    assert "anomaly ranking exact" in report["engine"]["note"]
    assert report["logs"]["in_graph"] == 10_003
    assert steps == [0, 1, 2, 4]

    def picks(r, strategy):
        return {c.uuid for c in r.candidates if c.strategy.value == strategy}

    ray_steady, one_steady = picks(result, "steady"), picks(single, "steady")
    assert len(ray_steady) == 77
    covered = len({intent[u] for u in ray_steady})
    assert covered >= 0.9 * len({intent[u] for u in one_steady})
    assert len(picks(result, "anomaly") & picks(single, "anomaly")) >= 0.7 * len(picks(single, "anomaly"))
    lines = result.train_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(result.candidates)


def test_parquet_logs_that_cannot_be_nodes_are_reported_and_failed_stores_refused(local_ray, tmp_path) -> None:
    X, _ = clustered([40, 30], dim=8, spread=0.1, seed=1)
    logs = [make_log(i, X[i]) for i in range(70)]
    logs += [
        make_log(100, [1.0, 2.0]),
        make_log(101, None),
        make_log(102, [0.0] * 8),
        make_log(103, X[0], status="ERROR"),
    ]
    export_parquet(InMemoryLogs(logs), tmp_path / "pq", rows_per_file=16)
    extractor = DensityBasedExtractor(ParquetLogs(tmp_path / "pq"), top_k=5, engine="ray")
    result = extractor.extract("fn", tmp_path / "g.jsonl")
    labels = {c.uuid: c.strategy.value for c in result.candidates}
    projection = extractor.projection("fn", labels, max_points=len(labels) + 3)  # wrong-sized rows left out
    shown = {p["uuid"] for p in projection["points"]}
    assert set(labels) <= shown and "000100-log" not in shown and len(shown) == len(labels) + 3
    excluded = {e.uuid: e.reason for e in result.report.excluded}
    assert excluded == {
        "000100-log": "dimension_mismatch: 2-d, expected 8-d",
        "000101-log": "missing_vector",
        "000102-log": "zero_vector",
    }
    assert result.report.in_graph == 70
    export_parquet(InMemoryLogs([make_log(i, X[i], status="ERROR") for i in range(5)]), tmp_path / "bad")
    with pytest.raises(EmptyDataError, match="all 5 logs of 'fn' failed"):
        DensityBasedExtractor(ParquetLogs(tmp_path / "bad"), engine="ray").extract("fn", tmp_path / "b.jsonl")


def test_without_ray_the_engine_names_the_extra(monkeypatch) -> None:
    import builtins

    from vector_trainer.extractor.distributed.engine import RayEngine

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("no ray")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MissingDependencyError, match=r"distributed"):
        RayEngine()


def test_the_cli_exports_the_demo_store_and_runs_on_it_with_ray(local_ray, tmp_path, monkeypatch, capsys) -> None:
    from vector_trainer._layout import function_dirname
    from vector_trainer.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "single"]) == 0
    assert main(["export-logs", "pq", "--store", ".vectortrainer/demo.db"]) == 0
    assert "--source parquet --store pq --engine ray" in capsys.readouterr().out
    assert main(["run", "--source", "parquet", "--store", "pq", "--engine", "ray", "--out", "ray-run"]) == 0
    for function in ("persona_chat", "support_faq"):
        run = tmp_path / "ray-run" / function_dirname(function)
        report = json.loads((run / "golden.report.json").read_text(encoding="utf-8"))
        single = json.loads((tmp_path / "single" / function_dirname(function) / "golden.report.json").read_text())
        assert report["engine"]["name"] == "ray"
        assert report["logs"]["by_status"] == single["logs"]["by_status"]
        assert report["examples"]["steady"] > 0 and report["examples"]["anomaly"] > 0
        projection = json.loads((run / "projection.json").read_text(encoding="utf-8"))
        assert projection["n_total"] == report["logs"]["total"]
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        assert summary["status"] == "ok"
        events = [json.loads(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()]
        scans = [e for e in events if e["kind"] == "progress" and e["stage"] == "extract: scan tasks"]
        assert scans and scans[-1]["current"] == scans[-1]["total"]  # a bar per stage, following the tasks
    assert main(["export-logs", "pq", "--store", "missing.db"]) == 2


def test_an_unreachable_or_malformed_cluster_address_fails_at_once() -> None:
    require_modules(("ray",), "pip install -e '.[distributed]'")
    from vector_trainer.errors import ConfigError, VectorTrainerError
    from vector_trainer.extractor.distributed.engine import _check_reachable

    with pytest.raises(VectorTrainerError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1"):
        _check_reachable("127.0.0.1:1")
    with pytest.raises(ConfigError, match=r"extractor\.ray_address: expected host:port"):
        _check_reachable("not a host")
