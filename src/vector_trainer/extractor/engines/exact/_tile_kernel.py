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
* ``kth_largest_floor``: a lower bound on each row's ``r``-th largest entry (the first floor,
  from a diagonal tile).

Each call runs on one thread and writes only its tile's rows and columns, so the engine runs
a tile per core, each on one BLAS thread (:mod:`.tiles`); measured on two cores, a kernel
parallel inside one tile (``prange``) loses more to OpenBLAS's spinning worker threads than it
gains. This module imports numba, so the engine imports it on first use
(:func:`._fused.load_kernels`) and falls back to its NumPy reductions when numba is missing;
the compiled code is cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

#: Groups of columns per rank in :func:`kth_largest_floor` (more: a tighter bound, a longer pass).
FLOOR_GROUPS_PER_RANK = 4
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
    else:  # the same selects as above, named: written inline, LLVM leaves this loop scalar (10x slower)
        for j in range(tile.shape[1]):
            s = tile[i, j]
            hit = s >= t
            v = s if hit else np.float32(0.0)
            m = np.float32(1.0) if hit else np.float32(0.0)
            acc += v
            edges += m
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


@_jit
def _absorb(buf_sims, buf_cols, buf_len, floor, first_floor, k, row, sims, cols, n):
    """Append a row's ``n`` candidates from one tile to its buffer; a full buffer is cut to its
    ``k`` best and the row's floor rises to their ``k``-th (amortised O(1) per candidate)."""
    m = buf_len[row]
    for q in range(n):
        s = sims[q]
        if s < floor[row]:
            continue  # the floor rose since the candidate was flagged
        buf_sims[row, m] = s
        buf_cols[row, m] = cols[q]
        m += 1
        if m == buf_sims.shape[1]:
            floor[row] = max(first_floor[row], _compact(buf_sims, buf_cols, row, k))
            m = k
    buf_len[row] = m


@_jit
def tile_pass(  # noqa: C901 - one compiled loop over a tile; split, numba would not fuse it
    tile, t, row0, col0, with_columns, diagonal, density, count, buf_sims, buf_cols, buf_len, floor, first_floor, k
):  # fmt: skip
    """Edge sums and list candidates of one tile, rows ``row0..`` against columns ``col0..``.

    Every buffer keeps a free slot between tile rows (a full one is cut at once), and a tile row
    offers each column at most one entry, so the innermost loop appends to column buffers with
    no call in it: a call there (even one never taken) made every append several times dearer.
    A row's own candidates are gathered first and appended after its scan (:func:`_absorb`).
    """
    bi, bj = tile.shape
    col_density = np.zeros(bj, dtype=np.float32)
    col_count = np.zeros(bj, dtype=np.float32)
    col_floor = floor[col0 : col0 + bj]
    flags = np.zeros(-(-bj // 8) * 8, dtype=np.uint8)
    words = flags.view(np.uint64)
    flagged = np.empty(flags.shape[0] + 8, dtype=np.int64)
    row_sims = np.empty(bj, dtype=np.float32)
    row_cols = np.empty(bj, dtype=np.int32)
    filled = np.empty(bj, dtype=np.int64)
    width = buf_sims.shape[1]
    for i in range(bi):  # one row at a time, so the row is read from memory once
        row = row0 + i
        acc, edges = _row_sums(tile, i, t, with_columns, col_density, col_count)
        density[row] += acc
        count[row] += np.int64(edges)
        if k == 0 or _flag_candidates(tile, i, floor[row], col_floor, with_columns, flags) == 0:
            continue
        n_flagged = 0  # floors only rise: an entry not flagged cannot reach one now
        for w in range(words.shape[0]):
            if words[w] != 0:
                for j in range(w * 8, w * 8 + 8):  # branch-free: the flagged columns of the word
                    flagged[n_flagged] = j
                    n_flagged += flags[j]
        row_floor = floor[row]
        n_row = 0
        n_filled = 0
        for q in range(n_flagged):
            j = flagged[q]
            s = tile[i, j]
            if s >= row_floor and not (diagonal and j == i):  # a diagonal tile's own entry is no candidate
                row_sims[n_row] = s
                row_cols[n_row] = col0 + j
                n_row += 1
            if with_columns and s >= col_floor[j]:
                c = col0 + j
                m = buf_len[c]
                buf_sims[c, m] = s
                buf_cols[c, m] = row
                buf_len[c] = m + 1
                filled[n_filled] = c
                n_filled += 1 if m + 1 == width else 0
        for q in range(n_filled):  # restore every column buffer's free slot
            c = filled[q]
            floor[c] = max(first_floor[c], _compact(buf_sims, buf_cols, c, k))
            buf_len[c] = k
        if n_row:
            _absorb(buf_sims, buf_cols, buf_len, floor, first_floor, k, row, row_sims, row_cols, n_row)
    if with_columns:
        for j in range(bj):
            density[col0 + j] += col_density[j]
            count[col0 + j] += np.int64(col_count[j])


@_jit
def kth_largest_floor(tile, r):
    """A lower bound on each row's ``r``-th largest entry (``-inf`` when it has fewer than ``r``
    finite ones), cheap enough for every diagonal tile.

    The row's columns are dealt into ``g = min(width, FLOOR_GROUPS_PER_RANK * r)`` groups
    (column ``j`` into group ``j mod g``) and the bound is the ``r``-th largest of the groups'
    maxima: those ``r`` maxima are ``r`` distinct entries of the row, so the row's ``r``-th
    largest is at least as large. It is exact when the row's best ``r`` entries fall in distinct
    groups (always when ``width <= g``); strided groups keep similar neighbouring columns apart.
    The ``r``-th largest maximum is found bit by bit on the floats' order-preserving integer
    keys (32 counting passes over ``g`` keys, branch-free), not by a heap whose branches the
    processor cannot predict.
    """
    bi, bj = tile.shape
    groups = min(bj, FLOOR_GROUPS_PER_RANK * r)
    out = np.full(bi, -np.inf, dtype=np.float32)
    if groups < r:
        return out
    maxima = np.empty(groups, dtype=np.float32)
    bits = maxima.view(np.int32)
    keys = np.empty(groups, dtype=np.int64)
    for i in range(bi):
        maxima[:] = -np.inf
        for c0 in range(0, bj, groups):  # contiguous runs of the groups: vectorised maxima
            for g in range(min(groups, bj - c0)):
                maxima[g] = max(maxima[g], tile[i, c0 + g])
        for g in range(groups):  # IEEE order as integer order: negatives flipped below positives
            b = np.int64(bits[g])
            keys[g] = (b ^ np.int64(0x7FFFFFFF)) if b < 0 else b
        prefix = np.int64(-(1 << 31))  # the r-th largest key, found from its highest bit down
        for bit in range(31, -1, -1):
            candidate = prefix + np.int64(1 << bit)
            at_least = 0
            for g in range(groups):
                at_least += 1 if keys[g] >= candidate else 0
            if at_least >= r:
                prefix = candidate
        bits[0] = np.int32((prefix ^ np.int64(0x7FFFFFFF)) if prefix < 0 else prefix)
        out[i] = maxima[0]  # the key's bits read back as the float they came from
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
