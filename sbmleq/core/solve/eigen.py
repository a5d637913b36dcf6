"""The largest real part of the eigenvalues of many small matrices at once (stability checks).

The batched verification (:func:`sbmleq.core.solve.batched.batched_verify`) classifies every
verified point by the eigenvalues of its reduced Jacobian; in a parameter scan of a stiff
20-species model that is most of the time left once Newton starts from a neighbour's answer
(docs/scan.md). Two exact savings:

- the stack's common sparsity splits each matrix into the diagonal blocks of its strongly
  connected components (a permutation makes it block triangular, so its eigenvalues are the
  blocks' eigenvalues): a 1x1 block is its own eigenvalue, larger blocks go to LAPACK;
- LAPACK on the whole stack at once (one call per block, no Python loop per item): torch's
  (MKL, a core dependency) when torch is already loaded, else NumPy's (OpenBLAS). MKL's
  ``geev`` is ~1.7x faster on 13x13 matrices, but torch's import costs 1-4 s, so only a scan
  large enough to win that back loads it (:func:`use_torch_for`).

Measured on BIOMD0000000389's reduced Jacobians (15x15, blocks of 13 and 2), one thread, a
loaded machine: 37-50 us per matrix split against 75-90 us for ``np.linalg.eigvals`` on the
whole matrices; torch on the 13x13 blocks 35-49 us against NumPy's 57-95 us.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["max_real_parts", "use_torch_for", "TORCH_WORTH"]

TORCH_WORTH = 2e8  # sum of m^3 over a scan's matrices from which loading torch pays
SPLIT_UP_TO = 128  # larger matrices are not split (the reachability costs m^3 log m)


def use_torch_for(work: float) -> bool:
    """Load torch (for its LAPACK) when ``work`` (the sum of ``m^3`` over the matrices to
    come) is at least ``TORCH_WORTH`` (~60,000 matrices of 15x15: ~1.5 s of eigenvalues
    saved, about its import); True when torch is loaded."""
    if "torch" in sys.modules:
        return True
    if work < TORCH_WORTH:
        return False
    try:
        import torch  # noqa: F401 - loaded for its LAPACK (module docstring)
    except ImportError:
        return False
    return True


def _eigvals(a: np.ndarray) -> np.ndarray:
    """Eigenvalues of the stack ``a`` (B, k, k): torch's LAPACK when torch is loaded."""
    torch = sys.modules.get("torch")
    if torch is not None and a.shape[-1] > 2:
        try:
            with torch.no_grad():
                return torch.linalg.eigvals(torch.from_numpy(np.ascontiguousarray(a))).numpy()
        except RuntimeError:  # no convergence for some item: NumPy raises for it
            pass
    return np.linalg.eigvals(a)


def _components(pattern: np.ndarray) -> list[np.ndarray]:
    """The strongly connected components of the directed graph ``i -> j`` where
    ``pattern[i, j]``: ``i`` and ``j`` are in one when each reaches the other (reachability
    by repeated squaring of ``I + A``; each component a sorted index array)."""
    m = len(pattern)
    reach = (pattern | np.eye(m, dtype=bool)).astype(np.float64)
    for _ in range(max(1, int(np.ceil(np.log2(max(m, 2)))))):
        reach = np.minimum(reach @ reach, 1.0)
    both = (reach > 0) & (reach > 0).T
    label = np.argmax(both, axis=1)  # the smallest index of each one's component
    return [np.flatnonzero(label == k) for k in np.unique(label)]


def max_real_parts(jr: np.ndarray) -> np.ndarray:
    """``max Re(eig(jr[b]))`` for every finite square matrix of the stack ``jr`` (B, m, m);
    ``-inf`` for ``m = 0``. Exact (LAPACK on each strongly connected block)."""
    jr = np.asarray(jr, dtype=np.float64)
    n_items, m = jr.shape[0], jr.shape[-1]
    out = np.full(n_items, -np.inf)
    if m == 0 or n_items == 0:
        return out
    if m <= 2 or m > SPLIT_UP_TO:
        return _eigvals(jr).real.max(axis=-1)
    pattern = np.any(jr != 0, axis=0)
    np.fill_diagonal(pattern, False)
    blocks = _components(pattern) if pattern.any() else [np.array([i]) for i in range(m)]
    if len(blocks) == 1:
        return _eigvals(jr).real.max(axis=-1)
    for idx in blocks:
        if len(idx) == 1:
            out = np.maximum(out, jr[:, idx[0], idx[0]])
        else:
            out = np.maximum(out, _eigvals(jr[:, idx[:, None], idx]).real.max(axis=-1))
    return out
