"""The equilibrium Transformers (PyTorch). Read in one sitting, nanoGPT style.

Two architectures share one config and one checkpoint format:

- ``graph`` (the default): a permutation-equivariant Transformer over NODE positions. EDGE
  tokens become graph-aware attention: some heads attend along incoming edges, some along outgoing
  edges (both with a learned bias from the edge's rate constant), some globally. A small stack of
  blocks is applied ``n_iters`` times with shared weights (iterative refinement). With
  ``physics=True`` each iteration computes, from its current estimate y of log10 concentrations,
  the log-space balance ``log10((phi_j + sum_i w_ij x_i) / (out_j + e_j))`` (a log-sum-exp over
  incoming edges: one Jacobi step) shifted globally so that total excretion equals total intake
  (mass balance). The blocks read that estimate and predict a per-node over-relaxation factor and
  momentum for the step towards it: a learned, accelerated fixed-point iteration whose fixed point
  is the exact equilibrium (more iterations at inference keep refining). ``physics=False`` predicts y directly.
- ``seq`` (baseline): a plain Transformer encoder over the whole token sequence (node and edge
  positions, node slots as learned id embeddings), read out at NODE positions.

Outputs per node: a drain logit (does this node reach an excretion?) and y = normalised log10
concentration (see :mod:`sbmleq.model.features`). The network-level probability that an equilibrium
exists is the smallest per-node drain probability (every node must drain).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sbmleq.errors import CheckpointError
from sbmleq.model.checkpoint import DEFAULT_CHECKPOINT, graph_weight_shapes, read_checkpoint
from sbmleq.model.features import LOG_FLOOR

LN10 = math.log(10.0)


@dataclass
class ModelConfig:
    arch: str = "graph"  # graph | seq
    d_model: int = 96
    n_heads: int = 6  # graph: split evenly into in-edge, out-edge and global heads
    n_layers: int = 1  # distinct blocks
    n_iters: int = 16  # times the block stack is applied (graph arch)
    d_ff: int = 256
    max_nodes: int = 128  # seq arch: size of the node-id embedding
    physics: bool = True
    # Training distribution, for the out-of-distribution flag (filled in by training).
    train_n_max: int = 64
    train_log_range: tuple[float, float] = (-3.0, 3.0)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        data = dict(data)
        if "train_log_range" in data:
            data["train_log_range"] = tuple(data["train_log_range"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class MLP(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_in, d_hidden), nn.Linear(d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class GraphBlock(nn.Module):
    """Pre-LN Transformer block with edge-aware masked attention (in / out / global heads)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d, h = cfg.d_model, cfg.n_heads
        self.h, self.dh = h, d // h
        self.group = h // 3
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.edge_bias = nn.Linear(2, 2 * self.group)  # (log w, 1) -> bias of in and out heads
        self.mlp = MLP(d, cfg.d_ff, d)

    def forward(self, x, node_mask, adj, log_w):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)  # (b, h, n_query, n_key)
        g = self.group
        # adj[b, i, j]: edge i->j. In-heads: query j attends to keys i with i->j.
        feat = torch.stack([log_w, adj.to(log_w.dtype)], dim=-1)  # (b, n, n, 2)
        bias = self.edge_bias(feat).permute(0, 3, 1, 2)  # (b, 2g, n_src, n_dst)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        in_mask = adj.transpose(1, 2) | eye  # [b, query j, key i]
        out_mask = adj | eye  # [b, query i, key j]: i->j
        key_ok = node_mask[:, None, None, :]
        bias_in = bias[:, :g].transpose(-1, -2)
        bias_out = bias[:, g:]
        masks = torch.cat([in_mask[:, None].expand(b, g, n, n), out_mask[:, None].expand(b, g, n, n),
                           key_ok.expand(b, self.h - 2 * g, n, n)], dim=1) & key_ok
        zeros = torch.zeros(b, self.h - 2 * g, n, n, dtype=scores.dtype, device=x.device)
        scores = scores + torch.cat([bias_in, bias_out, zeros], dim=1).to(scores.dtype)
        scores = scores.masked_fill(~masks, float("-inf"))
        att = torch.softmax(scores.float(), dim=-1).nan_to_num(0.0).to(v.dtype)
        y = (att @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


def balance_estimate(y, log_in, log_ex, log_w, adj, node_mask):
    """log10 of (phi_j + sum_i w_ij x_i) / (out_j + e_j) with x = 10**y (normalised units)."""
    neg = torch.finfo(torch.float32).min / 4
    w_ln = torch.where(adj, log_w * LN10, torch.full_like(log_w, neg))
    terms = w_ln + (y * LN10)[:, :, None]  # [b, i, j] : ln(w_ij x_i)
    inflow = torch.logsumexp(terms, dim=1)  # over sources i -> (b, j)
    phi_ln = torch.where(log_in > LOG_FLOOR + 1, log_in * LN10, torch.full_like(log_in, neg))
    total_in = torch.logaddexp(inflow, phi_ln)
    out_ln = torch.logsumexp(w_ln, dim=2)  # sum_j w_ij, per source i
    ex_ln = torch.where(log_ex > LOG_FLOOR + 1, log_ex * LN10, torch.full_like(log_ex, neg))
    loss_ln = torch.logaddexp(out_ln, ex_ln)
    est = (total_in - loss_ln) / LN10
    return est.clamp(-15.0, 15.0).masked_fill(~node_mask, 0.0)


def global_rescale(y, log_ex, node_mask):
    """Shift y so that total excretion equals total intake (mass balance; Phi = 1 normalised)."""
    neg = torch.finfo(torch.float32).min / 4
    ex_ln = torch.where((log_ex > LOG_FLOOR + 1) & node_mask, log_ex * LN10, torch.full_like(log_ex, neg))
    out_ln = torch.logsumexp(ex_ln + y * LN10, dim=1, keepdim=True)
    shift = (-out_ln / LN10).clamp(-15.0, 15.0)
    return (y + shift).clamp(-15.0, 15.0).masked_fill(~node_mask, 0.0)


class GraphEquilibriumModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.embed = MLP(6, d, d)
        self.blocks = nn.ModuleList(GraphBlock(cfg) for _ in range(cfg.n_layers))
        self.inject = nn.Linear(3, d) if cfg.physics else None
        self.ln_f = nn.LayerNorm(d)
        # physics: 2 outputs (over-relaxation a, momentum b); otherwise y directly
        self.y_head = nn.Linear(d, 2 if cfg.physics else 1)
        self.drain_head = nn.Linear(d, 1)
        if cfg.physics:  # start as the plain physics iteration; learn corrections to it
            nn.init.zeros_(self.y_head.weight)
            nn.init.zeros_(self.y_head.bias)

    def node_features(self, log_in, log_ex, log_w, adj):
        has_in = (log_in > LOG_FLOOR + 1).to(log_in.dtype)
        has_ex = (log_ex > LOG_FLOOR + 1).to(log_ex.dtype)
        w = 10.0 ** log_w * adj
        out_deg = adj.sum(2).to(log_in.dtype)
        out_rate = torch.log10(w.sum(2) + 1e-12) * (out_deg > 0)
        return torch.stack([log_in * has_in, has_in, log_ex * has_ex, has_ex, out_rate,
                            torch.log1p(out_deg)], dim=-1)

    def forward(self, node_mask, log_in, log_ex, log_w, adj, n_iters: int | None = None):
        h = self.embed(self.node_features(log_in, log_ex, log_w, adj))
        ys = []
        y = torch.zeros_like(log_in)
        y_prev = y
        for _ in range(n_iters or self.cfg.n_iters):
            head = self.y_head
            if self.inject is not None:
                est = global_rescale(balance_estimate(y, log_in, log_ex, log_w, adj, node_mask),
                                     log_ex, node_mask)
                delta = (est - y).clamp(-6, 6)
                h = h + self.inject(torch.stack([y / 4, est / 4, delta], dim=-1).to(h.dtype))
            for block in self.blocks:
                h = block(h, node_mask, adj, log_w)
            out = head(self.ln_f(h)).float()
            if self.inject is not None:
                # Learned over-relaxation and momentum: both vanish at the fixed point, so the
                # exact equilibrium stays a fixed point and more iterations keep refining.
                relax, momentum = 2.0 * torch.tanh(out[..., 0]), torch.tanh(out[..., 1])
                y_new = y + (1.0 + relax) * (est - y) + momentum * (y - y_prev)
            else:
                y_new = out[..., 0]
            y_prev = y
            y = y_new.clamp(-15.0, 15.0).masked_fill(~node_mask, 0.0)
            ys.append(y)
        drain = self.drain_head(self.ln_f(h)).squeeze(-1).float()
        return {"y": y, "ys": ys, "drain_logit": drain}


class SeqEquilibriumModel(nn.Module):
    """Baseline (b): plain Transformer encoder over the token sequence, per-node regression."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.kind = nn.Embedding(3, d)  # 0 node, 1 edge, 2 pad
        self.node_id = nn.Embedding(cfg.max_nodes, d)
        self.dst_id = nn.Embedding(cfg.max_nodes, d)
        self.numbers = MLP(4, d, d)
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.d_ff, dropout=0.0,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers * cfg.n_iters,
                                             enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d)
        self.y_head = nn.Linear(d, 1)
        self.drain_head = nn.Linear(d, 1)

    def forward(self, node_mask, log_in, log_ex, log_w, adj, n_iters: int | None = None):
        b, n = node_mask.shape
        dev = node_mask.device
        ids = torch.arange(n, device=dev)
        has_in = (log_in > LOG_FLOOR + 1).to(log_in.dtype)
        has_ex = (log_ex > LOG_FLOOR + 1).to(log_ex.dtype)
        nodes = (self.kind(torch.zeros(b, n, dtype=torch.long, device=dev)) + self.node_id(ids)
                 + self.numbers(torch.stack([log_in * has_in, has_in, log_ex * has_ex, has_ex], -1)))
        e_max = int(adj.sum((1, 2)).max().item()) if b else 0
        edges = torch.zeros(b, max(e_max, 1), nodes.shape[-1], device=dev, dtype=nodes.dtype)
        edge_mask = torch.zeros(b, max(e_max, 1), dtype=torch.bool, device=dev)
        bi, si, di = adj.nonzero(as_tuple=True)
        if len(bi):
            counts = torch.bincount(bi, minlength=b)
            start = torch.cumsum(counts, 0) - counts
            slot = torch.arange(len(bi), device=dev) - start[bi]
            lw = log_w[bi, si, di]
            feat = torch.stack([lw, torch.ones_like(lw), torch.zeros_like(lw), torch.zeros_like(lw)], -1)
            edges[bi, slot] = (self.kind.weight[1] + self.node_id(si) + self.dst_id(di)
                               + self.numbers(feat)).to(edges.dtype)
            edge_mask[bi, slot] = True
        x = torch.cat([nodes, edges], dim=1)
        mask = torch.cat([node_mask, edge_mask], dim=1)
        hcat = self.ln_f(self.encoder(x, src_key_padding_mask=~mask))[:, :n]
        y = self.y_head(hcat).squeeze(-1).float()
        return {"y": y, "ys": [y], "drain_logit": self.drain_head(hcat).squeeze(-1).float()}


ARCHITECTURES = {"graph": GraphEquilibriumModel, "seq": SeqEquilibriumModel}


def build_model(cfg: ModelConfig) -> nn.Module:
    if cfg.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {cfg.arch!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[cfg.arch](cfg)


def exists_probability(drain_logit: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
    """P(equilibrium exists) = smallest per-node drain probability over real nodes."""
    masked = drain_logit.masked_fill(~node_mask, float("inf"))
    return torch.sigmoid(masked.min(dim=1).values)


def _check_state_dict(state: dict, config: dict, source: str) -> None:
    """Every weight a tensor, finite, and (graph architecture) with the shape the config implies."""
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"weight {key} is not a tensor ({type(value).__name__})",
                                  source=source, element=f"model.{key}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"weight {key} has {bad} non-finite value(s) (NaN or Inf)",
                                  source=source, element=f"model.{key}")
    if config["arch"] != "graph":
        return  # the seq architecture: load_state_dict (strict) checks names and shapes
    shapes = graph_weight_shapes(config)
    for key, shape in shapes.items():
        if key not in state:
            raise CheckpointError(f"missing weight {key}", source=source, element=f"model.{key}")
        if tuple(state[key].shape) != shape:
            raise CheckpointError(f"weight {key} has shape {tuple(state[key].shape)}, the config "
                                  f"implies {shape}", source=source, element=f"model.{key}")
    extra = sorted(set(state) - set(shapes))
    if extra:
        raise CheckpointError(f"unexpected weight {extra[0]} for this config", source=source,
                              element=f"model.{extra[0]}")


def load_model(path: str | os.PathLike | None = None, device: str = "cpu"):
    """Build the model from a checkpoint: returns ``(model, config, payload)``."""
    path = DEFAULT_CHECKPOINT if path is None else Path(path)
    payload = read_checkpoint(path)  # format, token version and config validated there
    _check_state_dict(payload["model"], payload["config"], str(path))
    try:
        cfg = ModelConfig.from_dict(payload["config"])
        model = build_model(cfg)
        model.load_state_dict(payload["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint does not match the model ({first[:160]})",
                              source=str(path)) from None
    model.eval().to(device)
    return model, cfg, payload
