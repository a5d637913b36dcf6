"""roadrunner's staged steady-state chain, run in this process (the worker's side).

:func:`solve_in_process` loads the model with conserved-moiety analysis set at load, tries
roadrunner's steady-state solver, then presimulation, then a long simulation with a Newton
polish, verifies the residual, classifies stability from the eigenvalues, and records which
stage succeeded (docs/roadrunner.md). It never raises for solver problems. roadrunner is imported
inside the functions (the child process imports it once).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sbmleq.solvers.rr_result import RoadRunnerResult, RRStatus, SolverSettings

__all__ = ["solve_in_process"]


def solve_in_process(sbml: str, settings: SolverSettings | None = None,
                     name: str = "") -> RoadRunnerResult:
    """The stage chain in this process, without a time limit; never raises for solver
    problems."""
    import roadrunner

    s = settings or SolverSettings()
    start, level = time.perf_counter(), roadrunner.Logger.getLevel()
    if s.quiet:
        roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)
    try:
        result = _chain(sbml, s)
    except Exception as exc:  # noqa: BLE001 - unknown roadrunner failure
        result = RoadRunnerResult(RRStatus.SOLVER_FAILURE, settings={"sbmleq": s.to_dict()},
                                  message=f"{type(exc).__name__}: {short_error(exc)}")
    finally:
        roadrunner.Logger.setLevel(level)
    result.seconds, result.model = time.perf_counter() - start, name
    return result


def _chain(sbml: str, s: SolverSettings) -> RoadRunnerResult:
    record: dict[str, Any] = {"sbmleq": s.to_dict()}
    try:
        rr, record["conserved_moiety_analysis"] = _load(sbml, s.moiety_analysis)
        rr.setSteadyStateSolver(s.steady_state_solver)
    except Exception as exc:  # noqa: BLE001 - roadrunner raises RuntimeError for everything
        return RoadRunnerResult(RRStatus.SOLVER_FAILURE, settings=record,
                                message=f"roadrunner could not load the model: {short_error(exc)}")
    attempts: list[str] = []
    unstable: RoadRunnerResult | None = None
    for stage, presimulate in (("steady_state", False), ("presimulation", True)):
        record[stage] = _configure(rr, s, presimulate)
        try:
            rr.steadyState()
            valid, residual, summary = _verify(rr, s)
        except Exception as exc:  # noqa: BLE001
            valid, residual, summary = False, math.inf, short_error(exc)
        attempts.append(f"{stage}: {summary}")
        if valid:
            result = _converged(rr, s, stage, residual, attempts, record)
            if result.status is RRStatus.CONVERGED_STABLE or not s.seek_stable:
                return result
            unstable = result
        rr.resetAll()  # a failed solve leaves the divergent state behind
        if unstable is not None:
            break
    valid, residual, stage, summary, error = _simulate(rr, s, record)
    attempts.append(f"simulation: {summary}")
    if valid:
        found = _converged(rr, s, stage, residual, attempts, record)
        if unstable is None or found.status is RRStatus.CONVERGED_STABLE:
            if unstable is not None:
                found.message += f"; the fixed point of stage {unstable.stage} is unstable"
            return found
    if unstable is not None:
        unstable.attempts = attempts
        unstable.message += "; a long simulation found no stable steady state"
        return unstable
    status = RRStatus.SOLVER_FAILURE if error else RRStatus.NO_STEADY_STATE
    return RoadRunnerResult(status, message="; ".join(attempts), attempts=attempts,
                            settings=record)


def _load(sbml: str, moiety: bool) -> tuple[Any, str]:
    """Compile with conserved-moiety analysis where roadrunner allows it (not with events or
    rules on species) and where it is safe (not with rate rules: roadrunner then cannot
    report their rates, and ``getRatesOfChange`` can crash)."""
    import roadrunner

    if not moiety:
        return roadrunner.RoadRunner(sbml), "off (settings)"
    options = roadrunner.LoadSBMLOptions()
    options.conservedMoieties = True  # at load: switching it on later recompiles (slow)
    try:
        rr = roadrunner.RoadRunner(sbml, options)
    except RuntimeError as exc:
        if "moiety" not in str(exc).lower():
            raise
        return roadrunner.RoadRunner(sbml), f"off ({short_error(exc)[:120]})"
    if rr.getRateRuleIds():
        return roadrunner.RoadRunner(sbml), "off (model has rate rules)"
    return rr, "on"


def short_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _configure(rr: Any, s: SolverSettings, presimulate: bool) -> dict[str, Any]:
    """Set the steady-state solver's options for one stage; return all of them."""
    solver = rr.getSteadyStateSolver()
    options: dict[str, Any] = {"allow_presimulation": presimulate, "allow_approx": False}
    if presimulate:
        options.update(presimulation_time=s.presimulation_time,
                       presimulation_maximum_steps=s.presimulation_maximum_steps)
    options.update(dict(s.solver_options))
    known = set(solver.getSettings())
    for key, value in options.items():
        if key in known:
            solver.setValue(key, value)
    return {"solver": solver.getName(), "options": {k: solver.getValue(k) for k in known}}


class _Rates:
    """dx/dt of the state and the gross flux sum_j |N_ij v_j| of each entry, in amount per time.

    Under moiety analysis roadrunner's ``getRatesOfChange`` covers independent species only, so
    species rates are N v; rate-rule models (loaded without moiety analysis) use
    ``getRatesOfChange`` for the whole state vector (rate-rule entries: gross = |value|)."""

    def __init__(self, rr: Any):
        self.rr, self.rules = rr, [str(i) for i in rr.getRateRuleIds()]
        model, rows = rr.model, []
        species = [str(i) for i in model.getFloatingSpeciesIds()]
        self.matrix = np.zeros((0, 0))
        if model.getNumReactions() and species:
            full = rr.getFullStoichiometryMatrix()
            column = {str(c): k for k, c in enumerate(full.colnames)}
            order = [column[str(r)] for r in model.getReactionIds()]
            self.matrix = np.asarray(full, dtype=float)[:, order]
            rows = [str(r) for r in full.rownames]
        self.names = [str(c)[:-1] for c in rr.getRatesOfChangeNamedArray().colnames] \
            if self.rules else rows
        self.row = np.array([rows.index(n) if n in rows else -1 for n in self.names], dtype=int)
        compartment = {sid: model.getCompartmentIndexForFloatingSpecies(k)
                       for k, sid in enumerate(species)}
        self.compartment = np.array([compartment.get(n, -1) for n in self.names], dtype=int)

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        rates, gross = np.zeros(len(self.names)), np.zeros(len(self.names))
        if self.matrix.size:
            terms = self.matrix * np.asarray(self.rr.model.getReactionRates(), dtype=float)
            known = self.row >= 0
            rates[known] = terms.sum(axis=1)[self.row[known]]
            gross[known] = np.abs(terms).sum(axis=1)[self.row[known]]
        if self.rules:
            rates = np.asarray(self.rr.getRatesOfChange(), dtype=float)
            for k, name in enumerate(self.names):
                if name in self.rules:
                    gross[k] = abs(self.rr.getValue(name))
        return rates, gross

    def residual(self, s: SolverSettings) -> float:
        """max |dx/dt| / max gross flux, both per volume (concentration units), with the
        scale floored at rate_atol / rate_rtol."""
        rates, gross = self()
        volume = np.ones(len(self.names))
        inside = self.compartment >= 0
        if inside.any():
            sizes = np.asarray(self.rr.model.getCompartmentVolumes(), dtype=float)
            volume[inside] = np.where(sizes[self.compartment[inside]] > 0,
                                      sizes[self.compartment[inside]], 1.0)
        worst = float(np.max(np.abs(rates / volume), initial=0.0))
        scale = float(np.max(gross / volume, initial=0.0))
        if not math.isfinite(worst) or not math.isfinite(scale):
            return math.inf
        return worst / max(scale, s.rate_atol / s.rate_rtol)


def _species(rr: Any) -> tuple[list[str], np.ndarray]:
    return ([str(i) for i in rr.model.getFloatingSpeciesIds()],
            np.asarray(rr.model.getFloatingSpeciesConcentrations(), dtype=float))


def _verify(rr: Any, s: SolverSettings) -> tuple[bool, float, str]:
    """Is the current state a steady state: finite, small rates, no negative concentration
    (species set by rate rules excepted)?"""
    ids, x = _species(rr)
    residual = _Rates(rr).residual(s)
    if not np.isfinite(x).all() or not math.isfinite(residual):
        return False, math.inf, "non-finite values"
    if residual > s.rate_rtol:
        return False, residual, f"not a steady state (relative residual {residual:.3g})"
    free = set(map(str, rr.getRateRuleIds()))  # rate-rule "species" (voltages...) may be < 0
    checked = np.array([i not in free for i in ids], dtype=bool)
    floor = -(s.negative_tol * float(np.max(np.abs(x), initial=0.0)) + 1e-12)
    if checked.any() and x[checked].min() < floor:
        k = int(np.flatnonzero(checked)[np.argmin(x[checked])])
        return False, residual, f"negative concentration {ids[k]} = {x[k]:.4g}"
    return True, residual, f"converged (relative residual {residual:.2g})"


def _eigenvalues(rr: Any, moiety: bool) -> tuple[np.ndarray | None, str]:
    """Eigenvalues of the Jacobian at the current state, and how they were computed.

    With moiety analysis: the reduced Jacobian (the full one's spectrum without the zeros of
    the conservation laws; far better conditioned and faster on large models). Otherwise the
    full Jacobian; for rate-rule models (which roadrunner's Jacobians leave out) or when
    roadrunner fails, a finite-difference Jacobian of the state vector."""
    methods: list[tuple[str, Callable[[], np.ndarray]]] = []
    if not rr.getRateRuleIds():
        if moiety:
            methods.append(("reduced Jacobian",
                            lambda: np.linalg.eigvals(np.asarray(rr.getReducedJacobian()))))
        methods.append(("full Jacobian", lambda: np.asarray(rr.getFullEigenValues())))
    methods.append(("finite-difference Jacobian", lambda: _fd_eigenvalues(rr)))
    failures = []
    for name, method in methods:
        try:
            values = np.asarray(method(), dtype=complex)
        except Exception as exc:  # noqa: BLE001 - roadrunner raises a bare std::exception
            failures.append(f"{name}: {short_error(exc)}")
            continue
        if np.isfinite(values).all():
            return values, name
        failures.append(f"{name}: non-finite")
    return None, "failed (" + "; ".join(failures) + ")"


def _fd_eigenvalues(rr: Any) -> np.ndarray:
    rates = _Rates(rr)
    variables = rates.names if rates.rules else list(map(str,
                                                         rr.getIndependentFloatingSpeciesIds()))
    rows = [rates.names.index(v) for v in variables]
    x0 = np.array([rr.getValue(v) for v in variables], dtype=float)
    f0, top = rates()[0][rows], float(np.max(np.abs(x0), initial=0.0))
    jac = np.zeros((len(variables), len(variables)))
    for k, var in enumerate(variables):
        h = 1e-6 * max(abs(x0[k]), 1e-6 * top, 1e-12)
        rr.setValue(var, x0[k] + h)
        plus = rates()[0][rows]
        rr.setValue(var, x0[k] - h)
        minus = rates()[0][rows]
        rr.setValue(var, x0[k])
        if not np.isfinite(minus).all():  # e.g. a root of a species at 0: one-sided
            jac[:, k] = (plus - f0) / h
        elif not np.isfinite(plus).all():
            jac[:, k] = (f0 - minus) / h
        else:
            jac[:, k] = (plus - minus) / (2 * h)
    return np.linalg.eigvals(jac)


def _converged(rr: Any, s: SolverSettings, stage: str, residual: float, attempts: list[str],
               record: dict[str, Any]) -> RoadRunnerResult:
    ids, x = _species(rr)
    boundary = dict(zip(map(str, rr.model.getBoundarySpeciesIds()),
                        map(float, rr.model.getBoundarySpeciesConcentrations())))
    moiety = record.get("conserved_moiety_analysis") == "on"
    dependent = int(rr.getNumDepFloatingSpecies()) if moiety else 0
    values, record["eigenvalues"] = _eigenvalues(rr, moiety)
    text = f"{stage}: converged (relative residual {residual:.2g})"
    max_real, unstable, unique = None, False, dependent == 0
    if values is None:
        text += f", stability not checked ({record['eigenvalues']})"
    elif values.size:
        tol = s.eigen_tol * max(1.0, float(np.abs(values).max()))
        max_real = float(values.real.max())
        unstable, unique = max_real > tol, unique and float(np.abs(values).min()) > tol
        text += f", max Re(eigenvalue) {max_real:.3g}"
    if dependent:
        text += f", {dependent} conserved moieties"
    status = RRStatus.CONVERGED_UNSTABLE if unstable else RRStatus.CONVERGED_STABLE
    return RoadRunnerResult(status, dict(zip(ids, map(float, x))), max_real, stage, text,
                            settings=record, boundary=boundary, residual=residual,
                            unique=unique, attempts=list(attempts))


def _simulate(rr: Any, s: SolverSettings,
              record: dict[str, Any]) -> tuple[bool, float, str, str, bool]:
    """Stage 3: integrate to long times; where the state has settled, polish with Newton.
    Returns (valid, residual, stage, summary, integration error)."""
    rr.resetAll()
    integrator = rr.getIntegrator()
    if "maximum_num_steps" in integrator.getSettings():
        integrator.setValue("maximum_num_steps", s.simulation_maximum_steps)
    record["simulation"] = {"integrator": integrator.getName(), "times": list(s.simulation_times),
                            "stepping": "oneStep, 10 continued steps per checkpoint interval",
                            "options": {k: integrator.getValue(k)
                                        for k in integrator.getSettings()}}
    rates, sizes, previous, candidate = _Rates(rr), [], None, None
    names = rates.names if rates.rules else [str(v) for v in
                                             rr.getIndependentFloatingSpeciesIds()]
    now, residual, deadline = 0.0, math.inf, time.perf_counter() + s.simulation_budget
    reset = True  # (re)initialise CVODE at the start and after Newton touched the state
    for end in s.simulation_times:
        stopped, reset = _advance(rr, now, end, deadline, reset), False
        if stopped is not None:
            if candidate is not None:  # an earlier checkpoint had (almost) vanishing rates
                _restore(rr, candidate)
                valid, found, text = _verify(rr, s)
                if valid:
                    return True, found, "simulation", f"settled by t = {candidate[0]:g} " \
                        f"({text}); then integration stopped: {stopped}", False
            if sizes and (sizes[-1] > 1e50 or sizes[-1] > 1e3 * max(sizes[0], 1e-300)):
                return False, residual, "none", f"blows up before t = {end:g} ({stopped})", False
            if "TOO_MUCH_WORK" in stopped or "budget" in stopped:
                return (False, residual, "none", f"does not settle by t = {now:g} (relative "
                        f"residual {residual:.3g}; {stopped})", False)
            return False, residual, "none", f"integration failed before t = {end:g}: " \
                f"{stopped}", True
        now, residual = end, rates.residual(s)
        state = np.concatenate([_species(rr)[1], [rr.getValue(v) for v in rates.rules]])
        sizes.append(float(np.max(np.abs(state), initial=0.0)))
        if not math.isfinite(residual) or not math.isfinite(sizes[-1]):
            return False, math.inf, "none", f"blows up before t = {end:g}", False
        # settled: small rates relative to the fluxes AND no drift since the last checkpoint
        # (linear growth has relative rates ~ 1/t, yet drifts by ~10x between checkpoints)
        drift = math.inf if previous is None or len(previous) != len(state) else \
            float(np.max(np.abs(state - previous), initial=0.0)) / max(sizes[-1], 1e-300)
        previous = state
        snapshot = (rr.model.getTime(), {v: rr.getValue(v) for v in names})
        candidate = snapshot if residual <= s.rate_rtol else None  # latest checkpoint only
        if residual > s.settle_rtol or drift > s.settle_rtol:
            continue
        record["polish"] = _configure(rr, s, presimulate=False)
        try:
            rr.steadyState()
            valid, polished, summary = _verify(rr, s)
        except Exception as exc:  # noqa: BLE001
            valid, polished, summary = False, math.inf, short_error(exc)
        if valid:
            return True, polished, "simulation+newton", f"settled by t = {end:g}; Newton " \
                   f"polish {summary}", False
        _restore(rr, snapshot)  # steadyState() also reset the time (matters with forcing)
        reset = True
        valid, plain, text = _verify(rr, s)
        if valid:
            return True, plain, "simulation", f"settled by t = {end:g} ({text}); Newton " \
                   f"polish failed: {summary}", False
    if len(sizes) > 2 and sizes[-1] > 10 * max(sizes[0], 1e-300) and sizes[-1] > sizes[-2]:
        return (False, residual, "none", f"keeps growing (max value {sizes[0]:.3g} at t = "
                f"{s.simulation_times[0]:g}, {sizes[-1]:.3g} at t = {now:g})", False)
    return (False, residual, "none", f"does not settle by t = {now:g} (relative residual "
            f"{residual:.3g})", False)


def _advance(rr: Any, start: float, end: float, deadline: float, reset: bool) -> str | None:
    """Integrate from ``start`` to ``end`` in 10 continued steps (``oneStep`` without CVODE
    re-initialisation, which separate ``simulate`` calls would do, and which makes stiff models
    fail), stopping at the wall-clock ``deadline``. None when done, else why it stopped."""
    points = np.linspace(start, end, 11)
    for a, b in zip(points[:-1], points[1:]):
        if time.perf_counter() > deadline:
            return f"simulation budget reached at t = {a:g}"
        try:
            rr.oneStep(float(a), float(b - a), reset)
        except Exception as exc:  # noqa: BLE001 - CVODE errors come as RuntimeError
            return short_error(exc)
        reset = False
    return None


def _restore(rr: Any, snapshot: tuple[float, dict[str, float]]) -> None:
    rr.model.setTime(snapshot[0])
    for var, value in snapshot[1].items():
        rr.setValue(var, value)
