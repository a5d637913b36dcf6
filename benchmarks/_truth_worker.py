"""The child-process side of ``benchmarks/corpus_truth.py``: one model's simulation truth and
roadrunner's plain ``steadyState()``, each returning a small JSON-ready dict.

Both functions run inside an :class:`sbmleq.solvers.isolate.IsolatedWorker` child (made by
:func:`sbmleq.solvers.roadrunner.make_worker`, which imports roadrunner once and silences its
logger and stderr), so a model that hangs or crashes roadrunner only costs its own time limit.
They are module-level functions of an importable module (the child gets the parent's
``sys.path``, which holds ``benchmarks/`` when the script runs), as the worker requires.

Definitions (docs/ground-truth.md):

- the state is every floating species' concentration (as roadrunner reports it) plus the value
  of every non-species variable set by a rate rule;
- ``rel_l1(a, b) = sum|a - b| / max(sum|b|, floor)``, floor = L1_FLOOR x the largest sum|x|
  seen along the simulation (a state decaying to 0 is judged against its past);
- ``drift`` over a decade: rel_l1 of the states at its two ends;
- ``rate_residual``: ``sum|dx/dt| * 9e5 / max(sum|x|, floor)`` (how far, relative to the state,
  the current rates would move it over one more late decade);
- ``flux_residual``: ``max_i |dc_i/dt| / max_i sum_j |N_ij v_j| / V_i`` (net against gross
  reaction flux, per volume), for models with reactions.

roadrunner and numpy are imported inside the functions (the child imports roadrunner once).
"""

from __future__ import annotations

import math
import time
from typing import Any

HORIZON_DECADES = 6  # chunks [0, 1], [1, 10], ..., [1e5, 1e6]
POINTS = 1001  # linear output points per chunk (dense enough to see extrema, even aliased)
TOLERANCES = ((1e-10, 1e-9), (1e-10, 1e-7), (1e-8, 1e-6))  # (atol / scale, rtol), in order
# (atol 1e-12 x scale made CVODE crawl or fail on several models: BIOMD11 31 s vs 0.4 s)
MAX_STEPS = 500_000  # CVODE steps per output interval
DRIFT_TOL = 1e-6  # settled: the last decade moved the state by at most this (rel. L1)
RATE_TOL = 1e-2  # settled: rate_residual at the end at most this (CVODE's rates at a settled
#                  state are noise ~ rtol |x| |J|, times 9e5 in this measure) ...
FLUX_TOL = 1e-6  # ... or flux_residual at most this
POLISH_REL = 1e-3  # Newton's point is accepted within this rel. L1 of the simulated end state
POLISH_FLUX = 1e-6  # ... and flux_residual <= this (or rate_residual not above the end's)
#                     (rr_stages' rate_rtol; Newton stops as soon as roadrunner deems it converged)
OSC_AMPLITUDE = 1e-3  # oscillating: late peak-to-peak / component scale at least this
OSC_KEEP = 0.9  # ... amplitude of the chunk's last third >= this x its first third
OSC_MAXIMA = 3  # ... with at least this many local maxima in the last third
GROWTH = 10.0  # growing: sum|x| at 1e6 >= this x at 1e4, increasing at each checkpoint
BLOWUP = 1e50
L1_FLOOR = 1e-12  # relative measures divide by max(sum|x|, L1_FLOOR x largest sum|x| seen)
EIGEN_TOL = 1e-9  # Re(lambda) > EIGEN_TOL * max(1, max|lambda|): not stable (as rr_stages)

__all__ = ["plain_steady_state", "simulation_truth"]


# ---------------------------------------------------------------------- shared helpers
def _quiet_stdout() -> None:
    """CVODE's warnings reach the child's stdout (its stderr is already /dev/null, see
    make_worker): send fd 1 there too. The worker talks over a socket, not stdout."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:240]


def _num(x: float, digits: int = 12) -> float | None:
    """A float rounded to ``digits`` significant digits; None if not finite."""
    x = float(x)
    return float(f"{x:.{digits}g}") if math.isfinite(x) else None


def _concentrations(rr: Any) -> dict[str, float | None]:
    ids = [str(i) for i in rr.model.getFloatingSpeciesIds()]
    values = rr.model.getFloatingSpeciesConcentrations()
    return {i: _num(v) for i, v in zip(ids, values)}


def _flux_residual(rr: Any) -> float | None:
    """max |dc/dt| over max gross flux, both per volume (None without reactions)."""
    import numpy as np

    model = rr.model
    if not model.getNumReactions() or not model.getNumFloatingSpecies():
        return None
    full = rr.getFullStoichiometryMatrix()
    rates = dict(zip(map(str, model.getReactionIds()), model.getReactionRates()))
    terms = np.asarray(full, dtype=float) * np.array([rates[str(c)] for c in full.colnames])
    index = {str(s): k for k, s in enumerate(model.getFloatingSpeciesIds())}
    sizes = np.asarray(model.getCompartmentVolumes(), dtype=float)
    volume = np.ones(len(full.rownames))
    for row, sid in enumerate(map(str, full.rownames)):
        if sid in index:
            size = sizes[model.getCompartmentIndexForFloatingSpecies(index[sid])]
            volume[row] = size if size > 0 else 1.0
    net = np.abs(terms.sum(axis=1)) / volume
    gross = np.abs(terms).sum(axis=1) / volume
    top = float(gross.max(initial=0.0))
    if not (math.isfinite(top) and np.isfinite(net).all()):
        return math.inf
    return float(net.max(initial=0.0)) / top if top > 0 else 0.0


def _max_real_eigenvalue(rr: Any, moiety: bool) -> tuple[float | None, float | None, str]:
    """(max real part, max |lambda|, method) of the Jacobian at the current state: reduced
    Jacobian under moiety analysis, else the full one (rate-rule variables left out)."""
    import numpy as np

    methods = []
    if moiety:
        methods.append(("reduced", lambda: np.linalg.eigvals(np.asarray(rr.getReducedJacobian()))))
    methods.append(("full", lambda: np.asarray(rr.getFullEigenValues())))
    errors = []
    for name, method in methods:
        try:
            values = np.asarray(method(), dtype=complex).ravel()
        except Exception as exc:  # noqa: BLE001 - roadrunner raises bare std::exception
            errors.append(f"{name}: {_short(exc)[:80]}")
            continue
        if not np.isfinite(values).all():
            errors.append(f"{name}: non-finite")
            continue
        if values.size == 0:
            return None, None, f"{name} (empty)"
        return _num(values.real.max()), _num(np.abs(values).max()), name
    return None, None, "failed: " + "; ".join(errors)


def _stable(max_real: float | None, max_abs: float | None) -> bool | None:
    if max_real is None:
        return None
    return max_real <= EIGEN_TOL * max(1.0, max_abs or 0.0)


# ---------------------------------------------------------------------- plain steadyState
def plain_steady_state(path: str) -> dict[str, Any]:
    """roadrunner as users run it: ``RoadRunner(path).steadyState()`` with default options.
    Load and solve are timed separately; the residual and eigenvalues are checked after the
    clock stops."""
    import roadrunner

    _quiet_stdout()
    start = time.perf_counter()
    try:
        rr = roadrunner.RoadRunner(path)
    except Exception as exc:  # noqa: BLE001
        return {"status": "load_error", "message": _short(exc),
                "load_s": _num(time.perf_counter() - start, 4)}
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    try:
        rr.steadyState()
        status, message = "ok", ""
    except Exception as exc:  # noqa: BLE001
        status, message = "error", _short(exc)
    solve_s = time.perf_counter() - start
    out: dict[str, Any] = {"status": status, "message": message, "load_s": _num(load_s, 4),
                           "solve_s": _num(solve_s, 4)}
    if status == "ok":
        out["concentrations"] = _concentrations(rr)
        try:
            out["flux_residual"] = _num(_flux_residual(rr), 4)
        except Exception as exc:  # noqa: BLE001
            out["flux_residual_error"] = _short(exc)
        out["max_re"], out["max_abs"], out["eig_method"] = _max_real_eigenvalue(rr, False)
    return out


# ---------------------------------------------------------------------- simulation truth
def _load(path: str) -> tuple[Any, bool]:
    """Conserved-moiety analysis at load (a well-posed Newton polish and reduced Jacobian),
    except with rate rules, where roadrunner cannot report their rates under it."""
    import roadrunner

    options = roadrunner.LoadSBMLOptions()
    options.conservedMoieties = True
    try:
        rr = roadrunner.RoadRunner(path, options)
    except RuntimeError:
        return roadrunner.RoadRunner(path), False
    if rr.getRateRuleIds():
        return roadrunner.RoadRunner(path), False
    return rr, True


class _Model:
    """The state (species concentrations + non-species rate-rule variables) of a loaded model."""

    def __init__(self, rr: Any):
        self.rr = rr
        self.species = [str(i) for i in rr.model.getFloatingSpeciesIds()]
        self.rules = [str(r) for r in rr.getRateRuleIds() if str(r) not in set(self.species)]
        self.selections = ["time"] + [f"[{s}]" for s in self.species] + self.rules
        self.fixed = {str(r) for r in rr.getAssignmentRuleIds()}  # cannot be set

    def state(self) -> "Any":
        import numpy as np

        values = list(self.rr.model.getFloatingSpeciesConcentrations())
        values += [self.rr.getValue(r) for r in self.rules]
        return np.asarray(values, dtype=float)

    def rates(self) -> "Any":
        import numpy as np

        values = list(self.rr.model.getFloatingSpeciesConcentrationRates())
        if self.rules:
            named = self.rr.getRatesOfChangeNamedArray()
            by_name = {str(c).rstrip("'"): float(v) for c, v in zip(named.colnames, named[0])}
            values += [by_name.get(r, math.nan) for r in self.rules]
        return np.asarray(values, dtype=float)

    def set_state(self, x: "Any") -> None:
        for sid, value in zip(self.species, x[:len(self.species)]):
            if sid not in self.fixed:
                self.rr.setValue(f"[{sid}]", float(value))
        for rid, value in zip(self.rules, x[len(self.species):]):
            self.rr.setValue(rid, float(value))

    def rate_residual(self, x: "Any", floor: float = 0.0) -> float:
        import numpy as np

        total = max(float(np.abs(x).sum()), floor)
        rates = float(np.abs(self.rates()).sum())
        if not math.isfinite(rates):
            return math.inf
        return rates * 9e5 / total if total > 0 else (0.0 if rates == 0 else math.inf)


def _rel_l1(a: "Any", b: "Any", floor: float = 0.0) -> float:
    import numpy as np

    den = max(float(np.abs(b).sum()), floor)
    num = float(np.abs(a - b).sum())
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


def _oscillation(samples: "Any") -> dict[str, Any]:
    """Sustained-extrema test on one chunk's samples (rows: time points): the component with
    the largest late peak-to-peak relative to its scale; its amplitude in the last third
    against the first third, and its number of local maxima in the last third."""
    import numpy as np

    third = len(samples) // 3
    first, last = samples[:third], samples[-third:]
    scale = np.maximum(np.abs(samples).max(axis=0), 1e-12 * float(np.abs(samples).max()) + 1e-300)
    late = np.ptp(last, axis=0) / scale
    k = int(np.argmax(late))
    amp_first, amp_last = float(np.ptp(first[:, k])), float(np.ptp(last[:, k]))
    step = np.diff(last[:, k])
    step = step[np.abs(step) > 1e-6 * max(amp_last, 1e-300)]  # ignore flat stretches
    maxima = int(np.sum((step[:-1] > 0) & (step[1:] < 0)))
    keep = amp_last / amp_first if amp_first > 0 else (math.inf if amp_last > 0 else 0.0)
    found = bool(late[k] >= OSC_AMPLITUDE and keep >= OSC_KEEP and maxima >= OSC_MAXIMA)
    return {"found": found, "amplitude": float(late[k]), "keep": keep, "maxima": maxima,
            "component": k}


def _integrate(m: _Model, atol_rel: float, rtol: float, deadline: float) -> dict[str, Any]:
    """Integrate from the initial state through the geometric chunks in one continued CVODE
    run (``oneStep`` without re-initialisation: separate ``simulate`` calls re-initialise
    CVODE at every call, which made stiff models fail with CV_ILL_INPUT / CV_CONV_FAILURE) and
    classify what is seen. Returns a dict with ``class`` one of settled / oscillating / growing
    / undecided / integration_error, and the end state (``x``) where the run got that far."""
    import numpy as np

    rr = m.rr
    rr.resetAll()
    x0 = m.state()
    amounts = np.abs(np.asarray(rr.model.getFloatingSpeciesAmounts(), dtype=float))
    scale = float(max(amounts.max(initial=0.0), np.abs(x0).max(initial=0.0)))
    scale = scale if math.isfinite(scale) and scale > 0 else 1.0
    integrator = rr.getIntegrator()
    for key, value in (("stiff", True), ("absolute_tolerance", atol_rel * scale),
                       ("relative_tolerance", rtol), ("maximum_num_steps", MAX_STEPS),
                       ("variable_step_size", False)):
        integrator.setValue(key, value)
    info: dict[str, Any] = {"atol": _num(atol_rel * scale, 4), "rtol": rtol}
    run = _Run(x0)
    chunks = [(0.0, 1.0)] + [(10.0 ** k, 10.0 ** (k + 1)) for k in range(HORIZON_DECADES)]
    now, reset, stopped = 0.0, True, ""
    for a, b in chunks:
        rows = [m.state()]
        for k, target in enumerate(np.linspace(a, b, POINTS)[1:]):
            try:
                rr.oneStep(now, float(target) - now, reset)
            except Exception as exc:  # noqa: BLE001 - CVODE failures come as RuntimeError
                stopped = f"integration stopped at t = {now:.6g}: {_short(exc)}"
                break
            now, reset = float(target), False
            rows.append(m.state())
            if not np.isfinite(rows[-1]).all() or np.abs(rows[-1]).max() > BLOWUP:
                info.update({"class": "growing", "reason": f"blow-up by t = {now:.6g}",
                             "t_end": now})
                return info
            if k % 100 == 99 and time.perf_counter() > deadline:
                stopped = "time budget reached"
                break
        run.add(now, np.asarray(rows))
        if stopped:
            break
        if run.oscillates_late(b):
            info.update({"class": "oscillating", "reason": f"sustained extrema in [{a:g}, {b:g}]",
                         "t_end": b, "oscillation": _osc_record(run.osc[-1])})
            return info
    info.update(_verdict(m, run, stopped))
    if stopped.startswith("integration") and info["class"] == "undecided":
        info["class"] = "integration_error"  # try looser tolerances
    return info


class _Run:
    """Checkpoints (chunk ends) of one integration, with each chunk's oscillation test."""

    def __init__(self, x0: "Any"):
        import numpy as np

        self.ends, self.states = [0.0], [x0]
        self.norms = [float(np.abs(x0).sum())]
        self.osc: list[dict[str, Any]] = []
        self.peak = self.norms[0]

    def add(self, t: float, rows: "Any") -> None:
        import numpy as np

        if len(rows) < 2:
            return
        self.ends.append(t)
        self.states.append(rows[-1])
        self.norms.append(float(np.abs(rows[-1]).sum()))
        self.peak = max(self.peak, float(np.abs(rows).sum(axis=1).max()))
        self.osc.append(_oscillation(rows) if rows.shape[1] and len(rows) >= 30
                        else {"found": False})

    @property
    def floor(self) -> float:
        """Denominator floor of relative L1 measures: a state that decays to 0 is judged
        against the largest state seen, not against itself."""
        return L1_FLOOR * self.peak

    def oscillates_late(self, b: float) -> bool:
        """Sustained extrema in the last two complete chunks (b >= 1e4), the later's amplitude
        not below OSC_KEEP x the earlier's."""
        o = self.osc
        return len(o) >= 2 and b >= 1e4 and o[-1]["found"] and o[-2]["found"] and \
            o[-1]["amplitude"] >= OSC_KEEP * o[-2]["amplitude"]


def _osc_record(o: dict[str, Any]) -> dict[str, Any]:
    return {k: (_num(v, 4) if isinstance(v, float) else v) for k, v in o.items() if k != "found"}


def _verdict(m: _Model, run: _Run, stopped: str) -> dict[str, Any]:
    """Classify the end of the run: the end of the horizon, or where it stopped (time budget,
    integration failure; then it cannot count as settled)."""
    ends, states, norms, osc = run.ends, run.states, run.norms, run.osc
    x = states[-1]
    drift = _rel_l1(states[-1], states[-2], run.floor) if len(states) > 1 else math.inf
    rate = m.rate_residual(x, run.floor)
    flux = _flux_residual(m.rr)
    out: dict[str, Any] = {"t_end": ends[-1], "drift": _num(drift, 4), "rate_residual":
                           _num(rate, 4), "end_flux_residual": _num(flux, 4) if flux is not None
                           else None, "x": x, "l1_floor": _num(run.floor, 4)}
    if stopped:
        out["stopped"] = stopped
    small = rate <= RATE_TOL or (flux is not None and flux <= FLUX_TOL)
    if not stopped and drift <= DRIFT_TOL and small:
        settled_at = ends[-1]
        for t, y in zip(reversed(ends), reversed(states)):
            if _rel_l1(y, x, run.floor) > DRIFT_TOL:
                break
            settled_at = t
        out.update({"class": "settled", "t_settled": settled_at})
        return out
    if osc and osc[-1].get("found") and ends[-1] >= 1e3:
        out.update({"class": "oscillating", "oscillation": _osc_record(osc[-1]),
                    "reason": f"sustained extrema in the last chunk (to t = {ends[-1]:g})"})
        return out
    tail = norms[-3:]
    if len(norms) >= 4 and norms[-1] >= GROWTH * max(norms[-3], 1e-300) and \
            all(q > p for p, q in zip(tail, tail[1:])):
        out.update({"class": "growing", "reason": f"sum|x| {norms[-3]:.3g} at t = "
                    f"{ends[-3]:g} -> {norms[-1]:.3g} at t = {ends[-1]:g}"})
        return out
    why = stopped or "not settled, no sustained oscillation"
    out.update({"class": "undecided", "reason": f"{why} (t = {ends[-1]:g})"})
    return out


def _polish(m: _Model, x: "Any", floor: float) -> dict[str, Any]:
    """Newton (roadrunner's steadyState, no presimulation, no approximation) from the
    simulated end state; accepted only close to it and with a small residual (flux_residual
    <= POLISH_FLUX, or a rate_residual no larger than the simulated end state's)."""
    rr = m.rr
    before = m.rate_residual(x, floor)
    solver = rr.getSteadyStateSolver()
    known = set(solver.getSettings())
    for key, value in (("allow_presimulation", False), ("allow_approx", False)):
        if key in known:
            solver.setValue(key, value)
    out: dict[str, Any] = {}
    try:
        rr.steadyState()
    except Exception as exc:  # noqa: BLE001
        out.update(accepted=False, message=_short(exc))
        return out
    y = m.state()
    rel = _rel_l1(y, x, floor)
    flux = _flux_residual(rr)
    rate = m.rate_residual(y, floor)
    small = (flux is not None and flux <= POLISH_FLUX) or rate <= max(before, POLISH_FLUX)
    out.update(accepted=bool(rel <= POLISH_REL and small and math.isfinite(rel)),
               rel_l1=_num(rel, 4), flux_residual=_num(flux, 4) if flux is not None else None,
               rate_residual=_num(rate, 4))
    return out


def simulation_truth(path: str, budget: float = 90.0) -> dict[str, Any]:
    """The model's long-time behaviour from its own initial state (see the module docstring
    and docs/ground-truth.md). ``budget``: seconds of simulation before the run stops and is
    classified from what it has seen."""
    _quiet_stdout()
    start = time.perf_counter()
    deadline = start + budget
    try:
        rr, moiety = _load(path)
    except Exception as exc:  # noqa: BLE001
        return {"class": "failed", "reason": f"load: {_short(exc)}",
                "seconds": _num(time.perf_counter() - start, 4)}
    m = _Model(rr)
    out: dict[str, Any] = {"moiety": moiety, "n_floating": len(m.species),
                           "n_rate_rules": len(m.rules), "load_s": _num(time.perf_counter() -
                                                                      start, 4)}
    if not m.species:
        out.update({"class": "no_floating", "seconds": _num(time.perf_counter() - start, 4)})
        return out
    try:
        _run(m, moiety, deadline, out)
    except Exception as exc:  # noqa: BLE001 - recorded as a failure with what it has
        out.update({"class": "failed", "reason": f"error: {_short(exc)}"})
        out.pop("concentrations", None)
    out["seconds"] = _num(time.perf_counter() - start, 4)
    return out


def _run(m: _Model, moiety: bool, deadline: float, out: dict[str, Any]) -> None:
    rr = m.rr
    tries = []
    for atol_rel, rtol in TOLERANCES:
        run = _integrate(m, atol_rel, rtol, deadline)
        tries.append(f"{atol_rel:g}/{rtol:g}: {run['class']}")
        if run["class"] != "integration_error" or time.perf_counter() > deadline:
            break
    out["tries"] = tries
    if run["class"] == "integration_error":
        run["class"] = "failed"
    x = run.pop("x", None)
    out.update(run)
    if run["class"] == "settled":
        floor = run.get("l1_floor") or 0.0
        polish = _polish(m, x, floor)
        out["polish"] = polish
        if not polish["accepted"]:
            m.set_state(x)  # the simulated end state is the truth
        out["source"] = "newton" if polish["accepted"] else "simulation"
        flux = _flux_residual(rr)
        out["flux_residual"] = _num(flux, 4) if flux is not None else None
        out["final_rate_residual"] = _num(m.rate_residual(m.state(), floor), 4)
        out["max_re"], out["max_abs"], out["eig_method"] = _max_real_eigenvalue(rr, moiety)
        stable = _stable(out["max_re"], out["max_abs"])
        out["stable"] = stable
        out["concentrations"] = _concentrations(rr)
