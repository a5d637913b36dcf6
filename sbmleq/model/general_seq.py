"""Arm (a) of the architecture comparison (issue 9): a paper-style sequence model over tokens.

The network is written in the token format v2.1 (:func:`sbmleq.model.tokens_v2.encode_v2`) with
the paper's three significant digits (``DecimalFloat(3)``) and read by a Transformer encoder:

- **Scale-free numbers.** Before tokenising, every initial value, parameter value and
  compartment size is divided by ``10**r``, ``r`` the graph model's per-network reference
  (:func:`sbmleq.model.general_features.network_features`): in log space ``r`` is subtracted,
  exactly as the graph features do. Stoichiometries and the numbers inside rate laws are
  untouched. The outputs are ``y = log10(x) - r`` (added back by ``to_concentrations``).
- **Model.** Token embedding + learned positions, ``n_layers`` pre-LN Transformer encoder
  blocks (the graph model's :class:`~sbmleq.model.general_model.Block`, so the two arms differ
  in their input only; attention masks padding keys, no causal mask), final LayerNorm. Outcome logits from the masked mean and max over
  the tokens; per graph node (species, then rate-rule variables, the order of
  :class:`~sbmleq.model.general_features.GraphExample`) ``y`` is read at its own token: the
  ``SPEC`` token that declares the species (the k-th ``SPEC`` is species k), for a rate-rule
  parameter the ``PAR`` token that declares it. So the targets, masks and loss of the graph
  model (``training/train_general.py``) apply unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from sbmleq.core.reaction_generators import OUTCOMES
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.errors import InputError
from sbmleq.model.general_features import GraphExample
from sbmleq.model.general_model import Block
from sbmleq.model.numbers import DecimalFloat
from sbmleq.model.tokens_v2 import encode_v2, vocabulary

__all__ = ["SeqModelConfig", "SeqVocab", "SeqExample", "scale_free_network", "seq_example",
           "collate_seq", "SequenceSteadyStateModel", "UNK"]

UNK = "<unk>"  # a token outside vocabulary() (a family tag it does not list, say)


@dataclass
class SeqModelConfig:
    d_model: int = 128
    n_heads: int = 8
    n_layers: int = 4
    d_ff: int = 256
    max_len: int = 2048  # longer sequences are cut (the SPEC / PAR tokens come first)
    precision: int = 3  # significant digits of the number tokens
    vocab_size: int = 0  # filled from SeqVocab
    outcomes: tuple[str, ...] = OUTCOMES

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcomes"] = list(self.outcomes)
        return d


class SeqVocab:
    """Token <-> id over :func:`vocabulary` (id 0 is ``<pad>``) plus :data:`UNK`."""

    def __init__(self) -> None:
        self.itos = [*vocabulary(), UNK]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad, self.unk = self.stoi["<pad>"], self.stoi[UNK]
        if self.pad != 0:
            raise ValueError("vocabulary() must start with <pad>")

    def __len__(self) -> int:
        return len(self.itos)

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        return np.array([self.stoi.get(t, self.unk) for t in tokens], dtype=np.int64)


@dataclass(frozen=True)
class SeqExample:
    """One network as token ids; ``positions[i]``: the token graph node i is read at."""

    tokens: tuple[str, ...]
    ids: np.ndarray  # (L,) int64
    positions: np.ndarray  # (S,) int64, one per GraphExample node
    reference: float
    truncated: bool


def scale_free_network(net: ReactionNetwork, reference: float) -> ReactionNetwork:
    """``net`` with every initial value, parameter and compartment size times ``10**-reference``
    (what the tokens show; the dynamics of this copy are not used)."""
    f = 10.0 ** -reference
    species = tuple(replace(s, initial=s.initial * f) for s in net.species)
    return net.replace(species=species,
                       parameters={k: v * f for k, v in net.parameters.items()},
                       compartments={k: v * f for k, v in net.compartments.items()})


def seq_example(net: ReactionNetwork, ex: GraphExample, vocab: SeqVocab,
                cfg: SeqModelConfig) -> SeqExample:
    """Tokens of ``net`` normalised by ``ex.reference`` and the read-out position of each of
    ``ex``'s nodes (see the module docstring)."""
    tokens = encode_v2(scale_free_network(net, ex.reference), DecimalFloat(cfg.precision))
    spec = [i for i, t in enumerate(tokens) if t == "SPEC"]
    par = [i for i, t in enumerate(tokens) if t == "PAR"]
    where = {s.id: spec[k] for k, s in enumerate(net.species)}
    for k, p in enumerate(net.parameters):
        where.setdefault(p, par[k])
    try:
        positions = np.array([where[n] for n in ex.node_ids], dtype=np.int64)
    except KeyError as exc:
        raise InputError(f"node {exc.args[0]!r} has no declaring token",
                         source=net.name or "network") from None
    if len(positions) and positions.max() >= cfg.max_len:
        raise InputError(f"{len(net.species)} species do not fit {cfg.max_len} tokens",
                         source=net.name or "network")
    ids = vocab.ids(tokens)
    return SeqExample(tuple(tokens), ids[:cfg.max_len], positions, ex.reference,
                      len(ids) > cfg.max_len)


def collate_seq(examples: Sequence[SeqExample], device: Any = "cpu") -> dict[str, torch.Tensor]:
    """Padded ``ids`` (B, L), ``token_mask`` (B, L), ``positions`` and ``node_mask`` (B, S)."""
    b = len(examples)
    length = max((len(e.ids) for e in examples), default=1)
    s = max((len(e.positions) for e in examples), default=1) or 1
    ids = np.zeros((b, length), np.int64)
    pos = np.zeros((b, s), np.int64)
    tmask, nmask = np.zeros((b, length), bool), np.zeros((b, s), bool)
    for k, e in enumerate(examples):
        ids[k, :len(e.ids)], tmask[k, :len(e.ids)] = e.ids, True
        pos[k, :len(e.positions)], nmask[k, :len(e.positions)] = e.positions, True
    return {k: torch.as_tensor(v, device=device) for k, v in
            (("ids", ids), ("token_mask", tmask), ("positions", pos), ("node_mask", nmask))}


class SequenceSteadyStateModel(nn.Module):
    """Transformer encoder over the tokens; outcome and per-node ``y`` (module docstring)."""

    def __init__(self, cfg: SeqModelConfig):
        super().__init__()
        if cfg.vocab_size < 1 or cfg.d_model % cfg.n_heads:
            raise ValueError("vocab_size must be set and n_heads must divide d_model")
        self.cfg = cfg
        d = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size, d, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, d)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(d)
        self.y_head = nn.Linear(d, 1)
        self.outcome_head = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(),
                                          nn.Linear(d, len(cfg.outcomes)))
        nn.init.normal_(self.embed.weight, std=1.0 / math.sqrt(d))
        nn.init.normal_(self.pos.weight, std=1.0 / math.sqrt(d))

    def forward(self, ids: torch.Tensor, token_mask: torch.Tensor, positions: torch.Tensor,
                node_mask: torch.Tensor) -> dict[str, Any]:
        """``{"logits": (B, n_outcomes), "y": (B, S), "ys": [y]}`` (``ys`` as the graph
        model's, for ``compute_loss``)."""
        length = ids.shape[1]
        x = self.embed(ids) + self.pos(torch.arange(length, device=ids.device))[None]
        bias = torch.zeros(token_mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~token_mask, float("-inf"))[:, None, None, :]  # padding keys
        for block in self.blocks:
            x = block(x, bias)
        x = self.ln_f(x)
        tf = token_mask[..., None].to(x.dtype)
        mean = (x * tf).sum(1) / tf.sum(1).clamp_min(1.0)
        mx = x.masked_fill(~token_mask[..., None], float("-inf")).amax(1)
        logits = self.outcome_head(torch.cat([mean, mx], -1)).float()
        h = torch.gather(x, 1, positions[..., None].expand(-1, -1, x.shape[-1]))  # (B, S, d)
        y = self.y_head(h).squeeze(-1).float().masked_fill(~node_mask, 0.0)
        return {"logits": logits, "y": y, "y_direct": y, "ys": [y]}

