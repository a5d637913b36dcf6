"""Number and index tokens for the token format v2 (:mod:`sbmleq.model.tokens_v2`).

Every encoder has ``encode(x) -> list[str]`` and ``parse(tokens, start=0) -> (x, n_used)``;
``parse`` reads from ``tokens[start]`` and raises :class:`TokenError` naming the position.

:class:`DecimalFloat` is the float encoding, P10-like as in the paper (Charton et al.): a sign
token, mantissa digits (one token each, ``d1.d2d3...`` with ``d1 != 0``) and one exponent token::

    2.5e-07  ->  +  2 5  E-7          (exact: shortest digits that read back bit for bit)
    2.5e-07  ->  +  2 5 0  E-7        (precision=3: the paper's three significant digits)
    0.0      ->  +  0  E0             (-0.0 -> -  0  E0)
    inf      ->  +  Inf               (-inf -> -  Inf;  nan -> NaN)

With ``precision=None`` (exact mode, the codec's default) the digits are Python's shortest
round-trip representation (``repr``, 1 to 17 digits), so ``parse(encode(x))`` is ``x`` bit for bit
for every double: subnormals, ``-0.0``, the extremes included (NaN reads back as a NaN, payload not
kept). With ``precision=p`` there are exactly ``p`` digits, rounded to nearest (relative error at
most ``5 * 10**-p``). Parsing builds one decimal literal, so the value is correctly rounded.

Exponent tokens run from ``E-324`` to ``E308`` (every double's decimal exponent), digits are
``0``..``9``, signs ``+``/``-``: the vocabulary is finite (:meth:`DecimalFloat.vocabulary`).
:class:`IndexToken` spells an index ``k`` as one token ``<prefix><k>`` (``S3``, ``P0``, ``A2``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sbmleq.errors import InputError

__all__ = ["TokenError", "DecimalFloat", "IndexToken", "EXP_MIN", "EXP_MAX", "DIGITS", "SIGNS"]

EXP_MIN, EXP_MAX = -324, 308  # decimal exponents of the smallest subnormal and the largest double
DIGITS = tuple("0123456789")
SIGNS = ("+", "-")
INF, NAN = "Inf", "NaN"


class TokenError(InputError, ValueError):
    """A malformed token sequence; ``position`` is the index of the offending token."""

    def __init__(self, message: str, position: int, token: str | None = None):
        self.position = position
        self.token = token
        where = f"token {position}" + (f" ({token!r})" if token is not None else " (end)")
        super().__init__(message, source="token format v2", element=where)


def token_at(tokens: Sequence[str], pos: int) -> str | None:
    return tokens[pos] if 0 <= pos < len(tokens) else None


@dataclass(frozen=True)
class DecimalFloat:
    """Floats as sign, mantissa digits, exponent token (see the module docstring)."""

    precision: int | None = None  # None: exact (shortest round-trip digits)

    def __post_init__(self) -> None:
        if self.precision is not None and not 1 <= self.precision <= 17:
            raise ValueError(f"precision must be 1..17 or None, got {self.precision!r}")

    @property
    def name(self) -> str:
        return "decimal_exact" if self.precision is None else f"decimal_p{self.precision}"

    def digits_and_exponent(self, x: float) -> tuple[str, int]:
        """Mantissa digits (``d1 != 0`` unless x is 0) and exponent of ``|x|`` (finite)."""
        a = abs(float(x))
        if a == 0.0:
            return "0", 0
        if self.precision is None:
            _, digits, exp = Decimal(repr(a)).as_tuple()  # no leading zeros for a != 0
            return "".join(map(str, digits)).rstrip("0"), int(exp) + len(digits) - 1
        mantissa, exponent = f"{a:.{self.precision - 1}e}".split("e")
        return mantissa.replace(".", ""), int(exponent)

    def encode(self, x: float) -> list[str]:
        x = float(x)
        if math.isnan(x):
            return [NAN]
        sign = "-" if math.copysign(1.0, x) < 0 else "+"
        if math.isinf(x):
            return [sign, INF]
        digits, exp = self.digits_and_exponent(x)
        return [sign, *digits, f"E{exp}"]

    def parse(self, tokens: Sequence[str], start: int = 0) -> tuple[float, int]:
        first = token_at(tokens, start)
        if first == NAN:
            return math.nan, 1
        if first not in SIGNS:
            raise TokenError("expected a number (a sign '+'/'-' or 'NaN')", start, first)
        pos = start + 1
        if token_at(tokens, pos) == INF:
            return (math.inf if first == "+" else -math.inf), 2
        digits: list[str] = []
        while (tok := token_at(tokens, pos)) in DIGITS:
            digits.append(tok)  # type: ignore[arg-type]
            pos += 1
        tok = token_at(tokens, pos)
        if not digits:
            raise TokenError("expected mantissa digits after the sign", pos, tok)
        exp = parse_exponent(tok)
        if exp is None:
            raise TokenError(f"expected an exponent token E{EXP_MIN}..E{EXP_MAX} after the "
                             "mantissa digits", pos, tok)
        if digits[0] == "0" and (len(digits) > 1 or exp != 0):
            raise TokenError("a mantissa starts with a non-zero digit (zero is '0 E0')",
                             start + 1, digits[0])
        value = float(f"{first}{digits[0]}.{''.join(digits[1:])}e{exp}")
        return value, pos + 1 - start

    @staticmethod
    def vocabulary() -> list[str]:
        return [*SIGNS, *DIGITS, INF, NAN, *(f"E{e}" for e in range(EXP_MIN, EXP_MAX + 1))]


def parse_exponent(tok: str | None) -> int | None:
    if tok is None or not tok.startswith("E"):
        return None
    body = tok[1:]
    if not body or not (body.isdigit() or (body[0] == "-" and body[1:].isdigit())):
        return None
    if body != str(int(body)):  # one spelling per exponent: no '+', no leading zeros, no '-0'
        return None
    e = int(body)
    return e if EXP_MIN <= e <= EXP_MAX else None


@dataclass(frozen=True)
class IndexToken:
    """An index ``k >= 0`` as the single token ``<prefix><k>`` (decimal, no leading zeros)."""

    prefix: str
    what: str = "index"

    def encode(self, k: int) -> list[str]:
        if k < 0:
            raise ValueError(f"{self.what} must be >= 0, got {k}")
        return [f"{self.prefix}{k}"]

    def match(self, tok: str | None) -> int | None:
        """The index spelled by ``tok``, or None when it is not one of these tokens."""
        if tok is None or not tok.startswith(self.prefix):
            return None
        body = tok[len(self.prefix):]
        if not body.isdigit() or body != str(int(body)):
            return None
        return int(body)

    def parse(self, tokens: Sequence[str], start: int = 0, limit: int | None = None
              ) -> tuple[int, int]:
        """Read one index; with ``limit``, it must be below it (refers to something declared)."""
        tok = token_at(tokens, start)
        k = self.match(tok)
        if k is None:
            raise TokenError(f"expected a token {self.prefix}<k> ({self.what})", start, tok)
        if limit is not None and k >= limit:
            raise TokenError(f"{self.what} {tok} is not declared (there are {limit})", start, tok)
        return k, 1

    def vocabulary(self, count: int) -> list[str]:
        return [f"{self.prefix}{k}" for k in range(count)]
