"""Pages of raw vectors converted in one pass (issue 31): the same vectors and the same verdicts
as converting each object alone."""

from __future__ import annotations

import numpy as np
import pytest

from vector_trainer._shared import vector_problem
from vector_trainer.sources.vector_pages import arrow_vectors, extract_vector, log_vectors, page_vectors

RAWS = [
    [0.1, 0.2, 0.3],
    {"default": [1.0, 0.0, 0.0]},
    {"other": [0.0, 2.0, 0.0]},  # no default: the first named vector
    None,
    {},
    [0.0, 0.0, 0.0],  # VectorWave Lite's row without a vector
    [],
    [float("nan"), 1.0, 0.0],
    [1e39, 1.0, 0.0],  # beyond float32
    [1e-30, 0.0, 0.0],  # float32 norm underflows
    [0.5, 0.5, 0.5, 0.5],  # another length
    np.array([0.3, 0.2, 0.1], dtype=np.float32),
    (1, 2, 3),
]


def test_a_page_gives_each_objects_own_vector_and_verdict() -> None:
    page = page_vectors(RAWS)
    assert len(page) == len(RAWS)
    problems = page.reasons
    for row, (raw, got) in enumerate(zip(RAWS, page.values(), strict=True)):
        alone = extract_vector(raw)
        if alone is None:
            assert got is None, raw
            continue
        assert got is not None
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), alone, rtol=1e-6)
        assert vector_problem(got) == vector_problem(alone), raw
        assert (got.dtype == np.float32) == (vector_problem(alone) is None), raw  # usable rows: float32
        assert problems.get(row) == vector_problem(alone), raw


def test_usable_rows_share_one_float32_block_per_length() -> None:
    page = page_vectors([[1.0, 2.0], None, [3.0, 4.0], [1.0, 2.0, 3.0], [float("nan"), 1.0]])
    assert sorted(page.blocks) == [2, 3]
    np.testing.assert_array_equal(page.blocks[2], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(page.rows_of(2), [0, 2])
    np.testing.assert_array_equal(page.block_of(np.array([2, 0])), [[3.0, 4.0], [1.0, 2.0]])
    assert page.value(0).base is page.value(2).base is not None
    assert page.reasons == {1: "missing_vector", 4: "non_finite_vector"}


def test_logs_own_vectors_keep_their_values_and_verdicts() -> None:
    """A source with only ``iter_executions``: each log's vector is paged as the log holds it."""
    values = [
        np.array([1.0, 0.0], dtype=np.float32),
        np.zeros(2, dtype=np.float32),  # a log's zero vector is "zero", not "missing"
        [0.5, 0.5],  # a list a custom source left as it is
        np.array([np.nan, 1.0], dtype=np.float32),
        {"default": [1.0, 2.0]},
        None,
        np.array([1.0, 2.0, 3.0]),
    ]
    page = log_vectors(values)
    problems = page.reasons
    for row, value in enumerate(values):
        assert problems.get(row) == vector_problem(value), value
        if row in problems:
            assert page.value(row) is value
        else:
            np.testing.assert_allclose(page.value(row), np.asarray(value, dtype=np.float64), rtol=1e-6)
    np.testing.assert_array_equal(page.rows_of(2), [0, 2])


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (["a", "b"], "malformed_vector"),
        ("1,2", "malformed_vector"),
        ({"default": "1,2"}, "malformed_vector"),
        ([1j, 2.0], "malformed_vector"),
        ([[1.0, 2.0], [3.0]], "malformed_vector"),  # ragged
        ([[1.0, 2.0]], "malformed_vector"),  # nested
        (np.array(["x", "y"], dtype=object), "malformed_vector"),
        ([10**400, 1.0], "non_finite_vector"),  # an integer beyond float64
    ],
)
def test_what_is_not_a_vector_is_kept_for_the_extractor_to_name(raw, reason: str) -> None:
    """Found by this stop's trial: such rows failed the whole read with numpy's own error, naming
    no record; now the row is kept as it came and the extractor excludes it by uuid."""
    page = page_vectors([[1.0, 2.0], raw])
    np.testing.assert_array_equal(page.value(0), [1.0, 2.0])
    assert vector_problem(page.value(1)) == reason == page.reasons[1]


def test_a_hostile_vector_excludes_its_log_by_uuid(tmp_path) -> None:
    from types import SimpleNamespace

    from conftest import FakeLegacyManager, clustered
    from vector_trainer.extractor import DensityBasedExtractor
    from vector_trainer.sources.vectorwave import VectorWaveLegacyAdapter

    X, _ = clustered([20, 20], dim=8, spread=0.3, seed=3)
    objects = [
        SimpleNamespace(
            uuid=f"u{i:03d}",
            properties={"function_name": "fn", "status": "SUCCESS", "q": f"q{i}", "return_value": f'"a{i}"'},
            vector={"default": [[1.0], [2.0, 3.0]] if i == 7 else ("abc" if i == 9 else X[i].tolist())},
        )
        for i in range(len(X))
    ]
    result = DensityBasedExtractor(VectorWaveLegacyAdapter(FakeLegacyManager(objects)), top_k=4).extract(
        "fn", tmp_path / "golden.jsonl"
    )
    excluded = {e.uuid: e.reason for e in result.report.excluded}
    assert excluded == {"u007": "malformed_vector", "u009": "malformed_vector"}


def test_an_arrow_column_of_fixed_size_lists_becomes_one_block() -> None:
    pa = pytest.importorskip("pyarrow")
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    column = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), 3).slice(1, 3)
    page = arrow_vectors(column)
    np.testing.assert_array_equal(page.blocks[3], X[1:])
    zero_row = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(6, dtype=np.float32)), 3)
    assert arrow_vectors(zero_row).reasons == {0: "missing_vector", 1: "missing_vector"}  # Lite's "no vector"
    with_null = pa.array([[1.0, 2.0], None], type=pa.list_(pa.float32(), 2))
    page = arrow_vectors(with_null)
    np.testing.assert_array_equal(page.value(0), [1.0, 2.0])
    assert page.value(1) is None
