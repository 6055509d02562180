"""The exact density pass's tiles, run by several threads at once without locks on the results.

A tile ``X_I X_J^T`` writes only the rows of blocks ``I`` and ``J`` (their sums, lists and
floors), so two tiles that share no block can run at the same time. :func:`tile_order` lists
the upper triangle's off-diagonal tiles in round-robin rounds (the circle method), in which
consecutive tiles share no block, and :func:`run_tiles` hands each worker the first waiting tile
whose blocks no running tile touches.

Why threads with one BLAS thread each, not one multi-threaded BLAS call per tile: the per-tile
kernel (:mod:`._tile_kernel`) is single-threaded, so with one BLAS call at a time the other
cores idle while it runs; with a tile per core, each core multiplies and reduces its own tile
and the kernel's time is spread over the cores like the products'. BLAS calls and the compiled
kernel release the GIL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

#: A tile, as the indices of its row block and its column block.
Tile = tuple[int, int]

# threadpoolctl limits BLAS for the whole process and restores the old limit on exit, so two
# passes overlapping in time (two threads of one app) could restore each other's limit and leave
# BLAS on one thread for good; passes that limit BLAS take turns instead.
_BLAS_LIMIT_TURN = threading.Lock()


def tile_order(n_blocks: int) -> list[Tile]:
    """Every pair ``(i, j)``, ``i < j < n_blocks``, once, in rounds of pairwise-disjoint tiles."""
    slots = list(range(n_blocks)) + ([-1] if n_blocks % 2 else [])  # -1: a bye
    m = len(slots)
    tiles: list[Tile] = []
    for _ in range(m - 1):
        for q in range(m // 2):
            a, b = slots[q], slots[m - 1 - q]
            if a >= 0 and b >= 0:
                tiles.append((min(a, b), max(a, b)))
        slots = [slots[0], slots[-1], *slots[1:-1]]  # rotate all but the first
    return tiles


def blas_threads() -> int:
    """How many threads the BLAS library runs (1 when threadpoolctl cannot tell)."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts, default=1)


@contextmanager
def single_threaded_blas(workers: int) -> Iterator[None]:
    """BLAS on one thread while ``workers > 1`` threads each run their own products."""
    if workers <= 1:
        yield
        return
    from threadpoolctl import threadpool_limits

    with _BLAS_LIMIT_TURN, threadpool_limits(limits=1, user_api="blas"):
        yield


def run_tiles(  # noqa: C901 - one scheduler loop whose locks and waits must be read together
    tiles: Sequence[Tile], work: Callable[[int, int], None], workers: int
) -> None:
    """Call ``work(i, j)`` for each tile, on up to ``workers`` threads; two tiles sharing a block
    never run at once, and a tile starts only after every earlier tile sharing a block with it.

    Raises:
        Exception: The first exception a ``work`` call raised (the other workers stop taking tiles).
    """
    if workers <= 1 or len(tiles) <= 1:
        for i, j in tiles:
            work(i, j)
        return
    waiting = list(tiles)
    busy: set[int] = set()
    errors: list[BaseException] = []
    changed = threading.Condition()

    def next_tile() -> Tile | None:
        blocked: set[int] = set()  # blocks of earlier waiting tiles: a later tile must not overtake them
        for position, (i, j) in enumerate(waiting):
            if not ({i, j} & busy or {i, j} & blocked):
                busy.update((i, j))
                return waiting.pop(position)
            blocked.update((i, j))
        return None

    def worker() -> None:
        while True:
            with changed:
                tile = None
                while not errors and waiting and (tile := next_tile()) is None:
                    changed.wait()
                if tile is None:
                    return
            try:
                work(*tile)
            except BaseException as error:  # re-raised by the caller's thread below
                with changed:
                    errors.append(error)
            finally:
                with changed:
                    busy.difference_update(tile)
                    changed.notify_all()

    threads = [threading.Thread(target=worker, name=f"density-tiles-{q}") for q in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def run_chunks(count: int, work: Callable[[int], None], workers: int) -> None:
    """Call ``work(c)`` for ``c`` in ``range(count)`` on up to ``workers`` threads: chunks that
    share nothing (rows of a result each writes alone), run as :func:`run_tiles`' diagonal tiles."""
    run_tiles([(c, c) for c in range(count)], lambda c, _same: work(c), workers)
