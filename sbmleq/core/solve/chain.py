"""The staged chain: the steady state a network's dynamics reach from its own initial state.

Stages (each recorded with its outcome and wall time in ``SteadyStateResult.stages``):

1. ``newton``: damped Newton on the reduced system from ``x0``; a verified answer becomes a
   candidate (stable, unstable or marginal by the reduced Jacobian).
2. ``ptc``: pseudo-transient continuation from ``x0``, only when Newton gave no stable candidate.
3. ``integrate``: BDF from ``x0`` with the analytic Jacobian, inspected at geometric checkpoints.
   The trajectory decides: a stable (or marginal) candidate is accepted once the trajectory is
   within ``ball`` of it (scaled max-norm) and still closing in; ``newton@t`` attempts from the
   trajectory add candidates as it slows down; an unstable candidate is reported only when the
   trajectory sits on it long after a perturbation would have left (``t * Re(lambda) > 50``).
4. from the same trajectory: ``oscillation`` (sustained cycles; the fixed point inside is
   searched from the cycle's mean) and ``unbounded`` (norm beyond ``growth_limit``, integrator
   blow-up, or steady growth at the horizon).

So Newton never decides alone: a candidate the dynamics do not reach is never the answer. With
``settings.confirm = False`` the chain stops at the first stable candidate of stages 1-2 (fast,
but then the answer is *a* stable steady state of the class, not necessarily the reached one).
"""

from __future__ import annotations

import time
from dataclasses import replace
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from sbmleq.core.compile import CompiledNetwork, compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.integrate import Trajectory, detect_oscillation, growing
from sbmleq.core.solve.newton import NewtonOutcome, newton, ptc
from sbmleq.core.solve.outcome import SolveSettings, SolveStatus, StageRecord, SteadyStateResult
from sbmleq.core.solve.system import Check, ReducedSystem, verify
from sbmleq.errors import InputError

__all__ = ["solve_steady_state", "as_compiled", "resolve_inputs"]

SIT_GROWTH = 50.0  # e-folds after which a trajectory still on an unstable point sits on it
STAGES = ("newton", "ptc", "integrate")
SOLVERS: dict[str, Callable[..., NewtonOutcome]] = {"newton": newton, "ptc": ptc}
MARGINAL_RTOL = 1e-10  # integrator tolerance when the reached state is marginal
OSC_EVERY = 2000  # integrator steps between two looks for an oscillation, at most
DAMPED = 1e-3  # a per-cycle amplitude ratio below 1 - DAMPED with a stable point inside: damped


def as_compiled(net: ReactionNetwork | CompiledNetwork) -> CompiledNetwork:
    return net if isinstance(net, CompiledNetwork) else compile_network(net)


def resolve_inputs(compiled: CompiledNetwork, x0: Mapping[str, float] | Sequence[float] |
                   np.ndarray | None, p: Mapping[str, float] | Sequence[float] | np.ndarray |
                   None) -> tuple[np.ndarray, np.ndarray]:
    """``x0`` and ``p`` as float arrays (``x0`` by state id or a vector; ``p`` overrides by
    parameter id or a full vector); leading batch dimensions are kept."""
    net = compiled.network
    where = net.name or "network"
    if isinstance(p, Mapping):
        p = net.parameter_vector(p)
    p_arr = compiled.p0 if p is None else np.asarray(p, dtype=np.float64)
    if isinstance(x0, Mapping):
        unknown = sorted(set(x0) - set(net.state_ids))
        if unknown:
            raise InputError(f"unknown state variable(s) {', '.join(unknown[:5])}", source=where)
        base = compiled.x0
        x0 = np.array([float(x0.get(s, base[i])) for i, s in enumerate(net.state_ids)])
    x_arr = compiled.x0 if x0 is None else np.asarray(x0, dtype=np.float64)
    if x_arr.shape[-1:] != (net.n_state,):
        raise InputError(f"the initial state needs {net.n_state} values, got shape "
                         f"{x_arr.shape}", source=where)
    if p_arr.shape[-1:] != (len(compiled.parameter_ids),):
        raise InputError(f"the parameter vector needs {len(compiled.parameter_ids)} values, "
                         f"got shape {p_arr.shape}", source=where)
    if not (np.all(np.isfinite(x_arr)) and np.all(np.isfinite(p_arr))):
        raise InputError("initial state and parameters must be finite", source=where)
    return x_arr, p_arr


def solve_steady_state(net: ReactionNetwork | CompiledNetwork,
                       x0: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
                       p: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
                       settings: SolveSettings = SolveSettings(),
                       candidates: Sequence[np.ndarray] = ()) -> SteadyStateResult:
    """The steady state ``net``'s dynamics reach from ``x0`` (default: its initial state) with
    parameters ``p`` (default: its own), verified (see the module docstring). ``candidates``:
    states from elsewhere (the batched Newton) to verify and test against the trajectory."""
    started = time.monotonic()
    compiled = as_compiled(net)
    x_arr, p_arr = resolve_inputs(compiled, x0, p)
    if x_arr.ndim != 1 or p_arr.ndim != 1:
        raise InputError("one state and one parameter vector here; use solve_batch for many",
                         source=compiled.network.name or "network")
    system = ReducedSystem.build(compiled, x_arr, p_arr)
    out = _Chain(system, settings, started).run(candidates)
    if out.status is SolveStatus.STABLE and out.stable is None and out.reached_state is not \
            None and settings.integrate_rtol > MARGINAL_RTOL:
        # a marginal state (e.g. one of a continuum) is where the trajectory stops, not a root
        # Newton can polish: follow the trajectory again, accurately
        tight = replace(settings, integrate_rtol=MARGINAL_RTOL, stages=("integrate",),
                        timeout=max(settings.timeout - out.seconds, 0.0))
        again = _Chain(system, tight, time.monotonic()).run([])
        if again.status is SolveStatus.STABLE:
            return replace(again, stages=out.stages + again.stages,
                           newton_iterations=out.newton_iterations + again.newton_iterations,
                           seconds=time.monotonic() - started)
    return out


class _Chain:
    def __init__(self, system: ReducedSystem, settings: SolveSettings, started: float) -> None:
        self.system, self.settings, self.started = system, settings, started
        self.deadline = started + settings.timeout
        self.stages: list[StageRecord] = []
        self.found: list[tuple[Check, str]] = []  # verified candidates and the stage that found them
        self.iterations = 0

    # ------------------------------------------------------------------ pieces
    def result(self, status: SolveStatus, found: tuple[Check, str] | None = None,
               reached: np.ndarray | None = None, message: str = "") -> SteadyStateResult:
        check, stage = found if found is not None else (None, None)
        return SteadyStateResult(
            status=status, state=None if check is None else check.state,
            stable=None if check is None else check.stable,
            max_real_eigenvalue=None if check is None else check.max_real,
            residual=None if check is None else check.residual,
            totals=self.system.totals, newton_iterations=self.iterations,
            stages=tuple(self.stages), stage=stage, reached_state=reached,
            seconds=time.monotonic() - self.started, message=message,
            state_ids=self.system.compiled.state_ids)

    def timed_out(self) -> bool:
        return time.monotonic() > self.deadline

    def attempt(self, name: str, method: Callable[..., NewtonOutcome],
                x_start: np.ndarray) -> tuple[Check, str] | None:
        """Run Newton (or PTC) from ``x_start``, verify, keep a new verified point."""
        t0 = time.monotonic()
        out = method(self.system, x_start, self.settings, self.deadline)
        self.iterations += out.iterations
        found = None
        if out.state is None or not out.converged:
            outcome = f"no convergence ({out.reason})" if out.reason else "no convergence"
        else:
            check = verify(self.system, out.state, self.settings)
            if not check.ok:
                outcome = f"rejected ({check.reason})"
            else:
                outcome = {True: "stable", False: "unstable", None: "marginal"}[check.stable]
                found = self.remember(check, name)
        self.stages.append(StageRecord(name, outcome, time.monotonic() - t0))
        return found

    def remember(self, check: Check, name: str) -> tuple[Check, str]:
        for old in self.found:
            if self.system.distance(check.state, old[0].state) < self.settings.ball ** 2:
                return old
        self.found.append((check, name))
        return self.found[-1]

    def near(self, x: np.ndarray, t: float, prev: dict[int, float]
             ) -> Callable[[], SteadyStateResult] | None:
        """A candidate the trajectory has reached (module docstring, stage 3), as a function
        building the result once the stage is recorded."""
        ball = self.settings.ball
        for i, (check, name) in enumerate(self.found):
            d = self.system.distance(x, check.state)
            before = prev.get(i, np.inf)
            prev[i] = d
            found = (check, name)
            if check.stable is not False and d < ball and (d < before or d < ball ** 2):
                return lambda: self.result(SolveStatus.STABLE, found, reached=x)
            mr = check.max_real if check.max_real is not None else 0.0
            if check.stable is False and d < ball ** 2 and before < ball ** 2 \
                    and t * mr > SIT_GROWTH:
                return lambda: self.result(
                    SolveStatus.UNSTABLE, found, reached=x,
                    message="the trajectory stays at an unstable fixed point")
        return None

    # ------------------------------------------------------------------ the chain
    def run(self, hints: Sequence[np.ndarray] = ()) -> SteadyStateResult:
        system, settings = self.system, self.settings
        for k, h in enumerate(hints):
            check = verify(system, system.project(h), settings)
            self.stages.append(StageRecord("hint", "verified" if check.ok else
                                           f"rejected ({check.reason})", 0.0))
            if check.ok:
                self.remember(check, "batched newton")
        unknown = sorted(set(settings.stages) - set(STAGES))
        if unknown:
            raise InputError(f"unknown solver stage(s) {', '.join(unknown)} (known: "
                             f"{', '.join(STAGES)})")
        for stage in settings.stages:
            if self.timed_out():
                return self.result(SolveStatus.TIMEOUT, message=f"timeout before {stage}")
            if stage == "integrate":
                return self.integrate()
            if not any(c.stable for c, _ in self.found):
                self.attempt(stage, SOLVERS[stage], system.x0)
        for found in self.found:
            if found[0].stable:
                return self.result(SolveStatus.STABLE, found,
                                   message="not confirmed by simulation (no integrate stage)")
        unstable = [f for f in self.found if f[0].stable is False]
        if unstable:
            return self.result(SolveStatus.UNSTABLE, unstable[0],
                               message="only an unstable fixed point was found (not simulated)")
        return self.result(SolveStatus.NOT_FOUND, message="no steady state found")

    def integrate(self) -> SteadyStateResult:
        t0 = time.monotonic()
        hit = self.near(self.system.x0, 0.0, {})
        if hit is not None:
            self.stages.append(StageRecord("integrate", "at x0", time.monotonic() - t0))
            return hit()
        out = self.simulate(self.settings.method)
        if out is None:  # the integrator broke down at an ordinary state: once more with BDF
            out = self.simulate("BDF")
        return out if out is not None else self.end(None, [], "failed", "integrator failed")

    def simulate(self, method: str) -> SteadyStateResult | None:
        """Follow the trajectory from ``x0`` until it decides (None: the integrator failed
        and another method may be tried)."""
        system, settings = self.system, self.settings
        name = f"integrate ({method})"
        t0 = time.monotonic()
        prev: dict[int, float] = {}
        try:
            traj = Trajectory(system, settings, self.deadline, method)
        except Exception as exc:  # noqa: BLE001 - scipy rejects the problem (e.g. NaN at x0)
            self.stages.append(StageRecord(name, f"failed ({exc})", time.monotonic() - t0))
            return None
        t_check = settings.first_check or self._first_check()
        norms = [(0.0, float(np.max(np.abs(system.x0), initial=0.0)))]
        last_try = (0.0, system.residual(system.x0))
        next_look = 8 * settings.osc_cycles
        while True:
            state = traj.advance(t_check)
            x, t = traj.x, traj.t
            if state == "timeout":
                self.stages.append(StageRecord(name, f"timeout at t={t:.3g}",
                                               time.monotonic() - t0))
                return self.result(SolveStatus.TIMEOUT, reached=x, message="timeout")
            if state == "blowup":
                self.stages.append(StageRecord(name, f"blow-up at t={t:.3g}",
                                               time.monotonic() - t0))
                return self.result(SolveStatus.UNBOUNDED, reached=x,
                                   message=f"the state grows without bound (t={t:.3g})")
            if state == "failed" and method != "BDF":
                self.stages.append(StageRecord(name, f"failed at t={t:.3g} ({traj.message})",
                                               time.monotonic() - t0))
                return None
            norms.append((t, float(np.max(np.abs(x), initial=0.0))))
            before = dict(prev)
            hit = self.near(x, t, prev)
            approaching = any(prev[i] < before.get(i, np.inf) for i, (c, _) in
                              enumerate(self.found) if c.stable)
            res = system.residual(x)
            if hit is None and not approaching and state != "failed" and \
                    (res <= 0.1 * last_try[1] or t >= 8.0 * last_try[0]):
                last_try = (t, res)
                if self.attempt(f"newton@t={t:.3g}", newton, x) is not None:
                    hit = self.near(x, t, prev)
            if hit is not None:
                self.stages.append(StageRecord(name, f"reached at t={t:.3g}",
                                               time.monotonic() - t0))
                return hit()
            if traj.steps >= next_look:  # geometric, then every OSC_EVERY steps
                next_look = traj.steps + min(max(traj.steps // 2, 8 * settings.osc_cycles),
                                             OSC_EVERY)
                out = self.oscillation(traj, name, t0)
                if out is not None:
                    return out
            if state in ("finished", "steps", "failed"):
                self.stages.append(StageRecord(name, f"{state} at t={t:.3g}",
                                               time.monotonic() - t0))
                return self.end(x, norms, state, traj.message)
            t_check = max(t_check * settings.check_ratio, t)

    def _first_check(self) -> float:
        jr = self.system.reduced_jacobian(self.system.x0)
        norm = float(np.max(np.sum(np.abs(jr), axis=-1), initial=0.0)) if jr.size else 0.0
        if not np.isfinite(norm) or norm <= 0:
            return 1e-3
        return float(np.clip(1.0 / norm, 1e-9, 1.0))

    def oscillation(self, traj: Trajectory, name: str, t0: float) -> SteadyStateResult | None:
        times, states = traj.history()
        osc = detect_oscillation(times, states, self.settings, self.system.x_scale)
        if osc is None:
            return None
        inside = self.attempt("newton@cycle", newton, osc.mean)
        if inside is not None and inside[0].stable and osc.decay < 1.0 - DAMPED:
            return None  # a damped oscillation around a stable point: keep integrating
        self.stages.append(StageRecord(name, f"oscillation (period {osc.period:.4g})",
                                       time.monotonic() - t0))
        kind = "sustained oscillation" if osc.regular else "sustained irregular oscillation"
        msg = (f"{kind}: period {osc.period:.4g}, amplitude {osc.amplitude:.4g} "
               f"in {self.system.compiled.state_ids[osc.component]}, per-cycle amplitude ratio "
               f"{osc.decay:.4f}")
        return self.result(SolveStatus.OSCILLATION, inside, reached=traj.x, message=msg)

    def end(self, x: np.ndarray | None, norms: list[tuple[float, float]], state: str,
            why: str) -> SteadyStateResult:
        """The horizon (or step budget, or an integrator failure) without a decision."""
        if x is not None and state != "failed":
            found = self.attempt("newton@end", newton, x)
            if found is not None and found[0].stable is not False and \
                    self.system.distance(x, found[0].state) < self.settings.ball:
                return self.result(SolveStatus.STABLE, found, reached=x)
        if growing(norms, self.system.x_scale):
            return self.result(SolveStatus.UNBOUNDED, reached=x,
                               message="the state is still growing at the horizon")
        unstable = [f for f in self.found if f[0].stable is False]
        if unstable:
            return self.result(SolveStatus.UNSTABLE, unstable[0], reached=x,
                               message="only an unstable fixed point was found; the trajectory "
                                       "did not settle")
        if state == "failed" or x is None:
            return self.result(SolveStatus.FAILED, reached=x, message=f"integrator: {why}")
        res = self.system.residual(x)
        return self.result(SolveStatus.NOT_FOUND, reached=x,
                           message=f"no steady state reached (relative residual {float(res):.2e}"
                                   f" at the end)")
