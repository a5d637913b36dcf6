"""Load the general model from either file: ``.npz`` -> NumPy (no torch import), ``.pt`` -> torch.

    pred = load_general_predictor("sbmleq/checkpoints/general.npz")
    probs, x, ood = pred.predict(net)     # as GeneralPredictor.predict
    probs, x, ood = pred.predict(net, compiled=compile_network(net))  # a compile to share

:class:`NumpyGeneralPredictor` has the interface of
:class:`~sbmleq.model.general_predictor.GeneralPredictor` (``predict``, ``ood``, ``cfg``,
``meta``, ``source``) on :class:`~sbmleq.model.general_numpy.NumpyGeneralModel`. Importing this
module does not import torch: a cold ``sbmleq predict`` with an ``.npz`` model skips torch's
import (8-13x the roadrunner one-liner's whole run, docs/general-model.md). The torch
predictor is imported only for ``.pt`` checkpoints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.errors import InputError
from sbmleq.model.general_config import (GeneralModelConfig, OutOfDistribution, check_positions,
                                         out_of_distribution, outcome_probabilities)
from sbmleq.model.general_features import collate, network_features, to_concentrations
from sbmleq.model.general_npz import read_general_npz
from sbmleq.model.general_numpy import NumpyGeneralModel
from sbmleq.model.general_numpy_rhs import NumpyPhysicsRHS, physics_compile

__all__ = ["NumpyGeneralPredictor", "load_general_predictor"]


class NumpyGeneralPredictor:
    """A loaded ``.npz`` general model: outcome probabilities and per-state values."""

    def __init__(self, model: NumpyGeneralModel, source: str = "",
                 meta: dict[str, Any] | None = None):
        self.model = model
        self.cfg: GeneralModelConfig = model.cfg
        self.source = source
        self.device = "cpu"
        self.meta = meta or {}
        self._cache: dict[str, CompiledNetwork] = {}  # compile_key -> compiled rate laws

    @classmethod
    def load(cls, path: str | os.PathLike, dtype: Any = np.float32) -> "NumpyGeneralPredictor":
        """Read and check a ``.npz`` export (:func:`~sbmleq.model.general_npz.read_general_npz`;
        CheckpointError naming the file on anything wrong). ``dtype``: the Transformer's
        arithmetic (:class:`~sbmleq.model.general_numpy.NumpyGeneralModel`)."""
        weights, cfg, meta = read_general_npz(path)
        recipe = meta.get("meta")
        return cls(NumpyGeneralModel(weights, cfg, dtype), str(path),
                   recipe if isinstance(recipe, dict) else {})

    def ood(self, net: ReactionNetwork, decades: float | None = None) -> OutOfDistribution:
        """Sizes, value spread and rate-law families against the training statistics."""
        return out_of_distribution(self.cfg, net, decades)

    def predict(self, net: ReactionNetwork, x0: Any = None, n_iters: int | None = None,
                compiled: CompiledNetwork | None = None
                ) -> tuple[dict[str, float], np.ndarray, OutOfDistribution]:
        """(outcome probabilities, predicted state per ``net.state_ids`` in the network's
        units, out-of-distribution flag); as :meth:`GeneralPredictor.predict`.

        ``compiled``: ``net``'s own :class:`~sbmleq.core.compile.CompiledNetwork` (e.g. the one
        the solver verifying this prediction uses): the physics steps evaluate the rate laws
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
        if self.cfg.physics:
            rhs = NumpyPhysicsRHS([net], batch, cache, keys)
        out = self.model.forward(batch, rhs=rhs, n_iters=n_iters)
        p = outcome_probabilities(out["logits"][0], self.cfg)  # softmax(logits / T)
        probs = {o: float(v) for o, v in zip(self.cfg.outcomes, p)}
        x = to_concentrations(ex, out["y"][0], net.n_state)
        return probs, x, self.ood(net, ex.decades)


def load_general_predictor(path: str | os.PathLike, device: str = "cpu") -> Any:
    """The predictor for ``path``: a :class:`NumpyGeneralPredictor` for ``.npz`` (CPU only, an
    InputError for another device; torch is not imported), a
    :class:`~sbmleq.model.general_predictor.GeneralPredictor` on ``device`` for anything else
    (``.pt``). Missing or unreadable files: CheckpointError naming them."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if str(device) != "cpu":
            raise InputError(f"device {device!r} needs a PyTorch checkpoint (.pt); {path.name} "
                             f"is a NumPy export that runs on the CPU only", source=str(path))
        return NumpyGeneralPredictor.load(path)
    # The torch predictor imports torch (~1-2 s): only for .pt checkpoints.
    from sbmleq.model.general_predictor import GeneralPredictor

    return GeneralPredictor.load(path, device=device)
