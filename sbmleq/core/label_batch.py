"""Where the trajectories of many parameter sets of one network go, integrated as one batch.

The labeller's fast path (:func:`sbmleq.core.labels.label_networks`). For ``B`` items (initial
states and parameter vectors of one compiled structure) it runs, vectorised over the items:

- candidates: Newton states checked by the solver's batched verification
  (:func:`sbmleq.core.solve.batched.batched_verify`: residual, conservation class, sign,
  eigenvalues): a few plain Newton steps from each ``x0`` and from the trajectory's state at
  geometric checkpoints (when the residual fell 10x or the time grew 64x since the last try;
  the single chain tries at 8x), and the solver's damped batched Newton where the trajectory
  ends (unless it is still growing);
- the trajectory: a linearly implicit Rosenbrock method (ROS3: L-stable, order 3, embedded
  order-2 error estimate, two function evaluations and one Jacobian per step; one step size per
  item, ``rtol`` 3e-3) with the compiled analytic Jacobian, from each ``x0``;
- decisions, with the single chain's rules (:mod:`sbmleq.core.solve.chain`): **stable** once
  the trajectory is within ``ball`` of a verified stable candidate and still closing in;
  **unbounded** when the state passes ``growth_limit`` times its scale (or stops being finite),
  or is still growing steadily at the horizon; **oscillation** when one component's last
  ``osc_cycles`` cycles (extrema located where its derivative changes sign, by linear
  interpolation of the derivative between steps) agree in amplitude and period within
  ``osc_rtol`` and do not decay (per-cycle amplitude ratio >= 1 - 1e-3); the state reported is
  then the fixed point inside the cycle, by Newton from the mean over the last cycle, when one
  is found.

Items still undecided after ``max_steps`` steps or at the horizon come back as None, for the
single chain (:func:`sbmleq.core.solve.solve_steady_state`) to decide.
"""

from __future__ import annotations

import time

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.solve import SolveSettings, SolveStatus, StageRecord, SteadyStateResult
from sbmleq.core.solve.batched import NumpyBackend, _Batch, batched_newton, batched_verify
from sbmleq.core.solve.newton import TARGET, positive_step
from sbmleq.core.solve.system import distance

__all__ = ["batch_outcomes", "RTOL", "MAX_STEPS"]

# ROS3 (Sandu et al. 1997; as in KPP): L-stable, 3 stages (2 function evaluations), order 3
# with an embedded order-2 estimate, in the form (I / (h gamma) - J) k_i = f(...) + sum c k / h
ROS3_GAMMA = 0.43586652150845899941601945119356
C21, C31, C32 = (-1.0156171083877702091975600115545, 4.0759956452537699824805835358067,
                 9.2076794298330791242156818474003)
M1, M2, M3 = 1.0, 6.1697947043828245592553615689730, -0.42772256543218573326238373806514
E1, E2, E3 = 0.5, -2.9079558716805469821718236208017, 0.22354069897811569627360909276199
RTOL = 3e-3  # the trajectory decides where it goes; Newton gives the digits
ATOL = 1e-9  # times the state's scale
MAX_STEPS = 4000  # per item; the rest goes to the single chain
CHECK_EVERY = 8  # steps between looks at the checkpoints that fell due
TRY_ITER = 8  # plain Newton steps of an attempt from the trajectory (then verified)
TRY_TIME = 64.0  # an attempt when the residual fell 10x, or the time grew this much, since the last
DAMPED = 1e-3  # a per-cycle amplitude ratio below 1 - DAMPED: a damped oscillation
NORMS = 16  # checkpoint norms kept per item (for the growth rule)


class _Cycles:
    """Online extrema of every component of every item: the last ``k`` maxima (time, value,
    lowest value since the maximum before) and the state's mean over the last cycle."""

    def __init__(self, b: int, n: int, k: int) -> None:
        self.k = k
        self.tmax = np.full((b, n, k), np.nan)
        self.vmax = np.full((b, n, k), np.nan)
        self.vmin = np.full((b, n, k), np.nan)
        self.low = np.full((b, n), np.inf)  # lowest minimum since the last maximum
        self.total = np.zeros((b, n))  # int_0^t x dt
        self.total_at = np.full((b, n, n), np.nan)  # the same at component c's last maximum
        self.mean = np.full((b, n, n), np.nan)  # the state's mean over c's last cycle

    def update(self, i: np.ndarray, t0: np.ndarray, x0: np.ndarray, f0: np.ndarray,
               t1: np.ndarray, x1: np.ndarray, f1: np.ndarray) -> np.ndarray:
        """Register the extrema between two accepted points; items (rows of ``i``) and
        components with a new maximum, as a boolean (len(i), n) mask."""
        h = (t1 - t0)[:, None]
        self.total[i] += 0.5 * h * (x0 + x1)
        top = (f0 > 0) & (f1 <= 0)
        bottom = (f0 < 0) & (f1 >= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.clip(f0 / (f0 - f1), 0.0, 1.0)
        value = x0 + 0.5 * theta * h * f0  # the derivative taken linear across the step
        a, c = np.nonzero(bottom)
        self.low[i[a], c] = np.minimum(self.low[i[a], c], value[a, c])
        a, c = np.nonzero(top)
        if len(a):
            g = i[a]
            te = t0[a] + theta[a, c] * h[a, 0]
            last_t = self.tmax[g, c, -1]
            for arr, new in ((self.tmax, te), (self.vmax, value[a, c]),
                             (self.vmin, self.low[g, c])):
                arr[g, c, :-1] = arr[g, c, 1:]
                arr[g, c, -1] = new
            span = (te - last_t)[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = (self.total[g] - self.total_at[g, c]) / span
            self.mean[g, c] = np.where(span > 0, mean, np.nan)
            self.total_at[g, c] = self.total[g]
            self.low[g, c] = np.inf
        return top

    def sustained(self, g: np.ndarray, c: np.ndarray, rtol: float, ball: float,
                  scale: np.ndarray) -> np.ndarray:
        """For the (item, component) pairs: the last ``k - 1`` cycles agree and do not decay."""
        t, vt, vb = self.tmax[g, c], self.vmax[g, c], self.vmin[g, c]
        amps = vt[:, 1:] - vb[:, 1:]
        periods = np.diff(t, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = np.all(np.isfinite(amps) & (amps > 0) & (periods > 0), axis=1)
            size = np.max(np.abs(vt), axis=1) + 1e-6 * scale
            ok &= amps[:, -1] > ball * size
            ok &= np.max(np.abs(np.diff(periods, axis=1)) / periods[:, 1:], axis=1) <= rtol
            ok &= np.max(np.abs(np.diff(amps, axis=1)) / amps[:, 1:], axis=1) <= rtol
            decay = (amps[:, -1] / amps[:, 0]) ** (1.0 / max(amps.shape[1] - 1, 1))
        return ok & (decay >= 1.0 - DAMPED)


def _quick_newton(b: _Batch, be: NumpyBackend, items: np.ndarray, x_start: np.ndarray,
                  iterations: int, goal: float) -> np.ndarray:
    """Plain Newton steps for ``items`` from ``x_start`` (projected into each item's initial
    conservation class) on the reduced systems, no line search, steps kept positive: for
    attempts from the trajectory, which is near its steady state when it matters."""
    keep, pos = b.red.keep, b.red.keep_nonneg  # signed species are not clipped
    y = x_start[:, keep].copy()
    y[:, pos] = np.maximum(y[:, pos], 0.0)
    x = b.full(y, items)
    active = np.ones(len(items), bool)
    for _ in range(iterations):
        i = np.flatnonzero(active)
        if not len(i):
            break
        g = items[i]
        f = be.rhs(x[i], b.p[g])
        res = b.residual(x[i], g, f)[0]
        go = (res > goal) & np.isfinite(res)
        active[i[~go]] = False
        i, g, f = i[go], g[go], f[go]
        if not len(i):
            break
        jr = be.jacobian(x[i], b.p[g])[:, keep] @ b.z[g]
        dy = be.solve(jr, -f[:, keep])
        bad = ~np.all(np.isfinite(dy), axis=-1)
        active[i[bad]] = False
        i, g, dy = i[~bad], g[~bad], dy[~bad]
        alpha = positive_step(x[i], b.full(dy, g) - b.offset[g], b.red.nonneg)
        y[i] = y[i] + alpha[:, None] * dy
        x[i] = b.full(y[i], g)
    return x


def _candidates(base: _Batch, be: NumpyBackend, items: np.ndarray, start: np.ndarray,
                settings: SolveSettings, deadline: float, quick: int = 0):
    """Newton for ``items`` from ``start`` (in each item's initial conservation class; the
    solver's batched damped Newton, or ``quick`` plain steps) and the solver's batched
    verification: (state, verified, residual, max_real, stable: 1 stable, 0 unstable, NaN
    marginal)."""
    start = np.asarray(start, dtype=np.float64)
    if quick:
        xs = _quick_newton(base, be, items, start, quick, settings.residual_tol * TARGET)
        conv = np.ones(len(items), bool)  # the verification decides
    else:
        xs, conv, _ = batched_newton(base, be, settings, deadline, items, start)
    state, ok, res, max_real, stable = batched_verify(base, be, xs, items, settings)
    flag = np.array([np.nan if s is None else float(s) for s in stable])
    return state, ok & conv, res, max_real, flag


def batch_outcomes(compiled: CompiledNetwork, x0: np.ndarray, p: np.ndarray,
                   settings: SolveSettings, max_steps: int = MAX_STEPS
                   ) -> list[SteadyStateResult | None]:
    """The decided items' results (module docstring), None for the undecided ones."""
    run = _Run(compiled, np.array(x0, dtype=np.float64), np.array(p, dtype=np.float64),
               settings, max_steps)
    run.integrate()
    return run.results()


def _inverse(w: np.ndarray) -> np.ndarray:
    """Batched inverse; an item whose matrix is not finite or not invertible gets NaN (its step
    is rejected and shrinks) instead of failing the whole batch (a NaN Jacobian made LAPACK's
    SVD fail for all 100 networks of a shard)."""
    bad = ~np.all(np.isfinite(w), axis=(-2, -1))
    eye = np.eye(w.shape[-1])
    safe = np.where(bad[:, None, None], eye, w)
    try:
        inv = np.linalg.inv(safe)
    except np.linalg.LinAlgError:
        inv = np.empty_like(safe)
        for k, m in enumerate(safe):
            try:
                inv[k] = np.linalg.pinv(m)
            except np.linalg.LinAlgError:
                inv[k] = np.nan
    inv[bad] = np.nan
    return inv


class _Run:
    """The state of one batched run: per item its trajectory, step size, candidate, status."""

    def __init__(self, compiled: CompiledNetwork, x0: np.ndarray, p: np.ndarray,
                 settings: SolveSettings, max_steps: int) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + settings.timeout
        self.compiled, self.x0, self.p, self.settings = compiled, x0, p, settings
        self.max_steps = max_steps
        n_items, n = x0.shape
        self.be = NumpyBackend(compiled)
        self.base = _Batch(compiled, x0, p)
        size = np.maximum(self.base.x0_size, np.max(np.abs(self.base.totals), axis=-1,
                                                    initial=0.0))
        self.scale = np.where(size > 0, size, 1.0)  # the state's scale (growth, tolerances)
        self.status: list[str | None] = [None] * n_items
        self.message = [""] * n_items
        # candidates (stable or marginal verified states): a few Newton steps from x0
        self.cand = np.full((n_items, n), np.nan)
        self.info = np.full((n_items, 3), np.nan)  # residual, max real part, stable (1 / NaN)
        self.has = np.zeros(n_items, bool)
        self.d_prev = np.full(n_items, np.inf)  # distance to the candidate at the last look
        self.offer(np.arange(n_items), x0, quick=True)
        # the trajectories
        self.x, self.t = x0.copy(), np.zeros(n_items)
        norm = np.max(np.sum(np.abs(self.be.jacobian(x0, p)), axis=-1), axis=-1)
        first = np.clip(1.0 / np.where(np.isfinite(norm) & (norm > 0), norm, 1.0), 1e-9, 1.0)
        self.h = 1e-3 * first
        self.steps = np.zeros(n_items, np.int64)
        self.alive = np.ones(n_items, bool)
        # checkpoints: distance to the candidate, Newton attempts, norms
        self.t_check = first.copy()
        self.last_try = np.zeros((n_items, 2))  # time and residual of the last attempt
        self.last_try[:, 1] = self.base.residual(x0, np.arange(n_items), self.be.rhs(x0, p))[0]
        self.norm_t = np.full((n_items, NORMS), np.nan)  # (time, norm) at checkpoints spaced
        self.norm_v = np.full((n_items, NORMS), np.nan)  # >= 1.5x apart in time, last is newest
        self.norm_t[:, -1], self.norm_v[:, -1] = 0.0, np.max(np.abs(x0), axis=-1)
        # cycles: the extrema tracker and the last point it saw
        self.cycles = _Cycles(n_items, n, settings.osc_cycles + 1)
        self.osc_comp = np.full(n_items, -1)
        self.seen = (self.t.copy(), self.x.copy(), np.zeros_like(self.x))
        self.moved = np.zeros(n_items, bool)

    def decide(self, items, status: str | None, message: str = "") -> None:
        for g in np.atleast_1d(items):
            self.alive[g] = False
            if status is not None:
                self.status[g] = status
                self.message[g] = message.format(t=self.t[g])

    def offer(self, idx: np.ndarray, start: np.ndarray, quick: bool = False) -> np.ndarray:
        """Newton for items ``idx`` from ``start``; verified stable or marginal states become
        their candidates. Which items got one."""
        state, ok, r, mr, stable = _candidates(self.base, self.be, idx, start, self.settings,
                                               self.deadline, quick=TRY_ITER if quick else 0)
        new = ok & (stable != 0.0)  # stable or marginal, as the single chain accepts them
        g = idx[new]
        self.cand[g], self.has[g] = state[new], True
        self.info[g] = np.stack([r, mr, stable], axis=-1)[new]
        self.d_prev[g] = np.inf
        return new

    # -------------------------------------------------------------- the loop
    def integrate(self) -> None:
        loops = 0
        while time.monotonic() < self.deadline:
            loops += 1
            i = np.flatnonzero(self.alive)
            if not len(i):
                break
            f = self.be.rhs(self.x[i], self.p[i])
            self.track_cycles(i, f)
            live = self.alive[i]
            i, f = i[live], f[live]
            if not len(i):
                break
            self.step(i, f)
            x, t = self.x[i], self.t[i]
            big = ~np.all(np.isfinite(x), axis=-1) | (np.max(np.abs(x), axis=-1) >
                                                       self.settings.growth_limit * self.scale[i])
            self.decide(i[big], "unbounded", "the state grows without bound (t={t:.3g})")
            self.decide(i[~big & (self.h[i] < 1e-300)], None)  # step size collapse: the chain
            over = (t >= self.settings.horizon) | (self.steps[i] >= self.max_steps)
            # checkpoints are looked at every CHECK_EVERY steps, so that items due at about the
            # same time share one batched Newton call
            due = i[self.alive[i] & (over | ((t >= self.t_check[i]) & (loops % CHECK_EVERY == 0)))]
            if len(due):
                self.checkpoint(due)
                self.t_check[due] = np.maximum(self.t_check[due] * self.settings.check_ratio,
                                               self.t[due])
                self.finish(due[self.alive[due] & ((self.t[due] >= self.settings.horizon) |
                                                   (self.steps[due] >= self.max_steps))])

    def step(self, i: np.ndarray, f: np.ndarray) -> None:
        """One ROS3 step for items ``i`` (f: the right-hand side at their states)."""
        xi, pi, hi = self.x[i], self.p[i], self.h[i]
        eye = np.eye(xi.shape[1])
        w = (1.0 / (ROS3_GAMMA * hi))[:, None, None] * eye - self.be.jacobian(xi, pi)
        with np.errstate(all="ignore"):
            inv = _inverse(w)
            k1 = np.einsum("bij,bj->bi", inv, f)
            f2 = self.be.rhs(xi + k1, pi)  # a21 = a31 = 1, a32 = 0: stages 2, 3 share a point
            k2 = np.einsum("bij,bj->bi", inv, f2 + (C21 / hi)[:, None] * k1)
            k3 = np.einsum("bij,bj->bi", inv, f2 + (C31 * k1 + C32 * k2) / hi[:, None])
            new = xi + M1 * k1 + M2 * k2 + M3 * k3
            atol = ATOL * self.scale[i, None]
            err = np.max(np.abs(E1 * k1 + E2 * k2 + E3 * k3) /
                         (atol + RTOL * np.maximum(np.abs(xi), np.abs(new))), axis=-1)
        fine = np.isfinite(err) & np.all(np.isfinite(new), axis=-1)
        acc = fine & (err <= 1.0)
        g = i[acc]
        self.x[g], self.t[g], self.moved[g] = new[acc], self.t[g] + hi[acc], True
        self.steps[i] += 1
        grow = np.clip(0.9 * np.maximum(err, 1e-12) ** (-1.0 / 3.0), 0.2, 6.0)
        self.h[i] = hi * np.where(fine, grow, 0.2)

    def track_cycles(self, i: np.ndarray, f: np.ndarray) -> None:
        """Extrema since the tracker last looked; sustained cycles decide ``oscillation``."""
        tp, xp, fp = self.seen
        m = self.moved[i]
        if m.any():
            g = i[m]
            top = self.cycles.update(g, tp[g], xp[g], fp[g], self.t[g], self.x[g], f[m])
            a, c = np.nonzero(top)
            full = np.isfinite(self.cycles.tmax[g[a], c, 0])
            a, c = a[full], c[full]
            if len(a):
                sus = self.cycles.sustained(g[a], c, self.settings.osc_rtol, self.settings.ball,
                                            self.scale[g[a]])
                for item, comp in zip(g[a][sus], c[sus]):
                    if self.alive[item]:
                        self.osc_comp[item] = comp
                        self.decide(item, "oscillation")
        tp[i], xp[i], fp[i] = self.t[i], self.x[i], f
        self.moved[i] = False

    def checkpoint(self, due: np.ndarray) -> None:
        """Reached the candidate? Time for a Newton attempt from the trajectory?"""
        ball = self.settings.ball
        x = self.x[due]
        push = due[~(self.t[due] < 1.5 * self.norm_t[due, -1])]
        for arr, new in ((self.norm_t, self.t[push]),
                         (self.norm_v, np.max(np.abs(self.x[push]), axis=-1))):
            arr[push, :-1] = arr[push, 1:]
            arr[push, -1] = new
        res = self.base.residual(x, due, self.be.rhs(x, self.p[due]))[0]
        retry = np.isfinite(res) & ((res <= 0.1 * self.last_try[due, 1]) |
                                    (self.t[due] >= TRY_TIME * self.last_try[due, 0]))
        tries = due[retry]
        if len(tries):
            self.last_try[tries, 0], self.last_try[tries, 1] = self.t[tries], res[retry]
            self.offer(tries, self.x[tries], quick=True)
        h = due[self.has[due]]
        if len(h):
            d = distance(self.x[h], self.cand[h], self.base.x0_size[h])
            reached = (d < ball ** 2) | ((d < ball) & (d < self.d_prev[h]))
            self.d_prev[h] = d
            self.decide(h[reached], "stable", "reached at t={t:.3g}")

    def finish(self, end: np.ndarray) -> None:
        """At the horizon or the step budget: the solver's Newton where the trajectory ended
        (reached when within ``ball``), else still growing, else undecided."""
        if not len(end):
            return
        growing = self.growing(end)
        last = end[~growing]
        if len(last):
            got = self.offer(last, self.x[last])
            d = distance(self.x[last], self.cand[last], self.base.x0_size[last])
            self.decide(last[got & (d < self.settings.ball)], "stable", "reached at t={t:.3g}")
        at_horizon = growing & (self.t[end] >= self.settings.horizon)
        self.decide(end[at_horizon], "unbounded", "the state is still growing at the horizon")
        self.decide(end, None)

    def growing(self, items: np.ndarray) -> np.ndarray:
        """Still growing: the norm grew at least 1.2^4 over the last 16x in time, never fell
        (by more than 1 %) in between, and is beyond 100x the state's scale (the chain asks
        1.2x at each of its last four x2 checkpoints; these checkpoints are not on its grid)."""
        now_t, now_v = self.t[items], np.max(np.abs(self.x[items]), axis=-1)
        ts, vs = self.norm_t[items], self.norm_v[items]
        old = np.where(ts <= now_t[:, None] / 16.0, vs, np.nan)
        last_old = np.array([row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan
                             for row in old])
        window = np.where(ts > now_t[:, None] / 16.0, vs, np.nan)
        seq = np.concatenate([last_old[:, None], window, now_v[:, None]], axis=1)
        with np.errstate(invalid="ignore"):
            steps = [np.all(np.diff(r[np.isfinite(r)]) >= -0.01 * r[np.isfinite(r)][:-1])
                     for r in seq]
            return (now_v >= 1.2 ** 4 * last_old) & np.array(steps, bool) & \
                (now_v > 100.0 * self.scale[items])

    # -------------------------------------------------------------- the answers
    def results(self) -> list[SteadyStateResult | None]:
        compiled, settings = self.compiled, self.settings
        seconds = (time.monotonic() - self.started) / max(len(self.x0), 1)
        idx = np.flatnonzero([s == "oscillation" for s in self.status])
        inside = np.full_like(self.x, np.nan)
        inside_info = np.full((len(self.x), 3), np.nan)  # verified, residual, max real part
        if len(idx):  # the fixed point inside the cycle, from the mean over the last cycle
            start = self.cycles.mean[idx, self.osc_comp[idx]]
            start = np.where(np.isfinite(start), start, self.x[idx])
            state, ok, r, mr, _ = _candidates(self.base, self.be, idx, start, settings,
                                              self.deadline)
            inside[idx] = state
            inside_info[idx] = np.stack([ok, r, mr], axis=-1)
        out: list[SteadyStateResult | None] = []
        for g, s in enumerate(self.status):
            if s is None:
                out.append(None)
                continue
            st = SolveStatus(s)
            state, stable, r, mr = None, None, np.nan, np.nan
            if st is SolveStatus.STABLE:
                state, r, mr = self.cand[g], self.info[g, 0], self.info[g, 1]
                stable = True if self.info[g, 2] == 1.0 else None
            elif st is SolveStatus.OSCILLATION:
                self.message[g] = "sustained oscillation in " + \
                    compiled.state_ids[self.osc_comp[g]]
                if inside_info[g, 0] == 1.0:
                    state, r, mr = inside[g], inside_info[g, 1], inside_info[g, 2]
                    stable = bool(mr < 0)
            out.append(SteadyStateResult(
                status=st, state=None if state is None else np.array(state), stable=stable,
                max_real_eigenvalue=float(mr) if np.isfinite(mr) else None,
                residual=float(r) if np.isfinite(r) else None, totals=self.base.totals[g],
                newton_iterations=0, stages=(StageRecord("batched trajectory", s, seconds),),
                stage="batched trajectory", reached_state=np.array(self.x[g]), seconds=seconds,
                message=self.message[g], state_ids=compiled.state_ids))
        return out
