"""What a steady-state solve returns: status codes, settings, the verified result.

The status values are stable strings (they go into JSON and result stores; never rename one):

- ``stable``: the dynamics from the initial state settle to a verified steady state that is
  stable (reduced Jacobian's largest real part < ``-eig_tol``) or marginal (``stable`` None:
  the trajectory itself settled there, e.g. a continuum of steady states);
- ``unstable``: the dynamics sit on (approach) a verified *unstable* fixed point, e.g. an initial
  state exactly at the middle state of a bistable switch, or no settled state was reached and
  the only fixed point found is unstable; ``reached_state`` is where the trajectory got to;
- ``oscillation``: sustained periodic behaviour (repeated extrema of stable amplitude and period);
  ``state`` is the (unstable) fixed point inside the cycle when one was found;
- ``unbounded``: the state grows without bound (blow-up, exponential or power-law growth);
- ``not_found``: the horizon was reached without any of the above;
- ``failed``: the laws could not be evaluated (NaN/inf) or every stage broke down;
- ``timeout``: the wall-clock limit of :class:`SolveSettings` was reached.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sbmleq.errors import InputError

__all__ = ["SolveStatus", "SolveSettings", "SteadyStateResult", "StageRecord", "STAGES",
           "OUTCOME_OF_STATUS", "UNRESOLVED"]

# what the dynamics do, by solver status (the classes training data is balanced over)
OUTCOME_OF_STATUS = {"stable": "settles", "oscillation": "oscillates", "unbounded": "grows"}
UNRESOLVED = "unresolved"  # unstable (sitting on an unstable point), not_found, failed, timeout

STAGES = ("newton", "ptc", "integrate")


class SolveStatus(str, enum.Enum):
    STABLE = "stable"
    UNSTABLE = "unstable"
    OSCILLATION = "oscillation"
    UNBOUNDED = "unbounded"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    TIMEOUT = "timeout"

    @property
    def settled(self) -> bool:
        return self is SolveStatus.STABLE


@dataclass(frozen=True)
class SolveSettings:
    """Tolerances and limits of one solve (all relative unless said otherwise)."""

    residual_tol: float = 1e-9  # accepted answer: max_i |f_i| / (s_i + floor), system.py
    conservation_tol: float = 1e-9  # |L a - T| / max(sum |L||a|, |T|) per law
    negative_tol: float = 1e-9  # a species may be >= -negative_tol * max|x| (then clipped to 0)
    eig_tol: float = 1e-9  # stable: max Re(eig) < -eig_tol * |J_red|_inf (unstable: > +tol)
    max_newton_iter: int = 60
    max_ptc_iter: int = 400
    horizon: float = 1e9  # longest simulated time (model time units)
    first_check: float | None = None  # first checkpoint time; None: 1 / |J_red(x0)| clipped
    check_ratio: float = 2.0  # geometric checkpoint spacing
    ball: float = 1e-3  # scaled distance under which a trajectory is "at" a stable point
    method: str = "LSODA"  # integrator (scipy): LSODA, BDF or Radau; BDF retries a failed LSODA
    integrate_rtol: float = 1e-6  # the trajectory only decides where it goes: Newton polishes
    integrate_atol: float = 1e-12  # times max |x0| (1 when the network starts empty)
    max_steps: int = 200_000  # integrator steps per solve
    timeout: float = 30.0  # wall-clock seconds per solve
    # the chain's stages in order (any of "newton", "ptc", "integrate"); without "integrate"
    # the first stable candidate is returned unconfirmed (fast; not necessarily the reached one)
    stages: tuple[str, ...] = ("newton", "integrate")
    osc_cycles: int = 6  # extrema needed before an oscillation can be declared
    osc_rtol: float = 2e-2  # relative amplitude/period change tolerated between cycles
    growth_limit: float = 1e12  # |x| beyond this times max |x0| (or 1): unbounded

    def __post_init__(self) -> None:
        unknown = sorted(set(self.stages) - set(STAGES))
        if unknown:
            raise InputError(f"unknown solver stage(s) {', '.join(unknown)} (known: "
                             f"{', '.join(STAGES)})")


class StageRecord(NamedTuple):
    """One stage of the chain: its name, what came out (a short word) and its wall time; a
    plain ``(name, outcome, seconds)`` tuple."""

    name: str
    outcome: str
    seconds: float


@dataclass(frozen=True)
class SteadyStateResult:
    """A solve's answer, verified when ``status`` is ``stable`` or ``unstable``.

    ``state`` is in the declared units of the network's state variables (``state_ids``);
    ``residual`` is the relative residual of ``state`` (see docs/general-solver.md), ``totals``
    the conserved totals (amounts) of the initial state, which ``state`` keeps."""

    status: SolveStatus
    state: np.ndarray | None
    stable: bool | None
    max_real_eigenvalue: float | None
    residual: float | None
    totals: np.ndarray
    newton_iterations: int
    stages: tuple[StageRecord, ...]
    stage: str | None  # the stage whose answer was accepted
    reached_state: np.ndarray | None = None  # the trajectory's last state (unstable/oscillation)
    seconds: float = 0.0
    message: str = ""
    state_ids: tuple[str, ...] = field(default=())

    @property
    def settled(self) -> bool:
        return self.status is SolveStatus.STABLE

    def as_dict(self) -> dict[str, float]:
        """``{state id: value}`` of ``state`` (empty when there is none)."""
        if self.state is None:
            return {}
        return dict(zip(self.state_ids, map(float, self.state)))

