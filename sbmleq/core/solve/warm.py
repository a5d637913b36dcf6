"""A steady state from a guess (a learned prediction), verified, with the chain behind it.

:func:`solve_from_guess` is "predicted, then verified" for general networks: damped Newton from
the guess inside the initial state's conservation class (the polish), the solver's verification
of the polished point (residual, conservation class, sign, eigenvalues), and then the staged
chain of :mod:`sbmleq.core.solve.chain` on the same system (one compile, one reduction, one
residual scale for the whole solve).

- Confirmed (the default): the polished point is a candidate of the chain. With the
  ``integrate`` stage (the default) the chain follows the trajectory from the initial state and
  stops as soon as it is at a verified stable candidate, so a good guess saves the Newton
  stages and most of the simulation, and a guess that polished to another attractor
  (multistability) is never reported: the chain finds the state the dynamics reach
  (``fallback``). A stable polished point is first tested with the batched solver's
  Rosenbrock integration (:func:`~sbmleq.core.solve.batched.batched_reach`, NumPy, the
  confirmation ``solve_batch`` uses): when that trajectory from the initial state reaches it
  (within ``ball`` and closing in, no saddle passed), it is the answer (stage
  ``integrate (ROS3)``) and the chain's scipy integration, with its import (about 0.5-0.9 s of
  a cold start), is not needed; any other outcome goes to the chain as above. Without
  ``integrate`` in the stages the polished point is accepted unconfirmed when stable.
- ``quick=True``: a polished point that verifies as stable is the answer at once, unconfirmed
  (no simulation; in a multistable network it may be a stable state the dynamics do not
  reach). Otherwise the guess is dropped and the chain of ``settings`` answers (``fallback``):
  its Newton stage from the initial state, accepted unconfirmed when it verifies as stable (as
  the chain without ``integrate`` would), else the rest of its stages, which then do not run
  that Newton again. A failed guess therefore gives the chain's own answer, plus a
  ``prediction`` stage record in front.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.backends import NumpyBackend
from sbmleq.core.solve.batched import _Batch, _Found, batched_reach
from sbmleq.core.solve.chain import solve_system
from sbmleq.core.solve.newton import NewtonOutcome, newton
from sbmleq.core.solve.outcome import SolveSettings, SolveStatus, StageRecord, SteadyStateResult
from sbmleq.core.solve.system import Check, ReducedSystem, as_compiled, resolve_inputs, verify
from sbmleq.errors import InputError

__all__ = ["WarmStart", "solve_from_guess", "GUESS_STAGE", "QUICK_MESSAGE"]

GUESS_STAGE = "prediction"  # the stage an accepted polished guess is credited to
QUICK_MESSAGE = "not confirmed by simulation (quick: a verified stable state, not simulated)"
_UNCONFIRMED = "not confirmed by simulation (no integrate stage)"  # the chain's own words


@dataclass(frozen=True)
class WarmStart:
    """The verified answer and what the guess contributed.

    ``result``: the answer (its status, verified state, stages; the polish is the
    ``prediction`` stage); ``polished``: the verification of Newton's point from the guess
    (None when Newton did not converge); ``used_guess``: the accepted state is the polished
    guess; ``fallback``: the chain answered without it (the guess did not polish to a
    verified point, or the dynamics went elsewhere). ``polish_seconds`` covers the polish and
    its verification, ``verify_seconds`` the verification alone (eigenvalues included)."""

    result: SteadyStateResult
    polished: Check | None
    polish_iterations: int
    polish_seconds: float
    used_guess: bool
    verify_seconds: float = 0.0

    @property
    def fallback(self) -> bool:
        return not self.used_guess


def solve_from_guess(net: ReactionNetwork | CompiledNetwork, guess: Sequence[float] | np.ndarray,
                     x0: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
                     p: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
                     settings: SolveSettings = SolveSettings(), *,
                     quick: bool = False) -> WarmStart:
    """The steady state ``net`` reaches from ``x0`` (default its initial state) with parameters
    ``p``, started from ``guess`` (one value per state variable, declared units); ``quick``:
    accept a polished guess that verifies as stable without simulating (module docstring)."""
    started = time.monotonic()
    compiled = as_compiled(net)
    x_arr, p_arr = resolve_inputs(compiled, x0, p)
    name = compiled.network.name or "network"
    if x_arr.ndim != 1 or p_arr.ndim != 1:
        raise InputError("one state and one parameter vector here", source=name)
    g = np.asarray(guess, dtype=np.float64)
    if g.shape != (compiled.n_state,):
        raise InputError(f"the guess has shape {g.shape}; expected ({compiled.n_state},), one "
                         "value per state variable", source=name)
    system = ReducedSystem.build(compiled, x_arr, p_arr)
    g = np.where(np.isfinite(g), g, x_arr)
    g[system.nonneg] = np.maximum(g[system.nonneg], 0.0)  # signed species keep their sign
    t0 = time.monotonic()
    out = newton(system, g, settings, started + settings.timeout)
    t1 = time.monotonic()
    check = verify(system, out.state, settings) if out.state is not None and out.converged \
        else None
    t2 = time.monotonic()
    record = StageRecord(GUESS_STAGE, _outcome(out, check), t2 - t0)
    stable = check is not None and check.ok and check.stable is True
    if quick or (stable and "integrate" not in settings.stages):
        # the chain would answer a stable hint at once when it does not simulate: do not
        # verify it a second time (the eigenvalues are most of a verification)
        if stable:
            message = QUICK_MESSAGE if quick else _UNCONFIRMED
            stages = (record,) if quick else (StageRecord("hint", "verified", 0.0),)
            result = _unconfirmed(system, check, GUESS_STAGE, stages, 0, started, message)
            return WarmStart(result, check, out.iterations, t2 - t0, True, t2 - t1)
        result = _chain_without_guess(system, settings, started, record)
        return WarmStart(result, check, out.iterations, t2 - t0, False, t2 - t1)
    if stable:
        reached = _reached(system, check, settings, started, record)
        if reached is not None:
            return WarmStart(reached, check, out.iterations, t2 - t0, True, t2 - t1)
    candidates = [check.state] if check is not None and check.ok else []
    result = solve_system(system, settings, started, candidates, candidate_stage=GUESS_STAGE)
    used = bool(candidates) and result.stage == GUESS_STAGE
    return WarmStart(result, check, out.iterations, t2 - t0, used, t2 - t1)


def _reached(system: ReducedSystem, check: Check, settings: SolveSettings, started: float,
             record: StageRecord) -> SteadyStateResult | None:
    """The stable polished point ``check`` as the answer when the batched Rosenbrock
    trajectory from ``x0`` reaches it (module docstring); None for anything else (not
    reached, another candidate found on the way, a saddle passed, growth, the step budget)."""
    t0 = time.monotonic()
    compiled = system.compiled
    b = _Batch(compiled, system.x0[None, :], system.p[None, :], scaler=system.scaler)
    found = _Found(1, compiled.n_state)
    found.state[0], found.res[0] = check.state, check.residual
    found.max_real[0] = np.nan if check.max_real is None else check.max_real
    found.stage[0] = GUESS_STAGE
    reached, _, t_end, x_end = batched_reach(b, NumpyBackend(compiled), found, settings,
                                             started + settings.timeout)
    if not reached[0] or found.stage[0] != GUESS_STAGE:
        return None
    stage = StageRecord("integrate (ROS3)", f"reached at t={t_end[0]:.3g}",
                        time.monotonic() - t0)
    return SteadyStateResult(
        status=SolveStatus.STABLE, state=check.state, stable=check.stable,
        max_real_eigenvalue=check.max_real, residual=check.residual, totals=system.totals,
        newton_iterations=0, stages=(record, stage), stage=GUESS_STAGE,
        reached_state=x_end[0], seconds=time.monotonic() - started,
        state_ids=compiled.state_ids)


def _outcome(out: NewtonOutcome, check: Check | None) -> str:
    """A stage's outcome in the chain's words (``_Chain.attempt``)."""
    if check is None:
        return f"no convergence ({out.reason})" if out.reason else "no convergence"
    if not check.ok:
        return f"rejected ({check.reason})"
    return {True: "stable", False: "unstable", None: "marginal"}[check.stable]


def _unconfirmed(system: ReducedSystem, check: Check, stage: str,
                 stages: tuple[StageRecord, ...], iterations: int, started: float,
                 message: str) -> SteadyStateResult:
    """A verified stable point accepted without simulating (as ``_Chain.result`` builds it)."""
    return SteadyStateResult(
        status=SolveStatus.STABLE, state=check.state, stable=check.stable,
        max_real_eigenvalue=check.max_real, residual=check.residual, totals=system.totals,
        newton_iterations=iterations, stages=stages, stage=stage,
        seconds=time.monotonic() - started, message=message,
        state_ids=system.compiled.state_ids)


def _chain_without_guess(system: ReducedSystem, settings: SolveSettings, started: float,
                         record: StageRecord) -> SteadyStateResult:
    """The chain's answer on ``system`` (quick mode, the guess dropped): its leading Newton
    stage from ``x0`` run here and accepted unconfirmed when stable, else handed to the rest
    of the chain as the candidate that stage would have found (so it does not run twice)."""
    if settings.stages[:1] != ("newton",):
        result = solve_system(system, settings, started)
        return replace(result, stages=(record,) + result.stages)
    t0 = time.monotonic()
    out = newton(system, system.x0, settings, started + settings.timeout)
    check = verify(system, out.state, settings) if out.state is not None and out.converged \
        else None
    first = StageRecord("newton", _outcome(out, check), time.monotonic() - t0)
    if check is not None and check.ok and check.stable is True:
        return _unconfirmed(system, check, "newton", (record, first), out.iterations, started,
                            QUICK_MESSAGE)
    found = [check.state] if check is not None and check.ok else []
    rest = solve_system(system, replace(settings, stages=settings.stages[1:]), started, found,
                        candidate_stage="newton")
    return replace(rest, stages=(record, first) + rest.stages[len(found):],
                   newton_iterations=rest.newton_iterations + out.iterations,
                   seconds=time.monotonic() - started)
