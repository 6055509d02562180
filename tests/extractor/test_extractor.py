"""FR-1: the density graph, the engines, selection and the ChatML export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import (
    FakeLegacyManager,
    ListSource,
    clustered,
    fill_store,
    make_log,
    vectorwave_object,
)
from vector_trainer.chatml import is_valid_example
from vector_trainer.errors import ConfigError, EmptyDataError, InputError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines import knn as knn_module
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.source import ManagerEngine
from vector_trainer.types import SelectionStrategy


def _unit(angle_deg: float) -> list[float]:
    a = math.radians(angle_deg)
    return [math.cos(a), math.sin(a)]


class TestDensityMath:
    def test_hand_computed_graph(self) -> None:
        # Angles 0, 30, 60, 180 degrees: cos 30 = 0.866, cos 60 = 0.5, cos 180 = -1.
        X = normalize_rows(np.array([_unit(0), _unit(30), _unit(60), _unit(180)]))
        result = ExactEngine(block=2).density(X, threshold=0.7)
        c30 = math.cos(math.radians(30))
        np.testing.assert_allclose(result.density, [c30, 2 * c30, c30, 0.0], rtol=1e-6)
        np.testing.assert_array_equal(result.neighbor_count, [1, 2, 1, 0])
        np.testing.assert_allclose(result.nearest_similarity, [c30, c30, c30, math.cos(math.radians(120))], atol=1e-6)

    def test_threshold_edge_is_inclusive(self) -> None:
        # sim exactly 0.7 = 1 - epsilon(0.3): a neighbour (>=), despite float32 rounding.
        X = normalize_rows(np.array([[1.0, 0.0], [0.7, math.sqrt(1 - 0.49)]]))
        result = ExactEngine().density(X, threshold=1 - 0.3)
        np.testing.assert_array_equal(result.neighbor_count, [1, 1])
        np.testing.assert_allclose(result.density, [0.7, 0.7], rtol=1e-6)

    @pytest.mark.parametrize("fused", [True, False], ids=["fused", "numpy"])
    @pytest.mark.parametrize("threshold", [0.5, 0.0])
    def test_self_is_never_a_neighbour(self, threshold: float, fused: bool) -> None:
        X = normalize_rows(np.array([[1.0, 0.0]]))
        result = ExactEngine(fused=fused).density(X, threshold=threshold)
        assert result.neighbor_count.tolist() == [0]
        assert result.density.tolist() == [0.0]
        assert result.nearest_similarity.tolist() == [-1.0]
        two = ExactEngine(fused=fused).density(normalize_rows(np.array([[1.0, 0.0], [0.0, 1.0]])), threshold)
        assert two.neighbor_count.tolist() == ([1, 1] if threshold == 0.0 else [0, 0])  # epsilon = 1: sim 0 is an edge

    @pytest.mark.parametrize("fused", [True, False], ids=["fused", "numpy"])
    @pytest.mark.parametrize("block", [1, 7, 64, 4096])
    def test_blocked_equals_dense_reference(self, block: int, fused: bool) -> None:
        X, _ = clustered([40, 25, 10, 3], dim=12, spread=0.3, seed=3)
        result = ExactEngine(block=block, fused=fused).density(X, threshold=0.6)
        S = X.astype(np.float64) @ X.T.astype(np.float64)
        np.fill_diagonal(S, -np.inf)
        mask = S >= 0.6 - 1e-6
        np.testing.assert_allclose(result.density, np.where(mask, S, 0).sum(1), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(result.neighbor_count, mask.sum(1))
        np.testing.assert_allclose(result.nearest_similarity, S.max(1), atol=1e-5)

    @pytest.mark.parametrize("fused", [True, False], ids=["fused", "numpy"])
    @pytest.mark.parametrize(("n", "block", "k"), [(300, 16, 8), (1000, 97, 64), (50, 7, 64), (3, 2, 64), (1, 1, 64)])
    def test_neighbour_lists_are_exact(self, n: int, block: int, k: int, fused: bool) -> None:
        X = normalize_rows(np.random.default_rng(n).normal(size=(n, 6)))
        result = ExactEngine(block=block, knn=k, fused=fused).density(X, threshold=0.5)
        S = X.astype(np.float64) @ X.T.astype(np.float64)
        np.fill_diagonal(S, -np.inf)
        width = min(k, max(n - 1, 1))
        expected = -np.sort(-S, axis=1)[:, :width]
        got = result.knn_similarity
        assert got.shape == (n, width)
        np.testing.assert_allclose(
            np.where(np.isfinite(got), got, -9), np.where(np.isfinite(expected), expected, -9), atol=1e-5
        )
        found = result.knn_index >= 0
        np.testing.assert_allclose(
            np.take_along_axis(S, np.maximum(result.knn_index, 0), 1)[found], got[found], atol=1e-5
        )
        assert all(i not in row for i, row in enumerate(result.knn_index))

    @pytest.mark.parametrize("fused", [True, False], ids=["fused", "numpy"])
    def test_rows_whose_first_floor_is_too_high_are_recomputed(self, monkeypatch, fused: bool) -> None:
        """First floors raised above the safe k-th best still give exact lists."""
        seed_floors = knn_module.RunningTopK.seed_floors
        monkeypatch.setattr(knn_module.RunningTopK, "seed_floors", lambda top, r0, f: seed_floors(top, r0, f + 0.05))
        X, _ = clustered([200, 150, 60], dim=8, spread=0.2, seed=4)
        Xn = normalize_rows(X)
        result = ExactEngine(block=40, knn=32, fused=fused).density(Xn, threshold=0.7)
        S = Xn @ Xn.T
        np.fill_diagonal(S, -np.inf)
        np.testing.assert_allclose(result.knn_similarity, -np.sort(-S, axis=1)[:, :32], atol=1e-5)

    @pytest.mark.parametrize("knn", [0, 16])
    def test_fused_pass_equals_numpy_pass(self, knn: int) -> None:
        """The compiled pass (numba) gives the NumPy reductions' figures and lists."""
        pytest.importorskip("numba")
        X, _ = clustered([120, 80, 40], dim=10, spread=0.25, seed=9)
        fused = ExactEngine(block=32, knn=knn, fused=True).density(X, threshold=0.6)
        plain = ExactEngine(block=32, knn=knn, fused=False).density(X, threshold=0.6)
        np.testing.assert_allclose(fused.density, plain.density, rtol=1e-6)
        np.testing.assert_array_equal(fused.neighbor_count, plain.neighbor_count)
        np.testing.assert_allclose(fused.nearest_similarity, plain.nearest_similarity, atol=1e-6)
        if knn:
            np.testing.assert_allclose(fused.knn_similarity, plain.knn_similarity, atol=1e-6)

    def test_without_numba_the_numpy_pass_is_used(self, monkeypatch) -> None:
        from vector_trainer.extractor.engines.exact import engine as engines

        def compiled_pass(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("the compiled pass ran without numba")

        monkeypatch.setattr(engines, "load_kernels", lambda: None)  # numba missing: no kernels
        monkeypatch.setattr(engines, "FusedPass", compiled_pass)
        X, _ = clustered([30, 20], dim=6, spread=0.3, seed=2)
        result = ExactEngine(block=8, fused=True).density(X, threshold=0.6)
        sims = normalize_rows(X) @ normalize_rows(X).T
        np.fill_diagonal(sims, -1.0)
        np.testing.assert_array_equal(result.neighbor_count, (sims >= 0.6).sum(axis=1))

    def test_faiss_engine_density_is_uncapped_and_its_recall_measured(self) -> None:
        """Issue 17: nodes with more neighbours than the list width get their whole density (a
        range search), and the probe count rises until a sample meets the recall target."""
        pytest.importorskip("faiss")
        from vector_trainer.extractor.engines.faiss_ivf import FaissEngine

        X, _ = clustered([300, 200, 100, 50], dim=32, spread=0.08, seed=5)
        exact = ExactEngine().density(X, 0.7)
        assert (exact.neighbor_count > 64).mean() > 0.5  # most nodes are past the list width
        engine = FaissEngine(nprobe=1, calibration_sample=200, target_recall=0.99, max_probe_share=1.0)
        approx = engine.density(X, 0.7)
        assert approx.approximate and "neighbour recall" in approx.note
        assert engine.quality.recall >= 0.99 and engine.quality.nprobe > 1
        close = np.isclose(approx.density, exact.density, rtol=0.01)
        assert close.mean() >= 0.99
        hits = sum(len(np.intersect1d(a, b)) for a, b in zip(exact.knn_index, approx.knn_index, strict=True))
        assert hits / exact.knn_index.size >= 0.95

    def test_faiss_engine_hands_wide_neighbourhoods_to_the_exact_engine(self) -> None:
        """When the targets need more cells than it may probe, the result is the exact one."""
        pytest.importorskip("faiss")
        from vector_trainer.extractor.engines.faiss_ivf import FaissEngine

        X, _ = clustered([300, 200], dim=16, spread=0.3, seed=8)
        engine = FaissEngine(nprobe=1, calibration_sample=100, target_recall=1.0, max_probe_share=1 / 64)
        result = engine.density(X, 0.5)
        assert not engine.quality.met and result.note.startswith("exact:")
        np.testing.assert_array_equal(result.neighbor_count, ExactEngine().density(X, 0.5).neighbor_count)

    def test_faiss_engine_without_calibration_uses_the_given_probes(self) -> None:
        pytest.importorskip("faiss")
        from vector_trainer.extractor.engines.faiss_ivf import FaissEngine

        X, _ = clustered([60, 40], dim=8, spread=0.1, seed=7)
        engine = FaissEngine(nprobe=2, calibration_sample=0)
        result = engine.density(X, 0.7)
        assert engine.quality is None and "2/" in result.note and "recall" not in result.note

    def test_score_new_logs_through_the_store(self, store) -> None:
        X, _ = clustered([20, 10], dim=8, spread=0.1, seed=6)
        fill_store(store, [make_log(i, v) for i, v in enumerate(X)])
        extractor = DensityBasedExtractor(store, epsilon=0.3)
        fresh = [make_log(100, X[0] + 0.01), make_log(101, -X[0])]
        near, far = extractor.score_logs("fn", fresh)
        exact = ExactEngine().density(normalize_rows(np.vstack([X, fresh[0].vector])), 0.7)
        assert near["density"] == pytest.approx(float(exact.density[-1]), rel=1e-4)
        assert near["neighbor_count"] >= 10 and far["neighbor_count"] == 0 and far["density"] == 0.0
        with pytest.raises(InputError, match="log 000102-log: missing_vector"):
            extractor.score_logs("fn", [make_log(102, None)])

    def test_manager_engine_through_near_vector(self, store) -> None:
        X, _ = clustered([12, 6], dim=8, spread=0.1, seed=2)
        logs = [make_log(i, v) for i, v in enumerate(X)]
        fill_store(store, logs)
        ids = [log.uuid for log in logs]
        via_store = ManagerEngine(store, "fn", limit=50).density(X, 0.8, ids)
        exact = ExactEngine().density(X, 0.8)
        np.testing.assert_allclose(via_store.density, exact.density, rtol=1e-4, atol=1e-4)
        assert via_store.approximate


class TestSteadyState:
    def test_every_cluster_represented_before_a_second_pick(self) -> None:
        X, labels = clustered([60, 25, 10, 4], dim=16, spread=0.05, seed=7)
        logs = [make_log(i, v) for i, v in enumerate(X)]
        source = ListSource(logs)
        for top_k in (4, 6, 9):
            picks = DensityBasedExtractor(source, epsilon=0.3, top_k=top_k).select_steady_state("fn")
            label_of = {log.uuid: labels[i] for i, log in enumerate(logs)}
            first_four = {label_of[p.uuid] for p in picks[:4]}
            assert first_four == {0, 1, 2, 3}, top_k
            assert len(picks) == top_k

    def test_diffuse_large_regions_do_not_crowd_out_small_ones(self) -> None:
        """A pick represents every log as well as it really does, not only the logs that list it
        among their nearest: so a large, spread-out region gets no second pick while a small
        one has none (the sparse-only objective gave 3 of 5 here)."""
        X, labels = clustered([400, 200, 60, 15, 6], dim=32, spread=0.08, seed=12)
        logs = [make_log(i, v) for i, v in enumerate(X)]
        picks = DensityBasedExtractor(ListSource(logs), top_k=5).select_steady_state("fn")
        label_of = {log.uuid: labels[i] for i, log in enumerate(logs)}
        assert {label_of[p.uuid] for p in picks} == {0, 1, 2, 3, 4}

    def test_top_k_by_density_would_miss_clusters(self) -> None:
        X, labels = clustered([60, 25, 10, 4], dim=16, spread=0.05, seed=7)
        engine = ExactEngine().density(normalize_rows(X), 0.7)
        densest = np.argsort(-engine.density)[:4]
        assert len({labels[i] for i in densest}) == 1  # the naive rule the prototype used

    def test_representative_is_the_medoid_and_a_real_log(self) -> None:
        X, _ = clustered([30], dim=8, spread=0.1, seed=4)
        logs = [make_log(i, v) for i, v in enumerate(X)]
        pick = DensityBasedExtractor(ListSource(logs), top_k=1).select_steady_state("fn")[0]
        Xn = normalize_rows(X)
        medoid = int(np.argmax(Xn @ Xn.sum(0)))
        assert pick.uuid == logs[medoid].uuid
        assert pick.log is logs[medoid]
        assert pick.region_size == 30

    def test_only_success_logs_are_selected(self) -> None:
        X, _ = clustered([20, 20], dim=8, spread=0.05, seed=9)
        logs = [make_log(i, v, status="ERROR" if i % 2 else "SUCCESS") for i, v in enumerate(X)]
        ex = DensityBasedExtractor(ListSource(logs), top_k=50)
        picks = ex.select_steady_state("fn") + ex.select_anomalies("fn")
        assert picks and all(p.log.status == "SUCCESS" for p in picks)

    def test_identical_pairs_and_near_duplicates_appear_once(self) -> None:
        X, _ = clustered([20], dim=8, spread=0.05, seed=1)
        logs = [make_log(i, v) for i, v in enumerate(X)]
        dupes = [make_log(100 + i, X[0], text="question 0", output="answer 0") for i in range(5)]
        near = [make_log(200, X[1] + 1e-4)]
        ex = DensityBasedExtractor(ListSource(logs + dupes + near), top_k=50, dedup_threshold=0.999)
        picks = ex.select_steady_state("fn") + ex.select_anomalies("fn")
        contents = [(p.log.inputs["question"], p.log.output) for p in picks]
        assert len(contents) == len(set(contents))
        vectors = normalize_rows(np.stack([p.log.vector for p in picks]))
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, 0)
        assert sims.max() < 0.999


class TestAnomalies:
    def test_outliers_ranked_by_novelty_not_storage_order(self) -> None:
        X, _ = clustered([50, 30], dim=16, spread=0.05, seed=11)
        rng = np.random.default_rng(0)
        outliers = rng.normal(size=(6, 16))
        # Two outliers made close to a cluster (but outside epsilon): less novel than the rest.
        outliers[0] = X[0] + 1.2 * rng.normal(size=16) / 4
        logs = [make_log(i, v) for i, v in enumerate(np.vstack([X, outliers]))]
        forward = DensityBasedExtractor(ListSource(logs), top_k=6).select_anomalies("fn")
        backward = DensityBasedExtractor(ListSource(list(reversed(logs))), top_k=6).select_anomalies("fn")
        assert [p.uuid for p in forward] == [p.uuid for p in backward]
        assert {p.uuid for p in forward} >= {logs[80 + i].uuid for i in range(1, 6)}
        scores = [p.score for p in forward]
        assert scores == sorted(scores, reverse=True)
        assert all(p.strategy is SelectionStrategy.ANOMALY for p in forward)

    def test_anomalies_are_low_density_and_a_planted_novel_log_ranks_first(self) -> None:
        X, _ = clustered([40, 40], dim=8, spread=0.05, seed=2)
        logs = [make_log(i, v) for i, v in enumerate(X)]
        novel = make_log(999, np.random.default_rng(5).normal(size=8))
        ex = DensityBasedExtractor(ListSource([*logs, novel]), top_k=20, anomaly_quantile=0.25)
        picks = ex.select_anomalies("fn")
        assert picks[0].uuid == novel.uuid
        cutoff = np.quantile(ex.analyze("fn").result.density, 0.25)
        assert all(p.density <= cutoff for p in picks)

    def test_a_near_twin_does_not_hide_a_new_pattern(self) -> None:
        """A new pattern seen twice (near-duplicates) still outranks every log of a dense region,
        including dense-region logs that have a near twin of their own."""
        X, _ = clustered([150, 100], dim=16, spread=0.08, seed=3)
        rng = np.random.default_rng(8)
        lone, pair = rng.normal(size=16), rng.normal(size=16)
        twins = [pair, pair + 0.002 * rng.normal(size=16), X[0] + 0.002 * rng.normal(size=16)]
        logs = [make_log(i, v) for i, v in enumerate([*X, lone, *twins])]
        picks = DensityBasedExtractor(ListSource(logs), top_k=5).select_anomalies("fn")
        ranked = [p.uuid for p in picks]
        assert ranked[0] in {logs[251].uuid, logs[252].uuid, logs[250].uuid}
        assert logs[250].uuid in ranked[:2] and {logs[251].uuid, logs[252].uuid} & set(ranked[:2])
        assert not {logs[251].uuid, logs[252].uuid} <= set(ranked)  # near-duplicates appear once
        assert logs[253].uuid not in ranked  # the dense-region twin is no anomaly


class TestExport:
    def _legacy_manager(self, n: int = 30) -> FakeLegacyManager:
        X, _ = clustered([n - 4], dim=8, spread=0.1, seed=3)
        rng = np.random.default_rng(1)
        rows = [
            vectorwave_object(i, v, question=f"How do I reset my password? #{i}", answer=f"Use the link {i}.")
            for i, v in enumerate(X)
        ]
        rows += [
            vectorwave_object(100 + i, rng.normal(size=8), question=f"novel {i}", answer={"k": i}) for i in range(3)
        ]
        rows.append(vectorwave_object(200, X[0], status="ERROR"))
        return FakeLegacyManager(rows)

    def test_chatml_has_real_input_and_decoded_output(self, tmp_path) -> None:
        ex = DensityBasedExtractor(self._legacy_manager(), top_k=5, system_prompt="Be brief.")
        result = ex.extract("fn", tmp_path / "golden.jsonl")
        lines = [json.loads(line) for line in (tmp_path / "golden.jsonl").read_text().splitlines()]
        assert len(lines) == result.n_examples > 0
        for example in lines:
            assert is_valid_example(example)
            system, user, assistant = example["messages"]
            assert system == {"role": "system", "content": "Be brief."}
            assert user["content"].startswith(("How do I reset my password?", "novel"))
            assert not assistant["content"].startswith('"')  # JSON quotes decoded
            assert "density" not in user["content"] and "fn" not in user["content"]
        novel = {
            u["content"]: a["content"] for _, u, a in (ex["messages"] for ex in lines) if u["content"][:5] == "novel"
        }
        assert novel, "the three random logs are anomalies and must be exported"
        assert all(answer == json.dumps({"k": int(question.split()[1])}) for question, answer in novel.items())
        report = json.loads((tmp_path / "golden.report.json").read_text())
        assert {s["uuid"] for s in report["selected"]} == {c.uuid for c in result.candidates}
        assert set(report["selected"][0]) >= {"uuid", "strategy", "density", "score"}

    def test_multiple_arguments_rendered_faithfully(self) -> None:
        log = make_log(1, [1.0, 0.0])
        log = type(log)(**{**log.__dict__, "inputs": {"question": "Hi?", "product": "VectorDesk"}})
        example = DensityBasedExtractor(ListSource([log])).to_example(log)
        assert example["messages"][1]["content"] == "question: Hi?\nproduct: VectorDesk"

    def test_nan_output_is_rejected_not_exported_as_text(self, tmp_path) -> None:
        rng = np.random.default_rng(3)
        logs = [make_log(i, rng.normal(size=8), output={"score": float("nan")} if i == 0 else None) for i in range(12)]
        with pytest.raises(InputError, match=r"000000-log: its input or output holds NaN"):
            DensityBasedExtractor(ListSource(logs)).to_example(logs[0])
        DensityBasedExtractor(ListSource(logs), top_k=12).extract("fn", tmp_path / "g.jsonl")
        assert "NaN" not in (tmp_path / "g.jsonl").read_text()
        report = json.loads((tmp_path / "g.report.json").read_text())
        assert report["logs"]["excluded"] == [{"uuid": "000000-log", "reason": "non_json_number"}]

    def test_output_is_deterministic(self, tmp_path) -> None:
        paths = []
        for run in range(2):
            out = tmp_path / f"run{run}" / "golden.jsonl"
            DensityBasedExtractor(self._legacy_manager(), top_k=5).extract("fn", out)
            paths.append(out.read_bytes())
        assert paths[0] == paths[1]

    def test_validation_split(self, tmp_path) -> None:
        result = DensityBasedExtractor(self._legacy_manager(), top_k=8, validation_fraction=0.25).extract(
            "fn", tmp_path / "g.jsonl"
        )
        assert result.validation_path is not None and result.validation_path.exists()
        n_val = len(result.validation_path.read_text().splitlines())
        n_train = len(result.train_path.read_text().splitlines())
        assert n_val >= 1 and n_val + n_train == result.n_examples

    def test_register_golden_writes_back_once(self, tmp_path) -> None:
        manager = self._legacy_manager()
        ex = DensityBasedExtractor(manager, top_k=3)
        first = ex.extract("fn", tmp_path / "g.jsonl", register_golden=True).report.golden_registration
        second = ex.extract("fn", tmp_path / "g.jsonl", register_golden=True).report.golden_registration
        assert first["written"] > 0 and first["already_registered"] == 0
        assert second == {"written": 0, "already_registered": first["written"]}
        assert all(tags["tags"][0] in {"steady", "anomaly"} for tags in manager.registered.values())


class TestSourcesAndBadInput:
    def test_legacy_fetch_objects_pages_past_1000(self) -> None:
        X, _ = clustered([1500], dim=4, spread=0.3, seed=0)
        manager = FakeLegacyManager([vectorwave_object(i, v) for i, v in enumerate(X)])
        analysis = DensityBasedExtractor(manager).analyze("fn")
        assert len(analysis.logs) == 1500
        assert len(manager.exec_col.query.calls) >= 3

    def test_list_vectors_and_iterator_shapes(self) -> None:
        X, _ = clustered([10], dim=4, seed=0)
        manager = FakeLegacyManager(
            [vectorwave_object(i, v, vector_as_dict=False) for i, v in enumerate(X)],
            with_iterator=True,
        )
        assert len(DensityBasedExtractor(manager).analyze("fn").logs) == 10

    def test_bad_vectors_excluded_and_reported(self, tmp_path) -> None:
        X, _ = clustered([20], dim=6, seed=0)
        logs = [make_log(i, v) for i, v in enumerate(X)]
        bad = [
            make_log(900, None),
            make_log(901, [float("nan")] * 6),
            make_log(902, [0.0] * 6),
            make_log(903, [1.0] * 5),
            make_log(904, [float("inf")] + [0.0] * 5),
        ]
        result = DensityBasedExtractor(ListSource(logs + bad), top_k=3).extract("fn", tmp_path / "g.jsonl")
        excluded = {e.uuid: e.reason for e in result.report.excluded}
        assert excluded == {
            "000900-log": "missing_vector",
            "000901-log": "non_finite_vector",
            "000902-log": "zero_vector",
            "000903-log": "dimension_mismatch: 5-d, expected 6-d",
            "000904-log": "non_finite_vector",
        }
        with pytest.raises(InputError, match="000901-log"):
            DensityBasedExtractor(ListSource(logs + bad), strict=True).analyze("fn")

    def test_empty_and_all_failing(self) -> None:
        with pytest.raises(EmptyDataError, match="no logs for function 'nope'"):
            DensityBasedExtractor(ListSource([make_log(0, [1.0, 0.0])])).analyze("nope")
        failing = [make_log(i, [1.0, float(i)], status="ERROR") for i in range(3)]
        with pytest.raises(EmptyDataError, match="all 3 logs of 'fn' failed"):
            DensityBasedExtractor(ListSource(failing)).analyze("fn")
        novec = [make_log(i, None) for i in range(3)]
        with pytest.raises(EmptyDataError, match="capture_return_value=True"):
            DensityBasedExtractor(ListSource(novec)).analyze("fn")

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"epsilon": 0}, "epsilon"),
            ({"epsilon": 1.5}, "epsilon"),
            ({"top_k": 0}, "top_k"),
            ({"min_cluster_size": 1}, "min_cluster_size"),
            ({"validation_fraction": 0.9}, "validation_fraction"),
        ],
    )
    def test_bad_parameters(self, kwargs, message) -> None:
        with pytest.raises(ConfigError, match=message):
            DensityBasedExtractor(ListSource([]), **kwargs)

    def test_not_a_source(self) -> None:
        with pytest.raises(InputError, match="not a log source"):
            DensityBasedExtractor(object())


def test_the_seed_api_keeps_golden_data_inside_its_folder(tmp_path, monkeypatch) -> None:
    """Issue 29: extract_golden_data wrote golden_data/<function_name>.jsonl unsanitised, so a
    function named ../escaped wrote beside golden_data."""
    from vector_trainer.sources.memory import InMemoryLogs
    from vector_trainer.types import ExecutionLog

    rng = np.random.default_rng(0)
    monkeypatch.chdir(tmp_path)
    for name in ("support_faq", "../escaped"):
        logs = [ExecutionLog(f"u{i}", name, "SUCCESS", {"q": f"q{i}"}, f"a{i}", vector=rng.normal(size=8))
                for i in range(30)]  # fmt: skip
        path = DensityBasedExtractor(InMemoryLogs(logs), top_k=3).extract_golden_data(name)
        assert path.resolve().parent == (tmp_path / "golden_data").resolve(), path
    assert (tmp_path / "golden_data" / "support_faq.jsonl").is_file()
    assert not (tmp_path / "escaped.jsonl").exists()
