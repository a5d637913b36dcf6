"""The Python API: plain functions over a small :class:`Session` the caller owns.

::

    import sbmleq

    result = sbmleq.predict("model.xml", check=True)   # ModelPrediction
    result.to_frame()                                   # DataFrame indexed by species id
    sbmleq.solve("model.xml")                           # roadrunner ground truth (SolveResult)
    sbmleq.load("model.xml")                            # ImportResult: network + report
    sbmleq.scan("model.xml", {"k1": [0.1, 1, 10]})      # ScanResult: one row per parameter set

Every function accepts what :func:`sbmleq.io.loader.load` accepts: a path, SBML text, Antimony
text, a ``roadrunner.RoadRunner``, a ``libsbml.SBMLDocument``, a BioModels id or a
:class:`~sbmleq.core.network.Network`. The module-level functions create a :class:`Session` for one
call; hold a ``Session`` yourself to keep the loaded model (per checkpoint and device) and one
roadrunner worker process across many calls. There is no module-level state.

Values are always in the units each species declares in the SBML (``ImportResult.species_units``),
never converted. A model outside the LIFE class is not an exception for :func:`predict`: the
result has ``in_class=False``, the importer's reasons and no prediction (exit code 3 on the
command line). Unreadable input raises :class:`~sbmleq.errors.InputError`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sbmleq.errors import InputError, OutOfClassError
from sbmleq.core.network import Network
from sbmleq.solvers.roadrunner import RoadRunnerResult
from sbmleq.core.exact import DenseBatch, solve_dense_batch
from sbmleq.io.loader import load as load_source
from sbmleq.io.sbml_import import import_sbml
from sbmleq.io.sources import load_sbml_text
from sbmleq.model.predictor import DEFAULT_MODEL, Predictor
from sbmleq.solvers.roadrunner import make_worker
from sbmleq.solvers.roadrunner import require_sbml_xml, solve_network_rr, solve_sbml_text

if TYPE_CHECKING:
    import pandas as pd

    from sbmleq.solvers.isolate import IsolatedWorker
    from sbmleq.model.predictor import Prediction, Predictor
    from sbmleq.solvers.roadrunner import SolverSettings
    from sbmleq.io.sbml_import import ImportResult

__all__ = ["ModelPrediction", "ScanResult", "Session", "SolveResult", "load", "predict", "scan",
           "solve"]

DEFAULT_TIMEOUT = 30.0
_SESSION: Any = object()  # "use the session's setting"


# ---------------------------------------------------------------------------- helpers
def _num(x: Any) -> float | None:
    """A JSON-ready float: None for missing or non-finite values."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def rel_error(predicted: float | None, reference: float | None) -> float | None:
    """``|predicted - reference| / |reference|``; 0 when both are 0; None when undefined."""
    p, r = _num(predicted), _num(reference)
    if p is None or r is None:
        return None
    if r == 0.0:
        return 0.0 if p == 0.0 else None
    return abs(p - r) / abs(r)



def _unit_by_species(imported: "ImportResult") -> dict[str, str]:
    """Declared units keyed by SBML species id (the importer keys them by node id)."""
    return {imported.node_species.get(k, k): v for k, v in imported.species_units.items()}


def _amount_scales(sbml: str, species: list[str]) -> dict[str, float]:
    """Compartment size of each species declared as an amount (``hasOnlySubstanceUnits``).

    roadrunner reports concentrations (amount / volume) for every species; the network of such
    a species is in amounts, so roadrunner's value is multiplied by this size to compare."""
    import libsbml

    doc = libsbml.readSBMLFromString(sbml)
    props = libsbml.ConversionProperties()
    props.addOption("expandInitialAssignments", True)
    doc.convert(props)
    model = doc.getModel()
    scales: dict[str, float] = {}
    if model is None:
        return scales
    for sid in species:
        sp = model.getSpecies(sid)
        if sp is None or not sp.getHasOnlySubstanceUnits():
            continue
        comp = model.getCompartment(sp.getCompartment())
        scales[sid] = comp.getSize() if comp is not None and comp.isSetSize() else math.nan
    return scales


# ---------------------------------------------------------------------------- results
class SolveResult(RoadRunnerResult):
    """:class:`~sbmleq.solvers.roadrunner.RoadRunnerResult` plus :meth:`to_json` (what :func:`solve`
    returns). ``to_frame()`` is indexed by species id; values are roadrunner's concentrations."""

    @classmethod
    def of(cls, result: RoadRunnerResult) -> "SolveResult":
        return cls(**{k: getattr(result, k) for k in RoadRunnerResult.__dataclass_fields__})

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


@dataclass
class ModelPrediction:
    """What ``sbmleq predict`` reports for one model: the import, the model's prediction and,
    with ``check=True``, roadrunner's answer. :meth:`to_dict` is the JSON schema of
    docs/json-schema.md."""

    model: str  # display name of the input (path, BioModels id, <stdin>, ...)
    imported: "ImportResult"
    prediction: "Prediction | None" = None  # None when out of class
    roadrunner: RoadRunnerResult | None = None  # only with check=True
    # roadrunner's values by species id, in the declared units (see Session.predict)
    roadrunner_values: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    checkpoint: str = ""

    # -------------------------------------------------------------- verdicts
    @property
    def in_class(self) -> bool:
        return bool(self.imported.in_class)

    @property
    def exit_code(self) -> int:
        """0, or 3 (:class:`OutOfClassError`) for a model outside the class."""
        return 0 if self.in_class else OutOfClassError.exit_code

    @property
    def equilibrium_exists(self) -> bool | None:
        return None if self.prediction is None else bool(self.prediction.equilibrium_exists)

    @property
    def p_exists(self) -> float | None:
        return None if self.prediction is None else float(self.prediction.p_exists)

    @property
    def out_of_distribution(self) -> bool | None:
        return None if self.prediction is None else bool(self.prediction.out_of_distribution)

    @property
    def confident(self) -> bool | None:
        return None if self.prediction is None else bool(self.prediction.confident)

    @property
    def out_of_class(self) -> list[dict[str, str | None]]:
        """One entry per reason: ``{"reaction": id or None (model-level), "reason": text,
        "code": a ReasonCode value, "element": the id it concerns or None}``."""
        return [{"reaction": r.reaction, "reason": r.message, "code": r.code.value,
                 "element": r.element} for r in self.imported.reasons]

    def require_in_class(self) -> "ModelPrediction":
        """Self, or :class:`OutOfClassError` with the importer's reasons."""
        self.imported.require_in_class()
        return self

    # -------------------------------------------------------------- per species
    @property
    def species(self) -> list[str]:
        """Species ids: the network's nodes (as SBML species ids), or roadrunner's species when
        the model is out of class."""
        net = self.imported.network
        if self.in_class and net is not None:
            return [self.imported.node_species.get(n, n) for n in net.nodes]
        return list(self.roadrunner_values)

    def predicted(self) -> dict[str, float | None]:
        """Predicted steady state by species id (None everywhere when no equilibrium)."""
        if self.prediction is None:
            return {s: None for s in self.species}
        values = self.prediction.as_dict()  # by node id
        return {self.imported.node_species.get(n, n): _num(v) for n, v in values.items()}

    def rel_errors(self) -> dict[str, float | None]:
        pred = self.predicted()
        return {s: rel_error(pred.get(s), self.roadrunner_values.get(s)) for s in self.species}

    @property
    def rel_l1(self) -> float | None:
        """The paper's metric ``sum |pred - rr| / sum |rr|`` (None unless both are complete)."""
        if not self.roadrunner_values or self.prediction is None:
            return None
        pred = self.predicted()
        pairs = [(pred.get(s), _num(self.roadrunner_values.get(s))) for s in self.species]
        if not pairs or any(p is None or r is None for p, r in pairs):
            return None
        total = sum(abs(r) for _, r in pairs)
        diff = sum(abs(p - r) for p, r in pairs)
        return diff / total if total > 0 else (0.0 if diff == 0 else None)

    def to_frame(self) -> "pd.DataFrame":
        """DataFrame indexed by species id: predicted, unit and, with a check, roadrunner and
        rel_error."""
        import pandas as pd

        units = _unit_by_species(self.imported)
        pred, errs = self.predicted(), self.rel_errors()
        data: dict[str, list[Any]] = {
            "predicted": [np.nan if pred[s] is None else pred[s] for s in self.species],
            "unit": [units.get(s, "") for s in self.species],
        }
        if self.roadrunner is not None:
            data["roadrunner"] = [self.roadrunner_values.get(s, np.nan) for s in self.species]
            data["rel_error"] = [np.nan if errs[s] is None else errs[s] for s in self.species]
        frame = pd.DataFrame(data, index=pd.Index(self.species, name="species"))
        frame.attrs.update(model=self.model, in_class=self.in_class,
                           equilibrium_exists=self.equilibrium_exists, p_exists=self.p_exists,
                           out_of_distribution=self.out_of_distribution,
                           roadrunner_status=(self.roadrunner.status.value
                                              if self.roadrunner is not None else None))
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/json-schema.md (non-finite numbers become null)."""
        units = _unit_by_species(self.imported)
        pred, errs = self.predicted(), self.rel_errors()
        checked = self.roadrunner is not None
        species = {s: {"predicted": pred[s], "unit": units.get(s, ""),
                       "roadrunner": _num(self.roadrunner_values.get(s)) if checked else None,
                       "rel_error": errs[s] if checked else None}
                   for s in self.species}
        rr = None
        if self.roadrunner is not None:
            full = self.roadrunner.to_dict()
            rr = {"status": full["status"], "seconds": full["seconds"], "stage": full["stage"],
                  "eigenvalues_max_real": full["eigenvalues_max_real"],
                  "message": full["message"], "settings": full["settings"]}
        p = self.prediction
        return {
            "model": self.model,
            "in_class": self.in_class,
            "out_of_class": self.out_of_class,
            "equilibrium_exists": self.equilibrium_exists,
            "p_exists": _num(self.p_exists),
            "out_of_distribution": self.out_of_distribution,
            "ood_reasons": list(p.ood_reasons) if p is not None else [],
            "confident": self.confident,
            "residual": _num(p.residual) if p is not None else None,
            "species": species,
            "roadrunner": rr,
            "rel_l1": _num(self.rel_l1),
            "checkpoint": self.checkpoint,
            "warnings": list(self.imported.warnings),
            "seconds": float(self.seconds),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


@dataclass
class ScanResult:
    """Predictions for K parameter sets on one topology (:func:`scan`)."""

    model: str
    species: tuple[str, ...]  # species ids, column order of ``predicted``
    units: dict[str, str]
    parameters: dict[str, np.ndarray]  # the values scanned, by column name
    p_exists: np.ndarray  # (K,)
    predicted: np.ndarray  # (K, n), NaN where no equilibrium is predicted
    mapping: dict[str, str]  # column name -> what it changes in the network
    exact: np.ndarray | None = None  # (K, n) exact LIFE equilibrium (exact=True)
    exact_exists: np.ndarray | None = None  # (K,)
    index: Any = None  # the index of a DataFrame given as parameters
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.p_exists)

    @property
    def equilibrium_exists(self) -> np.ndarray:
        return self.p_exists > 0.5

    def to_frame(self) -> "pd.DataFrame":
        """One row per parameter set: the parameter columns, ``p_exists``,
        ``equilibrium_exists``, one column per species id (predicted) and, with ``exact=True``,
        ``exact_exists`` and ``exact:<species>`` columns."""
        import pandas as pd

        data: dict[str, Any] = dict(self.parameters)
        data["p_exists"] = self.p_exists
        data["equilibrium_exists"] = self.equilibrium_exists
        for k, s in enumerate(self.species):
            data[s] = self.predicted[:, k]
        if self.exact is not None:
            data["exact_exists"] = self.exact_exists
            for k, s in enumerate(self.species):
                data[f"exact:{s}"] = self.exact[:, k]
        frame = pd.DataFrame(data, index=self.index)
        frame.attrs.update(model=self.model, units=dict(self.units), mapping=dict(self.mapping))
        return frame

    def to_dict(self) -> dict[str, Any]:
        def col(a: np.ndarray) -> list[float | None]:
            return [_num(v) for v in a]

        return {
            "model": self.model,
            "species": list(self.species),
            "units": dict(self.units),
            "mapping": dict(self.mapping),
            "parameters": {k: col(v) for k, v in self.parameters.items()},
            "p_exists": col(self.p_exists),
            "equilibrium_exists": [bool(v) for v in self.equilibrium_exists],
            "predicted": {s: col(self.predicted[:, k]) for k, s in enumerate(self.species)},
            "exact": (None if self.exact is None else
                      {s: col(self.exact[:, k]) for k, s in enumerate(self.species)}),
            "seconds": float(self.seconds),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


# ---------------------------------------------------------------------------- session
class Session:
    """Holds loaded models (one :class:`~sbmleq.model.predictor.Predictor` per checkpoint and device)
    and one roadrunner worker process, for many calls. Use it as a context manager or call
    :meth:`close` (stops the worker).

    ``model``: checkpoint path (``.npz`` runs on NumPy, ``.pt`` on PyTorch); None is the shipped
    model. ``device``: ``"cpu"`` or ``"cuda"`` (needs PyTorch with CUDA and a ``.pt`` model).
    ``timeout``: seconds for each roadrunner solve, run in a child process that is killed when
    time is up; ``None`` solves in this process without a limit.
    """

    def __init__(self, model: str | Path | None = None, device: str = "cpu",
                 timeout: float | None = DEFAULT_TIMEOUT,
                 settings: "SolverSettings | None" = None):
        self.model = model
        self.device = device
        self.timeout = timeout
        self.settings = settings
        self._predictors: dict[tuple[str, str], "Predictor"] = {}
        self._worker: "IsolatedWorker | None" = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    # -------------------------------------------------------------- resources
    def predictor(self, model: str | Path | None = None, device: str | None = None) -> "Predictor":
        """The loaded model for (checkpoint, device), loaded on first use.

        Raises :class:`~sbmleq.errors.InputError` for an unusable device and
        :class:`~sbmleq.errors.CheckpointError` for a missing or corrupt checkpoint."""

        model = self.model if model is None else model
        device = (self.device if device is None else device) or "cpu"
        path = Path(model) if model is not None else DEFAULT_MODEL
        key = (str(path.resolve() if path.exists() else path), device)
        if key not in self._predictors:
            _check_device(device, path)
            self._predictors[key] = Predictor(path, device=device)
        return self._predictors[key]

    def _rr_worker(self) -> "IsolatedWorker":

        if self._worker is None:
            self._worker = make_worker()
        return self._worker

    # -------------------------------------------------------------- operations
    def load(self, source: Any, *, name: str | None = None) -> "ImportResult":
        """Import ``source`` as a LIFE network with the per-reaction report."""

        return load_source(source, name=name)

    def solve(self, source: Any, *, timeout: float | None = _SESSION,
              name: str | None = None) -> SolveResult:
        """roadrunner's steady state of ``source`` with status, stage and stability."""

        timeout = self.timeout if timeout is _SESSION else timeout
        worker = None if timeout is None else self._rr_worker()
        if isinstance(source, Network):
            result = solve_network_rr(source, timeout=timeout, settings=self.settings,
                                      worker=worker)
            result.model = name or source.name or "network"
            return SolveResult.of(result)
        text, display = load_sbml_text(source, name=name)
        require_sbml_xml(text, display)
        return SolveResult.of(solve_sbml_text(text, timeout=timeout, settings=self.settings,
                                              name=display, worker=worker))

    def predict(self, source: Any, *, model: str | Path | None = None, device: str | None = None,
                check: bool = False, timeout: float | None = _SESSION,
                name: str | None = None) -> ModelPrediction:
        """Import, predict and (``check=True``) solve with roadrunner; see :class:`ModelPrediction`.

        An out-of-class model returns ``in_class=False`` without a prediction (roadrunner still
        runs with ``check=True``)."""
        start = time.perf_counter()
        imported = self.load(source, name=name)
        display = name or imported.source_name or "model"
        result = ModelPrediction(display, imported)
        if imported.in_class and imported.network is not None:
            predictor = self.predictor(model, device)
            prediction = predictor.predict(imported.network)
            prediction.units = dict(imported.species_units)
            result.prediction = prediction
            result.checkpoint = predictor.path.name
        if check:
            rr = self.solve(source, timeout=timeout, name=display)
            result.roadrunner = rr
            result.roadrunner_values = self._declared_units(source, imported, rr)
        result.seconds = time.perf_counter() - start
        return result

    def _declared_units(self, source: Any, imported: "ImportResult",
                        rr: RoadRunnerResult) -> dict[str, float]:
        """roadrunner's values by species id, in each species' declared units."""
        values = dict(rr.concentrations) if rr.converged else {}
        if imported.in_class and imported.network is not None:
            ids = [imported.node_species.get(n, n) for n in imported.network.nodes]
            values = {s: values.get(s, math.nan) for s in ids} if values else {}
        elif rr.converged:  # out of class: every species roadrunner reports, boundary ones too
            values.update({s: v for s, v in rr.boundary.items() if s not in values})
        units = _unit_by_species(imported)
        amounts = [s for s in values if units.get(s, "").startswith("amount")]
        if amounts and not isinstance(source, Network):

            scales = _amount_scales(load_sbml_text(source)[0], amounts)
            values.update({s: values[s] * scales[s] for s in amounts if s in scales})
        return values

    def scan(self, source: Any, parameters: Any, *, model: str | Path | None = None,
             device: str | None = None, exact: bool = False, name: str | None = None,
             batch_size: int = 1024) -> ScanResult:
        """Predict the steady state for K parameter sets of one in-class model.

        ``parameters``: a DataFrame or a mapping of equal-length arrays (scalars broadcast).
        Keys (columns):

        - an SBML parameter id (global), or ``"reaction_id.local_id"`` for a local parameter:
          every rate it scales is rescaled (rates must be products of powers of parameters,
          checked by re-importing the model with the parameter changed);
        - an edge ``"S1->S2"`` or a tuple ``("S1", "S2")``: that edge's rate constant;
        - ``"intake:S1"`` / ``("intake", "S1")`` and ``"excretion:S1"`` / ``("excretion", "S1")``.

        Species are named by SBML species id (or node id). ``exact=True`` also gives the exact
        LIFE equilibrium (:func:`sbmleq.core.exact.solve_dense_batch`) for comparison.
        """
        start = time.perf_counter()
        imported = self.load(source, name=name)
        display = name or imported.source_name or "model"
        net = imported.require_in_class()
        columns, index = _columns(parameters)
        k_sets = len(next(iter(columns.values())))
        weight = np.array(np.broadcast_to(net.weight, (k_sets, net.n_edges)))
        intake = np.array(np.broadcast_to(net.intake, (k_sets, net.n_nodes)))
        excretion = np.array(np.broadcast_to(net.excretion, (k_sets, net.n_nodes)))
        arrays = {"weight": weight, "intake": intake, "excretion": excretion}
        mapping: dict[str, str] = {}
        direct: dict[tuple[str, int], str] = {}
        scaled: list[tuple[str, np.ndarray, list[tuple[str, int, float]], float]] = []
        resolver = _Resolver(source, imported, display)
        for key, values in columns.items():
            target = resolver.direct_target(key)
            if target is not None:
                what, pos, label = target
                if not np.all(values > 0 if what == "weight" else values >= 0):
                    raise InputError(f"scan values for {key!r} must be finite and "
                                     f"{'> 0' if what == 'weight' else '>= 0'}",
                                     source=display, element=str(key))
                arrays[what][:, pos] = values
                direct[(what, pos)] = str(key)
                mapping[str(key)] = label
            else:
                if not np.all(values > 0):
                    raise InputError(f"scan values for parameter {key!r} must be finite and > 0",
                                     source=display, element=str(key))
                base, effects = resolver.parameter_effects(str(key))
                scaled.append((str(key), values, effects, base))
                parts = []
                for what, pos, a in effects:
                    power = f"^{a:g}" if a != 1 else ""
                    parts.append(f"{resolver.label(what, pos)} x ({key}/{base:g}){power}")
                mapping[str(key)] = "; ".join(parts)
        for key, values, effects, base in scaled:
            for what, pos, a in effects:
                if (what, pos) in direct:
                    raise InputError(f"{key!r} and {direct[(what, pos)]!r} both set "
                                     f"{resolver.label(what, pos)}: give only one",
                                     source=display, element=key)
                arrays[what][:, pos] *= (values / base) ** a
        predictor = self.predictor(model, device)
        p_exists, x = predictor.scan(net, weight=weight, intake=intake, excretion=excretion,
                                     batch_size=batch_size)
        result = ScanResult(
            display, tuple(imported.node_species.get(n, n) for n in net.nodes),
            _unit_by_species(imported), {str(k): v for k, v in columns.items()}, p_exists, x,
            mapping, index=index)
        if exact:

            raws = [(net.n_nodes, net.src, net.dst, weight[k], intake[k], excretion[k])
                    for k in range(k_sets)]
            result.exact_exists, result.exact = solve_dense_batch(DenseBatch.from_raw(raws))
        result.seconds = time.perf_counter() - start
        return result


def _check_device(device: str, path: Path) -> None:
    if device == "cpu":
        return
    if device != "cuda" and not device.startswith("cuda:"):
        raise InputError(f"unknown device {device!r}: use cpu or cuda")
    try:
        import torch
    except ImportError:
        raise InputError("--device cuda needs PyTorch, which is not installed") from None
    if not torch.cuda.is_available():
        raise InputError("--device cuda requested but CUDA is not available here "
                         "(torch.cuda.is_available() is False): use --device cpu")
    if path.suffix == ".npz":
        raise InputError(f"--device cuda needs a PyTorch checkpoint (.pt) given with --model; "
                         f"{path.name} is a NumPy export that runs on the CPU")


# ---------------------------------------------------------------------------- scan inputs
def _columns(parameters: Any) -> tuple[dict[Any, np.ndarray], Any]:
    """Parameter sets as {key: (K,) float array} plus the DataFrame index (if any)."""
    index = None
    if hasattr(parameters, "columns") and hasattr(parameters, "index"):  # a DataFrame
        index = parameters.index
        raw = {c: parameters[c].to_numpy() for c in parameters.columns}
    elif isinstance(parameters, Mapping):
        raw = dict(parameters)
    else:
        raise InputError("scan parameters must be a pandas DataFrame or a mapping of arrays "
                         f"(got {type(parameters).__name__})", element="parameters")
    if not raw:
        raise InputError("scan needs at least one parameter column", element="parameters")
    columns: dict[Any, np.ndarray] = {}
    for key, values in raw.items():
        try:
            columns[key] = np.atleast_1d(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError):
            raise InputError(f"scan values for {key!r} are not numbers",
                             element=str(key)) from None
        if columns[key].ndim != 1 or not np.all(np.isfinite(columns[key])):
            raise InputError(f"scan values for {key!r} must be a 1-d array of finite numbers",
                             element=str(key))
    sizes = {len(v) for v in columns.values() if len(v) != 1}
    if len(sizes) > 1:
        raise InputError(f"scan columns differ in length ({sorted(sizes)})", element="parameters")
    k_sets = sizes.pop() if sizes else 1
    return {k: np.broadcast_to(v, (k_sets,)).copy() for k, v in columns.items()}, index


class _Resolver:
    """Maps scan keys (edges, intakes, excretions, SBML parameters) onto network arrays."""

    def __init__(self, source: Any, imported: "ImportResult", display: str):
        self.source, self.imported, self.display = source, imported, display
        self.net: Network = imported.network  # type: ignore[assignment]
        self.node_of = {sid: node for node, sid in imported.node_species.items()}
        self._sbml: str | None = None

    def node(self, name: Any, key: Any) -> int:
        name = str(name)
        node = self.node_of.get(name, name)
        try:
            return self.net.index(node)
        except KeyError:
            raise InputError(f"scan key {key!r}: {name!r} is not a species of the network "
                             f"(species: {', '.join(self.net.nodes[:8])}"
                             f"{'...' if self.net.n_nodes > 8 else ''})",
                             source=self.display, element=str(key)) from None

    def label(self, what: str, pos: int) -> str:
        net = self.net
        if what == "weight":
            return f"edge {net.nodes[net.src[pos]]}->{net.nodes[net.dst[pos]]}"
        return f"{what} of {net.nodes[pos]}"

    def direct_target(self, key: Any) -> tuple[str, int, str] | None:
        """(array, position, label) for an edge/intake/excretion key; None for a parameter."""
        if isinstance(key, tuple):
            if len(key) != 2:
                raise InputError(f"scan key {key!r}: a tuple key is (source, target), "
                                 "('intake', species) or ('excretion', species)",
                                 source=self.display, element=str(key))
            a, b = (str(k) for k in key)
        elif isinstance(key, str) and "->" in key:
            a, b = (part.strip() for part in key.split("->", 1))
        elif isinstance(key, str) and ":" in key:
            a, b = (part.strip() for part in key.split(":", 1))
            if a not in ("intake", "excretion"):
                raise InputError(f"scan key {key!r}: use 'intake:SPECIES' or 'excretion:SPECIES'",
                                 source=self.display, element=key)
        else:
            return None
        if a in ("intake", "excretion") and "->" not in str(key):
            pos = self.node(b, key)
            return a, pos, self.label(a, pos)
        s, t = self.node(a, key), self.node(b, key)
        hit = np.flatnonzero((self.net.src == s) & (self.net.dst == t))
        if not len(hit):
            raise InputError(f"scan key {key!r}: the network has no edge "
                             f"{self.net.nodes[s]}->{self.net.nodes[t]} (a scan keeps the "
                             "topology)", source=self.display, element=str(key))
        return "weight", int(hit[0]), self.label("weight", int(hit[0]))

    # -------------------------------------------------------------- SBML parameters
    def _text(self) -> str:
        if self._sbml is None:
            if isinstance(self.source, Network):
                raise InputError("a Network has no SBML parameters: scan its edges ('A->B'), "
                                 "'intake:A' or 'excretion:A'", source=self.display)

            self._sbml = load_sbml_text(self.source)[0]
        return self._sbml

    def _reimport(self, key: str, value: float) -> Network:
        import libsbml


        doc = libsbml.readSBMLFromString(self._text())
        self._parameter(doc.getModel(), key).setValue(value)
        result = import_sbml(doc, source_name=self.display)
        if not result.in_class or result.network is None:
            raise InputError(f"scan parameter {key!r} = {value:g} takes the model out of the "
                             f"LIFE class ({'; '.join(map(str, result.reasons[:1]))})",
                             source=self.display, element=key)
        net = result.network
        if (net.nodes != self.net.nodes or not np.array_equal(net.src, self.net.src)
                or not np.array_equal(net.dst, self.net.dst)):
            raise InputError(f"changing scan parameter {key!r} changes the network's topology",
                             source=self.display, element=key)
        return net

    def _parameter(self, model: Any, key: str) -> Any:
        if "." in key:
            rid, pid = key.split(".", 1)
            rxn = model.getReaction(rid)
            law = rxn.getKineticLaw() if rxn is not None else None
            par = None
            if law is not None:
                par = law.getLocalParameter(pid) if model.getLevel() >= 3 else law.getParameter(pid)
        else:
            par = model.getParameter(key)
        if par is None:
            raise InputError(f"unknown scan key {key!r}: give an SBML parameter id, "
                             "'reaction.parameter' for a local parameter, an edge 'A->B', "
                             "'intake:A' or 'excretion:A'", source=self.display, element=key)
        return par

    def parameter_effects(self, key: str) -> tuple[float, list[tuple[str, int, float]]]:
        """The parameter's base value and the (array, position, exponent) of every rate it
        scales. Found by re-importing with the parameter at 2x and 3x its value; a rate that
        does not scale as a power of the parameter is rejected."""
        import libsbml

        doc = libsbml.readSBMLFromString(self._text())
        par = self._parameter(doc.getModel(), key)
        base = par.getValue() if par.isSetValue() else math.nan
        if not (math.isfinite(base) and base > 0):
            raise InputError(f"scan parameter {key!r} has value {base!r} in the model: scaling "
                             "needs a positive value; scan the edge or intake it sets instead",
                             source=self.display, element=key)
        nets = {f: self._reimport(key, base * f) for f in (2.0, 3.0)}
        effects: list[tuple[str, int, float]] = []
        for what in ("weight", "intake", "excretion"):
            v0 = getattr(self.net, what)
            v2, v3 = getattr(nets[2.0], what), getattr(nets[3.0], what)
            for pos in np.flatnonzero(~np.isclose(v2, v0, rtol=1e-12, atol=0.0)):
                label = self.label(what, int(pos))
                if v0[pos] <= 0 or v2[pos] <= 0:
                    raise InputError(f"scan parameter {key!r} switches {label} on or off: scan "
                                     "it by its edge/intake/excretion key", source=self.display,
                                     element=key)
                a = math.log(v2[pos] / v0[pos]) / math.log(2.0)
                if abs(a - round(a)) < 1e-9:
                    a = float(round(a))
                if not math.isclose(v3[pos], v0[pos] * 3.0 ** a, rel_tol=1e-9):
                    raise InputError(f"scan parameter {key!r} does not scale {label} as a power "
                                     "(e.g. it enters a sum): scan that rate directly",
                                     source=self.display, element=key)
                effects.append((what, int(pos), a))
        if not effects:
            raise InputError(f"scan parameter {key!r} changes no rate of the network (unused, or "
                             "overridden by a rule or initial assignment)",
                             source=self.display, element=key)
        return base, effects


# ---------------------------------------------------------------------------- functions
def load(source: Any, *, name: str | None = None) -> "ImportResult":
    """Import any supported source: the network (or None) plus the per-reaction report."""
    return Session().load(source, name=name)


def solve(source: Any, *, timeout: float | None = DEFAULT_TIMEOUT,
          settings: "SolverSettings | None" = None, name: str | None = None) -> SolveResult:
    """roadrunner's steady state with status (converged_stable, converged_unstable,
    no_steady_state, solver_failure, timeout), stage, eigenvalues and settings used.
    ``timeout=None`` solves in this process without a limit."""
    with Session(timeout=timeout, settings=settings) as session:
        return session.solve(source, name=name)


def predict(source: Any, *, model: str | Path | None = None, check: bool = False,
            device: str | None = None, timeout: float | None = _SESSION,
            session: Session | None = None, name: str | None = None) -> ModelPrediction:
    """Predict the steady state of ``source`` (see :class:`ModelPrediction`); ``check=True``
    also solves it with roadrunner (``timeout`` seconds, default 30; ``None``: in this process)
    and gives the relative error per species. ``session`` reuses loaded models and the
    roadrunner worker across calls."""
    if session is not None:
        return session.predict(source, model=model, device=device, check=check,
                               timeout=timeout, name=name)
    with Session(model=model, device=device or "cpu",
                 timeout=DEFAULT_TIMEOUT if timeout is _SESSION else timeout) as own:
        return own.predict(source, check=check, name=name)


def scan(source: Any, parameters: Any, *, model: str | Path | None = None,
         device: str | None = None,
         exact: bool = False, session: Session | None = None,
         name: str | None = None) -> ScanResult:
    """Batched prediction over parameter sets of one model (see :meth:`Session.scan`)."""
    own = session or Session(model=model, device=device or "cpu")
    return own.scan(source, parameters, model=model, device=device, exact=exact, name=name)
