"""Many parameter sets or initial states of one compiled network, solved together.

``solve_batch`` runs, for all items at once:

1. damped Newton on the reduced systems (the same algorithm as :func:`newton.newton`), with
   one batched linear solve per iteration (``np.linalg.solve`` on ``(B, m, m)``, or
   ``torch.linalg.solve_ex`` on a device);
2. the verification of :func:`system.verify` (residual, class, sign, eigenvalues), batched;
3. when the settings' stages include ``integrate``: a batched linearly implicit Rosenbrock
   integration (ROS2, L-stable, embedded first-order error estimate, one step size per item)
   from each initial state, until the trajectory is within ``ball`` of its item's candidate and
   still closing in — the same acceptance as the single chain;

and every item that fails any of these (no convergence, rejected, unstable or marginal, or a
trajectory that does not reach its candidate) is solved by the single chain,
:func:`chain.solve_steady_state`, with its Newton point passed as a hint. With ``device`` a
torch device, rates, Jacobians (autograd) and linear solves run in torch there; the bookkeeping
and the verification stay in NumPy float64.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.chain import as_compiled, resolve_inputs, solve_steady_state
from sbmleq.core.solve.newton import ARMIJO, MAX_HALVINGS, STALL, TARGET, positive_step
from sbmleq.core.solve.outcome import SolveSettings, SolveStatus, StageRecord, SteadyStateResult
from sbmleq.core.solve.system import (Reduction, ResidualScale, classify,
                                      state_volumes)

__all__ = ["solve_batch", "NumpyBackend", "TorchBackend"]

# ROS3 (Sandu et al. 1997: L-stable, 3 stages, order 3 with an embedded order-2 estimate), in
# the form (I / (h gamma) - J) k_i = f(x + sum_j a_ij k_j) + sum_j c_ij k_j / h
ROS3_GAMMA = 0.43586652150845899941601945119356
ROS3_C = (-1.0156171083877702091975600115545, 4.0759956452537699824805835358067,
          9.2076794298330791242156818474003)
ROS3_M = (1.0, 6.1697947043828245592553615689730, -0.42772256543218573326238373806514)
ROS3_E = (0.5, -2.9079558716805469821718236208017, 0.22354069897811569627360909276199)
BATCH_RTOL = 1e-4  # the batched trajectories only decide which candidate is reached
BATCH_ATOL = 1e-6  # times the state's size: the floor of the distance to a candidate
BATCH_STEPS = 500  # batched steps at most: slow items go on in the single chain (LSODA)


class NumpyBackend:
    """Rates, Jacobians and batched solves in NumPy."""

    def __init__(self, compiled: CompiledNetwork) -> None:
        self.compiled = compiled

    def rhs(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.compiled.rhs(x, p)

    def jacobian(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.compiled.jacobian(x, p, sparse=False)

    def inverse(self, a: np.ndarray) -> Any:
        """A factorisation of ``a`` for :meth:`apply` (here the inverse: small systems)."""
        try:
            return np.linalg.inv(a)
        except np.linalg.LinAlgError:
            return np.full_like(a, np.nan)

    def apply(self, inv: Any, b: np.ndarray) -> np.ndarray:
        return np.einsum("bij,bj->bi", inv, b)

    def solve(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            out = np.linalg.solve(a, b[..., None])[..., 0]
            if np.all(np.isfinite(out)):
                return out
        except np.linalg.LinAlgError:
            pass
        out = np.empty_like(b)
        for i in range(len(b)):  # singular items: least squares one by one
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                out[i] = np.linalg.lstsq(a[i], b[i], rcond=None)[0]
        return out


class TorchBackend(NumpyBackend):
    """The same in torch on ``device`` (float64); arrays cross as NumPy."""

    def __init__(self, compiled: CompiledNetwork, device: str) -> None:
        import torch  # opt-in: the GPU path

        super().__init__(compiled)
        self.torch, self.device = torch, torch.device(device)

    def _t(self, a: np.ndarray) -> Any:
        return self.torch.as_tensor(np.ascontiguousarray(a), dtype=self.torch.float64,
                                    device=self.device)

    def rhs(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.compiled.torch_rhs(self._t(x), self._t(p)).cpu().numpy()

    def jacobian(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.compiled.torch_jacobian(self._t(x), self._t(p)).detach().cpu().numpy()

    def inverse(self, a: np.ndarray) -> Any:
        lu, piv, _ = self.torch.linalg.lu_factor_ex(self._t(a))
        return lu, piv

    def apply(self, inv: Any, b: np.ndarray) -> np.ndarray:
        lu, piv = inv
        return self.torch.linalg.lu_solve(lu, piv, self._t(b)[..., None])[..., 0].cpu().numpy()

    def solve(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ta, tb = self._t(a), self._t(b)[..., None]
        out, info = self.torch.linalg.solve_ex(ta, tb)
        bad = (info != 0) | ~self.torch.isfinite(out).all(dim=(-2, -1))
        if bool(bad.any()):
            out[bad] = self.torch.linalg.pinv(ta[bad]) @ tb[bad]
        return out[..., 0].cpu().numpy()


class _Batch:
    """The reduced systems of all items (arrays with a leading batch axis)."""

    def __init__(self, compiled: CompiledNetwork, x0: np.ndarray, p: np.ndarray) -> None:
        self.compiled, self.x0, self.p = compiled, x0, p
        self.red = Reduction.of(compiled)
        self.scaler = ResidualScale(compiled)
        self.vol = state_volumes(compiled, p)
        self.totals = self.red.totals(x0, self.vol)
        self.offset, self.z = self.red.affine(self.vol, self.totals)
        self.k = self.red.n_species
        sizes = np.maximum(np.max(np.abs(x0), axis=-1), np.max(np.abs(self.totals), axis=-1,
                                                               initial=0.0))
        self.x_scale = np.where(sizes > 0, sizes, 1.0)
        s0 = np.max(self.scaler.scale(x0, p, self.vol), axis=-1, initial=0.0)
        self.ref = np.where(np.isfinite(s0), s0, 0.0)  # throughput at x0 (residual floor)

    def full(self, y: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.offset[i] + np.einsum("bnm,bm->bn", self.z[i], y)

    def residual(self, x: np.ndarray, i: np.ndarray, f: np.ndarray) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        s = self.scaler.scale(x, self.p[i], self.vol[i])
        return ResidualScale.relative(f, s, self.ref[i]), s

    def distance(self, a: np.ndarray, b: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.max(np.abs(a - b) / (np.abs(b) + 1e-6 * self.x_scale[i, None]), axis=-1,
                      initial=0.0)


def _clip(y: np.ndarray, species: np.ndarray) -> np.ndarray:
    y = y.copy()
    y[:, species] = np.maximum(y[:, species], 0.0)
    return y


def batched_newton(b: _Batch, be: NumpyBackend, settings: SolveSettings,
                   deadline: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped Newton for every item from its ``x0``: states, converged flags, iterations."""
    keep, n_items = b.red.keep, len(b.x0)
    species = keep < b.k
    y = _clip(b.x0[:, keep], species)
    x = b.full(y, np.arange(n_items))
    active = np.ones(n_items, bool)
    converged = np.zeros(n_items, bool)
    iterations = np.zeros(n_items, np.int64)
    goal = settings.residual_tol * TARGET
    history = np.full((STALL + 1, n_items), np.inf)  # residuals of the last iterations
    for it in range(settings.max_newton_iter + 1):
        i = np.flatnonzero(active)
        if not len(i):
            break
        f = be.rhs(x[i], b.p[i])
        res, s = b.residual(x[i], i, f)
        done = res <= goal
        converged[i[done]] = True
        history = np.roll(history, 1, axis=0)
        history[0, i] = res
        stalled = (it >= STALL) & (res > 0.5 * history[STALL, i])
        active[i[done | ~np.isfinite(res) | stalled]] = False
        keep_going = ~done & np.isfinite(res) & ~stalled
        i, f, s = i[keep_going], f[keep_going], s[keep_going]
        if not len(i) or it == settings.max_newton_iter or time.monotonic() > deadline:
            break
        jr = be.jacobian(x[i], b.p[i])[:, keep] @ b.z[i]
        fr = f[:, keep]
        dy = be.solve(jr, -fr)
        w = 1.0 / (s[:, keep] + ResidualScale.floor(s, b.ref[i]))
        phi0 = np.sum((w * fr) ** 2, axis=-1)
        alpha = positive_step(x[i], b.full(dy, i) - b.offset[i], b.k)
        pending = np.isfinite(dy).all(axis=-1)
        active[i[~pending]] = False
        for _ in range(MAX_HALVINGS):
            j = np.flatnonzero(pending)
            if not len(j):
                break
            yt = _clip(y[i[j]] + alpha[j, None] * dy[j], species)
            xt = b.full(yt, i[j])
            phi = np.sum((w[j] * be.rhs(xt, b.p[i[j]])[:, keep]) ** 2, axis=-1)
            ok = np.isfinite(phi) & (phi <= (1.0 - ARMIJO * alpha[j]) * phi0[j])
            y[i[j[ok]]], x[i[j[ok]]] = yt[ok], xt[ok]
            pending[j[ok]] = False
            alpha[j[~ok]] *= 0.5
        active[i[pending]] = False  # the line search failed
        iterations[i] += 1
    return x, converged, iterations


def batched_verify(b: _Batch, be: NumpyBackend, x: np.ndarray, settings: SolveSettings
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[bool | None]]:
    """:func:`system.verify` for all items: (state, ok, residual, max real part, stable)."""
    x = x.copy()
    k, idx = b.k, np.arange(len(x))
    big = np.max(np.abs(x[:, :k]), axis=-1, initial=0.0)
    ok = np.isfinite(x).all(axis=-1)
    if k:
        ok &= np.min(x[:, :k], axis=-1) >= -settings.negative_tol * np.maximum(big, 1e-300)
        x[:, :k] = np.maximum(x[:, :k], 0.0)
    safe = np.where(ok[:, None], x, b.x0)
    res = b.residual(safe, idx, be.rhs(safe, b.p))[0]
    cons = b.red.conservation_error(safe, b.vol, b.totals)
    ok &= (res <= settings.residual_tol) & (cons <= settings.conservation_tol)
    jr = be.jacobian(safe, b.p)[:, b.red.keep] @ b.z
    ok &= np.isfinite(jr).all(axis=(-2, -1))
    max_real = np.full(len(x), np.nan)
    stable: list[bool | None] = [None] * len(x)
    good = np.flatnonzero(ok)
    if len(good):
        eig = np.linalg.eigvals(jr[good]).real if b.red.m else np.full((len(good), 1), -np.inf)
        max_real[good] = eig.max(axis=-1)
        for g in good:
            stable[g] = classify(float(max_real[g]), jr[g], settings)
    return x, ok, res, max_real, stable


def batched_reach(b: _Batch, be: NumpyBackend, target: np.ndarray, items: np.ndarray,
                  settings: SolveSettings, deadline: float) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """ROS3 from each item's ``x0`` until it reaches ``target``: (reached, time, state)."""
    n_items = len(items)
    x, t = b.x0[items].copy(), np.zeros(n_items)
    reached = np.zeros(n_items, bool)
    alive = np.ones(n_items, bool)
    jr0 = be.jacobian(x, b.p[items])
    h = 1e-2 / np.maximum(np.max(np.sum(np.abs(jr0), axis=-1), axis=-1), 1e-12)
    d_check, t_check = np.full(n_items, np.inf), np.zeros(n_items)
    atol = BATCH_ATOL * b.x_scale[items, None]
    eye = np.eye(b.x0.shape[1])
    for _ in range(min(settings.max_steps, BATCH_STEPS)):
        i = np.flatnonzero(alive & ~reached)
        if not len(i) or time.monotonic() > deadline:
            break
        g, p, hi = items[i], b.p[items[i]], h[i, None]
        with np.errstate(all="ignore"):
            inv = be.inverse(eye / (ROS3_GAMMA * hi[..., None]) - be.jacobian(x[i], p))
            f1 = be.rhs(x[i], p)
            k1 = be.apply(inv, f1)
            f2 = be.rhs(x[i] + k1, p)  # A21 = A31 = 1, A32 = 0: stages 2 and 3 share Y
            k2 = be.apply(inv, f2 + ROS3_C[0] * k1 / hi)
            k3 = be.apply(inv, f2 + (ROS3_C[1] * k1 + ROS3_C[2] * k2) / hi)
            new = x[i] + ROS3_M[0] * k1 + ROS3_M[1] * k2 + ROS3_M[2] * k3
            est = ROS3_E[0] * k1 + ROS3_E[1] * k2 + ROS3_E[2] * k3
            scale = atol[i] + BATCH_RTOL * np.maximum(np.abs(x[i]), np.abs(new))
            err = np.max(np.abs(est) / scale, axis=-1)
        fine = np.isfinite(err) & np.isfinite(new).all(axis=-1)
        acc = fine & (err <= 1.0)
        x[i[acc]], t[i[acc]] = new[acc], t[i[acc]] + h[i[acc]]
        factor = np.where(fine, np.clip(0.9 * np.maximum(err, 1e-10) ** (-1.0 / 3.0), 0.2, 6.0),
                          0.2)
        h[i] *= factor
        d = b.distance(x[i], target[i], g)
        due = t[i] >= 2.0 * t_check[i]
        close = (d < settings.ball ** 2) | (due & (d < settings.ball) & (d < d_check[i]))
        reached[i[close]] = True
        d_check[i[due]], t_check[i[due]] = d[due], t[i[due]]
        alive[i[(t[i] >= settings.horizon) | (h[i] < 1e-300)]] = False
    return reached, t, x


def solve_batch(net: ReactionNetwork | CompiledNetwork,
                x0: Sequence[Sequence[float]] | np.ndarray | Mapping[str, float] | None = None,
                p: Sequence[Sequence[float]] | np.ndarray | Mapping[str, float] | None = None,
                settings: SolveSettings = SolveSettings(),
                device: str | None = None) -> list[SteadyStateResult]:
    """:func:`solve_steady_state` for every row of ``x0`` ``(B, n_state)`` and/or ``p``
    ``(B, n_params)`` (one of them may be a single vector, broadcast), vectorised (module
    docstring). ``device``: None for NumPy, ``"auto"`` for CUDA when available, or a torch
    device string."""
    started = time.monotonic()
    deadline = started + settings.timeout
    compiled = as_compiled(net)
    x_arr, p_arr = resolve_inputs(compiled, x0, p)
    n_items = int(np.broadcast_shapes(x_arr.shape[:-1], p_arr.shape[:-1], (1,))[0]) \
        if x_arr.ndim > 1 or p_arr.ndim > 1 else 1
    x_arr = np.broadcast_to(x_arr, (n_items, x_arr.shape[-1])).copy()
    p_arr = np.broadcast_to(p_arr, (n_items, p_arr.shape[-1])).copy()
    be = _backend(compiled, device)
    b = _Batch(compiled, x_arr, p_arr)
    t0 = time.monotonic()
    x, conv, its = batched_newton(b, be, settings, deadline)
    state, ok, res, max_real, stable = batched_verify(b, be, x, settings)
    ok &= conv
    t_newton = (time.monotonic() - t0) / n_items
    accept = ok & np.array([s is True for s in stable])
    reach_note: dict[int, str] = {}
    reached_at: dict[int, np.ndarray] = {}
    t1 = time.monotonic()
    if "integrate" in settings.stages and accept.any():
        items = np.flatnonzero(accept)
        reached, t_end, x_end = batched_reach(b, be, state[items], items, settings, deadline)
        for g, r, te, xe in zip(items, reached, t_end, x_end):
            reach_note[int(g)] = f"reached at t={te:.3g}" if r else "not reached"
            reached_at[int(g)] = xe
        accept[items[~reached]] = False
    t_reach = (time.monotonic() - t1) / max(len(reach_note), 1)
    out: list[SteadyStateResult] = []
    for g in range(n_items):
        if not accept[g]:
            hints = [state[g]] if ok[g] else []
            out.append(solve_steady_state(compiled, x_arr[g], p_arr[g], settings, hints))
            continue
        stages = [StageRecord("batched newton", "stable", t_newton)]
        if g in reach_note:
            stages.append(StageRecord("batched integrate", reach_note[g], t_reach))
        out.append(SteadyStateResult(
            status=SolveStatus.STABLE, state=state[g], stable=True,
            max_real_eigenvalue=float(max_real[g]), residual=float(res[g]),
            totals=b.totals[g], newton_iterations=int(its[g]), stages=tuple(stages),
            stage="batched newton", reached_state=reached_at.get(g),
            seconds=sum(s.seconds for s in stages),
            state_ids=compiled.state_ids))
    return out


def _backend(compiled: CompiledNetwork, device: str | None) -> NumpyBackend:
    if device is None:
        return NumpyBackend(compiled)
    if device == "auto":
        try:
            import torch  # only to ask whether a GPU is there
        except ImportError:
            return NumpyBackend(compiled)
        return TorchBackend(compiled, "cuda") if torch.cuda.is_available() \
            else NumpyBackend(compiled)
    return TorchBackend(compiled, device)
