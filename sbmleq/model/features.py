"""Token sequences -> padded numpy arrays the model reads (no torch here).

Inputs are made scale-free: rates (edge constants, excretions) are divided by their geometric
mean ``r`` and intakes by their sum ``Phi``. The equilibrium of a LIFE network scales exactly as
``x = x' * Phi / r``, so the model predicts ``y = log10(x')`` and :func:`to_concentrations` undoes
the scaling. This makes predictions independent of the units a model is written in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sbmleq.core.network import Network
from sbmleq.model.tokens import EDGE, NODE, NUM_POS, TokenSequence

LOG_FLOOR = -12.0  # log10 value used for "absent" numbers (masked by the has_* flags)


@dataclass
class ArrayBatch:
    node_mask: np.ndarray  # (B, n) bool
    log_intake: np.ndarray  # (B, n) normalised log10 intake (LOG_FLOOR where absent)
    log_excretion: np.ndarray  # (B, n) normalised log10 excretion rate
    log_weight: np.ndarray  # (B, n, n) normalised log10 rate of edge i->j (LOG_FLOOR where absent)
    adjacency: np.ndarray  # (B, n, n) bool, edge i->j
    log_scale: np.ndarray  # (B,) log10(Phi / r): add to y to get log10 concentrations
    n_nodes: np.ndarray  # (B,)
    zero_intake: np.ndarray  # (B,) bool: no inflow at all (the equilibrium, if any, is 0)

    def __len__(self) -> int:
        return len(self.n_nodes)


def _arrays(seq: TokenSequence):
    kind = seq.kind
    nodes = kind == NODE
    edges = kind == EDGE
    intake = np.where(seq.num_cls[nodes, 0] == NUM_POS, seq.num_exact[nodes, 0], 0.0)
    excretion = np.where(seq.num_cls[nodes, 1] == NUM_POS, seq.num_exact[nodes, 1], 0.0)
    return (int(nodes.sum()), seq.a[edges], seq.b[edges], seq.num_exact[edges, 0], intake,
            excretion)


def batch_from_arrays(items: Sequence[tuple], n_max: int | None = None) -> ArrayBatch:
    """``items``: (n, src, dst, weight, intake, excretion) tuples (e.g. generator RawNetworks)."""
    n_max = max(int(it[0]) for it in items) if n_max is None else n_max
    b = len(items)
    node_mask = np.zeros((b, n_max), bool)
    log_in = np.full((b, n_max), LOG_FLOOR)
    log_ex = np.full((b, n_max), LOG_FLOOR)
    log_w = np.full((b, n_max, n_max), LOG_FLOOR)
    adj = np.zeros((b, n_max, n_max), bool)
    log_scale = np.zeros(b)
    sizes = np.zeros(b, np.int64)
    zero_intake = np.zeros(b, bool)
    for k, (n, src, dst, weight, intake, excretion) in enumerate(items):
        n = int(n)
        rates = np.concatenate([np.asarray(weight, float), excretion[excretion > 0]])
        log_r = float(np.log10(rates).mean()) if len(rates) else 0.0
        total = float(np.sum(intake))
        zero_intake[k] = total <= 0
        log_phi = np.log10(total) if total > 0 else 0.0
        node_mask[k, :n] = True
        sizes[k] = n
        log_scale[k] = log_phi - log_r
        pos_in = intake > 0
        log_in[k, :n][pos_in] = np.log10(intake[pos_in]) - log_phi
        pos_ex = excretion > 0
        log_ex[k, :n][pos_ex] = np.log10(excretion[pos_ex]) - log_r
        log_w[k, src, dst] = np.log10(weight) - log_r
        adj[k, src, dst] = True
    return ArrayBatch(node_mask, log_in, log_ex, log_w, adj, log_scale, sizes, zero_intake)


def batch_from_tokens(seqs: Sequence[TokenSequence], n_max: int | None = None) -> ArrayBatch:
    return batch_from_arrays([_arrays(s) for s in seqs], n_max=n_max)


def batch_from_networks(nets: Sequence[Network], n_max: int | None = None) -> ArrayBatch:
    """The batch of networks read directly (the same arrays as their token sequences give)."""
    return batch_from_arrays([(net.n_nodes, net.src, net.dst, net.weight, net.intake,
                               net.excretion) for net in nets], n_max=n_max)


def to_concentrations(y: np.ndarray, batch: ArrayBatch) -> np.ndarray:
    """Model output (normalised log10) -> concentrations in the network's own units."""
    x = 10.0 ** (y + batch.log_scale[:, None])
    x[batch.zero_intake] = 0.0
    x[~batch.node_mask] = np.nan
    return x


def log_targets(x: np.ndarray, batch: ArrayBatch) -> np.ndarray:
    """Exact concentrations -> the model's normalised log10 targets (NaN where undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log10(x) - batch.log_scale[:, None]
    y[~np.isfinite(y)] = np.nan
    return y
