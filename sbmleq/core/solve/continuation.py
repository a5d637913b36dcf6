"""Many parameter sets of one network solved by continuation: the fast path of a scan.

The sets are taken in levels of a seeded random order (:func:`level_order`): ``FIRST`` sets
whose Newton starts from the model's initial state (or, given ``known`` solved sets, none),
then levels that each quadruple the sets solved so far. Every set of a later level starts
from the verified state of its nearest solved set (in the scan's normalised coordinates:
log10 for log axes; a k-d tree), so its Newton begins next to its root: on BIOMD0000000389 one
iteration on average, against ~10 from the initial state. Each level is one batched damped
Newton (:func:`batched.batched_newton` without the final polish step, chunks of
``batch_size`` sets) and one batched verification (:func:`batched.batched_verify`: residual,
conservation class, sign, eigenvalues of the reduced Jacobian); a set whose Newton from its
neighbour does not end on a verified *stable* point tries again from the initial state.

What this does not give: the answer is a verified stable steady state of the set, on the
branch the continuation followed, and nothing says that the dynamics from the initial state
reach it (a bistable set may answer the other state). The sets it does not solve are returned
as such; the scan solves them with the full solver. Confirmation by simulation is the scan's
business (:mod:`sbmleq.general_scan`, docs/scan.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.solve.backends import make_backend
from sbmleq.core.solve.batched import _Batch, batched_newton, batched_verify
from sbmleq.core.solve.eigen import use_torch_for
from sbmleq.core.solve.outcome import SolveSettings
from sbmleq.core.solve.scale import ResidualScale
from sbmleq.core.solve.system import Reduction

__all__ = ["Continued", "BatchNewton", "continue_sets", "level_order", "START_NONE",
           "START_INITIAL", "START_NEIGHBOUR", "FIRST", "FACTOR"]

START_NONE, START_INITIAL, START_NEIGHBOUR = -1, 0, 1  # where a set's accepted Newton began
FIRST = 32  # sets of the first level (from the initial state)
FACTOR = 4  # each level brings the sets solved to this many times as many


@dataclass
class Continued:
    """Per set: the verified stable state (NaN row: not solved here), its relative residual,
    largest real part of the reduced Jacobian's eigenvalues, Newton iterations spent, where
    the accepted Newton started (``START_*``) and the root of its chain of starts (the known
    set, or the set solved from the initial state, that its start descends from)."""

    state: np.ndarray
    residual: np.ndarray
    max_real: np.ndarray
    iterations: np.ndarray
    start: np.ndarray
    root: np.ndarray  # the known or initial-state set its chain of starts goes back to (-1)

    @property
    def ok(self) -> np.ndarray:
        return self.start != START_NONE


def level_order(n_sets: int, seed: int = 0, known: int = 0, first: int = FIRST,
                factor: int = FACTOR) -> list[np.ndarray]:
    """The levels (index arrays into ``range(n_sets)``) of a seeded random order: ``first``
    sets, then each level ``factor - 1`` times the sets solved before it (``known`` of them
    before the first level: then the first level is already ``(factor - 1) * known``)."""
    order = np.random.default_rng(seed).permutation(n_sets)
    levels, start = [], 0
    size = (factor - 1) * known if known > 0 else max(1, first)
    while start < n_sets:
        levels.append(order[start:start + size])
        start += size
        size = (factor - 1) * (start + known)
    return levels


def _nearest(coords: np.ndarray, solved: np.ndarray, items: np.ndarray) -> np.ndarray:
    """For each of ``items`` the nearest of the ``solved`` sets (indices into the scan)."""
    from scipy.spatial import cKDTree  # scipy: the neighbour search of a scan

    _, k = cKDTree(coords[solved]).query(coords[items], k=1)
    return solved[np.asarray(k, dtype=np.int64)]


class BatchNewton:
    """Batched Newton + verification of chosen sets from chosen starts, in chunks of
    ``batch_size`` (each chunk's vectorised part bounded by ``settings.timeout``)."""

    def __init__(self, compiled: CompiledNetwork, p: np.ndarray, settings: SolveSettings,
                 batch_size: int = 2048, device: str | None = None) -> None:
        self.compiled, self.p, self.settings = compiled, p, settings
        self.batch_size = max(1, batch_size)
        self.be = make_backend(compiled, device)
        self.scaler = ResidualScale(compiled)
        self.x0 = compiled.x0

    def solve(self, items: np.ndarray, starts: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(state, stable and verified, residual, max real part, iterations) of ``items``
        (Newton from ``starts``, projected into each set's conservation class); the state is
        NaN where not stable and verified."""
        n = len(items)
        state = np.full((n, self.compiled.n_state), np.nan)
        good = np.zeros(n, bool)
        res, max_real = np.full(n, np.nan), np.full(n, np.nan)
        its = np.zeros(n, np.int64)
        for a in range(0, n, self.batch_size):
            sl = slice(a, a + self.batch_size)
            g = items[sl]
            deadline = time.monotonic() + self.settings.timeout
            b = _Batch(self.compiled, np.broadcast_to(self.x0, (len(g), len(self.x0))),
                       self.p[g], scaler=self.scaler)
            local = np.arange(len(g))
            x, conv, its[sl] = batched_newton(b, self.be, self.settings, deadline, local,
                                              starts[sl], polish=False)
            xs, ok, r, mr, stable = batched_verify(b, self.be, x, local, self.settings)
            keep = conv & ok & np.array([s is True for s in stable], dtype=bool)
            good[sl], state[sl], res[sl], max_real[sl] = keep, xs, r, mr
        state[~good] = np.nan
        return state, good, res, max_real, its


def continue_sets(compiled: CompiledNetwork, p: np.ndarray, coords: np.ndarray,
                  settings: SolveSettings, *, items: np.ndarray | None = None,
                  known: tuple[np.ndarray, np.ndarray] | None = None, batch_size: int = 2048,
                  seed: int = 0, device: str | None = None,
                  progress: Callable[[np.ndarray], None] | None = None) -> Continued:
    """Solve the rows ``items`` (default: all) of ``p`` (K, n_params) by continuation over
    ``coords`` (K, d) (module docstring). ``known``: (indices, states) of sets already solved
    (stable states, e.g. confirmed by simulation): the first neighbours, in place of a first
    level from the initial state. ``progress(solved)`` after every level with the sets it
    solved."""
    n_sets = len(p)
    items = np.arange(n_sets) if items is None else np.asarray(items, dtype=np.int64)
    out = Continued(np.full((n_sets, compiled.n_state), np.nan), np.full(n_sets, np.nan),
                    np.full(n_sets, np.nan), np.zeros(n_sets, np.int64),
                    np.full(n_sets, START_NONE, np.int8), np.full(n_sets, -1, np.int64))
    pool = np.zeros(n_sets, bool)  # the sets a neighbour's start can come from
    pool_state = np.full((n_sets, compiled.n_state), np.nan)
    if known is not None and len(known[0]):
        pool[known[0]], pool_state[known[0]] = True, known[1]
        out.root[known[0]] = known[0]
    solver = BatchNewton(compiled, p, settings, batch_size, device)
    use_torch_for(len(items) * float(Reduction.of(compiled).m) ** 3)  # faster eigenvalues
    x0 = compiled.x0
    for level in level_order(len(items), seed, known=int(pool.sum())):
        level = items[level]
        solved = np.flatnonzero(pool)
        left = level
        for kind in ([START_NEIGHBOUR, START_INITIAL] if len(solved) else [START_INITIAL]):
            if not len(left):
                break
            near = _nearest(coords, solved, left) if kind == START_NEIGHBOUR else left
            starts = (pool_state[near] if kind == START_NEIGHBOUR
                      else np.broadcast_to(x0, (len(left), len(x0))))
            state, good, res, max_real, its = solver.solve(left, starts)
            out.iterations[left] += its
            g = left[good]
            out.state[g], out.residual[g], out.max_real[g] = state[good], res[good], \
                max_real[good]
            out.start[g] = kind
            out.root[g] = out.root[near[good]] if kind == START_NEIGHBOUR else g
            pool[g], pool_state[g] = True, state[good]
            left = left[~good]
        if progress is not None:
            progress(level[out.ok[level]])
    return out
