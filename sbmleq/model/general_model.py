"""The general steady-state predictor (PyTorch): a graph Transformer over species and reactions.

Read in one sitting, nanoGPT style. Input: the scale-free bipartite graph of
:mod:`sbmleq.model.general_features` (species nodes, reaction nodes, species x reaction edges).

- **Tokens.** One position per species and one per reaction (two embedding MLPs), concatenated.
- **Graph-aware attention.** ``n_local_heads`` heads attend only along the bipartite incidence
  (a species to the reactions it takes part in, a reaction to its species, each to itself);
  the other heads attend globally. Every head adds a learned bias from the edge's features
  (role, stoichiometry) at species-reaction pairs. Pre-LayerNorm blocks, ``n_layers`` distinct.
- **Outputs.** Outcome logits (settles / oscillates / grows) from the masked mean and max over
  all positions; per species ``y = log10(x) - reference`` (direct regression, arm (b)).
- **Physics arm** (``physics=True``, arm (c)). Starting from the direct ``y``, ``n_iters``
  steps of a learned fixed-point iteration on the network's own compiled rate laws
  (:class:`PhysicsRHS`: one :meth:`~sbmleq.core.compile.CompiledNetwork.torch_rates` call per
  structure in the batch). Each step computes per species the balance
  ``b = log10(production / consumption)`` at the current estimate (a Jacobi step in log space:
  exact in one step for first-order consumption), the model predicts a per-species gain in
  (0, 2) from the encoder state, ``b`` and the last two steps, moves ``y += gain * b`` and
  rescales each conserved pool to its initial total. ``b = 0`` exactly where ``dx/dt = 0`` and
  the rescaling is the identity at the right totals, so the exact steady state is a fixed point
  and more iterations at inference keep refining. The rates are evaluated without gradient
  (an input, like a solver's residual).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sbmleq.core.compile import CompiledNetwork, compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.model.general_config import GeneralModelConfig  # torch-free; re-exported here
from sbmleq.model.general_features import GraphBatch, compile_key

__all__ = ["GeneralModelConfig", "GeneralSteadyStateModel", "PhysicsRHS", "batch_tensors"]


class MLP(nn.Module):
    def __init__(self, d_in: int, d_hidden: int, d_out: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_in, d_hidden), nn.Linear(d_hidden, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-LN Transformer block; attention takes an additive (B, H, L, L) bias (-inf: masked)."""

    def __init__(self, cfg: GeneralModelConfig):
        super().__init__()
        d = cfg.d_model
        self.h, self.dh = cfg.n_heads, d // cfg.n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = MLP(d, cfg.d_ff, d)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        x = x + self.proj(y.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x))


class GeneralSteadyStateModel(nn.Module):
    def __init__(self, cfg: GeneralModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        d = cfg.d_model
        self.embed_species = MLP(cfg.species_features, d, d)
        self.embed_reaction = MLP(cfg.reaction_features, d, d)
        self.edge_bias = nn.Linear(cfg.edge_features, cfg.n_heads * cfg.n_layers)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self.y_head = nn.Linear(d, 1)
        self.outcome_head = MLP(2 * d, d, len(cfg.outcomes))
        if cfg.physics:
            self.step_mlp = MLP(d + 3, d, 1)  # per-species gain from the balance and last steps
            nn.init.zeros_(self.step_mlp.fc2.weight)
            nn.init.zeros_(self.step_mlp.fc2.bias)

    def attention_bias(self, smask: torch.Tensor, rmask: torch.Tensor,
                       edges: torch.Tensor) -> list[torch.Tensor]:
        """One (B, H, L, L) additive bias per layer: edge-feature biases at species-reaction
        pairs, -inf outside the incidence for local heads and at padding keys for all."""
        b, s, r, _ = edges.shape
        h, layers, n = self.cfg.n_heads, self.cfg.n_layers, s + r
        incid = edges[..., :4].amax(-1) > 0  # (B, S, R): any role
        eb = self.edge_bias(edges) * incid[..., None].to(edges.dtype)  # (B, S, R, H * layers)
        eye = torch.eye(n, dtype=torch.bool, device=edges.device)
        adj = torch.zeros(b, n, n, dtype=torch.bool, device=edges.device)
        adj[:, :s, s:], adj[:, s:, :s] = incid, incid.transpose(1, 2)
        valid = torch.cat([smask, rmask], 1)[:, None, :]  # keys
        local = ((adj & valid) | eye)[:, None].expand(b, self.cfg.n_local_heads, n, n)
        glob = (valid | eye)[:, None].expand(b, h - self.cfg.n_local_heads, n, n)
        allowed = torch.cat([local, glob], 1)
        out = []
        for k in range(layers):
            e = eb[..., k * h:(k + 1) * h]
            bias = torch.zeros(b, h, n, n, dtype=edges.dtype, device=edges.device)
            bias[:, :, :s, s:] = e.permute(0, 3, 1, 2)
            bias[:, :, s:, :s] = e.permute(0, 3, 2, 1)
            out.append(bias.masked_fill(~allowed, float("-inf")))
        return out

    def forward(self, species_x: torch.Tensor, species_mask: torch.Tensor,
                reaction_x: torch.Tensor, reaction_mask: torch.Tensor, edges: torch.Tensor,
                state_mask: torch.Tensor | None = None, rhs: "PhysicsRHS | None" = None,
                n_iters: int | None = None) -> dict[str, Any]:
        """``{"logits": (B, n_outcomes), "y": (B, S), "y_direct": (B, S), "ys": [...]}``;
        with ``physics`` and an ``rhs``, ``y`` is the last iterate."""
        s = species_x.shape[1]
        x = torch.cat([self.embed_species(species_x), self.embed_reaction(reaction_x)], 1)
        biases = self.attention_bias(species_mask, reaction_mask, edges)
        for block, bias in zip(self.blocks, biases):
            x = block(x, bias)
        x = self.ln_f(x)
        valid = torch.cat([species_mask, reaction_mask], 1)
        vf = valid[..., None].to(x.dtype)
        mean = (x * vf).sum(1) / vf.sum(1).clamp_min(1.0)
        mx = x.masked_fill(~valid[..., None], float("-inf")).amax(1)
        logits = self.outcome_head(torch.cat([mean, mx], -1)).float()
        hs = x[:, :s]
        y = self.y_head(hs).squeeze(-1).float().masked_fill(~species_mask, 0.0)
        out: dict[str, Any] = {"logits": logits, "y_direct": y, "ys": [y]}
        if self.cfg.physics and rhs is not None:
            move = species_mask if state_mask is None else state_mask
            out["ys"] += self.refine(hs, y, move, rhs, n_iters or self.cfg.n_iters)
            y = out["ys"][-1]
        out["y"] = y
        return out

    def refine(self, hs: torch.Tensor, y: torch.Tensor, move: torch.Tensor, rhs: "PhysicsRHS",
               n_iters: int) -> list[torch.Tensor]:
        """The physics iterates from ``y`` (projected onto the conserved totals first):
        ``y += gain * balance``; ``hs`` the encoder state of the species positions."""
        move = move.float()
        step = prev = torch.zeros_like(y)
        y = rhs.project(y)
        ys = [y]
        for _ in range(n_iters):
            b = rhs.balance(y.detach())  # (B, S) log10(production / consumption)
            feats = torch.stack([b, step, prev], -1).clamp(-3.0, 3.0).to(hs.dtype)
            gain = 2.0 * torch.sigmoid(self.step_mlp(torch.cat([hs, feats], -1)).squeeze(-1)
                                       .float())  # over-relaxation in (0, 2), 1 at start
            prev, step = step, gain * b * move
            y = rhs.project((y + step).clamp(-30.0, 30.0))
            ys.append(y)
        return ys


class PhysicsRHS:
    """The network's own rate laws at a batch of estimates ``y`` (normalised log10 per node),
    for the physics arm. Items of one structure share one compiled network (``cache``:
    compile_key -> CompiledNetwork) and one batched :meth:`~sbmleq.core.compile.CompiledNetwork.torch_rates`
    call; ``keys``: the items' :func:`compile_key` when already known (the structure digest
    alone is not enough: it sorts parameter names, and two networks with one digest can order
    their parameter vectors differently).

    :meth:`balance` is ``log10(P_i / C_i)`` per state species, P and C the production and
    consumption ``sum_j max(+-N_ij v_j, 0)``: zero exactly where ``dx_i/dt = 0`` (0 for
    rate-rule variables: they do not move). :meth:`project` rescales the species of each
    conservation law with non-negative coefficients so that its total is the initial one."""

    def __init__(self, nets: Sequence[ReactionNetwork], batch: GraphBatch, device: Any,
                 cache: dict[str, CompiledNetwork] | None = None,
                 keys: Sequence[str] | None = None):
        cache = {} if cache is None else cache
        keys = [compile_key(net) for net in nets] if keys is None else keys
        self.reference = torch.as_tensor(batch.reference, dtype=torch.float64, device=device)
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        self.groups = []
        for key, rows in groups.items():
            if key not in cache:
                cache[key] = compile_network(nets[rows[0]])
            net = nets[rows[0]]
            idx = batch.state_index[rows[0]]
            nodes = np.flatnonzero(idx >= 0)
            k = len(net.state_species)
            species_nodes = nodes[idx[nodes] < k]  # nodes of state species (not rate rules)
            p = np.stack([nets[i].parameter_vector() for i in rows])
            vol = np.stack([_volumes(nets[i]) for i in rows])  # (g, k)
            laws = net.conservation.matrix.astype(np.float64) if k else np.zeros((0, 0))
            keep = [j for j in range(laws.shape[0]) if (laws[j] >= 0).all()]
            totals = np.stack([np.atleast_1d(nets[i].conserved_totals())[keep] for i in rows]) \
                if keep else np.zeros((len(rows), 0))
            ints = {"rows": rows, "nodes": nodes, "pos": idx[nodes], "snodes": species_nodes,
                    "spos": idx[species_nodes]}
            reals = {"p": p, "vol": vol, "n": np.array(net.stoichiometry), "laws": laws[keep],
                     "totals": totals}
            self.groups.append(
                {"compiled": cache[key],
                 **{k: torch.as_tensor(np.asarray(v), dtype=torch.long, device=device)
                    for k, v in ints.items()},
                 **{k: torch.as_tensor(v, dtype=torch.float64, device=device)
                    for k, v in reals.items()}})

    def _state(self, g: dict, logx: torch.Tensor) -> torch.Tensor:
        x = torch.zeros(len(g["rows"]), g["compiled"].n_state, dtype=torch.float64,
                        device=logx.device)
        x[:, g["pos"]] = 10.0 ** logx[g["rows"]][:, g["nodes"]]
        return x

    @torch.no_grad()
    def balance(self, y: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(y.shape, dtype=torch.float64, device=y.device)
        logx = (y.double() + self.reference[:, None]).clamp(-30.0, 30.0)
        for g in self.groups:
            v = g["compiled"].torch_rates(self._state(g, logx), g["p"])[..., :g["n"].shape[1]]
            flux = g["n"][None] * v[:, None, :]  # (g, k, R) amounts per time
            prod, cons = flux.clamp_min(0.0).sum(-1), (-flux).clamp_min(0.0).sum(-1)
            tiny = 1e-300
            b = (torch.log10(prod + tiny) - torch.log10(cons + tiny)).clamp(-3.0, 3.0)
            b = torch.where((prod > 0) | (cons > 0), b, torch.zeros_like(b))
            out[g["rows"][:, None], g["snodes"][None, :]] = b[:, g["spos"]]
        return torch.nan_to_num(out, nan=0.0).float()

    def project(self, y: torch.Tensor) -> torch.Tensor:
        """``y`` with each kept law's species scaled to its total (one pass; added as a
        detached shift, so gradients flow to ``y`` unchanged)."""
        with torch.no_grad():
            shift = torch.zeros(y.shape, dtype=torch.float64, device=y.device)
            logx = (y.double() + self.reference[:, None]).clamp(-30.0, 30.0)
            for g in self.groups:
                if not g["laws"].shape[0]:
                    continue
                lx = logx[g["rows"]][:, g["snodes"]]  # (g, m) of the state species nodes
                d = torch.zeros_like(lx)
                for j in range(g["laws"].shape[0]):
                    coef = g["laws"][j][g["spos"]]  # (m,)
                    amount = (coef * g["vol"][:, g["spos"]] * 10.0 ** (lx + d)).sum(-1)
                    ratio = torch.log10(g["totals"][:, j].clamp_min(1e-300) /
                                        amount.clamp_min(1e-300))
                    ratio = torch.where(g["totals"][:, j] > 0, ratio, torch.zeros_like(ratio))
                    d = d + ratio[:, None] * (coef > 0)
                shift[g["rows"][:, None], g["snodes"][None, :]] = d
        return y + torch.nan_to_num(shift, nan=0.0).clamp(-30.0, 30.0).float()


def _volumes(net: ReactionNetwork) -> np.ndarray:
    """Per state species: the compartment size its amount is divided by (1 for amounts)."""
    return np.asarray(net.volumes[:len(net.state_species)], dtype=np.float64)


def batch_tensors(batch: GraphBatch, device: Any) -> dict[str, torch.Tensor]:
    """The model's keyword inputs from a collated batch."""
    return {"species_x": torch.as_tensor(batch.species_x, device=device),
            "species_mask": torch.as_tensor(batch.species_mask, device=device),
            "reaction_x": torch.as_tensor(batch.reaction_x, device=device),
            "reaction_mask": torch.as_tensor(batch.reaction_mask, device=device),
            "edges": torch.as_tensor(batch.edges, device=device),
            "state_mask": torch.as_tensor(batch.state_mask, device=device)}
