"""Many parameter sets or initial states of one compiled network, solved together.

``solve_batch`` runs the single chain's logic for all items at once:

1. damped Newton on the reduced systems from every ``x0`` (the algorithm of
   :func:`newton.newton`), one batched linear solve per iteration, then the verification of
   :func:`system.verify` (residual, class, sign, eigenvalues), batched;
2. when the settings' stages include ``integrate``: a batched linearly implicit Rosenbrock
   integration (ROS3: L-stable, order 3, embedded order-2 error estimate, one step size per
   item) from every ``x0``. At geometric checkpoints per item, an item whose trajectory is
   within ``ball`` of its stable candidate and still closing in is done (the single chain's
   acceptance); items with no candidate, or not approaching theirs, get a batched Newton from
   where their trajectory is, whose stable verified answers become their new candidates.

An item whose trajectory passes ``growth_limit``, or is still growing when it reaches the
horizon, is ``unbounded``. Every other item not done after ``BATCH_STEPS`` steps (no stable
steady state reached: oscillation, a marginal or unstable point, a slow approach) is solved by
the single chain
(:func:`chain.solve_system`, with its batched Newton point as a hint), so ``solve_batch``
returns what ``solve_steady_state`` would, item by item. The backends
(:mod:`sbmleq.core.solve.backends`) run rates, Jacobians and solves in NumPy or in torch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.backends import NumpyBackend, make_backend
from sbmleq.core.solve.chain import solve_system
from sbmleq.core.solve.eigen import max_real_parts
from sbmleq.core.solve.integrate import growing
from sbmleq.core.solve.newton import ARMIJO, MAX_HALVINGS, STALL, TARGET, positive_step
from sbmleq.core.solve.outcome import SolveSettings, SolveStatus, StageRecord, SteadyStateResult
from sbmleq.core.solve.scale import ResidualScale
from sbmleq.core.solve.system import (ReducedSystem, Reduction, as_compiled, distance,
                                      resolve_inputs, state_volumes)

__all__ = ["solve_batch", "batched_newton", "batched_verify", "classify_many"]

# ROS3 (Sandu et al. 1997: L-stable, 3 stages, order 3 with an embedded order-2 estimate), in
# the form (I / (h gamma) - J) k_i = f(x + sum_j a_ij k_j) + sum_j c_ij k_j / h
ROS3_GAMMA = 0.43586652150845899941601945119356
ROS3_C = (-1.0156171083877702091975600115545, 4.0759956452537699824805835358067,
          9.2076794298330791242156818474003)
ROS3_M = (1.0, 6.1697947043828245592553615689730, -0.42772256543218573326238373806514)
ROS3_E = (0.5, -2.9079558716805469821718236208017, 0.22354069897811569627360909276199)
BATCH_RTOL = 1e-4  # the batched trajectories only decide which candidate is reached
BATCH_ATOL = 1e-6  # times max |x0|: the floor of the distance to a candidate
BATCH_STEPS = 500  # batched steps at most: the other items go on in the single chain
NEWTON_AGAIN = 4.0  # an item's next Newton from its trajectory once t has grown 4x
NEWTON_EVERY = 20  # steps between two batched Newton runs for the items waiting for one


class _Batch:
    """The reduced systems of all items (arrays with a leading item axis). When every item has
    the same ``Z`` (no varied compartment size: a scan over rate constants), ``zt`` holds it
    transposed and the maps to and from the reduced coordinates are single matrix products
    instead of one small product per item."""

    def __init__(self, compiled: CompiledNetwork, x0: np.ndarray, p: np.ndarray,
                 scaler: ResidualScale | None = None) -> None:
        self.compiled, self.x0, self.p = compiled, x0, p
        self.red = Reduction.of(compiled)
        self.scaler = scaler or ResidualScale(compiled)
        self.vol = state_volumes(compiled, p)
        self.totals = self.red.totals(x0, self.vol)
        self.offset, self.z = self.red.affine(self.vol, self.totals)
        same = len(self.z) > 0 and bool(np.all(self.z == self.z[:1]))
        self.zt = np.ascontiguousarray(self.z[0].T) if same else None
        # shared Z: its ``keep`` rows are the identity, so J[keep] Z = J[keep, keep] +
        # J[keep, dep] Z[dep] (a product with only the dependent columns)
        self.z_dep = np.ascontiguousarray(self.z[0][self.red.dep]) if same else None
        self.k = self.red.n_species
        self.x0_size = np.max(np.abs(x0), axis=-1, initial=0.0)
        s0 = np.max(self.scaler.scale(x0, p, self.vol), axis=-1, initial=0.0)
        self.ref = np.where(np.isfinite(s0), s0, 0.0)  # throughput at x0 (residual floor)

    def full(self, y: np.ndarray, i: np.ndarray) -> np.ndarray:
        if self.zt is not None:
            return self.offset[i] + y @ self.zt
        return self.offset[i] + np.einsum("bnm,bm->bn", self.z[i], y)

    def lift(self, dy: np.ndarray, i: np.ndarray) -> np.ndarray:
        """The change of the full state of items ``i`` for a change ``dy`` of their reduced
        coordinates (``Z dy``)."""
        if self.zt is not None:
            return dy @ self.zt
        return np.einsum("bnm,bm->bn", self.z[i], dy)

    def reduced(self, jac: np.ndarray, i: np.ndarray) -> np.ndarray:
        """The reduced Jacobians ``J[keep] @ Z`` of items ``i`` from their full ones."""
        top = np.take(jac, self.red.keep, axis=1)
        if self.z_dep is None:
            return top @ self.z[i]
        out = np.take(top, self.red.keep, axis=2)
        if len(self.red.dep):
            out += np.take(top, self.red.dep, axis=2) @ self.z_dep
        return out

    def residual(self, x: np.ndarray, i: np.ndarray, f: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        s = self.scaler.scale(x, self.p[i], self.vol[i])
        return ResidualScale.relative(f, s, self.ref[i]), s


def _clip(y: np.ndarray, species: np.ndarray) -> np.ndarray:
    y = y.copy()
    y[:, species] = np.maximum(y[:, species], 0.0)
    return y


def _polish(b: _Batch, be: NumpyBackend, g: np.ndarray, x: np.ndarray, y: np.ndarray,
            f: np.ndarray, res: np.ndarray, species: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    keep = b.red.keep
    jr = b.reduced(be.jacobian(x, b.p[g]), g)
    y_new = _clip(y + be.solve(jr, -f[:, keep]), species)
    x_new = b.full(y_new, g)
    res_new = b.residual(x_new, g, be.rhs(x_new, b.p[g]))[0]
    better = (res_new <= res)[:, None]
    return np.where(better, y_new, y), np.where(better, x_new, x)


def batched_newton(b: _Batch, be: NumpyBackend, settings: SolveSettings, deadline: float,
                   items: np.ndarray, x_start: np.ndarray, polish: bool = True
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped Newton for ``items`` from ``x_start``: states, converged flags, iterations.
    ``polish``: one more full step once converged (round-off accuracy, as the single chain);
    without it an item stops at ``residual_tol * TARGET`` (a scan's continuation: a third
    less work per set)."""
    keep, n = b.red.keep, len(items)
    species = b.red.keep_nonneg  # the coordinates kept >= 0 (not signed species)
    y = _clip(x_start[:, keep], species)
    x = b.full(y, items)
    active, converged = np.ones(n, bool), np.zeros(n, bool)
    iterations = np.zeros(n, np.int64)
    history = np.full((STALL + 1, n), np.inf)  # residuals of the last iterations
    for it in range(settings.max_newton_iter + 1):
        i = np.flatnonzero(active)
        if not len(i):
            break
        g = items[i]
        f = be.rhs(x[i], b.p[g])
        res, s = b.residual(x[i], g, f)
        done = res <= settings.residual_tol * TARGET
        converged[i[done]] = True
        if polish and done.any():  # one more full step, as newton.newton: round-off accuracy
            d = i[done]
            y[d], x[d] = _polish(b, be, items[d], x[d], y[d], f[done], res[done], species)
        history = np.roll(history, 1, axis=0)
        history[0, i] = res
        stalled = (it >= STALL) & (res > 0.5 * history[STALL, i])
        go = ~done & np.isfinite(res) & ~stalled
        active[i[~go]] = False
        i, g, f, s = i[go], g[go], f[go], s[go]
        if not len(i) or it == settings.max_newton_iter or time.monotonic() > deadline:
            break
        jr = b.reduced(be.jacobian(x[i], b.p[g]), g)
        fr = f[:, keep]
        dy = be.solve(jr, -fr)
        w = 1.0 / (s[:, keep] + ResidualScale.floor(s, b.ref[g]))
        phi0 = np.sum((w * fr) ** 2, axis=-1)
        alpha = positive_step(x[i], b.full(dy, g) - b.offset[g], b.red.nonneg)
        pending = np.isfinite(dy).all(axis=-1)
        for _ in range(MAX_HALVINGS):
            j = np.flatnonzero(pending)
            if not len(j):
                break
            yt = _clip(y[i[j]] + alpha[j, None] * dy[j], species)
            xt = b.full(yt, g[j])
            phi = np.sum((w[j] * be.rhs(xt, b.p[g[j]])[:, keep]) ** 2, axis=-1)
            ok = np.isfinite(phi) & (phi <= (1.0 - ARMIJO * alpha[j]) * phi0[j])
            y[i[j[ok]]], x[i[j[ok]]] = yt[ok], xt[ok]
            pending[j[ok]] = False
            alpha[j[~ok]] *= 0.5
        active[i[pending]] = False  # the line search failed
        iterations[i] += 1
    return x, converged, iterations


def batched_verify(b: _Batch, be: NumpyBackend, x: np.ndarray, items: np.ndarray,
                   settings: SolveSettings
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[bool | None]]:
    """:func:`system.verify` for ``items``: (state, ok, residual, max real part, stable)."""
    x = x.copy()
    n, pos = len(items), b.red.nonneg  # signed species may be negative
    if n == 0:  # (torch's batched Jacobian fails on an empty batch)
        return x, np.zeros(0, bool), np.zeros(0), np.zeros(0), []
    big = np.max(np.abs(x[:, pos]), axis=-1, initial=0.0)
    ok = np.isfinite(x).all(axis=-1)
    if pos.any():
        ok &= np.min(x[:, pos], axis=-1) >= -settings.negative_tol * np.maximum(big, 1e-300)
        x[:, pos] = np.maximum(x[:, pos], 0.0)
    safe = np.where(ok[:, None], x, b.x0[items])
    res = b.residual(safe, items, be.rhs(safe, b.p[items]))[0]
    cons = b.red.conservation_error(safe, b.vol[items], b.totals[items])
    ok &= (res <= settings.residual_tol) & (cons <= settings.conservation_tol)
    jr = b.reduced(be.jacobian(safe, b.p[items]), items)
    ok &= np.isfinite(jr).all(axis=(-2, -1))
    max_real = np.full(n, np.nan)
    good = np.flatnonzero(ok)
    if len(good):
        max_real[good] = max_real_parts(jr[good])
    stable = classify_many(max_real, jr, ok, settings)
    return x, ok, res, max_real, [None if s < 0 else bool(s) for s in stable.tolist()]


def classify_many(max_real: np.ndarray, jr: np.ndarray, ok: np.ndarray,
                  settings: SolveSettings) -> np.ndarray:
    """:func:`system.classify` for a stack: 1 stable, 0 unstable, -1 marginal or not ``ok``."""
    norm = np.max(np.sum(np.abs(jr), axis=-1), axis=-1, initial=0.0) if jr.size else \
        np.zeros(len(jr))
    tol = settings.eig_tol * np.maximum(np.where(np.isfinite(norm), norm, 0.0), 1e-300)
    with np.errstate(invalid="ignore"):
        out = np.where(max_real < -tol, 1, np.where(max_real > tol, 0, -1))
    return np.where(ok, out, -1).astype(np.int8)


class _Found:
    """Per item: the stable verified candidate (NaN row: none), its numbers and its stage."""

    def __init__(self, n_items: int, n_state: int) -> None:
        self.state = np.full((n_items, n_state), np.nan)
        self.res, self.max_real = np.full(n_items, np.nan), np.full(n_items, np.nan)
        self.its = np.zeros(n_items, np.int64)
        self.stage = [""] * n_items
        self.hint: list[np.ndarray | None] = [None] * n_items  # any verified point, for the chain
        self.saddle = np.full((n_items, n_state), np.nan)  # an unstable verified point

    def newton(self, b: _Batch, be: NumpyBackend, settings: SolveSettings, deadline: float,
               items: np.ndarray, x_start: np.ndarray, stage: str) -> np.ndarray:
        """Newton from ``x_start`` for ``items``; keep stable answers. Returns which did."""
        x, conv, its = batched_newton(b, be, settings, deadline, items, x_start)
        state, ok, res, max_real, stable = batched_verify(b, be, x, items, settings)
        ok &= conv
        self.its[items] += its
        good = ok & np.array([s is True for s in stable], dtype=bool)
        for q in np.flatnonzero(ok):
            self.hint[items[q]] = state[q]
            if stable[q] is False:
                self.saddle[items[q]] = state[q]
        g = items[good]
        self.state[g], self.res[g], self.max_real[g] = state[good], res[good], max_real[good]
        for q in g:
            self.stage[q] = stage
        return good


def batched_reach(b: _Batch, be: NumpyBackend, found: _Found, settings: SolveSettings,
                  deadline: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ROS3 from every ``x0`` until the trajectory reaches its item's candidate (module
    docstring): (reached, unbounded, time, state). Unbounded: beyond ``growth_limit``, or
    still growing (:func:`integrate.growing`) when the horizon is reached."""
    n_items = len(b.x0)
    x, t = b.x0.copy(), np.zeros(n_items)
    reached, alive = np.zeros(n_items, bool), np.ones(n_items, bool)
    h = 1e-2 / np.maximum(np.max(np.sum(np.abs(be.jacobian(x, b.p)), axis=-1), axis=-1), 1e-12)
    d_check, t_check = np.full(n_items, np.inf), h.copy()
    t_newton = h.copy()
    scale_x = np.where(b.x0_size > 0, b.x0_size, 1.0)
    atol = BATCH_ATOL * scale_x[:, None]
    unbounded, sensitive = np.zeros(n_items, bool), np.zeros(n_items, bool)
    norms: list[list[tuple[float, float]]] = [[] for _ in range(n_items)]
    keep = b.red.keep
    eye = np.eye(b.red.m)
    wants = np.zeros(n_items, bool)  # items waiting for a Newton from their trajectory
    for step in range(min(settings.max_steps, BATCH_STEPS)):
        i = np.flatnonzero(alive & ~reached)
        if not len(i) or time.monotonic() > deadline:
            break
        p, hi = b.p[i], h[i, None]
        with np.errstate(all="ignore"):
            # the stages in the reduced coordinates (the trajectory keeps its class): the same
            # step as on the full state (k = Z k_y exactly), with m x m systems instead
            jr = b.reduced(be.jacobian(x[i], p), i)
            inv = be.inverse(eye / (ROS3_GAMMA * hi[..., None]) - jr)
            k1 = be.apply(inv, be.rhs(x[i], p)[:, keep])
            f2 = be.rhs(x[i] + b.lift(k1, i), p)[:, keep]  # a21 = a31 = 1, a32 = 0: shared
            k2 = be.apply(inv, f2 + ROS3_C[0] * k1 / hi)
            k3 = be.apply(inv, f2 + (ROS3_C[1] * k1 + ROS3_C[2] * k2) / hi)
            new = x[i] + b.lift(ROS3_M[0] * k1 + ROS3_M[1] * k2 + ROS3_M[2] * k3, i)
            est = b.lift(ROS3_E[0] * k1 + ROS3_E[1] * k2 + ROS3_E[2] * k3, i)
            scale = atol[i] + BATCH_RTOL * np.maximum(np.abs(x[i]), np.abs(new))
            err = np.max(np.abs(est) / scale, axis=-1)
        fine = np.isfinite(err) & np.isfinite(new).all(axis=-1)
        acc = fine & (err <= 1.0)
        x[i[acc]], t[i[acc]] = new[acc], t[i[acc]] + h[i[acc]]
        h[i] *= np.where(fine, np.clip(0.9 * np.maximum(err, 1e-10) ** (-1.0 / 3.0), 0.2, 6.0),
                         0.2)
        big = np.max(np.abs(x[i]), axis=-1) > settings.growth_limit * scale_x[i]
        unbounded[i[big]] = True
        alive[i[(t[i] >= settings.horizon) | (h[i] < 1e-300) | big]] = False
        due = i[t[i] >= 2.0 * t_check[i]]  # this item's next checkpoint
        for q in due:
            norms[q].append((float(t[q]), float(np.max(np.abs(x[q]), initial=0.0))))
        if not len(due):
            continue
        d = distance(x[due], found.state[due], b.x0_size[due])  # NaN without a candidate
        has = np.isfinite(d)
        # close to a saddle: the single chain decides, at a tighter tolerance (as it does)
        sensitive[due[distance(x[due], found.saddle[due], b.x0_size[due]) < settings.ball]] = True
        closing = (d < d_check[due]) | (d < settings.ball ** 2)
        reached[due[has & (d < settings.ball) & closing]] = True
        again = due[~reached[due] & (~has | ~(d < d_check[due]))
                    & (t[due] >= NEWTON_AGAIN * t_newton[due])]
        d_check[due], t_check[due] = np.where(has, d, np.inf), t[due]
        wants[again] = True
        if step % NEWTON_EVERY == 0 and wants.any():  # together: one batch, not one per item
            again = np.flatnonzero(wants & alive & ~reached)
            wants[:] = False
            t_newton[again] = t[again]
            renewed = found.newton(b, be, settings, deadline, again, x[again], "batched newton@t")
            d_check[again[renewed]] = np.inf  # a new candidate: closing in starts afresh
    for q in np.flatnonzero(~reached & (t >= settings.horizon)):
        size = max(b.x0_size[q], norms[q][0][1] if norms[q] else 0.0, 1e-300)
        unbounded[q] |= growing(norms[q], size)
    return reached & ~sensitive, unbounded & ~reached, t, x


def solve_batch(net: ReactionNetwork | CompiledNetwork,
                x0: Sequence[Sequence[float]] | np.ndarray | Mapping[str, float] | None = None,
                p: Sequence[Sequence[float]] | np.ndarray | Mapping[str, float] | None = None,
                settings: SolveSettings = SolveSettings(),
                device: str | None = None) -> list[SteadyStateResult]:
    """:func:`solve_steady_state` for every row of ``x0`` ``(B, n_state)`` and/or ``p``
    ``(B, n_params)`` (one of them may be a single vector, broadcast), vectorised (module
    docstring). ``device``: None for NumPy, ``"auto"`` for CUDA when available, or a torch
    device string. ``settings.timeout`` bounds the vectorised part, and each fallback solve."""
    started = time.monotonic()
    deadline = started + settings.timeout
    compiled = as_compiled(net)
    x_arr, p_arr = resolve_inputs(compiled, x0, p)
    n_items = int(np.broadcast_shapes(x_arr.shape[:-1], p_arr.shape[:-1], (1,))[0]) \
        if x_arr.ndim > 1 or p_arr.ndim > 1 else 1
    x_arr = np.broadcast_to(x_arr, (n_items, x_arr.shape[-1])).copy()
    p_arr = np.broadcast_to(p_arr, (n_items, p_arr.shape[-1])).copy()
    be = make_backend(compiled, device)
    b = _Batch(compiled, x_arr, p_arr)
    found = _Found(n_items, compiled.n_state)
    everyone = np.arange(n_items)
    accept = found.newton(b, be, settings, deadline, everyone, x_arr, "batched newton")
    reached_at: np.ndarray | None = None
    note = "not simulated (no integrate stage)"
    unbounded = np.zeros(n_items, bool)
    if "integrate" in settings.stages:
        accept, unbounded, t_end, reached_at = batched_reach(b, be, found, settings, deadline)
        note = "reached"
    per_item = (time.monotonic() - started) / n_items
    out: list[SteadyStateResult] = []
    for g in range(n_items):
        if unbounded[g]:
            out.append(SteadyStateResult(
                status=SolveStatus.UNBOUNDED, state=None, stable=None, max_real_eigenvalue=None,
                residual=None, totals=b.totals[g], newton_iterations=int(found.its[g]),
                stages=(StageRecord("batched", f"unbounded at t={t_end[g]:.3g}", per_item),),
                stage=None, reached_state=reached_at[g], seconds=per_item,
                message="the state grows without bound", state_ids=compiled.state_ids))
            continue
        if not accept[g]:
            hints = [found.hint[g]] if found.hint[g] is not None else []
            system = ReducedSystem.build(compiled, x_arr[g], p_arr[g], scaler=b.scaler)
            out.append(solve_system(system, settings, None, hints))
            continue
        outcome = note if reached_at is None else f"reached at t={t_end[g]:.3g}"
        out.append(SteadyStateResult(
            status=SolveStatus.STABLE, state=found.state[g], stable=True,
            max_real_eigenvalue=float(found.max_real[g]), residual=float(found.res[g]),
            totals=b.totals[g], newton_iterations=int(found.its[g]),
            stages=(StageRecord("batched", outcome, per_item),), stage=found.stage[g],
            reached_state=None if reached_at is None else reached_at[g], seconds=per_item,
            state_ids=compiled.state_ids))
    return out
