"""The staged chain: the steady state a network's dynamics reach from its own initial state.

Stages run in the order of ``settings.stages`` (default ``("newton", "integrate")``, chosen by
measurement) and are recorded with their outcome and wall time:

1. ``newton``: damped Newton on the reduced system from ``x0``; a verified answer becomes a
   candidate (stable, unstable or marginal by the reduced Jacobian).
2. ``ptc`` (opt-in): pseudo-transient continuation from ``x0``.
3. ``integrate``: LSODA (BDF when it fails) from ``x0``, inspected at geometric checkpoints.
   A stable candidate is accepted once the trajectory is within ``ball`` of it and closing in;
   the trajectory's own state once it verifies (the only way a marginal point is answered);
   ``newton@t`` from the trajectory adds candidates; an unstable candidate the trajectory
   seems to sit on is probed with small steps before ``unstable`` is answered; the same
   trajectory shows ``oscillation`` and ``unbounded`` growth.

Newton never decides alone: a candidate the dynamics do not reach is never the answer (without
``integrate`` in the stages the first stable candidate is returned, marked unconfirmed). The
criteria and their measurements are in docs/general-solver.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.integrate import Trajectory, detect_oscillation, growth_verdict
from sbmleq.core.solve.newton import NewtonOutcome, newton, ptc
from sbmleq.core.solve.outcome import SolveSettings, SolveStatus, StageRecord, SteadyStateResult
from sbmleq.core.solve.system import Check, ReducedSystem, as_compiled, resolve_inputs, verify
from sbmleq.errors import InputError

__all__ = ["solve_steady_state", "solve_system"]

SOLVERS: dict[str, Callable[..., NewtonOutcome]] = {"newton": newton, "ptc": ptc}
SIT_GROWTH = 50.0  # e-folds after which a trajectory still on an unstable point sits on it
MARGINAL_RTOL = 1e-10  # integrator tolerance again, for a marginal answer or near a saddle
OSC_EVERY = 2000  # integrator steps between two looks for an oscillation, at most
DAMPED = 1e-3  # per-cycle amplitude ratio below 1 - DAMPED around a stable point: damped
DECIDED = (SolveStatus.STABLE, SolveStatus.UNSTABLE, SolveStatus.OSCILLATION,
           SolveStatus.UNBOUNDED)
PERSIST = 10.0  # around a stable point, an oscillation must last 10x as long as when first seen


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
    return solve_system(ReducedSystem.build(compiled, x_arr, p_arr), settings, started,
                        candidates)


def solve_system(system: ReducedSystem, settings: SolveSettings, started: float | None = None,
                 candidates: Sequence[np.ndarray] = (),
                 candidate_stage: str = "batched newton") -> SteadyStateResult:
    """:func:`solve_steady_state` on a built system (the batched solver reuses its residual
    scale across items); ``started``: the clock the timeout counts from; ``candidate_stage``:
    the stage name an accepted candidate is credited to."""
    started = time.monotonic() if started is None else started
    chain = _Chain(system, settings, started)
    out = chain.run(candidates, candidate_stage)
    marginal = out.status is SolveStatus.STABLE and out.stable is None
    if (marginal or chain.sensitive) and out.reached_state is not None \
            and settings.integrate_rtol > MARGINAL_RTOL:
        # a marginal state (one of a continuum) is where the trajectory stops, not a root
        # Newton can polish; a trajectory that passed close to a saddle went to one side or the
        # other by a small margin: either way, follow the trajectory again, accurately
        tight = replace(settings, integrate_rtol=MARGINAL_RTOL, stages=("integrate",),
                        timeout=max(settings.timeout - (time.monotonic() - started), 0.0))
        again = _Chain(system, tight, time.monotonic()).run([])
        if again.status in DECIDED:  # else the first answer stands
            return replace(again, stages=out.stages + again.stages,
                           newton_iterations=out.newton_iterations + again.newton_iterations,
                           seconds=time.monotonic() - started)
    return out


class _Chain:
    """One solve: the candidates found so far, the stage records, the deadline."""

    def __init__(self, system: ReducedSystem, settings: SolveSettings, started: float) -> None:
        self.system, self.settings, self.started = system, settings, started
        self.deadline = started + settings.timeout
        self.stages: list[StageRecord] = []
        self.found: list[tuple[Check, str]] = []  # verified candidates and the stage that found them
        self.iterations = 0
        # when an oscillation was first seen, and the fixed point found inside it
        self.osc_seen: tuple[float, tuple[Check, str] | None] | None = None
        self.left: set[int] = set()  # unstable candidates the trajectory was seen to leave
        self.sensitive = False  # the trajectory came within ``ball`` of an unstable point
        self.points: list[tuple[float, np.ndarray]] = []  # the trajectory at its checkpoints

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

    def record(self, name: str, outcome: str, t0: float) -> None:
        self.stages.append(StageRecord(name, outcome, time.monotonic() - t0))

    def attempt(self, name: str, method: Callable[..., NewtonOutcome],
                x_start: np.ndarray) -> tuple[Check, str] | None:
        """Run Newton (or PTC) from ``x_start``, verify, keep a new verified point."""
        t0 = time.monotonic()
        out = method(self.system, x_start, self.settings, self.deadline)
        self.iterations += out.iterations
        found = None
        known = None if out.state is None or not out.converged else self.known(out.state)
        if out.state is None or not out.converged:
            outcome = f"no convergence ({out.reason})" if out.reason else "no convergence"
        elif known is not None:
            # the point found before (within ball^2): its verification stands, and the
            # eigenvalues are not computed again (0.8 s each at 273 dimensions, BIOMD472)
            outcome = {True: "stable", False: "unstable", None: "marginal"}[known[0].stable]
            found = known
        else:
            check = verify(self.system, out.state, self.settings)
            if not check.ok:
                outcome = f"rejected ({check.reason})"
            else:
                outcome = {True: "stable", False: "unstable", None: "marginal"}[check.stable]
                found = self.remember(check, name)
        self.record(name, outcome, t0)
        return found

    def known(self, x: np.ndarray) -> tuple[Check, str] | None:
        """The verified candidate within ``ball^2`` of ``x``, if any."""
        for old in self.found:
            if self.system.distance(x, old[0].state) < self.settings.ball ** 2:
                return old
        return None

    def remember(self, check: Check, name: str) -> tuple[Check, str]:
        old = self.known(check.state)
        if old is not None:
            return old
        self.found.append((check, name))
        return self.found[-1]

    def near(self, x: np.ndarray, t: float, prev: dict[int, float]
             ) -> tuple[str, tuple[Check, str]] | None:
        """A candidate the trajectory has reached (module docstring, stage 3): ``("stable",
        found)``, or ``("sits", found)`` for an unstable one it seems to sit on."""
        ball = self.settings.ball
        for i, (check, name) in enumerate(self.found):
            d = self.system.distance(x, check.state)
            before = prev.get(i, np.inf)
            prev[i] = d
            if check.stable is True and d < ball and (d < before or d < ball ** 2):
                return "stable", (check, name)  # (a marginal point: only the trajectory's own)
            mr = check.max_real if check.max_real is not None else 0.0
            if check.stable is False and d < ball:
                self.sensitive = True  # passing close to a saddle: which side is a fine matter
            if check.stable is False and i not in self.left and d < ball ** 2 \
                    and before < ball ** 2 and t * mr > SIT_GROWTH:
                return "sits", (check, name)
        return None

    def probe(self, found: tuple[Check, str], traj: Trajectory) -> Trajectory | None:
        """Does the trajectory really sit on the unstable point ``found``? Large implicit
        steps damp a slowly growing mode, so follow it again from where it is with steps of
        at most ``0.5 / Re(lambda)`` for ``SIT_GROWTH / Re(lambda)``: None when it stays (an
        invariant set, or exactly on the point), else the trajectory that left."""
        rate = max(found[0].max_real or 0.0, 1e-300)
        t0 = time.monotonic()
        careful = Trajectory(self.system, replace(self.settings, integrate_rtol=MARGINAL_RTOL),
                             self.deadline, traj.method, traj.x, traj.t, max_step=0.5 / rate)
        state = careful.advance(traj.t + SIT_GROWTH / rate)
        left = self.system.distance(careful.x, found[0].state) >= self.settings.ball ** 2
        self.stages.append(StageRecord("probe", "left the unstable point" if left else
                                       f"stays ({state})", time.monotonic() - t0))
        if not left or state == "timeout":
            return None
        self.left.add(self.found.index(found))
        return Trajectory(self.system, self.settings, self.deadline, traj.method, careful.x,
                          careful.t)

    # ------------------------------------------------------------------ the chain
    def run(self, hints: Sequence[np.ndarray] = (),
            hint_stage: str = "batched newton") -> SteadyStateResult:
        system, settings = self.system, self.settings
        for h in hints:
            check = verify(system, system.project(h), settings)
            self.stages.append(StageRecord("hint", "verified" if check.ok else
                                           f"rejected ({check.reason})", 0.0))
            if check.ok:
                self.remember(check, hint_stage)
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
        if hit is not None and hit[0] == "stable":
            self.record("integrate", "at x0", t0)
            return self.result(SolveStatus.STABLE, hit[1], reached=self.system.x0)
        out = self.simulate(self.settings.method)
        if out is None:  # the integrator broke down at an ordinary state: once more with BDF
            out = self.simulate("BDF")
        return out if out is not None else self.end(None, None, [], "failed",
                                                    "integrator failed")

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
            self.record(name, f"failed ({exc})", t0)
            return None
        t_check = settings.first_check or self._first_check()
        norms = [(0.0, float(np.max(np.abs(system.x0), initial=0.0)))]
        self.points = [(0.0, system.x0)]
        last_try = (0.0, system.residual(system.x0))
        next_look = 8 * settings.osc_cycles
        x_prev: np.ndarray | None = None  # the state at the previous checkpoint
        while True:
            state = traj.advance(t_check)
            x, t = traj.x, traj.t
            if state == "timeout":
                self.record(name, f"timeout at t={t:.3g}", t0)
                return self.result(SolveStatus.TIMEOUT, reached=x, message="timeout")
            if state == "blowup":
                self.record(name, f"blow-up at t={t:.3g}", t0)
                return self.result(SolveStatus.UNBOUNDED, reached=x,
                                   message=f"the state grows without bound (t={t:.3g})")
            if state == "failed" and method != "BDF":
                self.record(name, f"failed at t={t:.3g} ({traj.message})", t0)
                return None
            norms.append((t, float(np.max(np.abs(x), initial=0.0))))
            self.points.append((t, x))
            before = dict(prev)
            hit = self.near(x, t, prev)
            if hit is not None and hit[0] == "sits":
                moved = self.probe(hit[1], traj)
                if moved is None:
                    self.record(name, f"sits at t={t:.3g}", t0)
                    return self.result(SolveStatus.UNSTABLE, hit[1], reached=x,
                                       message="the trajectory stays at an unstable fixed point")
                traj, hit = moved, None
                t_check = traj.t
                continue
            approaching = any(prev[i] < before.get(i, np.inf) for i, (c, _) in
                              enumerate(self.found) if c.stable)
            res = system.residual(x)
            if hit is None and res <= settings.residual_tol:
                hit = self.settled(x, name, x_prev, t)  # the trajectory itself is at one
            if hit is None and not approaching and state != "failed" and \
                    (res <= 0.1 * last_try[1] or t >= 8.0 * last_try[0]):
                last_try = (t, res)
                if self.attempt(f"newton@t={t:.3g}", newton, x) is not None:
                    hit = self.near(x, t, prev)
                    hit = hit if hit is None or hit[0] == "stable" else None
            if hit is not None:
                self.record(name, f"reached at t={t:.3g}", t0)
                return self.result(SolveStatus.STABLE, hit[1], reached=x)
            if traj.steps >= next_look:  # geometric, then every OSC_EVERY steps
                next_look = traj.steps + min(max(traj.steps // 2, 8 * settings.osc_cycles),
                                             OSC_EVERY)
                out = self.oscillation(traj, name, t0)
                if out is not None:
                    return out
            if state in ("finished", "steps", "failed"):
                self.record(name, f"{state} at t={t:.3g}", t0)
                self.points.append((traj.times[-1], traj.states[-1]))  # the last finite state
                return self.end(x, x_prev, norms, state, traj.message)
            t_check = max(t_check * settings.check_ratio, t)
            x_prev = x

    def settled(self, x: np.ndarray, name: str, x_prev: np.ndarray | None,
                t: float | None = None) -> tuple[str, tuple[Check, str]] | None:
        """The trajectory's own state, when it verifies and is not unstable. A stable one is
        polished by Newton (its root is where the trajectory goes); a marginal one must also
        have stopped moving (within ``ball^2`` of the previous checkpoint): near a continuum a
        state can pass the residual test and still drift; and, at time ``t`` of a checkpoint,
        either have been followed for one e-fold of its slowest decaying mode (``t |max Re| >=
        1``) or not be predicted to move by ``ball`` in that time at its present rate
        (``|f| / |max Re|``): BIOMD885 passes the residual test from t = 0 (fast reactions at
        equilibrium, relative residual 5e-11) while a slow mode (max Re -8e-4, marginal against
        |J| ~ 1e12) takes it from 1.5e8 to 1.45e7 by t = 500."""
        check = verify(self.system, x, self.settings)
        if not check.ok or check.stable is False:
            return None
        if check.stable is None:
            if x_prev is None or self.system.distance(x_prev, x) >= self.settings.ball ** 2:
                return None
            slow = -check.max_real if check.max_real is not None else 0.0
            if t is not None and slow > 0 and t * slow < 1.0 and self.system.distance(
                    x + self.system.rhs(x) / slow, x) >= self.settings.ball:
                return None
            self.found.append((check, name))  # itself, not a Newton point near it
            return "stable", self.found[-1]
        out = newton(self.system, x, self.settings, self.deadline)
        if out.converged and out.state is not None:
            root = verify(self.system, out.state, self.settings)
            if root.ok and root.stable and self.system.distance(x, root.state) < \
                    self.settings.ball:
                check = root
        self.found.append((check, name))
        return "stable", self.found[-1]

    def _first_check(self) -> float:
        jr = self.system.reduced_jacobian(self.system.x0)
        norm = float(np.max(np.sum(np.abs(jr), axis=-1), initial=0.0)) if jr.size else 0.0
        if not np.isfinite(norm) or norm <= 0:
            return 1e-3
        return float(np.clip(1.0 / norm, 1e-9, 1.0))

    def oscillation(self, traj: Trajectory, name: str, t0: float) -> SteadyStateResult | None:
        times, states = traj.history()
        osc = detect_oscillation(times, states, self.settings, self.system.x0_size)
        if osc is None:
            return None
        if self.osc_seen is None:
            self.osc_seen = (traj.t, self.attempt("newton@cycle", newton, osc.mean))
        first, inside = self.osc_seen
        if inside is not None and inside[0].stable and (osc.decay < 1.0 - DAMPED
                                                        or traj.t < PERSIST * first):
            return None  # damped, or not yet long enough, around a stable point: go on
        self.record(name, f"oscillation (period {osc.period:.4g})", t0)
        kind = "sustained oscillation" if osc.regular else "sustained irregular oscillation"
        msg = (f"{kind}: period {osc.period:.4g}, amplitude {osc.amplitude:.4g} "
               f"in {self.system.compiled.state_ids[osc.component]}, per-cycle amplitude ratio "
               f"{osc.decay:.4f}")
        return self.result(SolveStatus.OSCILLATION, inside, reached=traj.x, message=msg)

    def end(self, x: np.ndarray | None, x_prev: np.ndarray | None,
            norms: list[tuple[float, float]], state: str, why: str) -> SteadyStateResult:
        """The horizon (or step budget, or an integrator failure) without a decision."""
        if x is not None and self.system.residual(x) <= self.settings.residual_tol:
            hit = self.settled(x, "integrate", x_prev)
            if hit is not None:
                return self.result(SolveStatus.STABLE, hit[1], reached=x)
        if x is not None and state != "failed":
            found = self.attempt("newton@end", newton, x)
            if found is not None and found[0].stable is not False and \
                    self.system.distance(x, found[0].state) < self.settings.ball:
                return self.result(SolveStatus.STABLE, found, reached=x)
        grows = growth_verdict(norms, self.points, state, self.system.x0_size,
                               self.system.x_scale * self.settings.growth_limit,
                               self.system.compiled.state_ids)
        if grows:
            return self.result(SolveStatus.UNBOUNDED, reached=x, message=grows)
        unstable = [f for f in self.found if f[0].stable is False]
        if unstable:
            return self.result(SolveStatus.UNSTABLE, unstable[0], reached=x,
                               message="only an unstable fixed point was found; the trajectory "
                                       "did not settle")
        # the last finite state: where a failed integration was (NaN after going negative)
        last = x if x is not None and np.all(np.isfinite(x)) else \
            (self.points[-1][1] if self.points else None)
        pos = self.system.nonneg
        low = float(np.min(last[pos], initial=0.0)) if last is not None else 0.0
        if last is not None and low < -self.settings.negative_tol * max(
                float(np.max(np.abs(last[pos]), initial=0.0)), 1e-300):
            then = "; then the laws became undefined there" if state == "failed" else ""
            return self.result(SolveStatus.NOT_FOUND, reached=last, message=(
                f"the trajectory goes negative (down to {low:.3g}): a rate law that does not "
                f"vanish when its reactant is gone; no non-negative steady state{then}"))
        if state == "failed" or x is None:
            return self.result(SolveStatus.FAILED, reached=x, message=f"integrator: {why}")
        res = self.system.residual(x)
        return self.result(SolveStatus.NOT_FOUND, reached=x,
                           message=f"no steady state reached (relative residual {float(res):.2e}"
                                   f" at the end)")
