"""Arm (a) of the architecture comparison: the paper's encoder-decoder emitting number tokens.

Charton et al. (arXiv 2112.03588) feed the network as text and let a sequence-to-sequence
Transformer *write* the answer. This module reproduces that design, small enough for a CPU:

- input: ``to_paper_text(net, weighted=True, precision=3)``: ``N{n}`` then ``N{src} N{dst}`` and
  the edge's rate as paper float tokens, per edge (intake node ``N0``, excretion node ``N{n+1}``);
- output: the label token ``N1`` / ``N0`` (equilibrium exists / not), then for every node a
  separator ``|`` and its concentration in the network's own units as paper float tokens
  (3 significant digits: ``+ 4 1 1 10^ - 1``), then ``<eos>``. Without an equilibrium: the label,
  then ``<eos>``;
- model: encoder-decoder Transformer, pre-LN, learned positions, one embedding matrix shared by
  encoder, decoder and output projection, FFN 4x dim, no dropout (as in the paper's code);
- training: teacher forcing, token cross-entropy; evaluation: greedy decoding (key/value cache),
  numbers parsed back with :meth:`PaperFloatEncoder.parse`; malformed output counts as a miss.

Used by ``training/compare.py`` and ``benchmarks/bench_training.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sbmleq.errors import InputError
from sbmleq.model.features import to_concentrations
from sbmleq.core.network import Network
from sbmleq.model.tokens import PaperFloatEncoder, to_paper_text
from training.train import optimizer_step

PAD, BOS, EOS, SEP = "<pad>", "<bos>", "<eos>", "|"


class PaperVocab:
    """Specials, node tokens ``N0 .. N{max_node+1}``, digits, signs, ``10^``, ``NaN``, ``Inf``."""

    def __init__(self, max_nodes: int = 64):
        self.max_nodes = max_nodes
        self.itos = ([PAD, BOS, EOS, SEP] + [f"N{k}" for k in range(max_nodes + 2)]
                     + [str(d) for d in range(10)] + ["+", "-", "10^", "NaN", "Inf"])
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad, self.bos, self.eos = self.stoi[PAD], self.stoi[BOS], self.stoi[EOS]

    def __len__(self) -> int:
        return len(self.itos)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        try:
            return [self.stoi[t] for t in tokens]
        except KeyError as exc:
            raise InputError(f"token {exc.args[0]!r} is not in the paper vocabulary "
                             f"(networks are limited to {self.max_nodes} nodes)") from None

    def tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.itos[i] for i in ids]


def input_tokens(net: Network, precision: int = 3) -> list[str]:
    return to_paper_text(net, weighted=True, precision=precision).split()


def output_tokens(exists: bool, x: np.ndarray | None, precision: int = 3) -> list[str]:
    """Target sequence (without <bos>/<eos>): label, then ``| value`` per node if it exists."""
    if not exists:
        return ["N0"]
    fmt = PaperFloatEncoder(precision)
    out = ["N1"]
    for v in np.asarray(x, dtype=float):
        out.append(SEP)
        out.extend(fmt.encode(float(v)))
    return out


def parse_output(tokens: Sequence[str], n_nodes: int, precision: int = 3):
    """Decoded tokens (up to <eos>) -> (label or None if malformed, concentrations or None)."""
    if not tokens or tokens[0] not in ("N0", "N1"):
        return None, None
    if tokens[0] == "N0":
        return False, None
    rest = list(tokens[1:])
    if not rest or rest[0] != SEP:
        return True, None
    groups, cur = [], None
    for t in rest:
        if t == SEP:
            cur = []
            groups.append(cur)
        else:
            cur.append(t)
    if len(groups) != n_nodes:
        return True, None
    fmt = PaperFloatEncoder(precision)
    try:
        return True, np.array([fmt.parse(g) for g in groups])
    except InputError:
        return True, None


def exact_concentrations(ex) -> np.ndarray:
    """Concentrations (network units) from a labelled :class:`training.data.Example`; 0 where a
    node carries nothing (log target undefined), NaN on padding."""
    x = to_concentrations(np.nan_to_num(ex.y, nan=-99.0), ex.batch)
    x[np.isfinite(x) & (x < 1e-60)] = 0.0
    return x


@dataclass
class Seq2SeqConfig:
    d_model: int = 128
    n_heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 2
    d_ff: int = 512  # 4x dim, as the paper
    max_nodes: int = 64  # vocabulary: node tokens N0 .. N{max_nodes+1}
    max_in: int = 2048  # learned input positions
    max_out: int = 704  # learned output positions (1 + 10 per node + eos)
    precision: int = 3

    def to_dict(self) -> dict:
        return asdict(self)


class Attention(nn.Module):
    def __init__(self, d: int, h: int):
        super().__init__()
        self.h, self.dh = h, d // h
        self.q, self.kv, self.o = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)

    def split(self, t):  # (b, s, d) -> (b, h, s, dh)
        b, s, _ = t.shape
        return t.view(b, s, self.h, self.dh).transpose(1, 2)

    def keys_values(self, src):
        k, v = self.kv(src).chunk(2, dim=-1)
        return self.split(k), self.split(v)

    def forward(self, x, kv, mask=None, causal=False):
        q = self.split(self.q(x))
        y = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask, is_causal=causal)
        b, _, s, _ = y.shape
        return self.o(y.transpose(1, 2).reshape(b, s, -1))


class FFN(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, d_ff), nn.Linear(d_ff, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.att = Attention(cfg.d_model, cfg.n_heads)
        self.ffn = FFN(cfg.d_model, cfg.d_ff)

    def forward(self, x, key_mask):
        h = self.ln1(x)
        x = x + self.att(h, self.att.keys_values(h), mask=key_mask)
        return x + self.ffn(self.ln2(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_att = Attention(d, cfg.n_heads)
        self.cross_att = Attention(d, cfg.n_heads)
        self.ffn = FFN(d, cfg.d_ff)

    def forward(self, x, mem_kv, mem_mask, cache=None):
        h = self.ln1(x)
        k, v = self.self_att.keys_values(h)
        if cache is None:  # teacher forcing: the whole target at once, causal
            x = x + self.self_att(h, (k, v), causal=True)
        else:  # incremental decoding: one new position, attend to the cache and itself
            if cache:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
            x = x + self.self_att(h, (k, v))
        x = x + self.cross_att(self.ln2(x), mem_kv, mask=mem_mask)
        return x + self.ffn(self.ln3(x))


class PaperSeq2Seq(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg
        self.vocab = PaperVocab(cfg.max_nodes)
        d = cfg.d_model
        self.embed = nn.Embedding(len(self.vocab), d)  # shared: encoder, decoder, output
        nn.init.normal_(self.embed.weight, std=d ** -0.5)
        self.pos_in = nn.Embedding(cfg.max_in, d)
        self.pos_out = nn.Embedding(cfg.max_out, d)
        nn.init.normal_(self.pos_in.weight, std=0.02)
        nn.init.normal_(self.pos_out.weight, std=0.02)
        self.enc = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.enc_layers))
        self.dec = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.dec_layers))
        self.ln_enc, self.ln_dec = nn.LayerNorm(d), nn.LayerNorm(d)
        self.scale = math.sqrt(d)

    # ------------------------------------------------------------------ batching
    def encode_inputs(self, networks: Sequence[Network]) -> torch.Tensor:
        seqs = [self.vocab.ids(input_tokens(net, self.cfg.precision)) for net in networks]
        length = max(len(s) for s in seqs)
        if length > self.cfg.max_in:
            raise InputError(f"paper encoding of {length} tokens exceeds max_in={self.cfg.max_in}")
        src = torch.full((len(seqs), length), self.vocab.pad, dtype=torch.long)
        for i, s in enumerate(seqs):
            src[i, :len(s)] = torch.as_tensor(s)
        return src

    def encode_targets(self, exists: np.ndarray, x: np.ndarray, n_nodes: np.ndarray) -> torch.Tensor:
        """(B, L) target ids: <bos> label [| value]* <eos>, padded."""
        seqs = []
        for k in range(len(exists)):
            toks = output_tokens(bool(exists[k]), x[k, :n_nodes[k]], self.cfg.precision)
            seqs.append([self.vocab.bos] + self.vocab.ids(toks) + [self.vocab.eos])
        length = max(len(s) for s in seqs)
        tgt = torch.full((len(seqs), length), self.vocab.pad, dtype=torch.long)
        for i, s in enumerate(seqs):
            tgt[i, :len(s)] = torch.as_tensor(s)
        return tgt

    # ------------------------------------------------------------------ model
    def encode(self, src: torch.Tensor):
        mask = (src != self.vocab.pad)[:, None, None, :]  # (b, 1, 1, s): True = attend
        pos = torch.arange(src.shape[1], device=src.device)
        x = self.embed(src) * self.scale + self.pos_in(pos)
        for layer in self.enc:
            x = layer(x, mask)
        mem = self.ln_enc(x)
        return [layer.cross_att.keys_values(mem) for layer in self.dec], mask

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.ln_dec(h) @ self.embed.weight.T

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        mem_kv, mask = self.encode(src)
        pos = torch.arange(tgt_in.shape[1], device=tgt_in.device)
        x = self.embed(tgt_in) * self.scale + self.pos_out(pos)
        for layer, kv in zip(self.dec, mem_kv):
            x = layer(x, kv, mask)
        return self.logits(x)

    def loss(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher-forced token cross-entropy (padding ignored)."""
        logits = self(src, tgt[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=self.vocab.pad)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, max_len: int) -> list[list[str]]:
        """Greedy decoding with a key/value cache; returns the tokens before <eos>."""
        b = src.shape[0]
        max_len = min(max_len, self.cfg.max_out)
        mem_kv, mask = self.encode(src)
        caches = [[] for _ in self.dec]
        tok = torch.full((b,), self.vocab.bos, dtype=torch.long, device=src.device)
        done = torch.zeros(b, dtype=torch.bool, device=src.device)
        out = []
        for t in range(max_len - 1):
            x = self.embed(tok)[:, None] * self.scale + self.pos_out.weight[t]
            for layer, kv, cache in zip(self.dec, mem_kv, caches):
                x = layer(x, kv, mask, cache=cache)
            tok = self.logits(x[:, 0]).argmax(-1)
            tok = tok.masked_fill(done, self.vocab.pad)
            out.append(tok)
            done |= tok == self.vocab.eos
            if bool(done.all()):
                break
        ids = torch.stack(out, 1).tolist() if out else [[] for _ in range(b)]
        result = []
        for row in ids:
            cut = row.index(self.vocab.eos) if self.vocab.eos in row else len(row)
            result.append(self.vocab.tokens(row[:cut]))
        return result


class PaperSeq2SeqArm:
    """Training step and prediction on :class:`training.data.Example` batches."""

    def __init__(self, cfg: Seq2SeqConfig | None = None, lr: float = 1e-3, warmup: int = 20,
                 clip: float = 1.0, seed: int = 0):
        torch.manual_seed(seed)
        self.cfg = cfg or Seq2SeqConfig()
        self.model = PaperSeq2Seq(self.cfg)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.01)
        self.lr, self.warmup, self.clip, self.steps = lr, warmup, clip, 0

    def prepare(self, ex):
        src = self.model.encode_inputs(ex.networks)
        tgt = self.model.encode_targets(ex.exists, exact_concentrations(ex), ex.batch.n_nodes)
        return src, tgt

    def train_step(self, ex, prepared=None) -> float:
        src, tgt = prepared if prepared is not None else self.prepare(ex)
        for group in self.opt.param_groups:
            group["lr"] = self.lr * min(1.0, (self.steps + 1) / self.warmup)
        self.model.train()
        loss = self.model.loss(src, tgt)
        optimizer_step(self.model, self.opt, loss, self.clip)
        self.steps += 1
        return float(loss.item())

    @torch.no_grad()
    def predict(self, ex):
        """-> (exists_pred: list[bool | None], values: list[np.ndarray | None]) per network."""
        self.model.eval()
        src = self.model.encode_inputs(ex.networks)
        n = ex.batch.n_nodes
        decoded = self.model.greedy(src, max_len=2 + 10 * int(n.max()) + 1)
        self.model.train()
        labels, values = [], []
        for k, toks in enumerate(decoded):
            lab, vals = parse_output(toks, int(n[k]), self.cfg.precision)
            labels.append(lab)
            values.append(vals)
        return labels, values

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())
