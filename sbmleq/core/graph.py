"""Reachability on directed graphs given as edge arrays (one search for many networks)."""

from __future__ import annotations

import numpy as np


def reaches(n: int, src: np.ndarray, dst: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Boolean per node: has a directed path (possibly empty) along ``src -> dst`` to a target.

    One breadth-first search backwards from a virtual sink fed by every target; the graph may be a
    disjoint union of many networks (global node indices), which is how the batched path uses it.
    """
    from scipy.sparse import csr_matrix  # lazy: scipy.sparse costs ~0.1 s to import
    from scipy.sparse.csgraph import breadth_first_order

    if len(targets) == 0:
        return np.zeros(n, dtype=bool)
    rows = np.concatenate([dst, np.full(len(targets), n)])
    cols = np.concatenate([src, targets])
    # CSR of the reversed graph built directly (the search needs no sorted or merged entries).
    indptr = np.zeros(n + 2, np.int64)
    np.cumsum(np.bincount(rows, minlength=n + 1), out=indptr[1:])
    reverse = csr_matrix((np.ones(len(rows)), cols[np.argsort(rows)], indptr),
                         shape=(n + 1, n + 1))
    order = breadth_first_order(reverse, n, directed=True, return_predecessors=False)
    seen = np.zeros(n + 1, dtype=bool)
    seen[order] = True
    return seen[:n]
