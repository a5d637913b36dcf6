"""What both inference paths of the general model share, without torch: the config dataclass,
the checkpoint format names, the size limit, the out-of-distribution flag and the outcome
temperature (calibration).

:mod:`sbmleq.model.general_model` (PyTorch) and :mod:`sbmleq.model.general_numpy` (NumPy) both
build from :class:`GeneralModelConfig`; :class:`~sbmleq.model.general_predictor.GeneralPredictor`
and :class:`~sbmleq.model.general_load.NumpyGeneralPredictor` both flag networks with
:func:`out_of_distribution`. Keeping these here lets the NumPy path load and predict without
importing torch (about 1 s of a cold start).

**Calibration.** ``extra["outcome_temperature"]`` (a number T > 0, written by
``training/calibrate_general.py``) divides the outcome logits before the softmax in both
predictors (:func:`outcome_probabilities`); absent, T = 1 and the probabilities are the raw
softmax, as files without it always gave.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sbmleq.core.reaction_generators import OUTCOMES
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.errors import InputError
from sbmleq.model.general_features import (EDGE_FEATURES, FEATURE_VERSION, REACTION_FEATURES,
                                           SPECIES_FEATURES, network_features)

__all__ = ["GENERAL_FORMAT", "GENERAL_NPZ_FORMAT", "MAX_POSITIONS", "GeneralModelConfig",
           "OutOfDistribution", "out_of_distribution", "check_positions", "TEMPERATURE_KEY",
           "outcome_temperature", "outcome_probabilities"]

GENERAL_FORMAT = "sbmleq.model.general/1"  # the .pt payload
GENERAL_NPZ_FORMAT = "sbmleq.model.general.npz/1"  # the NumPy export
# Attention is dense over species + reaction positions (one L x L bias per head and layer), so
# memory grows as L**2: about 1 GB at L = 3,000 with the default 8 heads and 4 layers.
MAX_POSITIONS = 3000
TEMPERATURE_KEY = "outcome_temperature"  # in GeneralModelConfig.extra


@dataclass
class GeneralModelConfig:
    """Architecture, feature layout and training distribution (stored in every checkpoint)."""

    d_model: int = 128
    n_heads: int = 8
    n_local_heads: int = 4  # of n_heads: attend along the incidence only
    n_layers: int = 4
    d_ff: int = 256
    physics: bool = False
    n_iters: int = 8  # physics steps (inference may use more)
    species_features: int = len(SPECIES_FEATURES)
    reaction_features: int = len(REACTION_FEATURES)
    edge_features: int = len(EDGE_FEATURES)
    feature_version: int = FEATURE_VERSION
    outcomes: tuple[str, ...] = OUTCOMES
    # the training distribution (filled in by training; read by the out-of-distribution flag)
    train_max_species: int = 64
    train_max_reactions: int = 256
    train_decades: float = 3.0
    train_families: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcomes"], d["train_families"] = list(self.outcomes), list(self.train_families)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GeneralModelConfig":
        known = set(cls.__dataclass_fields__)
        d = {k: v for k, v in data.items() if k in known}
        for key in ("outcomes", "train_families"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    def validate(self) -> None:
        """Raise ValueError on an inconsistent config (the loader turns it into a
        CheckpointError naming the file)."""
        for key in ("d_model", "n_heads", "n_layers", "d_ff", "n_iters"):
            if not isinstance(getattr(self, key), int) or not 1 <= getattr(self, key) <= 65536:
                raise ValueError(f"{key} must be an integer in [1, 65536]")
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads ({self.n_heads}) does not divide d_model ({self.d_model})")
        if not 0 <= self.n_local_heads <= self.n_heads:
            raise ValueError("n_local_heads must be in [0, n_heads]")
        if (self.species_features, self.reaction_features, self.edge_features,
                self.feature_version) != (len(SPECIES_FEATURES), len(REACTION_FEATURES),
                                          len(EDGE_FEATURES), FEATURE_VERSION):
            raise ValueError(f"feature layout (version {self.feature_version}) differs from this "
                             f"sbmleq's (version {FEATURE_VERSION})")
        if not isinstance(self.physics, bool):
            raise ValueError("physics must be true or false")
        if not self.outcomes:
            raise ValueError("outcomes must not be empty")
        if not isinstance(self.extra, dict):
            raise ValueError("extra must be a mapping")
        if TEMPERATURE_KEY in self.extra:
            t = self.extra[TEMPERATURE_KEY]
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                    or t <= 0:
                raise ValueError(f"extra.{TEMPERATURE_KEY} must be a finite number > 0, "
                                 f"got {t!r}")


def outcome_temperature(cfg: GeneralModelConfig) -> float:
    """The calibrated temperature T of the outcome logits (1.0 when the file has none)."""
    return float(cfg.extra.get(TEMPERATURE_KEY, 1.0)) if isinstance(cfg.extra, dict) else 1.0


def outcome_probabilities(logits: Any, cfg: GeneralModelConfig) -> np.ndarray:
    """``softmax(logits / T)`` over the last axis, in float64 (``logits``: (..., n_outcomes)
    raw model outputs; T from :func:`outcome_temperature`). Dividing by T > 0 keeps the argmax
    and, with T > 1, pulls over-confident probabilities toward uniform."""
    z = np.asarray(logits, dtype=np.float64) / outcome_temperature(cfg)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@dataclass
class OutOfDistribution:
    """Whether a network lies outside what the model was trained on, and why."""

    flag: bool
    reasons: list[str] = field(default_factory=list)


def out_of_distribution(cfg: GeneralModelConfig, net: ReactionNetwork,
                        decades: float | None = None) -> OutOfDistribution:
    """Sizes, value spread and rate-law families of ``net`` against the training statistics in
    ``cfg`` (``decades``: the network's value spread when already computed)."""
    reasons = []
    n_s = len(net.species) + len(net.rate_rules)
    if n_s > cfg.train_max_species:
        reasons.append(f"{n_s} species; trained on at most {cfg.train_max_species}")
    if len(net.reactions) > cfg.train_max_reactions:
        reasons.append(f"{len(net.reactions)} reactions; trained on at most "
                       f"{cfg.train_max_reactions}")
    if decades is None:
        decades = network_features(net).decades
    if decades > cfg.train_decades + 0.5:
        reasons.append(f"values span {decades:.1f} decades; trained on at most "
                       f"{cfg.train_decades:.1f}")
    seen = set(cfg.train_families)
    new = sorted({r.family or "unclassified" for r in net.reactions} - seen) if seen else []
    if new:
        reasons.append(f"rate-law families never seen in training: {', '.join(new)}")
    if net.rate_rules:
        reasons.append(f"{len(net.rate_rules)} rate rule(s); trained on reactions only")
    return OutOfDistribution(bool(reasons), reasons)


def check_positions(net: ReactionNetwork, source: str) -> None:
    """InputError when ``net`` has more than :data:`MAX_POSITIONS` species + reactions
    (``source``: the checkpoint, named in the message)."""
    positions = len(net.species) + len(net.rate_rules) + len(net.reactions)
    if positions > MAX_POSITIONS:
        raise InputError(f"{positions} species and reactions; the general model takes at "
                         f"most {MAX_POSITIONS}", source=net.name or "network",
                         element=source or None)
