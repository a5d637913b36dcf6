"""What roadrunner's steady-state chain answers: status, settings, result (no roadrunner import).

:class:`RRStatus` (converged_stable, converged_unstable, no_steady_state, solver_failure,
timeout), :class:`SolverSettings` (the chain's options, recorded in every result) and
:class:`RoadRunnerResult` (``to_frame()`` indexed by species id, ``to_dict()`` JSON-ready).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RRStatus", "RoadRunnerResult", "SolverSettings"]


class RRStatus(str, enum.Enum):
    CONVERGED_STABLE = "converged_stable"  # verified steady state, no eigenvalue with Re > tol
    CONVERGED_UNSTABLE = "converged_unstable"  # verified fixed point, some eigenvalue Re > tol
    NO_STEADY_STATE = "no_steady_state"  # Newton fails and a long simulation never settles
    SOLVER_FAILURE = "solver_failure"  # cannot load/compile, crash, unclassified error
    TIMEOUT = "timeout"  # the isolated solve ran past its time limit

    @property
    def converged(self) -> bool:
        return self in (RRStatus.CONVERGED_STABLE, RRStatus.CONVERGED_UNSTABLE)


@dataclass(frozen=True)
class SolverSettings:
    """Knobs of the stage chain; every result records them and roadrunner's own options."""

    steady_state_solver: str = "nleq2"
    moiety_analysis: bool = True
    solver_options: tuple[tuple[str, Any], ...] = ()  # extra roadrunner solver options
    presimulation_time: float = 1000.0  # stage 2
    presimulation_maximum_steps: int = 100_000
    simulation_times: tuple[float, ...] = (10.0, 100.0, 1e3, 1e4, 1e5, 1e6)  # stage 3
    simulation_maximum_steps: int = 20_000  # CVODE steps per oneStep (10 per checkpoint)
    simulation_budget: float = 10.0  # s of wall time for stage 3
    settle_rtol: float = 1e-4  # stage 3: residual and drift at which Newton polishing starts
    rate_rtol: float = 1e-6  # valid: max|dx/dt| <= rate_rtol * max(gross flux, atol/rtol)
    rate_atol: float = 1e-9  # (rates and fluxes per volume: concentration per time)
    negative_tol: float = 1e-8  # invalid if x_i < -(negative_tol * max|x| + 1e-12)
    eigen_tol: float = 1e-9  # Re(lambda) > eigen_tol * max(1, |lambda|max): unstable
    seek_stable: bool = True  # after an unstable fixed point, look for a stable one (stage 3)
    quiet: bool = True  # silence roadrunner's logger while solving

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["solver_options"] = dict(self.solver_options)
        data["simulation_times"] = list(self.simulation_times)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SolverSettings":
        data = dict(data)
        data["solver_options"] = tuple(dict(data.get("solver_options", {})).items())
        data["simulation_times"] = tuple(data.get("simulation_times", cls.simulation_times))
        return cls(**data)


@dataclass
class RoadRunnerResult:
    status: RRStatus
    concentrations: dict[str, float] = field(default_factory=dict)  # floating species by id
    eigenvalues_max_real: float | None = None
    stage: str = "none"  # steady_state | presimulation | simulation+newton | simulation | none
    message: str = ""
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    boundary: dict[str, float] = field(default_factory=dict)  # boundary species by id
    residual: float | None = None  # relative residual (see SolverSettings.rate_rtol)
    unique: bool = False  # converged, no conserved moiety and no zero eigenvalue
    attempts: list[str] = field(default_factory=list)  # one line per stage tried
    model: str = ""

    @property
    def converged(self) -> bool:
        return self.status.converged

    def values(self, ids: Any) -> np.ndarray:
        """Concentrations in the order of ``ids`` (NaN where there is none)."""
        return np.array([self.concentrations.get(str(i), math.nan) for i in ids], dtype=float)

    def to_frame(self) -> "pd.DataFrame":
        import pandas as pd

        frame = pd.DataFrame({"concentration": pd.Series(self.concentrations, dtype=float)})
        frame.index.name = "species"
        frame.attrs.update(status=self.status.value, stage=self.stage, model=self.model)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers become ``None``)."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return _jsonable({**data, "status": self.status.value})


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj if obj is None or isinstance(obj, str) else str(obj)


# ---------------------------------------------------------------------- entry points
