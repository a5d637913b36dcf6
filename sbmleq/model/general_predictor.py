"""Predictions of the general steady-state model, and its checkpoint files.

    pred = GeneralPredictor.load("runs/general/model.pt")
    probs, x, ood = pred.predict(net)     # {"settles": .., "oscillates": .., "grows": ..},
                                          # x per net.state_ids, OutOfDistribution(flag, reasons)
    pred.predict(net, compiled=compiled)  # the physics steps on a compile the caller shares

Checkpoints are ``.pt`` files read with ``torch.load(weights_only=True)`` (no pickled code
runs): ``{"format", "config" (GeneralModelConfig as a dict), "model" (state dict),
"meta" (plain recipe: command, seed, data, hardware, wall time), "train_state"}`` and, for
resumable training checkpoints, ``"optimizer"`` and ``"rng"``. Anything unreadable or
inconsistent is a :class:`~sbmleq.errors.CheckpointError` (one line, naming the file).
This module imports torch (through the model) when it is imported; the NumPy path
(:mod:`sbmleq.model.general_load`, ``.npz`` exports) does not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.errors import CheckpointError
from sbmleq.model.checkpoint import load_torch_safe, save_torch_atomic
from sbmleq.model.general_config import (GENERAL_FORMAT, MAX_POSITIONS, OutOfDistribution,
                                         check_positions, out_of_distribution,
                                         outcome_temperature)
from sbmleq.model.general_features import collate, network_features, to_concentrations
from sbmleq.model.general_model import (GeneralModelConfig, GeneralSteadyStateModel, PhysicsRHS,
                                        batch_tensors)
from sbmleq.model.general_numpy_rhs import physics_compile

__all__ = ["GENERAL_FORMAT", "MAX_POSITIONS", "OutOfDistribution", "GeneralPredictor",
           "save_general_checkpoint", "read_general_checkpoint", "build_from_payload"]


def save_general_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                            cfg: GeneralModelConfig, extra: dict[str, Any] | None = None) -> None:
    """Write atomically (tmp file + rename): a crash never leaves a half-written file."""
    payload = {"format": GENERAL_FORMAT, "config": cfg.to_dict(),
               "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               **(extra or {})}
    save_torch_atomic(path, payload)


def read_general_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The payload, checked: format, a valid config, a state dict of tensors."""
    path = Path(path)
    payload = load_torch_safe(path)
    if not isinstance(payload, dict) or payload.get("format") != GENERAL_FORMAT:
        raise CheckpointError(f"not a general-model checkpoint (expected format "
                              f"{GENERAL_FORMAT})", source=str(path), element="format")
    if not isinstance(payload.get("config"), dict):
        raise CheckpointError("missing or invalid key config", source=str(path),
                              element="config")
    try:
        GeneralModelConfig.from_dict(payload["config"]).validate()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid model config: {exc}", source=str(path),
                              element="config") from None
    weights = payload.get("model")
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor)
                                                for v in weights.values()):
        raise CheckpointError("missing or invalid key model (the weights)", source=str(path),
                              element="model")
    for name, v in weights.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError("weight is not finite (NaN or Inf)", source=str(path),
                                  element=f"model.{name}")
    return payload


def build_from_payload(payload: dict[str, Any], source: str) -> GeneralSteadyStateModel:
    """The model a checked payload describes, with its weights (CheckpointError on mismatch)."""
    cfg = GeneralModelConfig.from_dict(payload["config"])
    model = GeneralSteadyStateModel(cfg)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"weights do not match the config ({first[:160]})",
                              source=source, element="model") from None
    return model


class GeneralPredictor:
    """A loaded general model: outcome probabilities and per-state concentrations."""

    def __init__(self, model: GeneralSteadyStateModel, source: str = "", device: str = "cpu",
                 meta: dict[str, Any] | None = None):
        self.model = model.eval().to(device)
        self.cfg = model.cfg
        self.source = source
        self.device = torch.device(device)
        self.meta = meta or {}
        self._cache: dict[str, Any] = {}  # compile_key -> compiled rate laws

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu") -> "GeneralPredictor":
        payload = read_general_checkpoint(path)
        return cls(build_from_payload(payload, str(path)), str(path), device,
                   payload.get("meta") if isinstance(payload.get("meta"), dict) else {})

    def ood(self, net: ReactionNetwork, decades: float | None = None) -> OutOfDistribution:
        """Sizes, value spread and rate-law families against the training statistics."""
        return out_of_distribution(self.cfg, net, decades)

    @torch.no_grad()
    def predict(self, net: ReactionNetwork, x0: Any = None, n_iters: int | None = None,
                compiled: CompiledNetwork | None = None
                ) -> tuple[dict[str, float], np.ndarray, OutOfDistribution]:
        """(outcome probabilities, predicted state per ``net.state_ids`` in the network's
        units, out-of-distribution flag). ``x0``: initial values (by state id or a vector).
        The probabilities are ``softmax(logits / T)``, T the checkpoint's calibrated outcome
        temperature (1 when it has none). More than :data:`MAX_POSITIONS` species + reactions
        is an InputError.

        ``compiled``: ``net``'s own :class:`~sbmleq.core.compile.CompiledNetwork` (e.g. the
        one the solver verifying this prediction uses): the physics steps evaluate the rate laws
        with it, at ``net``'s parameter values, instead of looking up (and on a miss compiling
        into) the predictor's cache, which it neither reads nor fills. Its state and parameter
        ids must be ``net``'s (InputError otherwise)."""
        check_positions(net, self.source)
        if x0 is not None:
            net = net.with_initial(x0)
        cache, keys = physics_compile(net, compiled, self.source, self._cache)
        ex = network_features(net)
        batch = collate([ex])
        rhs = None
        if self.cfg.physics:  # cached compiles keyed by structure *and* parameter order
            rhs = PhysicsRHS([net], batch, self.device, cache, keys)
        out = self.model(**batch_tensors(batch, self.device), rhs=rhs, n_iters=n_iters)
        t = outcome_temperature(self.cfg)
        p = torch.softmax(out["logits"].float() / t, -1)[0].cpu().numpy()
        probs = {o: float(v) for o, v in zip(self.cfg.outcomes, p)}
        x = to_concentrations(ex, out["y"][0].float().cpu().numpy(), net.n_state)
        return probs, x, self.ood(net, ex.decades)
