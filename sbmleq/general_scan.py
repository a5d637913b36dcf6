"""Verified steady-state parameter scans of general (nonlinear) reaction networks.

A scan is a set of *axes*, one per varied constant of the network
(:attr:`~sbmleq.core.reactions.ReactionNetwork.parameter_ids`: global parameters, local ones as
``reaction_id.parameter_id``, compartment sizes, constant species), combined by a *design*:

- ``"k1=0.1:10:log:100"``: 100 values from 0.1 to 10, evenly spaced in log10 (``lin``: evenly
  spaced); under ``lhs`` the range is sampled continuously and the count may be left out;
- ``"k2=1,2,5"``: explicit values;
- ``design="grid"``: every combination (cartesian product, first axis slowest);
  ``design="lhs"``: ``n`` Latin-hypercube samples (seeded): each axis is cut into ``n`` equal
  strata (in log10 for ``log`` axes) with one sample in each, the strata paired at random;
  an explicit-values axis is cut into ``n`` strata over its list of values.

:func:`scan_network` solves every parameter set (the laws compiled once) in one of three
confirmation modes (:mod:`sbmleq.scan_solver`): ``"sample"`` (default: continuation from
solved neighbours, a random sample and the regions where it disagrees confirmed by
simulation), ``"all"`` (every set from the initial state through
:func:`sbmleq.core.solve.solve_batch`, every answer confirmed by simulation) or ``"none"``
(continuation only: verified fixed points, not confirmed). It returns a pandas DataFrame: one
row per set, the varied parameters, then ``status``, ``stable``, ``residual``,
``eigenvalues_max_real``, ``confirmed`` and one column per species (its concentration, as
:class:`~sbmleq.general.GeneralSolveResult` reports it). Species values are only filled for a
verified fixed point (status ``stable`` or ``unstable``: residual, sign, conservation and
eigenvalues checked); every other row has NaN there. ``confirmed`` says whether a simulation
from the initial state decided the row.
"""

from __future__ import annotations

import difflib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork, NumpyOps, compile_expressions, compile_network
from sbmleq.core.expr import symbols
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve import SolveSettings
from sbmleq.errors import InputError
from sbmleq.scan_solver import CONFIRM, ScanAnswers, solve_scan

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ScanAxis", "parse_axis", "parse_axes", "design_points", "coordinates",
           "scan_network", "result_frame", "RESULT_COLUMNS", "DESIGNS", "CONFIRM", "MAX_SETS"]

DESIGNS = ("grid", "lhs")
RESULT_COLUMNS = ("status", "stable", "residual", "eigenvalues_max_real", "confirmed")
MAX_SETS = 10_000_000  # a grid larger than this is a typo, not a scan
SPEC_HELP = "use ID=LO:HI:log|lin:COUNT or ID=V1,V2,..."
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ScanAxis:
    """One varied constant: an explicit list of ``values``, or a range ``lo..hi`` (``log``:
    spaced in log10) with ``count`` grid points (None: only an LHS can sample it)."""

    id: str
    values: tuple[float, ...] = ()
    lo: float = math.nan
    hi: float = math.nan
    log: bool = False
    count: int | None = None

    @property
    def is_range(self) -> bool:
        return not self.values

    def grid(self) -> np.ndarray:
        """The axis' grid points (a range needs its count)."""
        if not self.is_range:
            return np.asarray(self.values, dtype=np.float64)
        if self.count is None:
            raise InputError(f"{self.id}: a range needs a count for a grid design "
                             f"(ID=LO:HI:log|lin:COUNT), or use design lhs", element="--set")
        if self.log:
            return np.logspace(math.log10(self.lo), math.log10(self.hi), self.count)
        return np.linspace(self.lo, self.hi, self.count)

    def sample(self, u: np.ndarray) -> np.ndarray:
        """Values at the points ``u`` in [0, 1) (LHS): continuous on a range, a stratified pick
        from the list of explicit values."""
        if not self.is_range:
            vals = np.asarray(self.values, dtype=np.float64)
            return vals[np.minimum((u * len(vals)).astype(np.int64), len(vals) - 1)]
        if self.log:
            a, b = math.log10(self.lo), math.log10(self.hi)
            return 10.0 ** (a + u * (b - a))
        return self.lo + u * (self.hi - self.lo)


def _number(text: str, what: str, where: str | None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what} {text.strip()!r} is not a number ({SPEC_HELP})",
                         source=where, element="--set") from None
    return value


def _check_values(pid: str, values: Sequence[float] | np.ndarray, log: bool, positive: bool,
                  where: str | None) -> None:
    arr = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0) | ((arr == 0) & (log or positive))
    for v in arr[bad][:1].tolist():  # the first offending value (a loop over 0 or 1)
        if not math.isfinite(v):
            raise InputError(f"{pid}: value {v!r} must be finite", source=where, element="--set")
        if v < 0:
            raise InputError(f"{pid}: value {v:g} must be >= 0", source=where, element="--set")
        if v == 0 and (log or positive):
            why = "a log axis" if log else "a compartment size"
            raise InputError(f"{pid}: value 0 is not allowed on {why} (must be > 0)",
                             source=where, element="--set")


def _read(net: ReactionNetwork) -> set[str]:
    """The constants the dynamics or the reported values depend on: symbols of the rate laws,
    rate rules and assignment rules, the species' compartments, constant species."""
    laws = [r.rate for r in net.reactions] + [r.rate for r in net.rate_rules]
    out = set().union(*(symbols(e) for e in [*laws, *net.assigned.values()]))
    return out | {s.compartment for s in net.species} | {s.id for s in net.species}


def _check_id(pid: str, net: ReactionNetwork, where: str | None) -> None:
    ids = net.parameter_ids
    if pid in ids:
        if pid not in _read(net):  # e.g. read only by an initial assignment (evaluated once)
            raise InputError(f"parameter {pid!r} is not read by any rate law or rule: scanning "
                             f"it changes nothing (initial values are evaluated once, at import)",
                             source=where, element="--set")
        return
    lower = {i.lower(): i for i in ids}  # case slips (Km / KM) count as close
    close = [lower[c] for c in difflib.get_close_matches(pid.lower(), lower, n=5, cutoff=0.5)]
    hint = f"; close matches: {', '.join(close)}" if close else ""
    listed = ", ".join(ids[:12]) + (" ..." if len(ids) > 12 else "")
    raise InputError(f"unknown parameter {pid!r}{hint} (the model's parameters: "
                     f"{listed or 'none'})", source=where, element="--set")


def parse_axis(spec: str, net: ReactionNetwork, where: str | None = None) -> ScanAxis:
    """One ``ID=LO:HI:log|lin[:COUNT]`` or ``ID=V1,V2,...`` spec, checked against ``net``'s
    parameter ids (:class:`InputError` naming the id and the file, with close matches)."""
    if "=" not in spec:
        raise InputError(f"{spec.strip()!r}: no '=' ({SPEC_HELP})", source=where, element="--set")
    pid, _, rhs = (part.strip() for part in spec.partition("="))
    if not pid or not rhs:
        raise InputError(f"{spec.strip()!r}: empty id or values ({SPEC_HELP})", source=where,
                         element="--set")
    _check_id(pid, net, where)
    positive = pid in net.compartments
    if ":" not in rhs:
        values = tuple(_number(v, "value", where) for v in rhs.split(","))
        _check_values(pid, values, False, positive, where)
        return ScanAxis(pid, values=values)
    parts = [p.strip() for p in rhs.split(":")]
    if len(parts) not in (3, 4) or parts[2].lower() not in ("log", "lin"):
        raise InputError(f"{pid}: range {rhs!r} is not LO:HI:log|lin[:COUNT] ({SPEC_HELP})",
                         source=where, element="--set")
    lo, hi = _number(parts[0], "lower bound", where), _number(parts[1], "upper bound", where)
    log = parts[2].lower() == "log"
    _check_values(pid, (lo, hi), log, positive, where)
    if lo > hi:
        raise InputError(f"{pid}: lower bound {lo:g} is above the upper bound {hi:g}",
                         source=where, element="--set")
    count = None
    if len(parts) == 4:
        try:
            count = int(parts[3])
        except ValueError:
            count = 0
        if count < 1 or (count == 1 and lo != hi):
            raise InputError(f"{pid}: count {parts[3]!r} must be an integer >= 2 (1 only when "
                             f"LO = HI)", source=where, element="--set")
    return ScanAxis(pid, lo=lo, hi=hi, log=log, count=count)


def parse_axes(spec: str | Sequence[str] | Mapping[str, Any], net: ReactionNetwork,
               where: str | None = None) -> list[ScanAxis]:
    """Axes from spec strings (one or a list) or a mapping ``id -> spec tail``
    (``"0.1:10:log:50"``), a sequence of values or a single value. Each id once."""
    items: list[str] = []
    if isinstance(spec, str):
        items = [spec]
    elif isinstance(spec, Mapping):
        for key, value in spec.items():
            if isinstance(value, str):
                items.append(f"{key}={value}")
            else:
                vals = np.atleast_1d(np.asarray(value, dtype=np.float64)).reshape(-1)
                items.append(f"{key}=" + ",".join(repr(float(v)) for v in vals))
    else:
        items = [str(s) for s in spec]
    if not items:
        raise InputError(f"no parameter to scan ({SPEC_HELP})", source=where, element="--set")
    axes = [parse_axis(s, net, where) for s in items]
    seen: set[str] = set()
    for axis in axes:
        if axis.id in seen:
            raise InputError(f"{axis.id} is given twice", source=where, element="--set")
        seen.add(axis.id)
    return axes


def design_points(axes: Sequence[ScanAxis], design: str = "grid", n: int | None = None,
                  seed: int = 0, where: str | None = None) -> np.ndarray:
    """The parameter sets ``(K, len(axes))`` of ``design`` (module docstring)."""
    if design not in DESIGNS:
        raise InputError(f"unknown design {design!r} (grid or lhs)", source=where,
                         element="--design")
    if design == "grid":
        grids = [a.grid() for a in axes]
        total = math.prod(len(g) for g in grids)
        if total > MAX_SETS:
            raise InputError(f"the grid has {total:,} sets (more than {MAX_SETS:,}): use fewer "
                             f"points or design lhs", source=where, element="--set")
        mesh = np.meshgrid(*grids, indexing="ij")  # first axis slowest, as itertools.product
        return np.stack([m.reshape(-1) for m in mesh], axis=1) if axes else np.zeros((1, 0))
    if n is None or n < 1 or n > MAX_SETS:
        raise InputError(f"an LHS design needs a number of samples 1..{MAX_SETS:,}, got {n!r}",
                         source=where, element="--n")
    rng = np.random.default_rng(seed)
    cols = []
    for axis in axes:
        u = (rng.permutation(n) + rng.random(n)) / n  # one point per stratum, shuffled
        cols.append(axis.sample(u))
    return np.stack(cols, axis=1)


class _Concentrations:
    """Every species' concentration from a batch of states and parameter rows, as
    :func:`sbmleq.general.concentrations_of` gives it for one: state species (amounts divided by
    their compartment's size in that row), species set by assignment rules (evaluated) and
    constant or boundary species (their value in the row)."""

    def __init__(self, net: ReactionNetwork) -> None:
        self.net = net
        self.assigned = list(net.assigned)
        self.fn = (compile_expressions([net.assigned[s] for s in self.assigned], net.state_ids,
                                       net.parameter_ids)[1] if self.assigned else None)
        self.state = {s: i for i, s in enumerate(net.state_ids)}
        self.param = {s: i for i, s in enumerate(net.parameter_ids)}

    def __call__(self, x: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
        rows = len(x)
        values: dict[str, np.ndarray] = {}
        if self.fn is not None:
            with np.errstate(all="ignore"):
                out = self.fn(x, p, NumpyOps)
            values = {s: np.broadcast_to(np.asarray(v, dtype=np.float64), (rows,))
                      for s, v in zip(self.assigned, out)}
        conc: dict[str, np.ndarray] = {}
        for s in self.net.species:
            if s.id in values:
                v = values[s.id]
            elif s.id in self.state:
                v = x[:, self.state[s.id]]
            elif s.id in self.param:
                v = p[:, self.param[s.id]]
            else:
                v = np.full(rows, s.initial)
            if s.amount:
                c = s.compartment
                v = v / (p[:, self.param[c]] if c in self.param else self.net.compartments[c])
            conc[s.id] = np.array(v, dtype=np.float64)
        return conc


def coordinates(points: np.ndarray, kinds: Sequence[str]) -> np.ndarray:
    """The sets' positions for the continuation's neighbour search: each column scaled to
    [0, 1], in log10 for a ``log`` axis and for explicit values or rows that are all positive
    and span at least a decade."""
    cols = []
    for col, kind in zip(np.asarray(points, dtype=np.float64).T, kinds):
        lo, hi = (float(col.min()), float(col.max())) if len(col) else (0.0, 0.0)
        if kind == "log" or (kind != "lin" and lo > 0 and hi >= 10 * lo):
            col, lo, hi = np.log10(col), math.log10(lo), math.log10(hi)
        cols.append((col - lo) / (hi - lo) if hi > lo else np.zeros_like(col))
    return np.stack(cols, axis=1) if cols else np.zeros((len(points), 0))


def scan_network(net: ReactionNetwork,
                 spec: str | Sequence[str] | Mapping[str, Any] | "pd.DataFrame", *,
                 design: str = "grid", n: int | None = None, seed: int = 0,
                 settings: SolveSettings | None = None, batch_size: int = 512,
                 progress: Progress | None = None, source: str | None = None,
                 compiled: CompiledNetwork | None = None, device: str | None = None,
                 confirm: str = "sample", confirm_n: int | None = None) -> "pd.DataFrame":
    """Verified steady states of ``net`` over a parameter design (module docstring).

    ``spec``: spec strings or a mapping (:func:`parse_axes`) combined by ``design``, or a
    DataFrame whose columns are parameter ids and whose rows are the sets (``design`` is then
    not used). ``confirm``: ``"sample"``, ``"all"`` or ``"none"``; ``confirm_n``: the sample
    size of ``"sample"`` (default: the larger of 64 and 0.5 % of the sets). ``batch_size``: sets
    per batched call of the full solver (the continuation takes at least 2048).
    ``progress(done, total)`` is called first with 0, then as sets are answered.
    ``device``: as :func:`~sbmleq.core.solve.solve_batch` takes it (None: NumPy). ``source``
    names the file in error messages. ``df.attrs`` holds the model name, design, seed,
    ``axes`` (id -> ``log``, ``lin``, ``values`` or ``rows``), the number of sets, the
    confirm mode, ``counts`` (sets, sample, confirmed, disagreements, flooded) and the
    seconds taken."""
    import pandas as pd  # ~0.3 s: the result is a DataFrame

    where = source or net.name or None
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}", source=where,
                         element="--batch")
    if confirm not in CONFIRM:
        raise InputError(f"unknown confirm mode {confirm!r} ({', '.join(CONFIRM)})",
                         source=where, element="--confirm")
    settings = settings or SolveSettings()
    start = time.perf_counter()
    if isinstance(spec, pd.DataFrame):
        ids = [str(c) for c in spec.columns]
        if not ids:
            raise InputError("no parameter to scan", source=where)
        for pid in ids:
            _check_id(pid, net, where)
        points = spec.to_numpy(dtype=np.float64)
        for pid, col in zip(ids, points.T):
            _check_values(pid, col, False, pid in net.compartments, where)
        index = spec.index
        design = "rows"
        kinds = {pid: "rows" for pid in ids}
    else:
        axes = parse_axes(spec, net, where)
        ids = [a.id for a in axes]
        points = design_points(axes, design, n, seed, where)
        index = pd.RangeIndex(len(points))
        kinds = {a.id: ("values" if not a.is_range else "log" if a.log else "lin")
                 for a in axes}
    compiled = compiled or compile_network(net)
    p = np.tile(compiled.p0, (len(points), 1))
    columns = [list(compiled.parameter_ids).index(pid) for pid in ids]
    p[:, columns] = points
    coords = coordinates(points, [kinds[i] for i in ids])
    answers = solve_scan(compiled, p, coords, settings, confirm=confirm, confirm_n=confirm_n,
                         batch_size=batch_size, seed=seed, progress=progress, device=device)
    frame = result_frame(net, ids, points, p, answers, index)
    frame.attrs.update(model=where or "network", design=design, seed=seed, axes=kinds,
                       sets=len(points), confirm=confirm, counts=answers.stats,
                       seconds=time.perf_counter() - start)
    return frame


def result_frame(net: ReactionNetwork, ids: Sequence[str], points: np.ndarray, p: np.ndarray,
                 answers: ScanAnswers, index: Any = None) -> "pd.DataFrame":
    """The scan's DataFrame from the solver's answers (species NaN unless verified)."""
    import pandas as pd  # the result is a DataFrame

    rows = len(answers.status)
    verified = np.isfinite(answers.state).all(axis=1) if rows else np.zeros(0, bool)
    data: dict[str, Any] = {pid: points[:, j] for j, pid in enumerate(ids)}
    data["status"] = answers.status.astype(str)
    stable = pd.array(np.where(answers.stable == 1, True, False), dtype="boolean")
    stable[answers.stable < 0] = pd.NA
    data["stable"] = stable
    data["residual"] = np.where(verified, answers.residual, np.nan)
    data["eigenvalues_max_real"] = np.where(verified, answers.max_real, np.nan)
    data["confirmed"] = answers.confirmed.astype(bool)
    conc = _Concentrations(net)(np.where(verified[:, None], answers.state, 0.0), p) if rows \
        else {s.id: np.zeros(0) for s in net.species}
    for sid, values in conc.items():
        name = sid if sid not in data else f"species:{sid}"
        data[name] = np.where(verified, values, np.nan)
    return pd.DataFrame(data, index=index)
