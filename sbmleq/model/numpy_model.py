"""NumPy inference for the ``graph`` architecture: the fast cold-start path (no torch import).

It mirrors :class:`sbmleq.model.GraphEquilibriumModel` operation by operation (a test checks
both agree to float32 precision). Weights come from a ``.npz`` export of a checkpoint
(:func:`export_npz`), read with ``allow_pickle=False``: loading runs no code from the file.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from sbmleq.errors import CheckpointError
from sbmleq.model.features import LOG_FLOOR, ArrayBatch
from sbmleq.model.tokens import TOKEN_FORMAT_VERSION
from sbmleq.model.checkpoint import (check_config, checked_weights, graph_weight_shapes,
                                     read_checkpoint, read_npz_archive)

LN10 = np.log(10.0)
NEG = np.finfo(np.float32).min / 4
NPZ_FORMAT = "sbmleq.npz/1"


def export_npz(checkpoint: str | os.PathLike, out: str | os.PathLike,
               n_iters: int | None = None) -> None:
    """Checkpoint (.pt) -> weights-only .npz with the config as JSON (needs torch).

    ``n_iters`` overrides the refinement iterations the exported model runs by default.
    """

    payload = read_checkpoint(checkpoint)
    if n_iters is not None:
        payload["config"] = {**payload["config"], "n_iters": int(n_iters)}
    if payload["config"].get("arch") != "graph":
        raise CheckpointError("only the graph architecture has a NumPy path", source=str(checkpoint))
    arrays = {f"w:{k}": v.float().numpy() for k, v in payload["model"].items()}
    meta = {"format": NPZ_FORMAT, "config": payload["config"],
            "token_format_version": payload["token_format_version"],
            "vocabulary": payload["vocabulary"], "train_state": payload.get("train_state", {})}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = Path(str(out) + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out)


def _layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_MATH_ERF = np.frompyfunc(math.erf, 1, 1)
_SMALL_GELU = 1 << 14  # elements: about one network of 64 nodes


def _gelu(x):
    # Small inputs (one network): libm's erf element by element, which spares a cold start the
    # import of scipy.special (~0.3 s). Both are exact to double precision.
    if x.size <= _SMALL_GELU and "scipy.special" not in sys.modules:
        return 0.5 * x * (1.0 + _MATH_ERF(x / np.sqrt(2.0)).astype(np.float64))
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _logsumexp(a, axis, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _check_weights(raw: dict[str, np.ndarray], config: dict, source: str) -> dict[str, np.ndarray]:
    """``w:<name>`` arrays -> float64 weights by name, each checked against the config."""
    return checked_weights(raw, graph_weight_shapes(config), source)


class NumpyGraphModel:
    """Inference-only graph model over :class:`ArrayBatch` inputs."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict, meta: dict | None = None):
        self.w = weights
        self.config = config
        self.meta = meta or {}
        self.n_layers = int(config["n_layers"])
        self.n_heads = int(config["n_heads"])
        self.physics = bool(config["physics"])

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NumpyGraphModel":
        """Read and validate a ``.npz`` model: its format, every config key (type and range),
        every weight (present, the shape the config implies, finite). Anything else is a
        :class:`CheckpointError` with the file as ``source`` and the key as ``element``."""
        path = Path(path)
        source = str(path)
        meta, raw = read_npz_archive(path)
        if meta.get("format") != NPZ_FORMAT:
            raise CheckpointError(f"not an sbmleq model (expected {NPZ_FORMAT})", source=source,
                                  element="meta.format")
        if meta.get("token_format_version") != TOKEN_FORMAT_VERSION:
            raise CheckpointError(f"model uses token format {meta.get('token_format_version')}, "
                                  f"this sbmleq reads {TOKEN_FORMAT_VERSION}", source=source,
                                  element="meta.token_format_version")
        if "config" not in meta:
            raise CheckpointError("missing key config", source=source, element="meta.config")
        config = check_config(meta["config"], source, archs=("graph",))
        return cls(_check_weights(raw, config, source), config, meta)

    def _lin(self, name, x):
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _mlp(self, name, x):
        return self._lin(f"{name}.fc2", _gelu(self._lin(f"{name}.fc1", x)))

    def _block(self, i, x, node_mask, adj, log_w):
        p = f"blocks.{i}"
        b, n, d = x.shape
        h = self.n_heads
        dh, g = d // h, h // 3
        qkv = self._lin(f"{p}.qkv", _layer_norm(x, self.w[f"{p}.ln1.weight"], self.w[f"{p}.ln1.bias"]))
        q, k, v = qkv.reshape(b, n, 3, h, dh).transpose(2, 0, 3, 1, 4)
        scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(dh)
        feat = np.stack([log_w, adj.astype(np.float64)], axis=-1)
        bias = self._lin(f"{p}.edge_bias", feat).transpose(0, 3, 1, 2)
        eye = np.eye(n, dtype=bool)
        in_mask = np.swapaxes(adj, 1, 2) | eye
        out_mask = adj | eye
        key_ok = node_mask[:, None, None, :]
        masks = np.concatenate([np.broadcast_to(in_mask[:, None], (b, g, n, n)),
                                np.broadcast_to(out_mask[:, None], (b, g, n, n)),
                                np.broadcast_to(key_ok, (b, h - 2 * g, n, n))], axis=1) & key_ok
        full_bias = np.concatenate([np.swapaxes(bias[:, :g], -1, -2), bias[:, g:],
                                    np.zeros((b, h - 2 * g, n, n))], axis=1)
        scores = np.where(masks, scores + full_bias, -np.inf)
        m = np.max(scores, axis=-1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        e = np.exp(scores - m)
        s = e.sum(-1, keepdims=True)
        att = np.divide(e, s, out=np.zeros_like(e), where=s > 0)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
        x = x + self._lin(f"{p}.proj", y)
        return x + self._mlp(f"{p}.mlp", _layer_norm(x, self.w[f"{p}.ln2.weight"], self.w[f"{p}.ln2.bias"]))

    @staticmethod
    def _balance(y, log_in, log_ex, log_w, adj, node_mask):
        w_ln = np.where(adj, log_w * LN10, NEG)
        inflow = _logsumexp(w_ln + (y * LN10)[:, :, None], axis=1)
        phi_ln = np.where(log_in > LOG_FLOOR + 1, log_in * LN10, NEG)
        total_in = np.logaddexp(inflow, phi_ln)
        out_ln = _logsumexp(w_ln, axis=2)
        ex_ln = np.where(log_ex > LOG_FLOOR + 1, log_ex * LN10, NEG)
        est = (total_in - np.logaddexp(out_ln, ex_ln)) / LN10
        est = np.where(node_mask, np.clip(est, -15.0, 15.0), 0.0)
        ex_ln = np.where((log_ex > LOG_FLOOR + 1) & node_mask, log_ex * LN10, NEG)
        shift = np.clip(-_logsumexp(ex_ln + est * LN10, axis=1, keepdims=True) / LN10, -15.0, 15.0)
        return np.where(node_mask, np.clip(est + shift, -15.0, 15.0), 0.0)

    def forward(self, batch: ArrayBatch, n_iters: int | None = None) -> dict[str, np.ndarray]:
        node_mask, adj = batch.node_mask, batch.adjacency
        log_in, log_ex, log_w = batch.log_intake, batch.log_excretion, batch.log_weight
        has_in = (log_in > LOG_FLOOR + 1).astype(np.float64)
        has_ex = (log_ex > LOG_FLOOR + 1).astype(np.float64)
        w = 10.0 ** log_w * adj
        out_deg = adj.sum(2).astype(np.float64)
        out_rate = np.log10(w.sum(2) + 1e-12) * (out_deg > 0)
        feats = np.stack([log_in * has_in, has_in, log_ex * has_ex, has_ex, out_rate,
                          np.log1p(out_deg)], axis=-1)
        h = self._mlp("embed", feats)
        y = np.zeros(node_mask.shape)
        y_prev = y
        ys = []
        for _ in range(n_iters or int(self.config["n_iters"])):
            if self.physics:
                est = self._balance(y, log_in, log_ex, log_w, adj, node_mask)
                delta = np.clip(est - y, -6, 6)
                h = h + self._lin("inject", np.stack([y / 4, est / 4, delta], axis=-1))
            for i in range(self.n_layers):
                h = self._block(i, h, node_mask, adj, log_w)
            hf = _layer_norm(h, self.w["ln_f.weight"], self.w["ln_f.bias"])
            out = self._lin("y_head", hf)
            if self.physics:
                relax, momentum = 2.0 * np.tanh(out[..., 0]), np.tanh(out[..., 1])
                y_new = y + (1.0 + relax) * (est - y) + momentum * (y - y_prev)
            else:
                y_new = out[..., 0]
            y_prev = y
            y = np.where(node_mask, np.clip(y_new, -15.0, 15.0), 0.0)
            ys.append(y)
        hf = _layer_norm(h, self.w["ln_f.weight"], self.w["ln_f.bias"])
        drain = self._lin("drain_head", hf)[..., 0]
        return {"y": y, "ys": ys, "drain_logit": drain}
