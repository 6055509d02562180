"""``epsilon="auto"``: one rule that gives the typical log about ten neighbours on any embedding."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import numpy as np
import pytest

from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.epsilon import AUTO_NEIGHBOURS, choose_epsilon, kth_similarities
from vector_trainer.sources.embedders import HashingEmbedder


def _demo_rows() -> list[dict]:
    data = resources.files("vector_trainer.demo").joinpath("demo_logs.jsonl.gz").read_bytes()
    rows = [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]
    return [r for r in rows if r["status"] == "SUCCESS"]


def _texts_and_minilm() -> tuple[list[str], np.ndarray]:
    rows = _demo_rows()
    texts = [r["input"] if isinstance(r["input"], str) else json.dumps(r["input"]) for r in rows]
    return texts, normalize_rows(np.asarray([r["vector"] for r in rows], dtype=np.float32))


def _median_neighbours(X: np.ndarray, epsilon: float) -> float:
    return float(np.median(ExactEngine(knn=0).density(X, 1.0 - epsilon).neighbor_count))


@pytest.mark.parametrize("space", ["minilm", "hashing"])
def test_auto_gives_the_typical_log_about_ten_neighbours(space: str) -> None:
    texts, minilm = _texts_and_minilm()
    X = minilm if space == "minilm" else normalize_rows(HashingEmbedder().embed(texts))
    choice = choose_epsilon(X, "auto")
    assert choice.requested == "auto" and f"{AUTO_NEIGHBOURS}th nearest neighbour" in choice.rule
    assert 0.0 < choice.epsilon < 1.0
    assert AUTO_NEIGHBOURS - 2 <= _median_neighbours(X, choice.epsilon) <= AUTO_NEIGHBOURS + 2


def test_one_fixed_epsilon_means_different_graphs_on_different_models() -> None:
    """Why the default is auto: 0.3 is a different neighbourhood on each embedding."""
    texts, minilm = _texts_and_minilm()
    hashing = normalize_rows(HashingEmbedder().embed(texts))
    fixed = (_median_neighbours(minilm, 0.3), _median_neighbours(hashing, 0.3))
    auto = (
        _median_neighbours(minilm, choose_epsilon(minilm, "auto").epsilon),
        _median_neighbours(hashing, choose_epsilon(hashing, "auto").epsilon),
    )
    assert max(fixed) >= 3 * max(min(fixed), 1)
    assert abs(auto[0] - auto[1]) <= 3


def test_a_given_number_is_used_as_is_and_reported() -> None:
    X = normalize_rows(np.random.default_rng(0).normal(size=(40, 8)))
    assert choose_epsilon(X, 0.25).epsilon == 0.25 and choose_epsilon(X, 0.25).rule == "given"


def test_degenerate_stores_get_a_valid_epsilon() -> None:
    one = normalize_rows(np.ones((1, 4)))
    duplicates = normalize_rows(np.ones((30, 4)))
    assert choose_epsilon(one, "auto").epsilon == 1.0
    assert 0.0 < choose_epsilon(duplicates, "auto").epsilon <= 0.01


def test_the_report_says_how_epsilon_was_chosen(tmp_path) -> None:
    from conftest import ListSource, make_log

    texts, minilm = _texts_and_minilm()
    logs = [make_log(i, v, text=t) for i, (v, t) in enumerate(zip(minilm, texts, strict=True))]
    DensityBasedExtractor(ListSource(logs), top_k=10).extract("fn", tmp_path / "g.jsonl")
    parameters = json.loads((tmp_path / "g.report.json").read_text())["parameters"]
    assert parameters["epsilon_requested"] == "auto"
    assert parameters["epsilon_rule"].startswith("auto: 1 - median similarity")
    assert parameters["similarity_threshold"] == pytest.approx(1 - parameters["epsilon"], abs=1e-6)


@pytest.mark.parametrize("workers", [1, 3])
def test_the_sampled_kth_similarities_do_not_depend_on_the_threads(workers: int) -> None:
    """Blocks of the sample run a block per thread; each row's k-th similarity is the same as
    sorting its row of the full product."""
    rng = np.random.default_rng(4)
    X = normalize_rows(rng.normal(size=(700, 12)).astype(np.float32))
    rows = np.sort(rng.choice(700, 600, replace=False))  # more than one block of rows
    sims = X[rows] @ X.T
    sims[np.arange(rows.size), rows] = -np.inf
    expected = np.sort(sims, axis=1)[:, -AUTO_NEIGHBOURS]
    got = kth_similarities(X, rows, AUTO_NEIGHBOURS, workers=workers)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
