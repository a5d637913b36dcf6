"""A steady state from a guess (a learned prediction), verified, with the chain behind it.

:func:`solve_from_guess` is "predicted, then verified" for general networks: damped Newton from
the guess inside the initial state's conservation class (the polish), the solver's verification
of the polished point (residual, conservation class, sign, eigenvalues), and then the staged
chain of :mod:`sbmleq.core.solve.chain` with the polished point as a candidate. With the
``integrate`` stage (the default) the chain follows the trajectory from the initial state and
stops as soon as it is at a verified stable candidate, so a good guess saves the Newton stages
and most of the simulation, and a guess that polished to another attractor (multistability) is
never reported: the chain finds the state the dynamics reach (``fallback``). Without
``integrate`` the polished point is accepted unconfirmed when stable (fast, not necessarily
the reached state).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.chain import solve_system
from sbmleq.core.solve.newton import newton
from sbmleq.core.solve.outcome import SolveSettings, SteadyStateResult
from sbmleq.core.solve.system import Check, ReducedSystem, as_compiled, resolve_inputs, verify
from sbmleq.errors import InputError

__all__ = ["WarmStart", "solve_from_guess", "GUESS_STAGE"]

GUESS_STAGE = "prediction"  # the stage an accepted polished guess is credited to


@dataclass(frozen=True)
class WarmStart:
    """The verified answer and what the guess contributed.

    ``result``: the chain's answer (its status, verified state, stages; the polish is the
    ``prediction`` stage); ``polished``: the verification of Newton's point from the guess
    (None when Newton did not converge); ``used_guess``: the accepted state is the polished
    guess; ``fallback``: the chain answered without it (the guess did not polish to a
    verified point, or the dynamics went elsewhere)."""

    result: SteadyStateResult
    polished: Check | None
    polish_iterations: int
    polish_seconds: float
    used_guess: bool

    @property
    def fallback(self) -> bool:
        return not self.used_guess


def solve_from_guess(net: ReactionNetwork | CompiledNetwork, guess: Sequence[float] | np.ndarray,
                     x0: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
                     p: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
                     settings: SolveSettings = SolveSettings()) -> WarmStart:
    """The steady state ``net`` reaches from ``x0`` (default its initial state) with parameters
    ``p``, started from ``guess`` (one value per state variable, declared units)."""
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
    check = verify(system, out.state, settings) if out.state is not None and out.converged \
        else None
    polish_seconds = time.monotonic() - t0
    candidates = [check.state] if check is not None and check.ok else []
    result = solve_system(system, settings, started, candidates, candidate_stage=GUESS_STAGE)
    used = bool(candidates) and result.stage == GUESS_STAGE
    return WarmStart(result, check, out.iterations, polish_seconds, used)
