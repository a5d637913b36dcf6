"""Stiff integration from the initial state, and what the trajectory says about the dynamics.

:class:`Trajectory` steps scipy's BDF (or LSODA) with the compiled analytic Jacobian one step at
a time, so the chain can look at the state at geometric checkpoints, stop the moment it knows the
answer, and never overrun its wall-clock deadline. Every accepted step is kept (the last
``HISTORY`` of them) for :func:`detect_oscillation`; :func:`growing` reads the checkpoint norms.

Oscillation: along the component with the largest relative swing, local maxima and minima are
located (refined by a parabola through the three steps around each). Regular (a limit cycle): the
last ``osc_cycles`` cycles have amplitudes and periods that agree within ``osc_rtol`` and an
amplitude above the ``ball`` of the state's size. Irregular (period doubling, chaos): over the
last ``3 osc_cycles`` maxima, the swing of the last third is at least 0.9 of the first third's.
The per-cycle amplitude ratio ``decay`` tells a sustained oscillation (1) from a damped one
(< 1), which the chain checks against the stability of the fixed point inside the cycle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sbmleq.core.solve.outcome import SolveSettings
from sbmleq.core.solve.system import ReducedSystem

__all__ = ["Trajectory", "Oscillation", "detect_oscillation", "growing", "growing_component",
           "exploding", "growth_verdict", "HISTORY"]

HISTORY = 20_000  # steps kept for the oscillation analysis
DENSE_JAC_MAX = 256  # above this many state variables the integrator gets a sparse Jacobian


class Trajectory:
    """The solution from ``system.x0`` (or from ``x_start`` at ``t_start``), advanced on
    demand (see the module docstring); ``max_step`` bounds the step (to resolve a slow
    unstable mode that large implicit steps would damp)."""

    def __init__(self, system: ReducedSystem, settings: SolveSettings, deadline: float,
                 method: str | None = None, x_start: np.ndarray | None = None,
                 t_start: float = 0.0, max_step: float = np.inf) -> None:
        from scipy import integrate  # ~0.2 s import: only when a trajectory is needed

        self.system, self.settings, self.deadline = system, settings, deadline
        method = method or settings.method
        self.method = method
        sparse = system.compiled.n_state > DENSE_JAC_MAX and method == "BDF"

        def fun(t: float, x: np.ndarray) -> np.ndarray:
            return system.rhs(x)

        def jac(t: float, x: np.ndarray) -> np.ndarray:
            if sparse:
                return system.compiled.jacobian(x, system.p, sparse=True)
            return system.jacobian(x)

        cls = {"BDF": integrate.BDF, "LSODA": integrate.LSODA, "Radau": integrate.Radau}[method]
        atol = settings.integrate_atol * system.x_scale
        start = np.array(system.x0 if x_start is None else x_start, dtype=np.float64)
        # a first step from the fastest rate: near a steady state the solvers' own guess (from
        # |f|, tiny there) can be huge and land where the laws are undefined (BIOMD279)
        j0 = np.asarray(system.jacobian(start))
        norm = float(np.max(np.sum(np.abs(j0), axis=-1), initial=0.0)) if j0.size else 0.0
        first = float(np.clip(1e-3 / norm, 1e-12, 1.0)) if np.isfinite(norm) and norm > 0 \
            else 1e-3
        self.solver = cls(fun, t_start, start, max(settings.horizon, t_start),
                          rtol=settings.integrate_rtol, atol=atol, jac=jac, max_step=max_step,
                          first_step=min(first, max_step))
        self.times: list[float] = [t_start]
        self.states: list[np.ndarray] = [start]
        self.steps = 0
        self.message = ""

    @property
    def t(self) -> float:
        return float(self.solver.t)

    @property
    def x(self) -> np.ndarray:
        return np.array(self.solver.y)

    def advance(self, t_target: float) -> str:
        """Step until ``t >= t_target``: ``ok``, ``finished`` (horizon), ``blowup``,
        ``failed``, ``steps`` (step budget) or ``timeout``."""
        limit = self.settings.growth_limit * self.system.x_scale
        while self.solver.t < t_target:
            if self.solver.status != "running":
                return "finished"
            if time.monotonic() > self.deadline:
                return "timeout"
            if self.steps >= self.settings.max_steps:
                return "steps"
            try:
                message = self.solver.step()
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:  # NaN/inf inside
                self.message = str(exc)
                return "blowup" if self._was_big(limit) else "failed"
            self.steps += 1
            if self.solver.status == "failed":
                self.message = str(message or "integrator failed")
                big = not np.all(np.isfinite(self.solver.y)) or \
                    np.max(np.abs(self.solver.y)) > limit ** 0.5
                return "blowup" if big else "failed"
            y = np.array(self.solver.y)
            big = float(np.abs(y).max()) if y.size else 0.0  # NaN if any is NaN; one pass
            if big < np.inf:  # finite
                self.times.append(float(self.solver.t))
                self.states.append(y)
            if len(self.times) > 2 * HISTORY:
                del self.times[:HISTORY], self.states[:HISTORY]
            if big != big:
                self.message = "the state became NaN (a rate law undefined there)"
                return "blowup" if self._was_big(limit) else "failed"
            if big > limit:  # (inf included)
                return "blowup"
        return "ok" if self.solver.status == "running" else "finished"

    def _was_big(self, limit: float) -> bool:
        """The last good state was beyond ``sqrt(limit)``: a failure there is a blow-up."""
        return float(np.max(np.abs(self.states[-1]), initial=0.0)) > limit ** 0.5

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.times[-HISTORY:]), np.array(self.states[-HISTORY:])


@dataclass(frozen=True)
class Oscillation:
    component: int
    period: float  # mean time between maxima over the cycles examined
    amplitude: float  # max - min over the last cycle(s), in the component's unit
    decay: float  # per-cycle amplitude ratio over the cycles examined (1: sustained)
    cycles: int
    mean: np.ndarray  # the state averaged over the last cycle(s)
    regular: bool  # equal cycles (a limit cycle); False: sustained but irregular (chaos, ...)


def _refine(t: np.ndarray, y: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time and value of the extremum of the parabola through steps ``i-1, i, i+1``."""
    t0, t1, t2 = t[idx - 1], t[idx], t[idx + 1]
    y0, y1, y2 = y[idx - 1], y[idx], y[idx + 1]
    d1 = (y1 - y0) / (t1 - t0)
    d2 = (y2 - y1) / (t2 - t1)
    a = (d2 - d1) / (t2 - t0)  # curvature / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        tv = 0.5 * (t0 + t1) - d1 / (2 * a)
    ok = np.isfinite(tv) & (a != 0) & (tv > t0) & (tv < t2)
    tv = np.where(ok, tv, t1)
    yv = np.where(ok, y0 + (tv - t0) * (d1 + a * (tv - t1)), y1)  # Newton form of the parabola
    return tv, yv


def detect_oscillation(times: np.ndarray, states: np.ndarray, settings: SolveSettings,
                       x_scale: float) -> Oscillation | None:
    """A sustained (or slowly damped) oscillation in the stored steps, or None (``x_scale``:
    max |x0|, 0 allowed)."""
    if len(times) < 4 * settings.osc_cycles:
        return None
    size = max(float(np.max(np.abs(states))), x_scale)  # the trajectory's own magnitude
    swing = (states.max(axis=0) - states.min(axis=0)) / (np.max(np.abs(states), axis=0)
                                                         + 1e-6 * size)
    for comp in np.argsort(-swing)[:3]:
        if swing[comp] < settings.ball:
            return None
        found = _cycles(times, states[:, comp], settings, 1e-6 * size)
        if found is not None:
            t_from, t_to, period, amplitude, decay, cycles, regular = found
            last = (times >= t_from) & (times <= t_to)
            mean = np.trapezoid(states[last], times[last], axis=0) / max(t_to - t_from, 1e-300)
            return Oscillation(int(comp), period, amplitude, decay, cycles, mean, regular)
    return None


def _cycles(t: np.ndarray, v: np.ndarray, settings: SolveSettings, floor: float
            ) -> tuple[float, float, float, float, float, int, bool] | None:
    """Regular: the last ``n`` cycles (maximum to maximum) agree in amplitude and period within
    ``osc_rtol``; amplitudes count from ``ball`` times the component's size plus ``floor`` (a
    millionth of the state's size: round-off wobble of a vanishing species is no cycle). Irregular: over the last ``3 n`` maxima the swing of the last third is at
    least 0.9 of the first third's (period doubling, chaos: sustained, not periodic)."""
    inner = np.arange(1, len(v) - 1)
    top = inner[(v[inner] > v[inner - 1]) & (v[inner] >= v[inner + 1])]
    bottom = inner[(v[inner] < v[inner - 1]) & (v[inner] <= v[inner + 1])]
    n = settings.osc_cycles
    if len(top) < n + 1 or len(bottom) < n:
        return None
    tt, vt = _refine(t, v, top)
    tb, vb = _refine(t, v, bottom)
    size = float(np.max(np.abs(vt[-(n + 1):]))) + floor  # amplitudes are judged against this
    amps, periods = [], []
    for k in range(len(tt) - n, len(tt)):  # each cycle: from one maximum to the next
        inside = (tb > tt[k - 1]) & (tb < tt[k])
        if not inside.any():
            break
        amps.append(vt[k] - vb[inside].min())
        periods.append(tt[k] - tt[k - 1])
    if len(amps) == n:
        amps_a, per_a = np.array(amps), np.array(periods)
        if np.all(amps_a > settings.ball * size) and np.all(per_a > 0) \
                and np.max(np.abs(np.diff(per_a)) / per_a[1:]) <= settings.osc_rtol \
                and np.max(np.abs(np.diff(amps_a)) / amps_a[1:]) <= settings.osc_rtol:
            decay = float((amps_a[-1] / amps_a[0]) ** (1.0 / (n - 1)))
            return (float(tt[-2]), float(tt[-1]), float(per_a.mean()), float(amps_a[-1]),
                    decay, n, True)
    m = 3 * n
    if len(tt) < m + 1:
        return None
    start, stop = tt[-(m + 1)], tt[-1]
    cuts = np.linspace(start, stop, 4)

    def swing(lo: float, hi: float) -> float:
        w = (t >= lo) & (t <= hi)
        return float(v[w].max() - v[w].min()) if w.any() else 0.0

    first, last = swing(cuts[0], cuts[1]), swing(cuts[2], cuts[3])
    if first <= 0 or last < 0.9 * first or last < settings.ball * size:
        return None
    decay = float((last / first) ** (3.0 / (2.0 * m)))
    return float(cuts[2]), float(stop), float((stop - start) / m), last, decay, m, False


def growing(checks: list[tuple[float, float]], size: float, span: float = 100.0,
            exponent: float = 0.25) -> bool:
    """Growth without bound, read from the checkpoints ``(t, max |x|)``: over the last
    ``span`` factor in time the norm rose monotonically, at least like ``t ** exponent``
    (linear growth gives 1, exponential far more), to over 100 times ``size`` (the larger of
    max |x0| and the norm at the first checkpoint)."""
    if len(checks) < 3:
        return False
    t2, n2 = checks[-1]
    early = [k for k, (t, _) in enumerate(checks) if 0 < t <= t2 / span]
    if not early or n2 <= 100.0 * size:
        return False
    k = early[-1]
    t1, n1 = checks[k]
    norms = np.array([n for _, n in checks[k:]])
    if np.any(np.diff(norms) < 0) or n1 <= 0:
        return False
    return bool(np.log(n2 / n1) / np.log(t2 / t1) >= exponent)


def growing_component(points: list[tuple[float, np.ndarray]], size: float, span: float = 100.0,
                      factor: float = 10.0) -> int | None:
    """A state variable growing without bound while the norm does not show it (a species fed at
    a constant rate beside a much larger constant one: BIOMD399), read from the checkpoint
    states ``(t, x)``: over the last ``span`` factor in time ``|x_i|`` rose monotonically by
    at least ``factor`` (like ``t ** 0.5`` or faster) to above ``size`` (max |x0|). Its index,
    or None."""
    if len(points) < 3:
        return None
    t2 = points[-1][0]
    early = [k for k, (t, _) in enumerate(points) if 0 < t <= t2 / span]
    if not early:
        return None
    vals = np.abs(np.array([x for _, x in points[early[-1]:]]))
    if len(vals) < 3:
        return None
    rising = np.all(np.diff(vals, axis=0) >= 0, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        big = (vals[-1] >= factor * vals[0]) & (vals[-1] > size)
    hits = np.flatnonzero(rising & big)
    return int(hits[np.argmax(vals[-1, hits])]) if len(hits) else None


def exploding(checks: list[tuple[float, float]], limit: float) -> bool:
    """The step budget ran out while the norm kept rising and is beyond ``sqrt(limit)`` (as a
    NaN there counts as a blow-up): the step size collapsed in a finite-time blow-up
    (BIOMD336: 200 000 steps between t = 526 and 783, max |x| from 0.26 to 7e3)."""
    if len(checks) < 3:
        return False
    n = [v for _, v in checks[-3:]]
    return n[2] > limit ** 0.5 and n[2] > n[1] > n[0]


def growth_verdict(norms: list[tuple[float, float]], points: list[tuple[float, np.ndarray]],
                   state: str, x0_size: float, limit: float, ids: tuple[str, ...]) -> str | None:
    """Why the trajectory that ended in ``state`` (``finished``: the horizon, ``steps``: the
    step budget, ...) grows without bound, or None: :func:`growing` on the checkpoint norms,
    :func:`exploding` at the step budget (``limit``: the growth limit times the state's
    scale), :func:`growing_component` at the horizon."""
    first = norms[1][1] if len(norms) > 1 else 0.0
    if growing(norms, max(x0_size, first, 1e-300)):
        return "the state is still growing at the horizon"
    if state == "steps" and exploding(norms, limit):
        return (f"the state grows without bound: the step budget ran out at t={norms[-1][0]:.3g}"
                f" with max|x| = {norms[-1][1]:.3g} and rising (a finite-time blow-up)")
    k = growing_component(points, x0_size if x0_size > 0 else 1.0) if state == "finished" \
        else None
    if k is not None:
        return (f"{ids[k]} is still growing at the horizon "
                f"(to {float(abs(points[-1][1][k])):.3g})")
    return None
