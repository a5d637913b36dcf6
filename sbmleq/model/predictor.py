"""Predictions from a trained model: Network -> tokens -> model -> :class:`Prediction`.

The shipped default model is a ``.npz`` file run by the NumPy path (no torch import: fast cold
start). A ``.pt`` checkpoint, the ``seq`` architecture or ``device="cuda"`` use PyTorch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sbmleq.model.features import ArrayBatch, batch_from_arrays, batch_from_networks, to_concentrations
from sbmleq.core.network import Network
from sbmleq.errors import CheckpointError, InputError
from sbmleq.model.numpy_model import NumpyGraphModel

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "checkpoints" / "default.npz"
LOW_CONFIDENCE_RESIDUAL = 0.05
# The largest network the Predictor accepts. The model attends over dense n x n matrices (edge
# features, masks, attention for each head), so time and memory grow as n**2: on the reference
# CPU one prediction takes 0.5 s / 60 MB at 128 species, 3 s / 135 MB at 512, 10 s / 350 MB at
# 1,000 and 44 s / 1.1 GB at 2,000 (docs/model.md). The model is trained on at most 64 species;
# anything above that is flagged out of distribution, and above MAX_NODES refused (InputError).
MAX_NODES = 1000
# At most this many n x n entries per batch (B * n_max**2): the memory of one MAX_NODES network.
BATCH_ELEMENTS = MAX_NODES ** 2


@dataclass
class Prediction:
    """The model's answer for one network, in the network's own units."""

    network: Network
    equilibrium_exists: bool
    p_exists: float
    concentrations: np.ndarray | None  # None when no equilibrium is predicted
    drain_probability: np.ndarray  # per node: P(node reaches an excretion)
    residual: float | None  # relative ODE residual at the predicted point (0 = exact)
    out_of_distribution: bool
    ood_reasons: list[str] = field(default_factory=list)
    model: str = ""
    seconds: float = 0.0
    units: dict[str, str] = field(default_factory=dict)

    @property
    def species(self) -> tuple[str, ...]:
        return self.network.nodes

    @property
    def confident(self) -> bool:
        """In distribution, decisive existence call and (if predicted) a small residual."""
        decisive = self.p_exists > 0.9 or self.p_exists < 0.1
        ok_residual = self.residual is None or self.residual < LOW_CONFIDENCE_RESIDUAL
        return decisive and ok_residual and not self.out_of_distribution

    def as_dict(self) -> dict[str, float | None]:
        if self.concentrations is None:
            return {s: None for s in self.species}
        return {s: float(v) for s, v in zip(self.species, self.concentrations)}

    def to_frame(self):
        import pandas as pd

        frame = pd.DataFrame({
            "predicted": (self.concentrations if self.concentrations is not None
                          else np.full(len(self.species), np.nan)),
            "p_drains": self.drain_probability,
            "unit": [self.units.get(s, "") for s in self.species],
        }, index=pd.Index(self.species, name="species"))
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "equilibrium_exists": self.equilibrium_exists,
            "p_exists": self.p_exists,
            "out_of_distribution": self.out_of_distribution,
            "ood_reasons": list(self.ood_reasons),
            "residual": self.residual,
            "confident": self.confident,
            "species": {s: {"predicted": v, "unit": self.units.get(s, "")}
                        for s, v in self.as_dict().items()},
            "model": self.model,
            "seconds": self.seconds,
        }


def _relative_residual(net: Network, x: np.ndarray) -> float:
    total = float(net.intake.sum())
    if total <= 0:
        return 0.0
    return float(np.abs(net.rhs(x)).sum() / (2.0 * total))


class Predictor:
    """A loaded model. ``Predictor()`` loads the shipped default."""

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu",
                 n_iters: int | None = None):
        self.path = Path(model_path) if model_path is not None else DEFAULT_MODEL
        self.device = device
        self.n_iters = n_iters
        if self.path.suffix == ".npz" and device == "cpu":
            self._np = NumpyGraphModel.load(self.path)
            self._torch = None
            self.config = self._np.config
        else:
            if self.path.suffix == ".npz":
                raise CheckpointError("a .npz model runs on the CPU only; pass a .pt checkpoint "
                                      "to use cuda", source=str(self.path))
            # The PyTorch backend is imported only for .pt checkpoints: torch takes ~1 s to import,
            # and the default (.npz) path runs on NumPy alone.
            from sbmleq.model import torch_model

            self._np = None
            self._torch, cfg, _ = torch_model.load_model(self.path, device=device)
            self.config = cfg.to_dict()

    # ------------------------------------------------------------------ core
    def _forward(self, batch: ArrayBatch) -> tuple[np.ndarray, np.ndarray]:
        if self._np is not None:
            out = self._np.forward(batch, n_iters=self.n_iters)
            return out["y"], out["drain_logit"]
        import torch

        dev = torch.device(self.device)
        args = [torch.as_tensor(batch.node_mask, device=dev),
                torch.as_tensor(batch.log_intake, dtype=torch.float32, device=dev),
                torch.as_tensor(batch.log_excretion, dtype=torch.float32, device=dev),
                torch.as_tensor(batch.log_weight, dtype=torch.float32, device=dev),
                torch.as_tensor(batch.adjacency, device=dev)]
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            out = self._torch(*args, n_iters=self.n_iters)
        return out["y"].float().cpu().numpy(), out["drain_logit"].float().cpu().numpy()

    def _decide(self, batch: ArrayBatch):
        y, drain_logit = self._forward(batch)
        p_drain = 1.0 / (1.0 + np.exp(-np.clip(drain_logit, -60, 60)))
        p_drain = np.where(batch.node_mask, p_drain, 1.0)
        p_exists = p_drain.min(axis=1)
        return to_concentrations(y, batch), p_drain, p_exists

    def ood_reasons(self, net: Network) -> list[str]:
        reasons = []
        cfg = self.config
        recipe = [c for _, c in cfg.get("extra", {}).get("recipe", [])]
        n_max = int(cfg.get("train_n_max", 64))
        if net.n_nodes > n_max:
            reasons.append(f"{net.n_nodes} species (trained up to {n_max})")
        if recipe:
            decades = max(float(c["decades"]) for c in recipe)
            rates = np.concatenate([net.weight, net.excretion[net.excretion > 0]])
            if len(rates) and np.ptp(np.log10(rates)) > decades + 0.5:
                reasons.append(f"rate constants span {np.ptp(np.log10(rates)):.1f} decades "
                               f"(trained on {decades:g})")
            phi = net.intake[net.intake > 0]
            if len(phi) > 1 and np.ptp(np.log10(phi)) > decades + 0.5:
                reasons.append(f"intakes span {np.ptp(np.log10(phi)):.1f} decades (trained on {decades:g})")
            max_in = max(int(c["intakes"][1]) for c in recipe)
            max_ex = max(int(c["excretions"][1]) for c in recipe)
            if len(net.intake_nodes) > max_in:
                reasons.append(f"{len(net.intake_nodes)} intakes (trained up to {max_in})")
            if len(net.excreting_nodes) > max_ex:
                reasons.append(f"{len(net.excreting_nodes)} excretions (trained up to {max_ex})")
            weights = {c["weights"] for c in recipe}
            if weights == {"unit"} and not np.all(net.weight == 1.0):
                reasons.append("real-valued rates (trained on unit weights)")
        return reasons

    # ------------------------------------------------------------------ public
    @staticmethod
    def check_size(net: Network) -> None:
        """:class:`InputError` when ``net`` has more than :data:`MAX_NODES` species (checked
        before any array is allocated)."""
        if net.n_nodes > MAX_NODES:
            # source stays None: the caller (API, command line) fills in the file it read
            label = f"model {net.name!r}" if net.name else "the network"
            raise InputError(f"{label} has {net.n_nodes} species: the predictor accepts at most "
                             f"MAX_NODES = {MAX_NODES} (time and memory grow as n^2; see "
                             "docs/model.md)")

    @staticmethod
    def _batches(order: list[int], sizes: list[int], batch_size: int) -> list[list[int]]:
        """Consecutive groups of ``order`` (sorted by size) of at most ``batch_size`` networks
        and at most :data:`BATCH_ELEMENTS` padded n x n entries."""
        groups: list[list[int]] = []
        for k in order:
            if groups and len(groups[-1]) < batch_size and \
                    (len(groups[-1]) + 1) * max(sizes[k], 1) ** 2 <= BATCH_ELEMENTS:
                groups[-1].append(k)
            else:
                groups.append([k])
        return groups

    def predict_networks(self, nets: Sequence[Network], batch_size: int = 256) -> list[Prediction]:
        """Predict many networks; batches are grouped by size to limit padding.

        Raises :class:`InputError` (before any work) when a network has more than
        :data:`MAX_NODES` species."""
        for net in nets:
            self.check_size(net)
        results: list[Prediction | None] = [None] * len(nets)
        order = sorted(range(len(nets)), key=lambda k: nets[k].n_nodes)
        name = self.path.name
        for idx in self._batches(order, [net.n_nodes for net in nets], batch_size):
            t0 = time.perf_counter()
            batch = batch_from_networks([nets[k] for k in idx])  # no tokens round trip
            x, p_drain, p_exists = self._decide(batch)
            share = (time.perf_counter() - t0) / len(idx)
            for row, k in enumerate(idx):
                net = nets[k]
                n = net.n_nodes
                exists = bool(p_exists[row] > 0.5)
                conc = x[row, :n].copy() if exists else None
                reasons = self.ood_reasons(net)
                results[k] = Prediction(
                    network=net, equilibrium_exists=exists, p_exists=float(p_exists[row]),
                    concentrations=conc, drain_probability=p_drain[row, :n].copy(),
                    residual=_relative_residual(net, conc) if conc is not None else None,
                    out_of_distribution=bool(reasons), ood_reasons=reasons, model=name,
                    seconds=share)
        return results  # type: ignore[return-value]

    def predict(self, net: Network) -> Prediction:
        return self.predict_networks([net])[0]

    def scan(self, net: Network, weight: np.ndarray | None = None, intake: np.ndarray | None = None,
             excretion: np.ndarray | None = None, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Parameter scan on one topology: K parameter sets -> ``(p_exists (K,), x (K, n))``.

        Each of ``weight`` (K, E), ``intake`` (K, n), ``excretion`` (K, n) may be omitted to keep
        the network's own values. ``x`` is NaN where no equilibrium is predicted.
        """
        self.check_size(net)
        batch_size = max(1, min(batch_size, BATCH_ELEMENTS // max(net.n_nodes, 1) ** 2))
        arrays = [a for a in (weight, intake, excretion) if a is not None]
        if not arrays:
            raise ValueError("give at least one of weight, intake, excretion as a (K, ...) array")
        k_sets = len(arrays[0])
        w = np.broadcast_to(net.weight, (k_sets, net.n_edges)) if weight is None else np.asarray(weight, float)
        phi = np.broadcast_to(net.intake, (k_sets, net.n_nodes)) if intake is None else np.asarray(intake, float)
        ex = np.broadcast_to(net.excretion, (k_sets, net.n_nodes)) if excretion is None else np.asarray(excretion, float)
        for label, arr, width in (("weight", w, net.n_edges), ("intake", phi, net.n_nodes),
                                  ("excretion", ex, net.n_nodes)):
            if arr.shape != (k_sets, width):
                raise ValueError(f"{label} must have shape ({k_sets}, {width}), got {arr.shape}")
            if not np.all(np.isfinite(arr)) or (arr < 0).any() or (label == "weight" and (arr <= 0).any()):
                raise ValueError(f"{label} values must be finite and positive")
        p_all = np.empty(k_sets)
        x_all = np.empty((k_sets, net.n_nodes))
        for start in range(0, k_sets, batch_size):
            stop = min(start + batch_size, k_sets)
            items = [(net.n_nodes, net.src, net.dst, w[k], phi[k], ex[k]) for k in range(start, stop)]
            x, _, p_exists = self._decide(batch_from_arrays(items))
            x[p_exists <= 0.5] = np.nan
            p_all[start:stop] = p_exists
            x_all[start:stop] = x
        return p_all, x_all
