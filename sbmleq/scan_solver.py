"""How a verified scan solves its parameter sets, and which answers simulation confirms.

Three modes (``confirm``), measured in docs/scan.md:

- ``"all"``: every set through :func:`sbmleq.core.solve.solve_batch` from the model's
  initial state: batched Newton, a batched stiff integration that confirms the trajectory
  reaches the answer, the single chain for the sets the batch does not settle. Every answer is
  what :func:`sbmleq.solve` gives for that set; the integration is ~95 % of the time.
- ``"none"``: continuation (:mod:`sbmleq.core.solve.continuation`): each set's Newton starts
  from a solved neighbour's state; the answer is a verified stable steady state (residual,
  conservation class, sign, eigenvalues) on the branch the continuation followed, not
  confirmed to be the one the dynamics reach (roadrunner's warm-started loop gives the same
  kind of answer, without the stability check). Sets it cannot solve go through
  ``solve_batch`` (those are confirmed).
- ``"sample"`` (default): a random sample of the sets (``confirm_n``; default the larger of
  ``SAMPLE_MIN`` and ``SAMPLE_SHARE`` of the sets) is solved as in ``"all"``, and the
  continuation starts from the sample's confirmed stable states, so each region follows the
  branch the dynamics reach at its sampled sets. Where that can be wrong, sets are confirmed:

  1. *another stable state between two sampled sets*: for every sampled set, Newton from the
     confirmed states of its ``NEIGHBOURS`` nearest sampled sets; one that ends on a
     different verified stable state (or on a stable state where the dynamics do not settle)
     means two branches meet there: every set whose continuation descends from either
     sampled set is confirmed;
  2. *a branch that ended*: sets whose Newton from the neighbour failed and that needed the
     initial state (a fold may be next to them) are confirmed;
  3. *flooding*: every unconfirmed set whose nearest confirmed set disagreed (its confirmed
     answer was not its continuation answer, it took part in check 1, or it is a sampled set
     whose dynamics do not settle: oscillation, growth) is confirmed, with its continuation
     territory, round after round, until agreeing sets fence the region in (after
     ``FLOOD_ROUNDS`` rounds, all the rest).

  What it can miss: a region where the dynamics reach another state that no sampled set
  falls in and that no branch check sees (smaller than the sample's spacing).

Every row says whether its answer was confirmed by simulation (``confirmed``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.solve import SolveSettings, SolveStatus, SteadyStateResult, solve_batch
from sbmleq.core.solve.continuation import START_INITIAL, BatchNewton, Continued, continue_sets
from sbmleq.core.solve.system import distance
from sbmleq.errors import InputError

__all__ = ["CONFIRM", "ScanAnswers", "solve_scan", "confirmed_by_simulation", "sample_size"]

CONFIRM = ("sample", "all", "none")
SAMPLE_MIN = 64  # sets confirmed by simulation in a "sample" scan, at least ...
SAMPLE_SHARE = 0.005  # ... or this share of the sets
NEIGHBOURS = 6  # sampled neighbours whose states each sampled set is tried from
FLOOD_ROUNDS = 20
CONTINUATION_BATCH = 2048  # sets per batched Newton of the continuation
VERIFIED = (SolveStatus.STABLE, SolveStatus.UNSTABLE)
DECIDED = (SolveStatus.STABLE, SolveStatus.UNSTABLE, SolveStatus.OSCILLATION,
           SolveStatus.UNBOUNDED)
STABLE = SolveStatus.STABLE.value
Progress = Callable[[int, int], None]


def confirmed_by_simulation(r: SteadyStateResult) -> bool:
    """Whether a trajectory from the initial state decided ``r`` (its state reached, its
    oscillation or growth seen): a decided status with an integration stage that ran."""
    if r.status not in DECIDED:
        return False
    return any(s.name.startswith("integrate") or (s.name == "batched" and not
                                                  s.outcome.startswith("not simulated"))
               for s in r.stages)


def sample_size(n_sets: int, confirm_n: int | None) -> int:
    """The sets a ``"sample"`` scan confirms first (module docstring)."""
    if confirm_n is None:
        return min(n_sets, max(SAMPLE_MIN, math.ceil(SAMPLE_SHARE * n_sets)))
    return min(n_sets, max(0, int(confirm_n)))


@dataclass
class ScanAnswers:
    """Per set: status (str), state (NaN row unless verified), stable (1 / 0 / -1: none),
    residual, max real part, confirmed by simulation; ``stats``: counts of the run."""

    status: np.ndarray
    state: np.ndarray
    stable: np.ndarray
    residual: np.ndarray
    max_real: np.ndarray
    confirmed: np.ndarray
    stats: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_sets: int, n_state: int) -> "ScanAnswers":
        return cls(np.full(n_sets, "", dtype=object), np.full((n_sets, n_state), np.nan),
                   np.full(n_sets, -1, np.int8), np.full(n_sets, np.nan),
                   np.full(n_sets, np.nan), np.zeros(n_sets, bool))

    def put_results(self, items: np.ndarray, results: list[SteadyStateResult]) -> None:
        for k, r in zip(items.tolist(), results):
            verified = r.status in VERIFIED and r.state is not None
            self.status[k] = r.status.value
            self.confirmed[k] = confirmed_by_simulation(r)
            self.state[k] = r.state if verified else np.nan
            self.stable[k] = -1 if not verified or r.stable is None else int(r.stable)
            self.residual[k] = r.residual if verified and r.residual is not None else np.nan
            self.max_real[k] = (r.max_real_eigenvalue if verified and
                                r.max_real_eigenvalue is not None else np.nan)

    def put_continued(self, cont: Continued, items: np.ndarray) -> None:
        self.status[items] = STABLE
        self.state[items], self.stable[items] = cont.state[items], 1
        self.residual[items], self.max_real[items] = cont.residual[items], cont.max_real[items]
        self.confirmed[items] = False

    def is_stable(self, items: np.ndarray) -> np.ndarray:
        return (self.status[items] == STABLE) & (self.stable[items] == 1)


class _Run:
    """One scan's solves, with its progress count (sets answered so far)."""

    def __init__(self, compiled: CompiledNetwork, p: np.ndarray, coords: np.ndarray,
                 settings: SolveSettings, batch_size: int, seed: int,
                 progress: Progress | None, device: str | None) -> None:
        self.compiled, self.p, self.coords, self.settings = compiled, p, coords, settings
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.progress, self.done = progress, 0
        self.ans = ScanAnswers.empty(len(p), compiled.n_state)
        self.answered = np.zeros(len(p), bool)
        if "integrate" not in settings.stages:  # confirming means simulating
            settings = replace(settings, stages=(*settings.stages, "integrate"))
        self.full_settings = settings
        self.size = float(np.max(np.abs(compiled.x0), initial=0.0))
        self.stats: dict[str, int] = {}

    def tick(self, items: np.ndarray) -> None:
        new = items[~self.answered[items]]
        self.answered[new] = True
        self.done += len(new)
        if self.progress is not None and len(new):
            self.progress(self.done, len(self.p))

    def full(self, items: np.ndarray, settings: SolveSettings | None = None) -> None:
        """``solve_batch`` (the ``"all"`` answer) for ``items``, a batch at a time."""
        for a in range(0, len(items), self.batch_size):
            chunk = items[a:a + self.batch_size]
            self.ans.put_results(chunk, solve_batch(self.compiled, None, self.p[chunk],
                                                    settings or self.full_settings,
                                                    device=self.device))
            self.tick(chunk)

    def continued(self, items: np.ndarray, known: np.ndarray) -> Continued:
        """Continuation for ``items`` from the ``known`` sets' stable answers; the sets it
        does not solve go through :meth:`full`."""
        cont = continue_sets(self.compiled, self.p, self.coords, self.settings, items=items,
                             known=(known, self.ans.state[known]) if len(known) else None,
                             batch_size=max(self.batch_size, CONTINUATION_BATCH),
                             seed=self.seed, device=self.device, progress=self.tick)
        self.ans.put_continued(cont, items[cont.ok[items]])
        self.full(items[~cont.ok[items]])
        return cont

    def confirm(self, items: np.ndarray, bad: np.ndarray) -> None:
        """Confirm ``items`` (continuation answers) with :meth:`full`; mark in ``bad`` those
        whose confirmed answer is not their continuation answer."""
        items = items[~self.ans.confirmed[items]]
        if not len(items):
            return
        before, was = self.ans.state[items].copy(), self.ans.is_stable(items)
        self.full(items)
        bad[items] = ~self.agrees(items, before, was)
        self.stats["confirmed_after"] = self.stats.get("confirmed_after", 0) + len(items)

    def agrees(self, items: np.ndarray, state: np.ndarray, good: np.ndarray) -> np.ndarray:
        """Per set: is the confirmed answer the same as another answer (``state`` where
        ``good``)? The same point (within ``ball^2``), or neither a stable state."""
        stable = self.ans.is_stable(items)
        same = np.zeros(len(items), bool)
        both = good & stable
        if both.any():
            same[both] = distance(state[both], self.ans.state[items[both]],
                                  self.size) < self.settings.ball ** 2
        return np.where(good | stable, same, True)


def solve_scan(compiled: CompiledNetwork, p: np.ndarray, coords: np.ndarray,
               settings: SolveSettings, *, confirm: str = "sample",
               confirm_n: int | None = None, batch_size: int = 512, seed: int = 0,
               progress: Progress | None = None, device: str | None = None) -> ScanAnswers:
    """Every row of ``p`` (K, n_params), ``coords`` (K, d) the sets' normalised positions
    (neighbours for the continuation), in the mode ``confirm`` (module docstring)."""
    if confirm not in CONFIRM:
        raise InputError(f"unknown confirm mode {confirm!r} ({', '.join(CONFIRM)})",
                         element="--confirm")
    run = _Run(compiled, p, coords, settings, max(1, batch_size), seed, progress, device)
    n_sets = len(p)
    everyone = np.arange(n_sets)
    if progress is not None:
        progress(0, n_sets)
    n_sample = {"all": n_sets, "none": 0}.get(confirm, sample_size(n_sets, confirm_n))
    if confirm == "all":
        run.full(everyone, settings)  # the caller's stages, as before the modes
    elif n_sample >= n_sets:
        run.full(everyone)
    else:
        rng = np.random.default_rng(seed + 1)
        sample = np.sort(rng.choice(n_sets, size=n_sample, replace=False))
        run.full(sample)
        rest = np.setdiff1d(everyone, sample)
        cont = run.continued(rest, sample[run.ans.is_stable(sample)])
        if n_sample:
            _check(run, sample, cont)
    run.ans.stats = {"sets": n_sets, "sample": n_sample,
                     "confirmed": int(run.ans.confirmed.sum()), **run.stats}
    return run.ans


def _branch_pairs(run: _Run, sample: np.ndarray) -> np.ndarray:
    """Sampled sets (module docstring, check 1) where Newton from a neighbouring sampled
    set's confirmed stable state ends on another stable state: (set, neighbour) rows."""
    from scipy.spatial import cKDTree  # scipy: the neighbour search of a scan

    stable = sample[run.ans.is_stable(sample)]
    if not len(stable) or len(sample) < 2:
        return np.zeros((0, 2), np.int64)
    k = min(NEIGHBOURS + 1, len(stable))  # + 1: a stable sampled set is its own nearest
    near = cKDTree(run.coords[stable]).query(run.coords[sample], k=k)[1]
    near = np.asarray(near, dtype=np.int64).reshape(len(sample), k)
    pairs = np.stack([np.repeat(sample, k), stable[near.ravel()]], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    newton = BatchNewton(run.compiled, run.p, run.settings,
                         max(run.batch_size, CONTINUATION_BATCH), run.device)
    state, good, *_ = newton.solve(pairs[:, 0], run.ans.state[pairs[:, 1]])
    return pairs[~run.agrees(pairs[:, 0], state, good)]


def _check(run: _Run, sample: np.ndarray, cont: Continued) -> None:
    """Checks 1-3 of the module docstring after a ``"sample"`` continuation; a set to
    confirm brings every unconfirmed set of its continuation's root (its territory)."""
    from scipy.spatial import cKDTree  # scipy: the neighbour search of a scan

    ans, n_sets = run.ans, len(run.p)
    bad = np.zeros(n_sets, bool)
    pairs = _branch_pairs(run, sample)
    bad[pairs.ravel()] = True
    # a sampled set whose dynamics do not settle: continued stable answers next to it are
    # suspect (a stable point beside the cycle the dynamics follow)
    status = ans.status[sample]
    bad[sample[np.isin(status, [s.value for s in DECIDED if s is not SolveStatus.STABLE])]] \
        = True
    run.stats.update(branch_pairs=len(pairs),
                     retried=int(np.sum(cont.start == START_INITIAL)))

    def territories(sets: np.ndarray) -> np.ndarray:
        roots = np.unique(cont.root[sets][cont.root[sets] >= 0])
        return np.union1d(sets, np.flatnonzero(np.isin(cont.root, np.union1d(roots, sets))))

    todo = territories(np.union1d(np.unique(pairs),
                                  np.flatnonzero(cont.start == START_INITIAL)))
    rounds = 0
    while True:  # checks 1 and 2, then check 3: the flood
        run.confirm(todo, bad)
        open_ = np.flatnonzero(~ans.confirmed & ans.is_stable(np.arange(n_sets)))
        confirmed = np.flatnonzero(ans.confirmed)
        if not len(open_) or not bad.any():
            break
        nearest = confirmed[cKDTree(run.coords[confirmed]).query(run.coords[open_], k=1)[1]]
        todo = territories(open_[bad[nearest]])
        todo = todo[~ans.confirmed[todo]]
        if not len(todo):
            break
        rounds += 1
        if rounds > FLOOD_ROUNDS:
            run.confirm(open_, bad)  # the disagreement keeps spreading: confirm the rest
            break
    run.stats["flood_rounds"] = rounds
    run.stats["disagreed"] = int(bad.sum())
