"""The sbmleq engine for one request: import as a reaction network, compile, solve, verify.

:func:`solve_source` takes a :class:`~sbmleq.io.request.ModelSource` (read once), imports it as a
general :class:`~sbmleq.core.reactions.ReactionNetwork` (any kinetics; events, delays, algebraic
rules and explicit time stay out with a reason code, :class:`~sbmleq.errors.OutOfClassError`),
compiles its laws and runs the verified chain of :mod:`sbmleq.core.solve` from the model's own
initial state. :class:`GeneralSolveResult` keeps the JSON keys of roadrunner's
:class:`~sbmleq.solvers.rr_result.RoadRunnerResult` (``status``, ``concentrations``,
``eigenvalues_max_real``, ``stage``, ``seconds``, ``settings``) with the new statuses and adds
``stable``, ``residual``, ``stages``, ``conserved_totals`` (docs/json-schema.md).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sbmleq.compare import finite
from sbmleq.core.compile import NumpyOps, compile_expressions, compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve import SolveSettings, SolveStatus, SteadyStateResult, solve_steady_state
from sbmleq.io.request import ModelSource
from sbmleq.io.sources import check_references

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GeneralSolveResult", "solve_source", "solve_network", "result_from",
           "concentrations_of", "FAILED_STATUSES"]

FAILED_STATUSES = (SolveStatus.FAILED, SolveStatus.TIMEOUT)  # the CLI exits 5 on these


@dataclass
class GeneralSolveResult:
    """sbmleq's verified steady state of one model (``engine = "sbmleq"``).

    ``concentrations``: every species' concentration (amount / compartment size for a species
    declared as an amount) — state species, species set by assignment rules, constant and
    boundary species — as roadrunner reports them; ``state``: every state variable
    (species and rate-rule variables) in its declared unit. Both are empty unless ``status`` is
    ``stable`` or ``unstable`` (a verified fixed point)."""

    model: str
    status: SolveStatus
    concentrations: dict[str, float] = field(default_factory=dict)
    state: dict[str, float] = field(default_factory=dict)
    reached_state: dict[str, float] = field(default_factory=dict)
    stable: bool | None = None
    eigenvalues_max_real: float | None = None
    residual: float | None = None
    stage: str = "none"
    stages: list[dict[str, Any]] = field(default_factory=list)
    newton_iterations: int = 0
    conserved_totals: list[dict[str, Any]] = field(default_factory=list)
    families: dict[str, int] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    seconds_import: float = 0.0
    seconds_compile: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    engine: str = "sbmleq"

    @property
    def converged(self) -> bool:
        """A verified fixed point was found (stable or not)."""
        return self.status in (SolveStatus.STABLE, SolveStatus.UNSTABLE) and bool(self.state)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "engine": self.engine, "status": self.status.value,
            "concentrations": {k: finite(v) for k, v in self.concentrations.items()},
            "state": {k: finite(v) for k, v in self.state.items()},
            "reached_state": {k: finite(v) for k, v in self.reached_state.items()},
            "stable": self.stable, "eigenvalues_max_real": finite(self.eigenvalues_max_real),
            "residual": finite(self.residual), "stage": self.stage, "stages": self.stages,
            "newton_iterations": self.newton_iterations,
            "conserved_totals": self.conserved_totals, "families": self.families,
            "message": self.message, "seconds": self.seconds,
            "seconds_import": self.seconds_import, "seconds_compile": self.seconds_compile,
            "settings": self.settings,
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def to_frame(self) -> "pd.DataFrame":
        """One row per state variable: ``value`` (declared unit), ``concentration``."""
        import pandas as pd  # ~0.3 s: only when a frame is asked for

        ids = list(self.state) or list(self.reached_state)
        frame = pd.DataFrame({
            "value": [self.state.get(s, math.nan) for s in ids],
            "concentration": [self.concentrations.get(s, math.nan) for s in ids],
            "reached": [self.reached_state.get(s, math.nan) for s in ids],
        }, index=pd.Index(ids, name="species"))
        return frame


def concentrations_of(net: ReactionNetwork, x: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Every species' concentration at state ``x`` (parameters ``p``), as roadrunner lists its
    floating species: state species, rate-rule species, species set by assignment rules
    (evaluated at ``x``) and constant or boundary species (their fixed value)."""
    state = dict(zip(net.state_ids, map(float, x)))
    consts = dict(zip(net.parameter_ids, map(float, p)))
    assigned: dict[str, float] = {}
    if net.assigned:
        ids = list(net.assigned)
        _, fn = compile_expressions([net.assigned[s] for s in ids], net.state_ids,
                                    net.parameter_ids)
        with np.errstate(all="ignore"):
            values = fn(np.asarray(x, dtype=np.float64), np.asarray(p, dtype=np.float64),
                        NumpyOps)
        assigned = {s: float(np.asarray(v).reshape(-1)[0]) for s, v in zip(ids, values)}
    out: dict[str, float] = {}
    for s in net.species:
        value = assigned.get(s.id, state.get(s.id, consts.get(s.id, s.initial)))
        out[s.id] = value / net.compartments[s.compartment] if s.amount else value
    return out


def result_from(model: str, net: ReactionNetwork, solved: SteadyStateResult,
                settings: SolveSettings) -> GeneralSolveResult:
    """The API result of one :func:`~sbmleq.core.solve.solve_steady_state` answer."""
    ids = net.state_ids
    state = {} if solved.state is None else dict(zip(ids, map(float, solved.state)))
    reached = {} if solved.reached_state is None else dict(zip(ids, map(float,
                                                                        solved.reached_state)))
    laws = net.conservation.describe([s.id for s in net.state_species])
    totals = np.atleast_1d(solved.totals) if solved.totals is not None else np.zeros(0)
    conserved = [{**law, "total": float(t)} for law, t in zip(laws, totals)]
    return GeneralSolveResult(
        model=model, status=solved.status,
        concentrations=(concentrations_of(net, solved.state, net.parameter_vector())
                        if solved.state is not None else {}),
        state=state, reached_state=reached, stable=solved.stable,
        eigenvalues_max_real=solved.max_real_eigenvalue, residual=solved.residual,
        stage=solved.stage or "none",
        stages=[{"name": s.name, "outcome": s.outcome, "seconds": s.seconds}
                for s in solved.stages],
        newton_iterations=solved.newton_iterations, conserved_totals=conserved,
        families=net.families(), message=solved.message, seconds=solved.seconds,
        settings=asdict(settings))


def solve_network(net: ReactionNetwork, *, settings: SolveSettings | None = None,
                  model: str | None = None) -> GeneralSolveResult:
    """Compile and solve ``net`` from its own initial state."""
    settings = settings or SolveSettings()
    start = time.perf_counter()
    compiled = compile_network(net)
    compile_s = time.perf_counter() - start
    solved = solve_steady_state(compiled, settings=settings)
    out = result_from(model or net.name or "network", net, solved, settings)
    out.seconds_compile = compile_s
    out.seconds = time.perf_counter() - start
    return out


def solve_source(src: ModelSource, *, settings: SolveSettings | None = None) -> GeneralSolveResult:
    """Import ``src`` as a reaction network and solve it (:class:`OutOfClassError` with the
    reason codes when it cannot be one: events, delays, algebraic rules, time...)."""
    start = time.perf_counter()
    if src.text is not None:
        check_references(src.document, src.display)  # the same check and message as roadrunner's
    imported = src.general()
    net = imported.require()
    import_s = time.perf_counter() - start
    out = solve_network(net, settings=settings, model=src.display)
    out.seconds_import = import_s
    out.seconds = time.perf_counter() - start
    return out
