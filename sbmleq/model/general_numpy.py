"""NumPy inference for the general steady-state model: the fast cold-start path (no torch).

It computes what :class:`sbmleq.model.general_model.GeneralSteadyStateModel` (and its physics
arm, :class:`~sbmleq.model.general_model.PhysicsRHS`) computes, with the rate laws evaluated by
:meth:`~sbmleq.core.compile.CompiledNetwork.rates` in place of ``torch_rates``;
``tests/test_general_numpy.py`` checks both agree. Weights are the torch state dict's, by name
(:func:`general_weight_shapes` lists them), read from a ``.npz`` export
(:mod:`sbmleq.model.general_npz`).

Speed (docs/general-model.md, "NumPy forward speed"): the Transformer runs in float32 by
default, as torch does, on weights prepared once at load: pre-transposed, the LayerNorm scale
and shift folded into the matrix that follows it, the query scale folded into the fused QKV
matrix, the encoder part of the physics gain MLP applied once per call instead of once per
step. GELU uses a vectorised erfc (relative error < 1.2e-7, float32's own rounding) instead of
libm's erf element by element. The physics iterates, the rate evaluations and the conserved-pool
rescaling stay in float64. ``dtype=np.float64`` gives the float64 reference (exact erf).
"""

from __future__ import annotations

import math
import sys
import threading
from typing import Any

import numpy as np

from sbmleq.model.general_config import GeneralModelConfig
from sbmleq.model.general_features import GraphBatch
from sbmleq.model.general_numpy_rhs import (NumpyPhysicsRHS, compile_key, physics_compile,
                                            symmetric_clip)

__all__ = ["NumpyGeneralModel", "NumpyPhysicsRHS", "general_weight_shapes", "compile_key",
           "physics_compile"]

_MATH_ERF = np.frompyfunc(math.erf, 1, 1)
_SMALL_GELU = 1 << 20  # elements; above this (and once scipy is loaded) scipy.special.erf
_SQRT_HALF = math.sqrt(0.5)
_LN_HALF = math.log(0.5)
_SCRATCH_KEEP = 64 << 20  # bytes of per-thread scratch kept between forward passes
# erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), z >= 0: relative error < 1.2e-7
# everywhere (Numerical Recipes' erfcc Chebyshev fit), highest coefficient first for Horner
_ERFC = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
         0.09678418, 0.37409196, 1.00002368, -1.26551223)


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


def _gelu_exact(x: np.ndarray, ws: "_Scratch | None" = None) -> np.ndarray:
    # torch's exact (erf) GELU, float64. One network's activations go through libm's erf element
    # by element, which spares a cold start the import of scipy.special (~0.3 s).
    if x.size <= _SMALL_GELU and "scipy.special" not in sys.modules:
        return 0.5 * x * (1.0 + _MATH_ERF(x * _SQRT_HALF).astype(np.float64))
    from scipy.special import erf  # large batches only

    return 0.5 * x * (1.0 + erf(x * _SQRT_HALF))


def _gelu_fast(x: np.ndarray, ws: "_Scratch | None" = None) -> np.ndarray:
    """Exact GELU ``x Phi(x)`` with the vectorised erfc, in ``x``'s dtype, into ``x`` (its
    temporaries from ``ws``): ``e = Phi(-|x|) = erfc(|x|/sqrt 2)/2``, then ``x Phi(x) =
    max(x, 0) - |x| e`` (both signs, no branch; the negative tail keeps its relative
    accuracy)."""
    def tmp(name: str) -> np.ndarray:
        return np.empty_like(x) if ws is None else ws.get(name, x.shape, x.dtype)

    a = np.abs(x, out=tmp("gelu_a"))
    u = np.multiply(a, _SQRT_HALF, out=tmp("gelu_u"))  # |z|
    t = np.multiply(u, 0.5, out=tmp("gelu_t"))
    t += 1.0
    np.reciprocal(t, out=t)
    p = np.multiply(t, _ERFC[0], out=tmp("gelu_p"))
    for c in _ERFC[1:-1]:
        p += c
        p *= t
    p += _ERFC[-1] + _LN_HALF  # the 1/2 of Phi, inside the exp
    np.square(u, out=u)
    p -= u
    np.exp(p, out=p)
    p *= t  # Phi(-|x|)
    p *= a
    np.maximum(x, 0.0, out=x)
    x -= p
    return x


def _normalized(x: np.ndarray, ws: "_Scratch | None" = None, eps: float = 1e-5) -> np.ndarray:
    """LayerNorm without its scale and shift (folded into the next matrix, or applied); into
    ``ws``'s buffer when given."""
    out = None if ws is None else ws.get("norm", x.shape, x.dtype)
    xc = np.subtract(x, x.mean(-1, keepdims=True), out=out)
    var = np.square(xc, out=None if ws is None else ws.get("norm_sq", x.shape, x.dtype))
    var = var.mean(-1, keepdims=True)
    var += eps
    np.sqrt(var, out=var)
    xc /= var
    return xc


class _Scratch:
    """Named arrays reused by the layers of a forward pass (and, per thread, by later passes):
    a fresh array of a few hundred kB is a fresh mapping from the system allocator, and
    touching it page-faults (measured: 2,300 faults, half the time of a forward pass over 200
    positions, before). Each name keeps one flat buffer, grown on demand; what :meth:`get`
    returns is overwritten by the next call for that name."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        size = math.prod(shape)
        buf = self.buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self.buffers[name] = np.empty(max(size, 1), dtype)
        return buf[:size].reshape(shape)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.buffers.values())


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _prepare(w: dict[str, np.ndarray], cfg: GeneralModelConfig,
             dtype: np.dtype) -> dict[str, Any]:
    """The weights as the forward pass uses them, worked out in float64 and then cast:
    ``(W.T, b)`` per linear map; a LayerNorm's scale and shift folded into the matrix after it
    (``(z s + c) @ A + b = z @ (s A) + (c @ A + b)``) and the attention's ``1/sqrt(dh)`` into
    the query columns of the fused QKV matrix."""
    def lin(name: str, norm: str | None = None, cols: Any = 1.0
            ) -> tuple[np.ndarray, np.ndarray]:
        a, b = w[f"{name}.weight"].T, w[f"{name}.bias"]
        if norm is not None:
            b = b + w[f"{norm}.bias"] @ a
            a = a * w[f"{norm}.weight"][:, None]
        return np.ascontiguousarray(a * cols, dtype=dtype), np.asarray(b * cols, dtype=dtype)

    d, h = cfg.d_model, cfg.n_heads
    prep: dict[str, Any] = {n: lin(n) for n in (
        "embed_species.fc1", "embed_species.fc2", "embed_reaction.fc1", "embed_reaction.fc2",
        "edge_bias", "y_head", "outcome_head.fc1", "outcome_head.fc2")}
    prep["ln_f"] = (w["ln_f.weight"].astype(dtype), w["ln_f.bias"].astype(dtype))
    qscale = np.concatenate([np.full(d, 1.0 / math.sqrt(d // h)), np.ones(2 * d)])
    prep["blocks"] = [{"qkv": lin(f"blocks.{i}.qkv", f"blocks.{i}.ln1", qscale),
                       "proj": lin(f"blocks.{i}.proj"),
                       "fc1": lin(f"blocks.{i}.mlp.fc1", f"blocks.{i}.ln2"),
                       "fc2": lin(f"blocks.{i}.mlp.fc2")} for i in range(cfg.n_layers)]
    if cfg.physics:  # the gain MLP's first layer, split: encoder state | (balance, steps)
        a, b = lin("step_mlp.fc1")
        prep["step_h"], prep["step_f"], prep["step_b"] = a[:d], a[d:], b
        prep["step_mlp.fc2"] = lin("step_mlp.fc2")
    return prep


class NumpyGeneralModel:
    """Inference-only :class:`GeneralSteadyStateModel` over a :class:`GraphBatch`
    (``weights``: float64 arrays by state-dict name, checked against ``cfg``; ``dtype``: the
    Transformer's arithmetic, float32 as torch's or float64 with the exact erf)."""

    def __init__(self, weights: dict[str, np.ndarray], cfg: GeneralModelConfig,
                 dtype: Any = np.float32):
        self.w = weights
        self.cfg = cfg
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self._gelu = _gelu_fast if self.dtype == np.float32 else _gelu_exact
        self._p = _prepare(weights, cfg, self.dtype)
        self._scratch: dict[int, _Scratch] = {}  # per thread (threading.get_ident())

    @staticmethod
    def _lin(ab: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
        y = x @ ab[0]
        y += ab[1]
        return y

    def _mlp(self, name: str, x: np.ndarray) -> np.ndarray:
        return self._lin(self._p[f"{name}.fc2"], self._gelu(self._lin(self._p[f"{name}.fc1"], x)))

    def attention_plan(self, smask: np.ndarray, rmask: np.ndarray,
                       edges: np.ndarray) -> dict[str, Any]:
        """What the torch model's per-layer (B, H, L, L) additive bias amounts to, laid out for
        :meth:`_attend`. Edge biases (layers, E, H) only at the E incident species-reaction
        pairs ``pairs = (item, species, reaction)`` (the torch bias is 0 at every other pair).
        The local heads attend along the incidence and to themselves: a sparse list of (query,
        key) entries sorted by query (``query``, ``key``, segment ``starts``, their biases
        ``local_bias`` (layers, entries, local heads), and ``item``, ``row``, ``col`` of each
        within its item) in place of a mostly -inf matrix. The
        global heads attend densely; ``global_mask`` (B, 1, L, L): -inf at padding keys (but
        itself), None without padding."""
        b, s, r, _ = edges.shape
        h, layers, n, nl = self.cfg.n_heads, self.cfg.n_layers, s + r, self.cfg.n_local_heads
        incid = np.maximum(np.maximum(edges[..., 0], edges[..., 1]),
                           np.maximum(edges[..., 2], edges[..., 3])) > 0  # any role
        item, sp, rx = pairs = np.nonzero(incid)  # padding has no edges
        eb = self._lin(self._p["edge_bias"], edges[pairs].astype(self.dtype))  # (E, H*layers)
        eb = np.ascontiguousarray(eb.reshape(-1, layers, h).transpose(1, 0, 2))
        plan: dict[str, Any] = {"s": s, "pairs": pairs, "eb": eb[..., nl:], "global_mask": None}
        valid = np.concatenate([smask, rmask], 1)
        if not valid.all():
            ok = valid[:, None, None, :] | np.eye(n, dtype=bool)
            plan["global_mask"] = np.where(ok, 0.0, -np.inf).astype(self.dtype)
        if nl:
            own = np.arange(b * n)
            q_sr, q_rs = item * n + sp, item * n + s + rx
            query = np.concatenate([own, q_sr, q_rs])
            order = np.argsort(query, kind="stable")
            zeros = np.zeros((layers, b * n, nl), dtype=self.dtype)
            key = np.concatenate([own, q_rs, q_sr])[order]
            plan.update(query=query[order], key=key, starts=np.searchsorted(query[order], own),
                        item=query[order] // n, row=query[order] % n, col=key % n,
                        local_bias=np.concatenate([zeros, eb[..., :nl], eb[..., :nl]],
                                                  1)[:, order])
        return plan

    def _attend(self, qkv: np.ndarray, plan: dict[str, Any], layer: int,
                ws: _Scratch) -> np.ndarray:
        """Multi-head attention of one layer, (B, L, 3 d) -> (B, L, d) (the queries come
        scaled): local heads over the plan's sparse entries, global heads densely."""
        b, n, _ = qkv.shape
        h, nl, dt = self.cfg.n_heads, self.cfg.n_local_heads, self.dtype
        dh = qkv.shape[-1] // (3 * h)
        y = ws.get("att_y", (b, n, h, dh), dt)
        heads = qkv.reshape(b, n, 3, h, dh)
        if nl:
            flat = qkv.reshape(b * n, 3, h, dh)
            query, key, starts = plan["query"], plan["key"], plan["starts"]
            a = np.einsum("ehd,ehd->eh", flat[query, 0, :nl], flat[key, 1, :nl])
            a += plan["local_bias"][layer]
            a -= np.maximum.reduceat(a, starts, axis=0)[query]  # each query sees itself
            np.exp(a, out=a)
            a /= np.add.reduceat(a, starts, axis=0)[query]
            weights = ws.get("att_local", (b, nl, n, n), dt)  # the sparse softmax, laid out
            if layer == 0:  # for one matmul (every layer writes the same entries)
                weights.fill(0.0)
            weights[plan["item"], :, plan["row"], plan["col"]] = a
            y[:, :, :nl] = (weights @ heads[:, :, 2, :nl].transpose(0, 2, 1, 3)).transpose(
                0, 2, 1, 3)
        if nl < h:
            q, k, v = heads[:, :, :, nl:].transpose(2, 0, 3, 1, 4)
            a = np.matmul(q, k.swapaxes(-1, -2), out=ws.get("att_global", (b, h - nl, n, n), dt))
            if plan["global_mask"] is not None:
                a += plan["global_mask"]
            item, sp, rx = plan["pairs"]
            s, eb = plan["s"], plan["eb"][layer]
            a[item, :, sp, rx + s] += eb  # (E, heads): the edge biases, both directions
            a[item, :, rx + s, sp] += eb
            m = a.max(-1, keepdims=True)
            a -= np.where(np.isfinite(m), m, 0.0)
            np.exp(a, out=a)
            out = a @ v
            out /= a.sum(-1, keepdims=True)  # softmax's normalisation, on the (L, dh) output
            y[:, :, nl:] = out.transpose(0, 2, 1, 3)
        return y.reshape(b, n, h * dh)

    def _lin_into(self, ab: tuple[np.ndarray, np.ndarray], x: np.ndarray, ws: _Scratch,
                  name: str) -> np.ndarray:
        """``x @ W + b`` into ``ws``'s buffer ``name``."""
        out = np.matmul(x, ab[0], out=ws.get(name, x.shape[:-1] + ab[0].shape[-1:], self.dtype))
        out += ab[1]
        return out

    def _block(self, i: int, x: np.ndarray, plan: dict[str, Any], ws: _Scratch) -> None:
        """Layer ``i`` on the residual stream ``x``, in place."""
        blk = self._p["blocks"][i]
        qkv = self._lin_into(blk["qkv"], _normalized(x, ws), ws, "qkv")  # ln1, 1/sqrt(dh) in
        x += self._lin_into(blk["proj"], self._attend(qkv, plan, i, ws), ws, "out")
        hidden = self._lin_into(blk["fc1"], _normalized(x, ws), ws, "hidden")  # ln2 folded in
        x += self._lin_into(blk["fc2"], self._gelu(hidden, ws), ws, "out")

    def _workspace(self) -> _Scratch:
        """This thread's scratch buffers (kept between calls up to :data:`_SCRATCH_KEEP`)."""
        return self._scratch.setdefault(threading.get_ident(), _Scratch())

    def forward(self, batch: GraphBatch, rhs: "NumpyPhysicsRHS | None" = None,
                n_iters: int | None = None) -> dict[str, Any]:
        """``{"logits": (B, n_outcomes), "y": (B, S), "y_direct": (B, S), "ys": [...]}``
        (float64); with ``physics`` and an ``rhs``, ``y`` is the last iterate (as the torch
        model)."""
        dt = self.dtype
        smask, rmask = batch.species_mask, batch.reaction_mask
        s = batch.species_x.shape[1]
        x = np.concatenate([self._mlp("embed_species", batch.species_x.astype(dt)),
                            self._mlp("embed_reaction", batch.reaction_x.astype(dt))], 1)
        plan = self.attention_plan(smask, rmask, batch.edges)
        ws = self._workspace()
        try:
            for i in range(self.cfg.n_layers):
                self._block(i, x, plan, ws)
        finally:
            if ws.nbytes > _SCRATCH_KEEP:  # a large network's buffers are not kept
                self._scratch.pop(threading.get_ident(), None)
        x = _normalized(x)
        x *= self._p["ln_f"][0]
        x += self._p["ln_f"][1]
        valid = np.concatenate([smask, rmask], 1)
        vf = valid[..., None].astype(dt)
        mean = (x * vf).sum(1) / np.maximum(vf.sum(1), 1.0)
        mx = np.where(valid[..., None], x, -np.inf).max(1)
        logits = self._mlp("outcome_head", np.concatenate([mean, mx], -1)).astype(np.float64)
        hs = x[:, :s]
        y = np.where(smask, self._lin(self._p["y_head"], hs)[..., 0].astype(np.float64), 0.0)
        out: dict[str, Any] = {"logits": logits, "y_direct": y, "ys": [y]}
        if self.cfg.physics and rhs is not None:
            out["ys"] += self.refine(hs, y, batch.state_mask, rhs, n_iters or self.cfg.n_iters)
            y = out["ys"][-1]
        out["y"] = y
        return out

    def refine(self, hs: np.ndarray, y: np.ndarray, move: np.ndarray, rhs: "NumpyPhysicsRHS",
               n_iters: int) -> list[np.ndarray]:
        """The physics iterates from ``y``: ``y += gain * balance``, then the conserved pools
        rescaled (:meth:`GeneralSteadyStateModel.refine`). The iterates are float64 here where
        torch keeps them in float32, so the two drift apart by ~1e-6 decades per step; the gain
        MLP runs in the model's dtype, its encoder part (``hs @ W``) once for all steps."""
        p = self._p
        move = move.astype(np.float64)
        encoded = self._lin((p["step_h"], p["step_b"]), hs.astype(self.dtype))
        step = prev = np.zeros_like(y)
        y = rhs.project(y)
        ys = [y]
        for _ in range(n_iters):
            b = rhs.balance(y)
            feats = symmetric_clip(np.stack([b, step, prev], -1), 3.0).astype(self.dtype)
            hidden = feats @ p["step_f"]
            hidden += encoded
            logit = self._lin(p["step_mlp.fc2"], self._gelu(hidden))[..., 0]
            gain = 2.0 * _sigmoid(logit.astype(np.float64))
            prev, step = step, gain * b * move
            y = rhs.project(symmetric_clip(y + step, 30.0))
            ys.append(y)
        return ys
