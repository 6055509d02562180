"""Compiled kernels (numba) for the exact density pass of :class:`~.engines.ExactEngine`.

BLAS computes each similarity tile ``S = X_I X_J^T``; these kernels read what the pass needs
from it in a single sweep, so the work after the product is one read of the tile:

* ``tile_pass``: each row's (and, for an off-diagonal tile, each column's) edge count and
  density, the sums over ``S[i, j] >= t`` (float32 within a tile, float64 across tiles), in a
  branch-free loop that LLVM vectorises; then, per row, a vectorised pass flags the entries
  that reach a floor and a scan of the flagged ones appends every entry at or above its
  row's floor to the row's candidate buffer and, transposed, every entry at or above its
  column's floor to the column's. A buffer holds ``2k`` entries; when it fills it is cut to its
  ``k`` best and the row's floor rises to the ``k``-th (amortised O(1) per candidate, memory
  ``O(n k)``).
* ``finish_lists``: each row's ``k`` best buffered entries, best first, into the lists of
  :class:`~.knn.RunningTopK`.
* ``kth_largest``: each row's ``r``-th largest entry (the sampled floor of a diagonal tile).

Each call runs on one thread and writes only its tile's rows and columns, so the engine runs
a tile per core, each on one BLAS thread (:mod:`._tiles`); measured on two cores, a kernel
parallel inside one tile (``prange``) loses more to OpenBLAS's spinning worker threads than it
gains. This module imports numba, so the engine imports it on first use
(:func:`._fused.load_kernels`) and falls back to its NumPy reductions when numba is missing;
the compiled code is cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

# Reassociation lets LLVM vectorise float reductions; no "nnan"/"ninf": tiles hold -inf.
FASTMATH_FLAGS = ("reassoc", "nsz", "contract")
_jit = numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=set(FASTMATH_FLAGS))
# Helpers called per row or per entry are inlined: a call that passes arrays costs numba
# reference-count updates, more than the helper's own work.
_inline = numba.njit(cache=True, nogil=True, boundscheck=False, fastmath=set(FASTMATH_FLAGS), inline="always")


@_inline
def _row_sums(tile, i, t, with_columns, col_density, col_count):
    """Edge count and density of row ``i`` (added to its columns' too): branch-free, so LLVM
    vectorises it."""
    acc = np.float32(0.0)
    edges = np.float32(0.0)
    if with_columns:
        for j in range(tile.shape[1]):
            s = tile[i, j]
            hit = s >= t
            v = s if hit else np.float32(0.0)  # a select, not s * hit: s may be -inf
            m = np.float32(1.0) if hit else np.float32(0.0)
            acc += v
            edges += m
            col_density[j] += v
            col_count[j] += m
    else:
        for j in range(tile.shape[1]):
            s = tile[i, j]
            hit = s >= t
            acc += s if hit else np.float32(0.0)
            edges += np.float32(1.0) if hit else np.float32(0.0)
    return acc, edges


@_inline
def _flag_candidates(tile, i, row_floor, col_floor, with_columns, flags):
    """``flags[j] = 1`` where ``tile[i, j]`` reaches its row's or its column's floor, in one
    vectorised pass; returns how many (the scan then visits only flagged 8-entry words)."""
    hits = 0
    if with_columns:
        for j in range(tile.shape[1]):
            s = tile[i, j]
            flag = np.uint8(1) if (s >= row_floor) | (s >= col_floor[j]) else np.uint8(0)
            flags[j] = flag
            hits += flag
    else:
        for j in range(tile.shape[1]):
            flag = np.uint8(1) if tile[i, j] >= row_floor else np.uint8(0)
            flags[j] = flag
            hits += flag
    return hits


@_jit
def _compact(buf_sims, buf_cols, row, k):
    """Keep the ``k`` best of a full buffer row (ties at the cut: the earliest); returns the
    ``k``-th best, the row's new floor."""
    kth = np.partition(buf_sims[row].copy(), buf_sims.shape[1] - k)[buf_sims.shape[1] - k]
    above = 0
    for q in range(buf_sims.shape[1]):
        above += 1 if buf_sims[row, q] > kth else 0
    ties = k - above
    kept = 0
    for q in range(buf_sims.shape[1]):
        s = buf_sims[row, q]
        if s > kth or (s == kth and ties > 0):
            if s == kth:
                ties -= 1
            buf_sims[row, kept] = s
            buf_cols[row, kept] = buf_cols[row, q]
            kept += 1
    return kth


@_inline
def _offer(buf_sims, buf_cols, buf_len, floor, first_floor, k, row, s, col):
    """Append ``(s, col)`` to ``row``'s buffer; a full buffer is cut to its ``k`` best and the
    row's floor rises to their ``k``-th (amortised O(1) per candidate, no sort)."""
    m = buf_len[row]
    buf_sims[row, m] = s
    buf_cols[row, m] = col
    m += 1
    if m == buf_sims.shape[1]:
        floor[row] = max(first_floor[row], _compact(buf_sims, buf_cols, row, k))
        m = k
    buf_len[row] = m


@_jit
def tile_pass(
    tile, t, row0, col0, with_columns, diagonal, density, count, buf_sims, buf_cols, buf_len, floor, first_floor, k
):  # fmt: skip
    bi, bj = tile.shape
    col_density = np.zeros(bj, dtype=np.float32)
    col_count = np.zeros(bj, dtype=np.float32)
    col_floor = floor[col0 : col0 + bj]
    flags = np.zeros(-(-bj // 8) * 8, dtype=np.uint8)
    words = flags.view(np.uint64)
    for i in range(bi):  # one row at a time, so the row is read from memory once
        row = row0 + i
        acc, edges = _row_sums(tile, i, t, with_columns, col_density, col_count)
        density[row] += acc
        count[row] += np.int64(edges)
        if k == 0 or _flag_candidates(tile, i, floor[row], col_floor, with_columns, flags) == 0:
            continue
        for w in range(words.shape[0]):
            if words[w] == 0:
                continue
            for j in range(w * 8, min(bj, w * 8 + 8)):
                if not flags[j]:
                    continue  # floors only rise: an entry not flagged cannot reach one now
                s = tile[i, j]
                if s >= floor[row] and not (diagonal and j == i):  # a diagonal tile's own entry is no candidate
                    _offer(buf_sims, buf_cols, buf_len, floor, first_floor, k, row, s, col0 + j)
                if with_columns and s >= col_floor[j]:
                    _offer(buf_sims, buf_cols, buf_len, floor, first_floor, k, col0 + j, s, row)
    if with_columns:
        for j in range(bj):
            density[col0 + j] += col_density[j]
            count[col0 + j] += np.int64(col_count[j])


@_jit
def kth_largest(tile, r):
    bi, bj = tile.shape
    out = np.full(bi, -np.inf, dtype=np.float32)
    best = np.empty(r, dtype=np.float32)
    for i in range(bi):
        best[:] = -np.inf
        low = 0  # slot of the smallest of the r kept values
        for j in range(bj):
            s = tile[i, j]
            if s > best[low]:
                best[low] = s
                for q in range(r):
                    if best[q] < best[low]:
                        low = q
        out[i] = best[low]
    return out


@_jit
def finish_lists(buf_sims, buf_cols, buf_len, similarity, index):
    """Each row's ``k`` best buffered entries, best first, into ``similarity``/``index``."""
    k = similarity.shape[1]
    for row in range(buf_sims.shape[0]):
        m = buf_len[row]
        order = np.argsort(-buf_sims[row, :m], kind="mergesort")
        for q in range(min(k, m)):
            similarity[row, q] = buf_sims[row, order[q]]
            index[row, q] = buf_cols[row, order[q]]
