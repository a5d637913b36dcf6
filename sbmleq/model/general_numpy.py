"""NumPy inference for the general steady-state model: the fast cold-start path (no torch).

It mirrors :class:`sbmleq.model.general_model.GeneralSteadyStateModel` (and its physics arm,
:class:`~sbmleq.model.general_model.PhysicsRHS`) operation by operation, in float64, with the
rate laws evaluated by :meth:`~sbmleq.core.compile.CompiledNetwork.rates` in place of
``torch_rates``; ``tests/test_general_numpy.py`` checks both agree. Weights are the torch
state dict's, by name (:func:`general_weight_shapes` lists them), read from a ``.npz`` export
(:mod:`sbmleq.model.general_npz`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork, compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.model.general_config import GeneralModelConfig
from sbmleq.model.general_features import GraphBatch, structure_digest

__all__ = ["NumpyGeneralModel", "NumpyPhysicsRHS", "general_weight_shapes"]

_MATH_ERF = np.frompyfunc(math.erf, 1, 1)
_SMALL_GELU = 1 << 20  # elements; above this (and once scipy is loaded) scipy.special.erf


def general_weight_shapes(cfg: GeneralModelConfig) -> dict[str, tuple[int, ...]]:
    """Every weight of the model a (validated) config describes and its shape: the parameter
    names and shapes of the torch model's state dict."""
    d, ff, h = cfg.d_model, cfg.d_ff, cfg.n_heads
    shapes: dict[str, tuple[int, ...]] = {}

    def linear(name: str, n_in: int, n_out: int) -> None:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (n_out, n_in), (n_out,)

    def mlp(name: str, n_in: int, n_hidden: int, n_out: int) -> None:
        linear(f"{name}.fc1", n_in, n_hidden)
        linear(f"{name}.fc2", n_hidden, n_out)

    def norm(name: str) -> None:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (d,), (d,)

    mlp("embed_species", cfg.species_features, d, d)
    mlp("embed_reaction", cfg.reaction_features, d, d)
    linear("edge_bias", cfg.edge_features, h * cfg.n_layers)
    for i in range(cfg.n_layers):
        norm(f"blocks.{i}.ln1")
        norm(f"blocks.{i}.ln2")
        linear(f"blocks.{i}.qkv", d, 3 * d)
        linear(f"blocks.{i}.proj", d, d)
        mlp(f"blocks.{i}.mlp", d, ff, d)
    norm("ln_f")
    linear("y_head", d, 1)
    mlp("outcome_head", 2 * d, d, len(cfg.outcomes))
    if cfg.physics:
        mlp("step_mlp", d + 3, d, 1)
    return shapes


def _gelu(x: np.ndarray) -> np.ndarray:
    # torch's exact (erf) GELU. One network's activations go through libm's erf element by
    # element, which spares a cold start the import of scipy.special (~0.3 s); both are exact.
    if x.size <= _SMALL_GELU and "scipy.special" not in sys.modules:
        return 0.5 * x * (1.0 + _MATH_ERF(x / math.sqrt(2.0)).astype(np.float64))
    from scipy.special import erf  # large batches only

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _softmax(a: np.ndarray) -> np.ndarray:
    m = np.max(a, axis=-1, keepdims=True)
    e = np.exp(a - np.where(np.isfinite(m), m, 0.0))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


class NumpyGeneralModel:
    """Inference-only :class:`GeneralSteadyStateModel` over a :class:`GraphBatch`
    (``weights``: float64 arrays by state-dict name, checked against ``cfg``)."""

    def __init__(self, weights: dict[str, np.ndarray], cfg: GeneralModelConfig):
        self.w = weights
        self.cfg = cfg

    def _lin(self, name: str, x: np.ndarray) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _mlp(self, name: str, x: np.ndarray) -> np.ndarray:
        return self._lin(f"{name}.fc2", _gelu(self._lin(f"{name}.fc1", x)))

    def _ln(self, name: str, x: np.ndarray) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def attention_bias(self, smask: np.ndarray, rmask: np.ndarray,
                       edges: np.ndarray) -> list[np.ndarray]:
        """One (B, H, L, L) additive bias per layer (-inf: masked), as the torch model's."""
        b, s, r, _ = edges.shape
        h, layers, n = self.cfg.n_heads, self.cfg.n_layers, s + r
        n_local = self.cfg.n_local_heads
        incid = edges[..., :4].max(-1) > 0  # (B, S, R): any role
        eb = self._lin("edge_bias", edges) * incid[..., None]  # (B, S, R, H * layers)
        eye = np.eye(n, dtype=bool)
        adj = np.zeros((b, n, n), dtype=bool)
        adj[:, :s, s:], adj[:, s:, :s] = incid, incid.transpose(0, 2, 1)
        valid = np.concatenate([smask, rmask], 1)[:, None, :]  # keys
        allowed = np.concatenate(
            [np.broadcast_to(((adj & valid) | eye)[:, None], (b, n_local, n, n)),
             np.broadcast_to((valid | eye)[:, None], (b, h - n_local, n, n))], 1)
        out = []
        for k in range(layers):
            e = eb[..., k * h:(k + 1) * h]
            bias = np.zeros((b, h, n, n))
            bias[:, :, :s, s:] = e.transpose(0, 3, 1, 2)
            bias[:, :, s:, :s] = e.transpose(0, 3, 2, 1)
            out.append(np.where(allowed, bias, -np.inf))
        return out

    def _block(self, i: int, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        p = f"blocks.{i}"
        b, n, d = x.shape
        h = self.cfg.n_heads
        dh = d // h
        qkv = self._lin(f"{p}.qkv", self._ln(f"{p}.ln1", x))
        q, k, v = qkv.reshape(b, n, 3, h, dh).transpose(2, 0, 3, 1, 4)
        att = _softmax(q @ np.swapaxes(k, -1, -2) / math.sqrt(dh) + bias)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
        x = x + self._lin(f"{p}.proj", y)
        return x + self._mlp(f"{p}.mlp", self._ln(f"{p}.ln2", x))

    def forward(self, batch: GraphBatch, rhs: "NumpyPhysicsRHS | None" = None,
                n_iters: int | None = None) -> dict[str, Any]:
        """``{"logits": (B, n_outcomes), "y": (B, S), "y_direct": (B, S), "ys": [...]}``; with
        ``physics`` and an ``rhs``, ``y`` is the last iterate (as the torch model)."""
        smask, rmask = batch.species_mask, batch.reaction_mask
        s = batch.species_x.shape[1]
        x = np.concatenate([self._mlp("embed_species", batch.species_x.astype(np.float64)),
                            self._mlp("embed_reaction", batch.reaction_x.astype(np.float64))], 1)
        biases = self.attention_bias(smask, rmask, batch.edges.astype(np.float64))
        for i, bias in enumerate(biases):
            x = self._block(i, x, bias)
        x = self._ln("ln_f", x)
        valid = np.concatenate([smask, rmask], 1)
        vf = valid[..., None].astype(np.float64)
        mean = (x * vf).sum(1) / np.maximum(vf.sum(1), 1.0)
        mx = np.where(valid[..., None], x, -np.inf).max(1)
        logits = self._mlp("outcome_head", np.concatenate([mean, mx], -1))
        hs = x[:, :s]
        y = np.where(smask, self._lin("y_head", hs)[..., 0], 0.0)
        out: dict[str, Any] = {"logits": logits, "y_direct": y, "ys": [y]}
        if self.cfg.physics and rhs is not None:
            out["ys"] += self.refine(hs, y, batch.state_mask, rhs, n_iters or self.cfg.n_iters)
            y = out["ys"][-1]
        out["y"] = y
        return out

    def refine(self, hs: np.ndarray, y: np.ndarray, move: np.ndarray, rhs: "NumpyPhysicsRHS",
               n_iters: int) -> list[np.ndarray]:
        """The physics iterates from ``y``: ``y += gain * balance``, then the conserved pools
        rescaled (:meth:`GeneralSteadyStateModel.refine`; float64 here where torch keeps the
        iterates in float32, so the two drift apart by ~1e-6 decades per step)."""
        move = move.astype(np.float64)
        step = prev = np.zeros_like(y)
        y = rhs.project(y)
        ys = [y]
        for _ in range(n_iters):
            b = rhs.balance(y)
            feats = np.clip(np.stack([b, step, prev], -1), -3.0, 3.0)
            gain = 2.0 * _sigmoid(self._mlp("step_mlp", np.concatenate([hs, feats], -1))[..., 0])
            prev, step = step, gain * b * move
            y = rhs.project(np.clip(y + step, -30.0, 30.0))
            ys.append(y)
        return ys


class NumpyPhysicsRHS:
    """:class:`~sbmleq.model.general_model.PhysicsRHS` in NumPy: the network's own rate laws
    at a batch of estimates ``y`` (one :meth:`CompiledNetwork.rates` call per structure;
    ``cache``: digest -> CompiledNetwork, shared across calls)."""

    def __init__(self, nets: Sequence[ReactionNetwork], batch: GraphBatch,
                 cache: dict[str, CompiledNetwork] | None = None,
                 keys: Sequence[str] | None = None):
        cache = {} if cache is None else cache
        keys = [structure_digest(net) for net in nets] if keys is None else keys
        self.reference = np.asarray(batch.reference, dtype=np.float64)
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        self.groups: list[dict[str, Any]] = []
        for key, rows in groups.items():
            if key not in cache:
                cache[key] = compile_network(nets[rows[0]])
            net = nets[rows[0]]
            idx = batch.state_index[rows[0]]
            nodes = np.flatnonzero(idx >= 0)
            k = len(net.state_species)
            species_nodes = nodes[idx[nodes] < k]  # nodes of state species (not rate rules)
            laws = net.conservation.matrix.astype(np.float64) if k else np.zeros((0, 0))
            keep = [j for j in range(laws.shape[0]) if (laws[j] >= 0).all()]
            totals = np.stack([np.atleast_1d(nets[i].conserved_totals())[keep] for i in rows]) \
                if keep else np.zeros((len(rows), 0))
            self.groups.append({
                "compiled": cache[key], "rows": np.asarray(rows, dtype=np.int64),
                "nodes": nodes, "pos": idx[nodes], "snodes": species_nodes,
                "spos": idx[species_nodes],
                "p": np.stack([nets[i].parameter_vector() for i in rows]).astype(np.float64),
                "vol": np.stack([np.asarray(nets[i].volumes[:k], dtype=np.float64)
                                 for i in rows]),
                "n": np.asarray(net.stoichiometry, dtype=np.float64), "laws": laws[keep],
                "totals": totals.astype(np.float64)})

    @staticmethod
    def _state(g: dict[str, Any], logx: np.ndarray) -> np.ndarray:
        x = np.zeros((len(g["rows"]), g["compiled"].n_state))
        x[:, g["pos"]] = 10.0 ** logx[g["rows"]][:, g["nodes"]]
        return x

    def _logx(self, y: np.ndarray) -> np.ndarray:
        return np.clip(y.astype(np.float64) + self.reference[:, None], -30.0, 30.0)

    def balance(self, y: np.ndarray) -> np.ndarray:
        """``log10(P_i / C_i)`` per state species node (0 elsewhere), clipped to +-3."""
        out = np.zeros(y.shape)
        logx = self._logx(y)
        tiny = 1e-300
        with np.errstate(all="ignore"):
            for g in self.groups:
                v = g["compiled"].rates(self._state(g, logx), g["p"])[..., :g["n"].shape[1]]
                flux = g["n"][None] * v[:, None, :]  # (g, k, R) amounts per time
                prod = np.maximum(flux, 0.0).sum(-1)
                cons = np.maximum(-flux, 0.0).sum(-1)
                b = np.clip(np.log10(prod + tiny) - np.log10(cons + tiny), -3.0, 3.0)
                b = np.where((prod > 0) | (cons > 0), b, 0.0)
                out[g["rows"][:, None], g["snodes"][None, :]] = b[:, g["spos"]]
        return np.nan_to_num(out, nan=0.0)

    def project(self, y: np.ndarray) -> np.ndarray:
        """``y`` with each kept conservation law's species scaled to its initial total."""
        shift = np.zeros(y.shape)
        logx = self._logx(y)
        with np.errstate(all="ignore"):
            for g in self.groups:
                if not g["laws"].shape[0]:
                    continue
                lx = logx[g["rows"]][:, g["snodes"]]  # (g, m) of the state species nodes
                d = np.zeros_like(lx)
                for j in range(g["laws"].shape[0]):
                    coef = g["laws"][j][g["spos"]]  # (m,)
                    amount = (coef * g["vol"][:, g["spos"]] * 10.0 ** (lx + d)).sum(-1)
                    total = g["totals"][:, j]
                    ratio = np.log10(np.maximum(total, 1e-300) / np.maximum(amount, 1e-300))
                    ratio = np.where(total > 0, ratio, 0.0)
                    d = d + ratio[:, None] * (coef > 0)
                shift[g["rows"][:, None], g["snodes"][None, :]] = d
        return y + np.clip(np.nan_to_num(shift, nan=0.0), -30.0, 30.0)
