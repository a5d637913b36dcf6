"""What the API returns: roadrunner's answer, one model's prediction, a parameter scan.

Each result has ``to_frame()`` (a DataFrame indexed by species id, or one row per parameter set),
``to_dict()`` (the JSON of docs/json-schema.md) and ``to_json()``. Values are in the units each
species declares in the SBML, never converted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sbmleq.compare import finite as _num
from sbmleq.compare import noise_floor, rel_error, rel_l1
from sbmleq.core.steady import SteadyState
from sbmleq.errors import OutOfClassError, SolverError
from sbmleq.general import FAILED_STATUSES
from sbmleq.general_predict import GeneralPrediction
from sbmleq.io.reasons import Reason
from sbmleq.io.sbml_import import ImportResult
from sbmleq.model.predictor import Prediction
from sbmleq.solvers.roadrunner import RoadRunnerResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ModelPrediction", "ScanResult", "SolveResult"]


def unit_by_species(imported: ImportResult) -> dict[str, str]:
    """Declared units keyed by SBML species id (the importer keys them by node id)."""
    return {imported.node_species.get(k, k): v for k, v in imported.species_units.items()}


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
    imported: ImportResult
    prediction: Prediction | None = None  # the learned model's answer; None when out of class
    steady: SteadyState | None = None  # the exact steady state from the initial state
    roadrunner: RoadRunnerResult | None = None  # only with check=True
    # roadrunner's values by species id, in the declared units (see Session.predict)
    roadrunner_values: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    checkpoint: str = ""
    # out of the LIFE class but a general reaction network: the needs_general_model reason
    # (when no general model is loaded), or the general model's prediction, verified
    general: Reason | None = None
    learned: GeneralPrediction | None = None

    # -------------------------------------------------------------- verdicts
    @property
    def in_class(self) -> bool:
        return bool(self.imported.in_class)

    @property
    def exit_code(self) -> int:
        """0; 3 (:class:`OutOfClassError`) for a model outside the LIFE class that the general
        model did not answer; 5 (:class:`SolverError`) when its verification failed or timed
        out."""
        if self.learned is not None:
            failed = self.learned.verified.status in FAILED_STATUSES
            return SolverError.exit_code if failed else 0
        return 0 if self.in_class else OutOfClassError.exit_code

    @property
    def equilibrium_exists(self) -> bool | None:
        """The exact verdict: the dynamics settle from the model's initial state (None out of
        class). The learned verdict is :attr:`predicted_exists` (and :attr:`p_exists`)."""
        if self.learned is not None:
            return self.learned.steady_state is not None
        if self.steady is not None:
            return bool(self.steady.settles)
        return None if self.prediction is None else bool(self.prediction.equilibrium_exists)

    @property
    def predicted_exists(self) -> bool | None:
        """The learned model's verdict (the paper's label: a unique equilibrium exists; for the
        general model: the most probable outcome is ``settles``)."""
        if self.learned is not None:
            return self.learned.outcome == "settles"
        return None if self.prediction is None else bool(self.prediction.equilibrium_exists)

    @property
    def steady_state_status(self) -> str | None:
        """LIFE: ``unique``, ``conserved`` (closed pools keep their totals) or ``unbounded``;
        general: the verified solver status (``stable``, ``oscillation``, ...)."""
        if self.learned is not None:
            return self.learned.verified.status.value
        return None if self.steady is None else self.steady.status.value

    def outcome(self) -> dict[str, Any] | None:
        """The learned outcome (and its probabilities) beside the verified one."""
        if self.learned is not None:
            return self.learned.to_dict()["outcome"]
        if self.prediction is None:
            return None
        # LIFE: the learned label is the paper's (a unique equilibrium exists or not: closed
        # pools settle without one); the verified outcome is the exact solve's
        p = float(self.prediction.p_exists)
        verified = None if self.steady is None else \
            ("settles" if self.steady.settles else "grows")
        return {"predicted": "unique_equilibrium" if self.prediction.equilibrium_exists
                else "no_unique_equilibrium",
                "probabilities": {"unique_equilibrium": p}, "verified": verified}

    def verified(self) -> dict[str, Any] | None:
        """How the reported steady state was verified: the general model's polish and checks
        (``status``, ``stable``, ``eigenvalues_max_real``, ``residual``, Newton iterations,
        ``fallback``), or the exact LIFE solve."""
        if self.learned is not None:
            return self.learned.to_dict()["verified"]
        if self.steady is None:
            return None
        return {"status": self.steady.status.value, "method": "exact", "fallback": False}

    def conserved_totals(self) -> list[dict[str, Any]]:
        """The closed pools the steady state assumed: species ids and their conserved total."""
        if self.learned is not None:
            return list(self.learned.verified.conserved_totals)
        if self.steady is None:
            return []
        node_species = self.imported.node_species
        return [{**pool, "species": [node_species.get(n, n) for n in pool["species"]]}
                for pool in self.steady.conserved_totals()]

    @property
    def p_exists(self) -> float | None:
        if self.learned is not None:
            return float(self.learned.probabilities.get("settles", 0.0))
        return None if self.prediction is None else float(self.prediction.p_exists)

    @property
    def out_of_distribution(self) -> bool | None:
        if self.learned is not None:
            return bool(self.learned.out_of_distribution)
        return None if self.prediction is None else bool(self.prediction.out_of_distribution)

    @property
    def confident(self) -> bool | None:
        return None if self.prediction is None else bool(self.prediction.confident)

    @property
    def out_of_class(self) -> list[dict[str, str | None]]:
        """One entry per reason: ``{"reaction": id or None (model-level), "reason": text,
        "code": a ReasonCode value, "element": the id it concerns or None}``."""
        reasons = ([self.general] if self.general is not None else []) + self.imported.reasons
        return [{"reaction": r.reaction, "reason": r.message, "code": r.code.value,
                 "element": r.element} for r in reasons]

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
        if self.learned is not None:
            return list(self.learned.predicted)
        return list(self.roadrunner_values)

    def predicted(self) -> dict[str, float | None]:
        """Predicted steady state by species id (None everywhere when no equilibrium)."""
        if self.learned is not None:
            return {s: _num(v) for s, v in self.learned.predicted.items()}
        if self.prediction is None:
            return {s: None for s in self.species}
        values = self.prediction.as_dict()  # by node id
        return {self.imported.node_species.get(n, n): _num(v) for n, v in values.items()}

    def steady_state(self) -> dict[str, float | None]:
        """The exact steady state from the initial state by species id (None everywhere when the
        dynamics do not settle or the model is out of class). For a general model: the
        verified steady state of :attr:`learned`."""
        if self.learned is not None:
            steady = self.learned.steady_state or {}
            return {s: _num(steady.get(s)) for s in self.species}
        if self.steady is None:
            return {s: None for s in self.species}
        values = self.steady.as_dict()
        return {self.imported.node_species.get(n, n): _num(v) for n, v in values.items()}

    def rel_errors(self) -> dict[str, float | None]:
        """Learned prediction vs roadrunner, per species."""
        pred = self.predicted()
        floor = noise_floor(self.roadrunner_values.values())
        return {s: rel_error(pred.get(s), self.roadrunner_values.get(s), floor)
                for s in self.species}

    @property
    def rel_l1(self) -> float | None:
        """The paper's metric ``sum |pred - rr| / sum |rr|`` for the learned prediction (None
        unless both are complete)."""
        if not self.roadrunner_values or (self.prediction is None and self.learned is None):
            return None
        pred = self.predicted()
        return rel_l1((pred.get(s), self.roadrunner_values.get(s)) for s in self.species)

    @property
    def steady_state_rel_l1(self) -> float | None:
        """rel-L1 of the exact steady state against roadrunner (None unless both are complete)."""
        if not self.roadrunner_values or (self.steady is None and self.learned is None):
            return None
        ss = self.steady_state()
        return rel_l1((ss.get(s), self.roadrunner_values.get(s)) for s in self.species)

    def to_frame(self) -> "pd.DataFrame":
        """DataFrame indexed by species id: predicted, unit and, with a check, roadrunner and
        rel_error."""
        import pandas as pd

        units = unit_by_species(self.imported)
        pred, errs, ss = self.predicted(), self.rel_errors(), self.steady_state()
        data: dict[str, list[Any]] = {
            "predicted": [np.nan if pred[s] is None else pred[s] for s in self.species],
            "steady_state": [np.nan if ss[s] is None else ss[s] for s in self.species],
            "unit": [units.get(s, "") for s in self.species],
        }
        if self.roadrunner is not None:
            data["roadrunner"] = [self.roadrunner_values.get(s, np.nan) for s in self.species]
            data["rel_error"] = [np.nan if errs[s] is None else errs[s] for s in self.species]
        frame = pd.DataFrame(data, index=pd.Index(self.species, name="species"))
        frame.attrs.update(model=self.model, in_class=self.in_class,
                           equilibrium_exists=self.equilibrium_exists, p_exists=self.p_exists,
                           steady_state_status=self.steady_state_status,
                           out_of_distribution=self.out_of_distribution,
                           roadrunner_status=(self.roadrunner.status.value
                                              if self.roadrunner is not None else None))
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of docs/json-schema.md (non-finite numbers become null)."""
        units = unit_by_species(self.imported)
        pred, errs, ss = self.predicted(), self.rel_errors(), self.steady_state()
        checked = self.roadrunner is not None
        species = {s: {"predicted": pred[s], "steady_state": ss[s], "unit": units.get(s, ""),
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
            "steady_state_status": self.steady_state_status,
            "conserved_totals": self.conserved_totals(),
            "predicted_exists": self.predicted_exists,
            "p_exists": _num(self.p_exists),
            "out_of_distribution": self.out_of_distribution,
            "ood_reasons": (list(p.ood_reasons) if p is not None else
                            list(self.learned.ood_reasons) if self.learned is not None else []),
            "confident": self.confident,
            "residual": _num(p.residual) if p is not None else None,
            "species": species,
            "roadrunner": rr,
            "rel_l1": _num(self.rel_l1),
            "steady_state_rel_l1": _num(self.steady_state_rel_l1),
            "checkpoint": self.checkpoint,
            "warnings": list(self.imported.warnings),
            "seconds": float(self.seconds),
            "model_kind": ("life" if self.prediction is not None else
                           "general" if self.learned is not None else None),
            "outcome": self.outcome(),
            "verified": self.verified(),
            "timings": (self.learned.to_dict()["seconds"] if self.learned is not None else None),
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
