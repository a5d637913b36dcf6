"""Damped Newton and pseudo-transient continuation on the system reduced by its conservation laws.

Both work on the independent coordinates ``y`` of :class:`~sbmleq.core.solve.system.ReducedSystem`
(the dependent species follow from the conserved totals), so every iterate stays in the initial
state's conservation class and the reduced Jacobian is non-singular at a hyperbolic steady state.

- :func:`newton`: the Newton direction (least squares when the reduced Jacobian is singular),
  a step limited so that positive species stay positive (at most 99 % of the way to zero),
  and Armijo backtracking on ``|W f|^2`` with ``W`` the residual scale at the current iterate.
- :func:`ptc`: pseudo-transient continuation, ``(I / tau - J) dy = f`` with the switched
  evolution relaxation ``tau <- tau |f_old| / |f_new|`` (at least doubling after a full
  step): it follows the dynamics while far
  from a steady state and becomes Newton near one, so it reaches steady states that plain Newton
  from a poor start misses.

Either returns a :class:`NewtonOutcome`; the caller verifies the state (``system.verify``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sbmleq.core.solve.outcome import SolveSettings
from sbmleq.core.solve.scale import ResidualScale
from sbmleq.core.solve.system import ReducedSystem

__all__ = ["NewtonOutcome", "newton", "ptc", "positive_step", "TARGET"]

TARGET = 1e-2  # iterate until the residual is this fraction of the tolerance (margin to verify)
ARMIJO = 1e-4
MAX_HALVINGS = 40
STALL = 10  # Newton gives up when 10 iterations have not halved the residual (no root near)


@dataclass(frozen=True)
class NewtonOutcome:
    state: np.ndarray | None
    converged: bool
    iterations: int
    residual: float
    reason: str = ""


def positive_step(x: np.ndarray, dx: np.ndarray, k: int | np.ndarray) -> float:
    """The largest step in ``(0, 1]`` keeping every positive species above 1 % of its value.
    ``k``: the first ``k`` variables are the constrained species, or a boolean mask over the
    state (``ReducedSystem.nonneg``: signed species are not constrained)."""
    if isinstance(k, np.ndarray):
        xs, ds = x[..., k], dx[..., k]
    else:
        xs, ds = x[..., :k], dx[..., :k]
    shrink = (ds < 0) & (xs > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(shrink, 0.99 * xs / np.where(shrink, -ds, 1.0), np.inf)
    return np.minimum(1.0, np.min(ratio, axis=-1, initial=np.inf))


def _weights(system: ReducedSystem, x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The residual ``f``, its relative size, and the weights ``1 / (scale + floor)`` of the
    independent rows."""
    f = system.rhs(x)
    s = system.scale(x)
    res = float(ResidualScale.relative(f, s, system.ref_scale))
    return f, res, 1.0 / (s[system.reduction.keep] + ResidualScale.floor(s, system.ref_scale))


def _direction(jr: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        d = np.linalg.solve(jr, rhs)
        if np.all(np.isfinite(d)):
            return d
    except np.linalg.LinAlgError:
        pass
    return np.linalg.lstsq(jr, rhs, rcond=None)[0]


def _start(system: ReducedSystem, x_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = system.reduction.keep_nonneg
    y = np.array(np.asarray(x_start, dtype=np.float64)[system.reduction.keep])
    y[pos] = np.maximum(y[pos], 0.0)
    return y, system.full(y)


def _clip(system: ReducedSystem, y: np.ndarray) -> np.ndarray:
    pos = system.reduction.keep_nonneg
    y = y.copy()
    y[pos] = np.maximum(y[pos], 0.0)
    return y


def _polish(system: ReducedSystem, x: np.ndarray, y: np.ndarray, f: np.ndarray,
            res: float) -> tuple[np.ndarray, float]:
    """One more full Newton step from a converged iterate, kept if the residual does not grow
    (it takes the state from ~1e-11 to round-off accuracy at the cost of one iteration)."""
    keep = system.reduction.keep
    try:
        dy = np.linalg.solve(system.reduced_jacobian(x), -f[keep])
    except np.linalg.LinAlgError:
        return x, res
    x_new = system.full(_clip(system, y + dy))
    res_new = system.residual(x_new)
    return (x_new, res_new) if res_new <= res else (x, res)


def newton(system: ReducedSystem, x_start: np.ndarray, settings: SolveSettings,
           deadline: float, max_iter: int | None = None) -> NewtonOutcome:
    """Damped Newton from ``x_start`` (projected into the class) to a steady state."""
    keep = system.reduction.keep
    y, x = _start(system, x_start)
    max_iter = settings.max_newton_iter if max_iter is None else max_iter
    goal = settings.residual_tol * TARGET
    res = np.inf
    history: list[float] = []
    for it in range(max_iter + 1):
        f, res, w = _weights(system, x)
        if not np.isfinite(res):
            return NewtonOutcome(None, False, it, res, "rhs not finite")
        if keep.size == 0:
            return NewtonOutcome(x, True, it, res)
        if res <= goal:
            x_final, res_final = _polish(system, x, y, f, res)
            return NewtonOutcome(x_final, True, it + 1, res_final)
        history.append(res)
        if len(history) > STALL and res > 0.5 * history[-1 - STALL]:
            return NewtonOutcome(x, res <= settings.residual_tol, it, res, "stalled")
        if it == max_iter or time.monotonic() > deadline:
            break
        jr = system.reduced_jacobian(x)
        if not np.all(np.isfinite(jr)):
            return NewtonOutcome(None, False, it, res, "jacobian not finite")
        fr = f[keep]
        dy = _direction(jr, -fr)
        alpha = float(positive_step(x, system.full(y + dy) - x, system.nonneg))
        phi0 = float(np.sum((w * fr) ** 2))
        for _ in range(MAX_HALVINGS):
            y_try = _clip(system, y + alpha * dy)
            x_try = system.full(y_try)
            f_try = system.rhs(x_try)[keep]
            phi = float(np.sum((w * f_try) ** 2))
            if np.isfinite(phi) and phi <= (1.0 - ARMIJO * alpha) * phi0:
                break
            alpha *= 0.5
        else:
            reason = "line search failed" if res > settings.residual_tol else ""
            return NewtonOutcome(x, res <= settings.residual_tol, it, res, reason)
        y, x = y_try, x_try
    return NewtonOutcome(x, res <= settings.residual_tol, it, res,
                         "timeout" if time.monotonic() > deadline else "no convergence")


def ptc(system: ReducedSystem, x_start: np.ndarray, settings: SolveSettings,
        deadline: float, max_iter: int | None = None) -> NewtonOutcome:
    """Pseudo-transient continuation from ``x_start`` (see the module docstring)."""
    keep = system.reduction.keep
    y, x = _start(system, x_start)
    max_iter = settings.max_ptc_iter if max_iter is None else max_iter
    goal = settings.residual_tol * TARGET
    tau = None
    res = np.inf
    for it in range(max_iter + 1):
        f, res, w = _weights(system, x)
        if not np.isfinite(res):
            return NewtonOutcome(None, False, it, res, "rhs not finite")
        if res <= goal or keep.size == 0:
            return NewtonOutcome(x, True, it, res)
        if it == max_iter or time.monotonic() > deadline:
            break
        jr = system.reduced_jacobian(x)
        if not np.all(np.isfinite(jr)):
            return NewtonOutcome(None, False, it, res, "jacobian not finite")
        if tau is None:
            tau = 1e-2 / max(float(np.max(np.sum(np.abs(jr), axis=1))), 1e-300)
        fr = f[keep]
        norm0 = float(np.linalg.norm(w * fr))
        eye = np.eye(len(keep))
        for _ in range(MAX_HALVINGS):
            dy = _direction(eye / tau - jr, fr)
            alpha = float(positive_step(x, system.full(y + dy) - x, system.nonneg))
            y_try = _clip(system, y + alpha * dy)
            x_try = system.full(y_try)
            norm1 = float(np.linalg.norm(w * system.rhs(x_try)[keep]))
            if np.isfinite(norm1) and norm1 < 2.0 * norm0:
                break
            tau *= 0.25
        else:
            return NewtonOutcome(x, False, it, res, "pseudo-time step failed")
        # switched evolution relaxation, at least doubling after a full step: a pseudo-time that
        # grows geometrically, so that slow stretches of the dynamics do not stall it
        ratio = float(np.clip(norm0 / max(norm1, 1e-300), 0.5, 10.0))
        tau = min(tau * ratio * (2.0 if alpha >= 1.0 else max(alpha, 0.1)), 1e300)
        y, x = y_try, x_try
    return NewtonOutcome(x, res <= settings.residual_tol, it, res,
                         "timeout" if time.monotonic() > deadline else "no convergence")
