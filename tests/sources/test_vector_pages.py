"""Pages of raw vectors converted in one pass (issue 31): the same vectors and the same verdicts
as converting each object alone."""

from __future__ import annotations

import numpy as np
import pytest

from vector_trainer._shared import vector_problem
from vector_trainer.sources.vector_pages import arrow_rows, extract_vector, page_vectors

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
    for raw, got in zip(RAWS, page, strict=True):
        alone = extract_vector(raw)
        if alone is None:
            assert got is None, raw
            continue
        assert got is not None
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), alone, rtol=1e-6)
        assert vector_problem(got) == vector_problem(alone), raw
        assert (got.dtype == np.float32) == (vector_problem(alone) is None), raw  # usable rows: float32


def test_usable_rows_share_one_float32_block() -> None:
    page = page_vectors([[1.0, 2.0], [3.0, 4.0]])
    assert page[0].base is not None and page[0].base is page[1].base


def test_what_is_not_a_list_of_numbers_fails_as_it_did_alone() -> None:
    with pytest.raises(ValueError, match="could not convert"):
        extract_vector(["a", "b"])
    with pytest.raises(ValueError, match="could not convert"):
        page_vectors([[1.0, 2.0], ["a", "b"]])


def test_an_arrow_column_of_fixed_size_lists_becomes_rows_of_one_array() -> None:
    pa = pytest.importorskip("pyarrow")
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    column = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), 3).slice(1, 3)
    rows = arrow_rows(column)
    assert all(isinstance(row, np.ndarray) for row in rows)
    np.testing.assert_array_equal(np.stack(rows), X[1:])
    with_null = pa.array([[1.0, 2.0], None], type=pa.list_(pa.float32(), 2))
    assert arrow_rows(with_null) == [[1.0, 2.0], None]
    assert page_vectors(arrow_rows(with_null))[1] is None
