"""The network token format (version 1): a compact, reversible Network <-> tokens codec.

One position per node and one per edge, each with its numbers attached (see
docs/token-format.md)::

    BOS  NODE(0; intake, excretion) ... NODE(n-1; ...)  EDGE(s, t; rate) ...  EOS

A position is a discrete token (its *kind*) plus two node slots and two number slots. Numbers are
carried by a :class:`NumberEncoder`; the default :class:`LogScalarEncoder` keeps the exact float
(the model reads its log10) and has explicit tokens for zero, NaN and +/-Inf. The paper's own text
encoding (digit tokens, ``N{k}`` node tokens) is provided as an export for comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sbmleq.errors import InputError
from sbmleq.core.network import Network

TOKEN_FORMAT_VERSION = 1

# Position kinds.
PAD, BOS, EOS, NODE, EDGE = range(5)
KIND_NAMES = ("<pad>", "<bos>", "<eos>", "NODE", "EDGE")

# Number classes attached to every number slot (explicit tokens for special values).
NUM_NONE, NUM_ZERO, NUM_POS, NUM_NEG, NUM_NAN, NUM_POS_INF, NUM_NEG_INF = range(7)
NUM_NAMES = ("-", "0", "+", "neg", "NaN", "+Inf", "-Inf")


class LogScalarEncoder:
    """A real number as (class token, log10 magnitude). Exact round trip for finite values."""

    name = "log_scalar"

    def encode(self, x: float) -> tuple[int, float]:
        x = float(x)
        if math.isnan(x):
            return NUM_NAN, 0.0
        if math.isinf(x):
            return (NUM_POS_INF if x > 0 else NUM_NEG_INF), 0.0
        if x == 0.0:
            return NUM_ZERO, 0.0
        return (NUM_POS if x > 0 else NUM_NEG), float(np.log10(abs(x)))  # as encode_array

    def encode_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`encode` over an array."""
        x = np.asarray(x, dtype=np.float64)
        cls = np.select([np.isnan(x), x == np.inf, x == -np.inf, x == 0, x > 0],
                        [NUM_NAN, NUM_POS_INF, NUM_NEG_INF, NUM_ZERO, NUM_POS], NUM_NEG)
        finite = np.isfinite(x) & (x != 0)
        mag = np.zeros_like(x)
        mag[finite] = np.log10(np.abs(x[finite]))
        return cls.astype(np.int64), mag

    def parse(self, cls: int, magnitude: float, exact: float | None = None) -> float:
        if cls == NUM_NAN:
            return math.nan
        if cls == NUM_POS_INF:
            return math.inf
        if cls == NUM_NEG_INF:
            return -math.inf
        if cls in (NUM_ZERO, NUM_NONE):
            return 0.0
        if exact is not None:
            return exact
        try:
            value = 10.0 ** magnitude
        except OverflowError:  # a magnitude beyond the float range (e.g. a model's output)
            value = math.inf
        return value if cls == NUM_POS else -value


class PaperFloatEncoder:
    """The paper's float tokens: sign, mantissa digits of ``%.{p-1}e``, ``10^``, exponent."""

    name = "paper_float"

    def __init__(self, precision: int = 3):
        self.precision = precision

    def encode(self, x: float) -> list[str]:
        x = float(x)
        if math.isnan(x):
            return ["NaN"]
        if math.isinf(x):
            return ["+" if x > 0 else "-", "Inf"]
        text = f"{abs(x):.{self.precision - 1}e}"
        mantissa, exponent = text.split("e")
        exp = int(exponent)
        return (["+" if x >= 0 else "-"] + [d for d in mantissa if d != "."] + ["10^"]
                + ["+" if exp >= 0 else "-"] + list(str(abs(exp))))

    def parse(self, tokens: list[str]) -> float:
        if tokens == ["NaN"]:
            return math.nan
        if len(tokens) == 2 and tokens[1] == "Inf" and tokens[0] in ("+", "-"):
            return math.inf if tokens[0] == "+" else -math.inf
        try:
            cut = tokens.index("10^")
            digits, exp_digits = tokens[1:cut], tokens[cut + 2:]
            if (tokens[0] not in ("+", "-") or tokens[cut + 1] not in ("+", "-") or not digits
                    or not exp_digits or not all(len(d) == 1 and d.isdigit()
                                                 for d in digits + exp_digits)):
                raise ValueError
            # One decimal literal, so the value is correctly rounded (also for subnormals).
            text = (f"{tokens[0]}{digits[0]}.{''.join(digits[1:])}"
                    f"e{tokens[cut + 1]}{''.join(exp_digits)}")
            return float(text)
        except (ValueError, IndexError):
            raise InputError(f"cannot parse number tokens {' '.join(tokens)!r}") from None


NUMBER_ENCODERS = {"log_scalar": LogScalarEncoder, "paper_float": PaperFloatEncoder}


@dataclass(frozen=True)
class TokenSequence:
    """Parallel arrays, one entry per position."""

    kind: np.ndarray  # int64 position kind
    a: np.ndarray  # int64 first node slot (node index for NODE, source for EDGE), -1 if none
    b: np.ndarray  # int64 second node slot (target for EDGE), -1 if none
    num_cls: np.ndarray  # int64 (P, 2) number classes of the two number slots
    num_mag: np.ndarray  # float64 (P, 2) log10 magnitudes
    num_exact: np.ndarray  # float64 (P, 2) the exact values (kept for a lossless decode)
    node_ids: tuple[str, ...]
    version: int = TOKEN_FORMAT_VERSION

    def __len__(self) -> int:
        return len(self.kind)

    def render(self) -> list[str]:
        """Human-readable tokens, e.g. ``EDGE x0>x3 k=2.5e-01``."""
        out = []
        for p in range(len(self.kind)):
            kind = int(self.kind[p])
            if kind == NODE:
                phi, e = self.num_exact[p]
                out.append(f"NODE {self.node_ids[self.a[p]]} in={phi:.3g} ex={e:.3g}")
            elif kind == EDGE:
                w = self.num_exact[p, 0]
                out.append(f"EDGE {self.node_ids[self.a[p]]}>{self.node_ids[self.b[p]]} k={w:.3g}")
            else:
                out.append(KIND_NAMES[kind])
        return out


def encode(net: Network, encoder: LogScalarEncoder | None = None) -> TokenSequence:
    """Network -> tokens (version 1)."""
    enc = encoder or LogScalarEncoder()
    n, e = net.n_nodes, net.n_edges
    length = n + e + 2
    kind = np.empty(length, np.int64)
    a = np.full(length, -1, np.int64)
    b = np.full(length, -1, np.int64)
    exact = np.zeros((length, 2))
    kind[0], kind[-1] = BOS, EOS
    kind[1:n + 1] = NODE
    a[1:n + 1] = np.arange(n)
    exact[1:n + 1, 0] = net.intake
    exact[1:n + 1, 1] = net.excretion
    kind[n + 1:n + 1 + e] = EDGE
    a[n + 1:n + 1 + e] = net.src
    b[n + 1:n + 1 + e] = net.dst
    exact[n + 1:n + 1 + e, 0] = net.weight
    cls, mag = enc.encode_array(exact)
    used = np.zeros((length, 2), dtype=bool)
    used[1:n + 1, :] = True
    used[n + 1:n + 1 + e, 0] = True
    cls[~used] = NUM_NONE
    return TokenSequence(kind, a, b, cls, mag, exact, net.nodes)


def decode(seq: TokenSequence, name: str = "", encoder: LogScalarEncoder | None = None) -> Network:
    """Tokens -> Network. Raises :class:`InputError` on a malformed sequence."""
    enc = encoder or LogScalarEncoder()
    if seq.version != TOKEN_FORMAT_VERSION:
        raise InputError(f"token format version {seq.version} is not supported "
                         f"(this sbmleq reads version {TOKEN_FORMAT_VERSION})")
    kind = np.asarray(seq.kind)
    size = len(kind)
    if (np.shape(seq.a) != (size,) or np.shape(seq.b) != (size,)
            or any(np.shape(x) != (size, 2) for x in (seq.num_cls, seq.num_mag, seq.num_exact))):
        raise InputError("token sequence arrays differ in length")
    if len(kind) < 3 or kind[0] != BOS or kind[-1] != EOS:
        raise InputError("token sequence must start with <bos> and end with <eos>")
    body = kind[1:-1]
    n = int((body == NODE).sum())
    if not (body[:n] == NODE).all() or not (body[n:] == EDGE).all():
        raise InputError("token sequence must list all NODE positions before the EDGE positions")
    if not np.array_equal(seq.a[1:n + 1], np.arange(n)):
        raise InputError("NODE positions must be numbered 0..n-1 in order")
    if len(seq.node_ids) != n:
        raise InputError(f"token sequence has {n} NODE positions but {len(seq.node_ids)} node ids")

    def value(p: int, s: int) -> float:
        return enc.parse(int(seq.num_cls[p, s]), float(seq.num_mag[p, s]), float(seq.num_exact[p, s]))

    intake = [value(p, 0) for p in range(1, n + 1)]
    excretion = [value(p, 1) for p in range(1, n + 1)]
    edges = range(n + 1, len(kind) - 1)
    weight = [value(p, 0) for p in edges]
    return Network(seq.node_ids, seq.a[n + 1:-1], seq.b[n + 1:-1], weight, intake, excretion,
                   name=name)


# ---------------------------------------------------------------------- paper's text encoding
def to_paper_text(net: Network, weighted: bool = False, precision: int = 3) -> str:
    """The paper's input encoding: ``N{n}`` then ``N{src} N{dst} [w]`` per edge.

    Node 0 is the intake node and node n+1 the excretion node; internal node k is ``N{k+1}``.
    With ``weighted``, each edge (intake and excretion edges included) is followed by its weight as
    paper float tokens.
    """
    fmt = PaperFloatEncoder(precision)
    n = net.n_nodes
    tokens = [f"N{n}"]

    def edge(s: int, t: int, w: float) -> None:
        tokens.extend([f"N{s}", f"N{t}"])
        if weighted:
            tokens.extend(fmt.encode(w))

    for k in net.intake_nodes:
        edge(0, int(k) + 1, float(net.intake[k]))
    for s, t, w in zip(net.src, net.dst, net.weight):
        edge(int(s) + 1, int(t) + 1, float(w))
    for k in net.excreting_nodes:
        edge(int(k) + 1, n + 1, float(net.excretion[k]))
    return " ".join(tokens)


def from_paper_text(text: str, weighted: bool = False) -> Network:
    """Inverse of :func:`to_paper_text` (node ids become ``x0 .. x{n-1}``)."""
    toks = text.split()
    pos = 0

    def node(tok: str) -> int:
        if not tok.startswith("N"):
            raise ValueError(tok)
        return int(tok[1:])

    try:
        n = node(toks[0])
        pos, edges, intake, excretion = 1, [], {}, {}
        while pos < len(toks):
            s, t = node(toks[pos]), node(toks[pos + 1])
            pos += 2
            w = 1.0
            if weighted:
                end = pos + 1
                while end < len(toks) and not toks[end].startswith("N"):
                    end += 1
                w = PaperFloatEncoder().parse(toks[pos:end])
                pos = end
            if s == 0:
                intake[f"x{t - 1}"] = w
            elif t == n + 1:
                excretion[f"x{s - 1}"] = w
            else:
                edges.append((f"x{s - 1}", f"x{t - 1}", w))
    except (ValueError, IndexError):
        raise InputError(f"malformed paper-encoded network near token {pos}") from None
    return Network.from_edges(edges, intake, excretion, nodes=[f"x{k}" for k in range(n)])
