"""The Python API: plain functions over a small :class:`Session` the caller owns.

::

    import sbmleq

    result = sbmleq.predict("model.xml", check=True)   # ModelPrediction
    result.to_frame()                                   # DataFrame indexed by species id
    sbmleq.solve("model.xml")                           # sbmleq's verified steady state
    sbmleq.solve("model.xml", engine="roadrunner")      # roadrunner's staged chain (SolveResult)
    sbmleq.load("model.xml")                            # ImportResult: network + report
    sbmleq.scan("model.xml", {"k1": [0.1, 1, 10]})      # ScanResult: one row per parameter set
    sbmleq.scan("mm.xml", ["k1=0.1:10:log:50"])         # any other model: verified DataFrame

Every function accepts what :func:`sbmleq.io.loader.load` accepts: a path, SBML text, Antimony
text, a ``roadrunner.RoadRunner``, a ``libsbml.SBMLDocument``, a BioModels id or a
:class:`~sbmleq.core.network.Network`. Each request reads and parses its source once
(:func:`sbmleq.io.request.open_source`). The module-level functions create a :class:`Session` for
one call; hold a ``Session`` yourself to keep the loaded model (per checkpoint and device) and one
roadrunner worker process across many calls. There is no module-level state.

Values are always in the units each species declares in the SBML (``ImportResult.species_units``),
never converted. For a model in the LIFE class, :func:`predict` reports two things side by side:
the learned prediction (``predicted``, with the learned verdict ``p_exists``) and the exact steady
state the dynamics reach from the model's initial state (``steady_state``, with the exact verdict
``equilibrium_exists`` and the ``conserved_totals`` of closed pools). A model outside the class is
not an exception: the result has ``in_class=False``, the importer's reasons (with their codes) and
no prediction, and :func:`predict` warns (:class:`~sbmleq.errors.OutOfClassWarning`) naming the
first reasons; the command line exits 3. Unreadable input raises
:class:`~sbmleq.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbmleq.api_inputs import check_device, initial_state, needs_general, not_life
from sbmleq.compare import declared_units
from sbmleq.core.exact import DenseBatch, solve_dense_batch
from sbmleq.core.steady import steady_state
from sbmleq.core.solve import SolveSettings
from sbmleq.errors import InputError, OutOfClassWarning, SbmleqError
from sbmleq.general import GeneralSolveResult, solve_source
from sbmleq.general_predict import predict_source
from sbmleq.general_scan import scan_network
from sbmleq.io.general_import import GeneralImport
from sbmleq.io.request import ModelSource, open_source
from sbmleq.io.sbml_import import ImportResult
from sbmleq.io.sources import check_references
from sbmleq.model.general_load import load_general_predictor
from sbmleq.model.predictor import DEFAULT_MODEL, Predictor
from sbmleq.parameter_scan import scan_arrays
from sbmleq.results import ModelPrediction, ScanResult, SolveResult, unit_by_species
from sbmleq.solvers.isolate import IsolatedWorker
from sbmleq.solvers.roadrunner import (
    RoadRunnerResult,
    SolverSettings,
    check_timeout,
    make_worker,
    solve_network_rr,
    solve_sbml_text,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GeneralSolveResult", "ModelPrediction", "ScanResult", "Session", "SolveResult",
           "SolveSettings", "load", "load_network", "predict", "scan", "solve"]

DEFAULT_TIMEOUT = 30.0
# the shipped general model (NumPy export, recipe in docs/general-model.md): models outside the
# LIFE class that import as reaction networks are predicted with it, then verified
DEFAULT_GENERAL_MODEL = Path(__file__).resolve().parent / "checkpoints" / "general.npz"
_SESSION: Any = object()  # "use the session's setting"


class Session:
    """Holds loaded models (one :class:`~sbmleq.model.predictor.Predictor` per checkpoint and
    device) and one roadrunner worker process, for many calls. Use it as a context manager or call
    :meth:`close` (stops the worker).

    ``model``: checkpoint path (``.npz`` runs on NumPy, ``.pt`` on PyTorch); None is the shipped
    model. ``device``: ``"cpu"`` or ``"cuda"`` (needs PyTorch with CUDA and a ``.pt`` model).
    ``general_model``: the general model for models outside the LIFE class (a path; None: the
    shipped one; False: none, such models answer ``needs_general_model``, exit 3). ``confirm``:
    the chain's simulation from the initial state confirms a general prediction (False: the
    verified polished point is reported unconfirmed, faster).
    ``timeout``: seconds for each roadrunner solve, run in a child process that is killed when
    time is up; ``None`` solves in this process without a limit.
    """

    def __init__(self, model: str | Path | None = None, device: str = "cpu",
                 timeout: float | None = DEFAULT_TIMEOUT,
                 settings: SolverSettings | None = None,
                 solve_settings: SolveSettings | None = None,
                 general_model: str | Path | bool | None = None, confirm: bool = True):
        self.model = model
        self.general_model = general_model  # the general model's checkpoint (.npz or .pt)
        self.confirm = confirm  # the chain's simulation confirms a general prediction
        self.device = device
        self.timeout = timeout
        self.settings = settings  # roadrunner's chain
        self.solve_settings = solve_settings or SolveSettings()  # sbmleq's own solver
        self._predictors: dict[tuple[str, str], Predictor] = {}
        self._general: dict[tuple[str, str], Any] = {}
        self._worker: IsolatedWorker | None = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    # -------------------------------------------------------------- resources
    def predictor(self, model: str | Path | None = None, device: str | None = None) -> Predictor:
        """The loaded model for (checkpoint, device), loaded on first use.

        Raises :class:`~sbmleq.errors.InputError` for an unusable device and
        :class:`~sbmleq.errors.CheckpointError` for a missing or corrupt checkpoint."""
        model = self.model if model is None else model
        device = (self.device if device is None else device) or "cpu"
        path = Path(model) if model is not None else DEFAULT_MODEL
        key = (str(path.resolve() if path.exists() else path), device)
        if key not in self._predictors:
            check_device(device, path)
            self._predictors[key] = Predictor(path, device=device)
        return self._predictors[key]

    def general_predictor(self, model: str | Path | None = None,
                          device: str | None = None) -> Any | None:
        """The general model for non-LIFE networks (``.npz``: NumPy, ``.pt``: PyTorch), loaded
        on first use: ``model``, else the session's ``general_model``, else the shipped one
        (``sbmleq/checkpoints/general.npz``); None when there is none or the session's
        ``general_model`` is False (LIFE only).
        :class:`~sbmleq.errors.CheckpointError` for a missing or corrupt file."""
        chosen = model if model is not None else self.general_model
        if chosen is False:  # LIFE only: a model outside the class is not predicted
            return None
        if chosen is None or chosen is True:
            if not DEFAULT_GENERAL_MODEL.is_file():
                return None
            chosen = DEFAULT_GENERAL_MODEL
        device = (self.device if device is None else device) or "cpu"
        path = Path(chosen)
        key = (str(path.resolve() if path.exists() else path), device)
        if key not in self._general:
            self._general[key] = load_general_predictor(path, device=device)
        return self._general[key]

    def _rr_worker(self) -> IsolatedWorker:
        if self._worker is None:
            self._worker = make_worker()
        return self._worker

    # -------------------------------------------------------------- operations
    def load(self, source: Any, *, name: str | None = None) -> ImportResult:
        """Import ``source`` as a LIFE network with the per-reaction report."""
        return open_source(source, name=name).imported()

    def load_network(self, source: Any, *, name: str | None = None) -> GeneralImport:
        """Import ``source`` as a general reaction network (``.network``, ``.reasons`` with
        codes, ``.families``)."""
        return open_source(source, name=name).general()

    def solve(self, source: Any, *, engine: str = "sbmleq", timeout: float | None = _SESSION,
              name: str | None = None) -> GeneralSolveResult | SolveResult:
        """The steady state of ``source`` from its own initial state.

        ``engine="sbmleq"`` (default): sbmleq's verified solver on the model imported as a
        reaction network (any kinetics; :class:`~sbmleq.errors.OutOfClassError` for events,
        delays, algebraic rules or explicit time), a :class:`GeneralSolveResult`.
        ``engine="roadrunner"``: roadrunner's staged chain in the worker process, a
        :class:`SolveResult`. ``timeout``: wall-clock seconds for the solve."""
        src = open_source(source, name=name)
        if engine == "roadrunner":
            return SolveResult.of(self._solve(src, timeout))
        if engine != "sbmleq":
            raise InputError(f"unknown engine {engine!r} (sbmleq or roadrunner)",
                             source=src.display)
        timeout = check_timeout(self.timeout if timeout is _SESSION else timeout)
        settings = self.solve_settings
        if timeout is not None and math.isfinite(timeout):
            settings = dataclasses.replace(settings, timeout=timeout)
        return solve_source(src, settings=settings)

    def _solve(self, src: ModelSource, timeout: float | None) -> RoadRunnerResult:
        timeout = self.timeout if timeout is _SESSION else timeout
        worker = None if timeout is None else self._rr_worker()
        if src.network is not None:
            result = solve_network_rr(src.network, timeout=timeout, settings=self.settings,
                                      worker=worker)
            result.model = src.display
            return result
        assert src.text is not None
        check_references(src.document, src.display)  # the request's one parse, checked
        return solve_sbml_text(src.text, timeout=timeout, settings=self.settings,
                               name=src.display, worker=worker)

    def predict(self, source: Any, *, model: str | Path | None = None, device: str | None = None,
                check: bool = False, timeout: float | None = _SESSION,
                name: str | None = None, warn: bool = True) -> ModelPrediction:
        """Import, predict, solve exactly from the initial state and (``check=True``) solve with
        roadrunner; see :class:`ModelPrediction`.

        An out-of-class model returns ``in_class=False`` without a prediction (roadrunner still
        runs with ``check=True``) and, with ``warn``, warns naming the first reasons. The exact
        steady state starts from the SBML's initial values; a :class:`Network` source has none,
        so it starts from zeros (closed pools then hold a total of 0)."""
        start = time.perf_counter()
        src = open_source(source, name=name)
        imported = src.imported()
        result = ModelPrediction(src.display, imported)
        net = imported.network
        if imported.in_class and net is not None:
            predictor = self.predictor(model, device)
            prediction = predictor.predict(net)
            prediction.units = dict(imported.species_units)
            result.prediction = prediction
            result.checkpoint = predictor.path.name
            result.steady = steady_state(net, initial_state(src, imported, net))
        else:
            learned = self._predict_general(src, timeout)
            if learned is not None:
                result.learned = learned
                result.checkpoint = Path(learned.checkpoint).name
            else:
                result.general = needs_general(src)
        if not (imported.in_class and net is not None) and result.learned is None and warn:
            shown = "; ".join(map(str, imported.reasons[:2])) or "not a LIFE network"
            more = f" (and {len(imported.reasons) - 2} more)" if len(imported.reasons) > 2 else ""
            warnings.warn(f"{src.display}: outside the LIFE class, nothing predicted: "
                          f"{shown}{more}", OutOfClassWarning, stacklevel=2)
        if check:
            rr = self._solve(src, timeout)
            result.roadrunner = rr
            result.roadrunner_values = self._declared_units(src, imported, rr)
        result.seconds = time.perf_counter() - start
        return result

    def _predict_general(self, src: ModelSource, timeout: float | None) -> Any | None:
        """The general model's prediction, verified, for a model outside the LIFE class that
        imports as a reaction network; None without a general model or such a network."""
        try:
            importable = src.general().network is not None
        except SbmleqError:
            importable = False
        if not importable:
            return None
        predictor = self.general_predictor()
        if predictor is None:
            return None
        limit = check_timeout(self.timeout if timeout is _SESSION else timeout)
        settings = self.solve_settings
        if limit is not None and math.isfinite(limit):
            settings = dataclasses.replace(settings, timeout=limit)
        return predict_source(src, predictor, settings=settings, confirm=self.confirm)

    def _declared_units(self, src: ModelSource, imported: ImportResult,
                        rr: RoadRunnerResult) -> dict[str, float]:
        """roadrunner's values by species id, in each species' declared units."""
        values = dict(rr.concentrations) if rr.converged else {}
        if imported.in_class and imported.network is not None:
            ids = [imported.node_species.get(n, n) for n in imported.network.nodes]
            values = {s: values.get(s, float("nan")) for s in ids} if values else {}
        elif rr.converged:  # out of class: every species roadrunner reports, boundary ones too
            values.update({s: v for s, v in rr.boundary.items() if s not in values})
        if values and src.network is None:
            values = declared_units(values, src.model)
        return values

    def scan(self, source: Any, parameters: Any, *, model: str | Path | None = None,
             device: str | None = None, exact: bool = False, name: str | None = None,
             batch_size: int | None = None, engine: str | None = None, design: str = "grid",
             n: int | None = None, seed: int = 0, timeout: float | None = _SESSION,
             progress: Callable[[int, int], None] | None = None, confirm: str = "sample",
             confirm_n: int | None = None) -> ScanResult | pd.DataFrame:
        """A parameter scan (docs/scan.md): the learned LIFE predictor (a :class:`ScanResult`)
        or sbmleq's verified solver (a DataFrame, :func:`sbmleq.general_scan.scan_network`).

        ``engine``: None picks the learned path for an in-class model given a mapping or
        DataFrame, else ``"sbmleq"`` (spec strings always take it); ``"sbmleq"`` or
        ``"learned"`` (:class:`~sbmleq.errors.OutOfClassError` outside the class) force one.
        The verified path: ``parameters`` are spec strings (``"k1=0.1:10:log:100"``,
        ``"k2=1,2,5"``) or a mapping ``id -> spec tail, values or value`` combined by
        ``design`` (``"grid"`` or ``"lhs"``: ``n`` samples with ``seed``), or a DataFrame of
        sets; ``timeout`` bounds each batch and each fallback solve (default the session's;
        None: no limit); ``progress(done, total)`` after every batch of ``batch_size`` (512);
        ``device`` (default the session's) ``"cpu"`` for NumPy, ``"cuda"`` for torch;
        ``confirm`` (``"sample"``, ``"all"``, ``"none"``) and ``confirm_n``: which answers are
        confirmed by simulation (docs/scan.md; the ``confirmed`` column says per row).

        The learned path (in-class models):

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
        src = open_source(source, name=name)
        if engine not in (None, "sbmleq", "learned"):
            raise InputError(f"unknown scan engine {engine!r} (sbmleq or learned)",
                             source=src.display)
        specs = isinstance(parameters, (str, list, tuple))  # "k1=..." strings: general only
        if engine == "sbmleq" or (engine is None and (specs or not_life(src))):
            return self._scan_general(src, parameters, design=design, n=n, seed=seed,
                                      timeout=timeout, batch_size=batch_size or 512,
                                      progress=progress, device=device, confirm=confirm,
                                      confirm_n=confirm_n)
        imported = src.imported()
        net = imported.require_in_class()
        arrays, columns, mapping, index = scan_arrays(src, imported, parameters)
        weight, intake, excretion = arrays["weight"], arrays["intake"], arrays["excretion"]
        predictor = self.predictor(model, device)
        p_exists, x = predictor.scan(net, weight=weight, intake=intake, excretion=excretion,
                                     batch_size=batch_size or 1024)
        result = ScanResult(
            src.display, tuple(imported.node_species.get(n, n) for n in net.nodes),
            unit_by_species(imported), columns, p_exists, x, mapping, index=index)
        if exact:
            raws = [(net.n_nodes, net.src, net.dst, weight[k], intake[k], excretion[k])
                    for k in range(len(p_exists))]
            result.exact_exists, result.exact = solve_dense_batch(DenseBatch.from_raw(raws))
        result.seconds = time.perf_counter() - start
        return result

    def _scan_general(self, src: ModelSource, parameters: Any, *, design: str, n: int | None,
                      seed: int, timeout: float | None, batch_size: int,
                      progress: Callable[[int, int], None] | None,
                      device: str | None, confirm: str = "sample",
                      confirm_n: int | None = None) -> pd.DataFrame:
        """The verified general scan of :meth:`scan` (``engine="sbmleq"``)."""
        if src.text is not None:
            check_references(src.document, src.display)  # as solve_source does
        net = src.general().require()
        timeout = check_timeout(self.timeout if timeout is _SESSION else timeout)
        settings = dataclasses.replace(self.solve_settings,
                                       timeout=math.inf if timeout is None else timeout)
        device = device or self.device
        return scan_network(net, parameters, design=design, n=n, seed=seed, settings=settings,
                            batch_size=batch_size, progress=progress, source=src.display,
                            device=None if device == "cpu" else device, confirm=confirm,
                            confirm_n=confirm_n)


# ---------------------------------------------------------------------------- functions
def load(source: Any, *, name: str | None = None) -> ImportResult:
    """Import any supported source: the network (or None) plus the per-reaction report."""
    return Session().load(source, name=name)


def load_network(source: Any, *, name: str | None = None) -> GeneralImport:
    """Import any supported source as a general reaction network: ``.network`` (a
    :class:`~sbmleq.core.reactions.ReactionNetwork`, or None), ``.reasons`` (codes) and
    ``.families`` (rate-law family per reaction)."""
    return Session().load_network(source, name=name)


def solve(source: Any, *, engine: str = "sbmleq", timeout: float | None = DEFAULT_TIMEOUT,
          settings: SolverSettings | SolveSettings | None = None,
          name: str | None = None) -> GeneralSolveResult | SolveResult:
    """The steady state the model reaches from its own initial state.

    ``engine="sbmleq"`` (default): sbmleq's verified solver (status stable, unstable,
    oscillation, unbounded, not_found, failed, timeout; residual, stages, conserved totals), a
    :class:`GeneralSolveResult`; ``settings`` a :class:`~sbmleq.core.solve.SolveSettings`.
    ``engine="roadrunner"``: roadrunner's staged chain (converged_stable, converged_unstable,
    no_steady_state, solver_failure, timeout), a :class:`SolveResult`; ``settings`` a
    :class:`SolverSettings`; ``timeout=None`` solves in this process without a limit."""
    rr = settings if isinstance(settings, SolverSettings) else None
    own = settings if isinstance(settings, SolveSettings) else None
    with Session(timeout=timeout, settings=rr, solve_settings=own) as session:
        return session.solve(source, engine=engine, name=name)


def predict(source: Any, *, model: str | Path | None = None, check: bool = False,
            device: str | None = None, timeout: float | None = _SESSION,
            session: Session | None = None, name: str | None = None,
            general_model: str | Path | bool | None = None,
            confirm: bool = True) -> ModelPrediction:
    """Predict the steady state of ``source`` (see :class:`ModelPrediction`); ``check=True``
    also solves it with roadrunner (``timeout`` seconds, default 30; ``None``: in this process)
    and gives the relative error per species. A model outside the LIFE class goes to the
    general model (``general_model``: a path, None for the shipped one, False for none; see
    :class:`Session`), its prediction verified (``confirm``: and confirmed by simulation).
    ``session`` reuses loaded models and the roadrunner worker across calls (its own
    ``general_model`` and ``confirm`` apply)."""
    if session is not None:
        return session.predict(source, model=model, device=device, check=check,
                               timeout=timeout, name=name)
    with Session(model=model, device=device or "cpu",
                 timeout=DEFAULT_TIMEOUT if timeout is _SESSION else timeout,
                 general_model=general_model, confirm=confirm) as own:
        return own.predict(source, check=check, name=name)


def scan(source: Any, parameters: Any, *, model: str | Path | None = None,
         device: str | None = None,
         exact: bool = False, session: Session | None = None,
         name: str | None = None, engine: str | None = None, design: str = "grid",
         n: int | None = None, seed: int = 0, timeout: float | None = _SESSION,
         batch_size: int | None = None,
         progress: Callable[[int, int], None] | None = None, confirm: str = "sample",
         confirm_n: int | None = None) -> ScanResult | pd.DataFrame:
    """A parameter scan of one model (see :meth:`Session.scan`): a :class:`ScanResult` from
    the learned predictor for an in-class model, else (or with ``engine="sbmleq"``) a
    DataFrame of verified steady states."""
    own = session or Session(model=model, device=device or "cpu")
    return own.scan(source, parameters, model=model, device=device, exact=exact, name=name,
                    engine=engine, design=design, n=n, seed=seed, timeout=timeout,
                    batch_size=batch_size, progress=progress, confirm=confirm,
                    confirm_n=confirm_n)
