"""Predicted, then verified, for general reaction networks.

:func:`predict_network` runs the learned general model
(:class:`~sbmleq.model.general_predictor.GeneralPredictor`: outcome probabilities and the state
each species settles to) and then verifies the prediction with
:func:`~sbmleq.core.solve.solve_from_guess`: Newton from the predicted state inside the initial
state's conservation class, the solver's checks (residual, conservation class, sign,
eigenvalues), and the staged chain, whose integration from the initial state confirms that the
dynamics reach the polished point (or finds the state they do reach: ``fallback``).
:class:`GeneralPrediction` reports both side by side: ``predicted`` (the learned numbers, never
presented as the answer) and ``steady_state`` (the verified state; None when the dynamics do not
settle to a verified stable state), with the seconds each part took.

The network is compiled once for both: the model's physics steps evaluate the rate laws with
the same :class:`~sbmleq.core.compile.CompiledNetwork` the solver uses (handed over as
``predictor.predict(net, compiled=...)``), and the quick path's fallback chain works on the
system the polish built.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sbmleq.compare import finite
from sbmleq.core.compile import CompiledNetwork, compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve import SolveSettings, SolveStatus, solve_from_guess
from sbmleq.core.solve.outcome import OUTCOME_OF_STATUS, UNRESOLVED
from sbmleq.general import GeneralSolveResult, concentrations_of, result_from
from sbmleq.io.request import ModelSource

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GeneralPrediction", "predict_network", "predict_source"]


class GeneralPredictor(Protocol):
    """What a general model offers (sbmleq.model.general_load: the NumPy and torch ones)."""

    source: str

    def predict(self, net: ReactionNetwork, *, compiled: CompiledNetwork | None = None
                ) -> tuple[dict[str, float], np.ndarray, Any]: ...


@dataclass
class GeneralPrediction:
    """The learned prediction and the verified steady state of one general model."""

    model: str
    checkpoint: str
    probabilities: dict[str, float]
    predicted: dict[str, float]  # species id -> predicted concentration (learned, unverified)
    predicted_state: dict[str, float]  # state id -> predicted value in its declared unit
    verified: GeneralSolveResult
    used_prediction: bool = False  # the verified state is the polished prediction
    polish_iterations: int = 0
    out_of_distribution: bool = False
    ood_reasons: list[str] = field(default_factory=list)
    seconds_import: float = 0.0
    seconds_predict: float = 0.0
    seconds_verify: float = 0.0
    seconds: float = 0.0

    @property
    def outcome(self) -> str:
        """The learned outcome: the most probable of settles / oscillates / grows."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def verified_outcome(self) -> str:
        return OUTCOME_OF_STATUS.get(self.verified.status.value, UNRESOLVED)

    @property
    def steady_state(self) -> dict[str, float] | None:
        """Every species' verified steady-state concentration; None unless the dynamics settle
        to a verified stable state."""
        if self.verified.status is not SolveStatus.STABLE:
            return None
        return dict(self.verified.concentrations)

    @property
    def fallback(self) -> bool:
        return not self.used_prediction

    def to_dict(self) -> dict[str, Any]:
        v = self.verified
        steady = self.steady_state
        return {
            "model": self.model, "engine": "sbmleq", "checkpoint": self.checkpoint,
            "outcome": {"predicted": self.outcome, "probabilities": self.probabilities,
                        "verified": self.verified_outcome},
            "predicted": {k: finite(x) for k, x in self.predicted.items()},
            "steady_state": None if steady is None else {k: finite(x) for k, x in
                                                         steady.items()},
            "verified": {"status": v.status.value, "stable": v.stable,
                         "eigenvalues_max_real": finite(v.eigenvalues_max_real),
                         "residual": finite(v.residual), "newton_iterations": v.newton_iterations,
                         "polish_iterations": self.polish_iterations,
                         "fallback": self.fallback, "stage": v.stage, "stages": v.stages,
                         "message": v.message},
            "conserved_totals": v.conserved_totals,
            "out_of_distribution": {"flag": self.out_of_distribution,
                                    "reasons": list(self.ood_reasons)},
            "seconds": {"import": self.seconds_import, "predict": self.seconds_predict,
                        "verify": self.seconds_verify, "total": self.seconds},
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def to_frame(self) -> "pd.DataFrame":
        """One row per species: ``predicted`` and ``steady_state`` (NaN when not verified)."""
        import pandas as pd  # ~0.3 s: only when a frame is asked for

        ids = list(self.predicted)
        steady = self.steady_state or {}
        return pd.DataFrame({"predicted": [self.predicted[s] for s in ids],
                             "steady_state": [steady.get(s, float("nan")) for s in ids]},
                            index=pd.Index(ids, name="species"))


def predict_network(net: ReactionNetwork, predictor: GeneralPredictor, *,
                    settings: SolveSettings | None = None, model: str | None = None,
                    confirm: bool = True) -> GeneralPrediction:
    """Predict ``net``'s steady state from its own initial state, then verify it.

    ``confirm`` (default): the chain's integration from the initial state confirms that the
    dynamics reach the polished prediction (else it reports the state they do reach).
    ``confirm=False``: a polished prediction that passes the solver's checks (residual,
    conservation class, sign, stable eigenvalues) is accepted without simulating (faster; in a
    multistable model it may be a stable state the dynamics do not reach); when it does not
    pass, the chain answers (``fallback``; :func:`~sbmleq.core.solve.solve_from_guess` with
    ``quick``)."""
    settings = settings or SolveSettings()
    start = time.perf_counter()
    compiled = compile_network(net)  # one compile for the model's physics steps and the solver
    probs, x_pred, ood = predictor.predict(net, compiled=compiled)
    predict_s = time.perf_counter() - start
    t0 = time.perf_counter()
    x_pred = np.asarray(x_pred, dtype=np.float64)
    warm = solve_from_guess(compiled, x_pred, settings=settings, quick=not confirm)
    name = model or net.name or "network"
    verified = result_from(name, net, warm.result, settings)
    verify_s = time.perf_counter() - t0
    return GeneralPrediction(
        model=name, checkpoint=getattr(predictor, "source", ""), probabilities=dict(probs),
        predicted=concentrations_of(net, x_pred, net.parameter_vector()),
        predicted_state=dict(zip(net.state_ids, map(float, x_pred))), verified=verified,
        used_prediction=warm.used_guess, polish_iterations=warm.polish_iterations,
        out_of_distribution=bool(ood.flag), ood_reasons=list(ood.reasons),
        seconds_predict=predict_s, seconds_verify=verify_s,
        seconds=time.perf_counter() - start)


def predict_source(src: ModelSource, predictor: GeneralPredictor, *,
                   settings: SolveSettings | None = None, confirm: bool = True
                   ) -> GeneralPrediction:
    """Import ``src`` as a reaction network, then :func:`predict_network`."""
    start = time.perf_counter()
    net = src.general().require()
    import_s = time.perf_counter() - start
    out = predict_network(net, predictor, settings=settings, model=src.display, confirm=confirm)
    out.seconds_import = import_s
    out.seconds += import_s
    return out
