"""Issue 17: the exact pass's row order, first floors and tiles on several threads
(extractor/engines/exact/_locality.py, extractor/engines/exact/_tile_kernel.py, extractor/engines/exact/tiles.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from conftest import clustered
from vector_trainer.errors import ConfigError
from vector_trainer.extractor.engines.exact._locality import locality_order
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.exact.tiles import blas_threads, run_tiles, tile_order


@pytest.mark.parametrize("n_blocks", [1, 2, 3, 6, 7, 25])
def test_tile_order_lists_each_pair_once_in_disjoint_rounds(n_blocks: int) -> None:
    tiles = tile_order(n_blocks)
    assert sorted(tiles) == [(i, j) for i in range(n_blocks) for j in range(i + 1, n_blocks)]
    round_size = n_blocks // 2
    for start in range(0, len(tiles), max(round_size, 1)):
        blocks = [b for tile in tiles[start : start + round_size] for b in tile]
        assert len(blocks) == len(set(blocks)), "a round's tiles share a block"


def test_run_tiles_never_overlaps_tiles_sharing_a_block_and_keeps_their_order() -> None:
    tiles = [(i, i) for i in range(6)] + tile_order(6)
    running: set[int] = set()
    finished: list[tuple[int, int]] = []
    overlaps: list[tuple[int, int]] = []
    lock = threading.Lock()
    concurrent = threading.Event()

    def work(i: int, j: int) -> None:
        with lock:
            if {i, j} & running:
                overlaps.append((i, j))
            if running:
                concurrent.set()
            running.update((i, j))
        time.sleep(0.002)
        with lock:
            running.difference_update((i, j))
            finished.append((i, j))

    run_tiles(tiles, work, workers=3)
    assert not overlaps
    assert concurrent.is_set(), "no two tiles ever ran at once"
    assert sorted(finished) == sorted(tiles)
    for block in range(6):  # the tiles touching a block finish in list order
        touching = [tile for tile in tiles if block in tile]
        assert [tile for tile in finished if block in tile] == touching


def test_run_tiles_reraises_a_workers_error_and_stops() -> None:
    calls: list[tuple[int, int]] = []

    def work(i: int, j: int) -> None:
        calls.append((i, j))
        if (i, j) == (0, 1):
            raise ValueError("tile failed")

    with pytest.raises(ValueError, match="tile failed"):
        run_tiles(tile_order(12), work, workers=2)
    assert len(calls) < len(tile_order(12))


@pytest.mark.parametrize("knn", [0, 16])
def test_threaded_pass_gives_the_serial_figures_bit_for_bit(knn: int) -> None:
    """Tiles sharing a block run in list order, so every sum is added in the same order."""
    pytest.importorskip("numba")
    X, _ = clustered([150, 100, 60, 40], dim=12, spread=0.25, seed=11)
    serial = ExactEngine(block=24, knn=knn, fused=True, workers=1).density(X, threshold=0.6)
    threaded = ExactEngine(block=24, knn=knn, fused=True, workers=3).density(X, threshold=0.6)
    np.testing.assert_array_equal(threaded.density, serial.density)
    np.testing.assert_array_equal(threaded.neighbor_count, serial.neighbor_count)
    np.testing.assert_array_equal(threaded.nearest_similarity, serial.nearest_similarity)
    if knn:
        np.testing.assert_array_equal(threaded.knn_index, serial.knn_index)


def test_workers_and_list_width_are_checked() -> None:
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        ExactEngine(workers=0)
    with pytest.raises(ConfigError, match="knn must be >= 0"):
        ExactEngine(knn=-1)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_rows_of_other_float_types_give_the_float32_figures(dtype) -> None:
    X, _ = clustered([40, 30], dim=8, spread=0.2, seed=5)
    expected = ExactEngine(block=16, fused=True).density(X.astype(dtype).astype(np.float32), threshold=0.6)
    result = ExactEngine(block=16, fused=True).density(X.astype(dtype), threshold=0.6)
    np.testing.assert_array_equal(result.density, expected.density)
    np.testing.assert_array_equal(result.knn_index, expected.knn_index)


def test_blas_threads_is_at_least_one() -> None:
    assert blas_threads() >= 1


def test_overlapping_passes_leave_blas_threads_as_they_were() -> None:
    """BLAS limits are process-wide: two passes in two threads must not restore each other's."""
    pytest.importorskip("numba")
    X, _ = clustered([120, 80], dim=8, spread=0.3, seed=3)
    before = blas_threads()
    errors: list[BaseException] = []

    def one_pass() -> None:
        try:
            for _ in range(3):
                ExactEngine(block=16, fused=True, workers=2).density(X, threshold=0.6)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert blas_threads() == before


def test_locality_order_puts_each_cluster_in_few_blocks() -> None:
    X, labels = clustered([256] * 8, dim=16, spread=0.1, seed=4)
    order = locality_order(X, block=256, seed=0)
    assert sorted(order.tolist()) == list(range(len(X)))
    blocks_per_cluster = [len(set((np.flatnonzero(labels[order] == c) // 256).tolist())) for c in range(8)]
    assert max(blocks_per_cluster) <= 3  # a random order spreads each cluster over all 8 blocks
    np.testing.assert_array_equal(order, locality_order(X, block=256, seed=0))  # seeded


@pytest.mark.parametrize("width", [5, 64, 300, 1000])
def test_first_floor_is_at_most_each_rows_kth_best(width: int) -> None:
    """The diagonal tile's floor bound: never above the row's k-th best (else the list could
    lose an entry), exact when the row is narrow, and -inf when the row has fewer than k entries."""
    kernels = pytest.importorskip("vector_trainer.extractor.engines.exact._tile_kernel")
    rng = np.random.default_rng(width)
    tile = rng.uniform(-1, 1, size=(40, width)).astype(np.float32)
    tile[:, ::7] = -np.inf  # self-similarities and padding
    tile[3] = tile[3, 1]  # ties
    k = 16
    floors = kernels.kth_largest_floor(tile, k)
    finite = np.isfinite(tile).sum(axis=1)
    padded = np.hstack((tile, np.full((len(tile), k), -np.inf, dtype=np.float32)))
    kth = np.where(finite >= k, -np.sort(-padded, axis=1)[:, k - 1], -np.inf)
    assert (floors <= kth).all()
    if width <= kernels.FLOOR_GROUPS_PER_RANK * k:
        np.testing.assert_array_equal(floors, kth)
    else:
        distinct = np.arange(len(tile)) != 3  # row 3 is all ties
        assert (floors > -np.inf).all() and ((tile >= floors[:, None]).sum(axis=1)[distinct] <= 2 * k).all()
