"""Rate-law expressions: a small immutable tree, built simplified, with exact derivatives.

Three node types: :class:`Num` (a float), :class:`Sym` (a name: a species, a parameter, a
compartment) and :class:`Op` (an operator with its arguments). The constructors below keep one
canonical form, so that derivatives and generated code stay small:

- subtraction is ``add(a, mul(-1, b))``, division is ``mul(a, pow(b, -1))``, negation ``mul(-1, a)``;
- sums and products are flattened, their numbers folded into one (first) argument, and the
  identities ``x + 0``, ``x * 1``, ``x * 0`` (= 0), ``x ** 1``, ``x ** 0`` (= 1) removed;
- operations on numbers only are evaluated.

Operators (:data:`ARITY`): ``add mul`` (n-ary), ``pow``; the functions ``exp ln log10 abs floor
ceil sin cos tan sinh cosh tanh arcsin arccos arctan``; ``min max`` (n-ary); ``piecewise``
(value, condition, value, condition, ..., otherwise); relations ``lt le gt ge eq ne`` and logic
``and or not xor`` (1.0 true, 0.0 false). Nothing here imports numpy at module level work; the
compiler turning trees into vectorised NumPy and torch functions is :mod:`sbmleq.core.compile`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Union

__all__ = ["Expr", "Num", "Sym", "Op", "ARITY", "num", "sym", "add", "mul", "sub", "div",
           "power", "neg", "call", "diff", "symbols", "substitute", "evaluate", "count_nodes",
           "walk_preorder"]


@dataclass(frozen=True)
class Num:
    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value) + 0.0)


@dataclass(frozen=True)
class Sym:
    name: str


@dataclass(frozen=True)
class Op:
    op: str
    args: tuple["Expr", ...]


Expr = Union[Num, Sym, Op]

UNARY = ("exp", "ln", "log10", "abs", "floor", "ceil", "sin", "cos", "tan", "sinh", "cosh",
         "tanh", "arcsin", "arccos", "arctan")
RELATIONS = ("lt", "le", "gt", "ge", "eq", "ne")
LOGIC = ("and", "or", "not", "xor")
# -1: any number of arguments (at least one)
ARITY: dict[str, int] = {"add": -1, "mul": -1, "pow": 2, "min": -1, "max": -1, "piecewise": -1,
                         **{f: 1 for f in UNARY}, **{r: 2 for r in RELATIONS},
                         "and": -1, "or": -1, "xor": -1, "not": 1}

ZERO, ONE, MINUS_ONE = Num(0.0), Num(1.0), Num(-1.0)

_SCALAR: dict[str, Callable[..., float]] = {
    "exp": math.exp, "ln": math.log, "log10": math.log10, "abs": abs, "floor": math.floor,
    "ceil": math.ceil, "sin": math.sin, "cos": math.cos, "tan": math.tan, "sinh": math.sinh,
    "cosh": math.cosh, "tanh": math.tanh, "arcsin": math.asin, "arccos": math.acos,
    "arctan": math.atan,
}


def num(value: float) -> Num:
    return Num(value)


def sym(name: str) -> Sym:
    return Sym(name)


def _as_expr(x: "Expr | float | int | str") -> Expr:
    if isinstance(x, (Num, Sym, Op)):
        return x
    if isinstance(x, str):
        return Sym(x)
    return Num(float(x))


def _monomial(t: Expr) -> tuple[float, Expr] | None:
    """(coefficient, rest) for a term that is a product of names and powers of names with
    number exponents (cheap to compare), else None."""
    coeff, rest = 1.0, t
    if isinstance(t, Op) and t.op == "mul" and isinstance(t.args[0], Num):
        coeff = t.args[0].value
        rest = t.args[1] if len(t.args) == 2 else Op("mul", t.args[1:])
    parts = rest.args if isinstance(rest, Op) and rest.op == "mul" else (rest,)
    for q in parts:
        if not (isinstance(q, Sym) or (isinstance(q, Op) and q.op == "pow"
                                       and isinstance(q.args[0], Sym)
                                       and isinstance(q.args[1], Num))):
            return None
    return coeff, rest


def add(*terms: "Expr | float") -> Expr:
    flat: list[Expr] = []
    total = 0.0
    like: dict[Expr, int] = {}  # monomial -> its position in flat (like terms are merged)
    coeffs: list[float] = []
    for t in map(_as_expr, terms):
        parts = t.args if isinstance(t, Op) and t.op == "add" else (t,)
        for p in parts:
            if isinstance(p, Num):
                total += p.value
                continue
            mono = _monomial(p)
            if mono is not None and mono[1] in like:
                coeffs[like[mono[1]]] += mono[0]
                continue
            if mono is not None:
                like[mono[1]] = len(flat)
                flat.append(mono[1])
                coeffs.append(mono[0])
            else:
                flat.append(p)
                coeffs.append(math.nan)  # not a monomial: kept as it is
    out = [f if math.isnan(c) else mul(c, f) for f, c in zip(flat, coeffs)
           if math.isnan(c) or c != 0.0]
    if not out:
        return Num(total)
    if total != 0.0 or math.isnan(total):
        out.insert(0, Num(total))
    return out[0] if len(out) == 1 else Op("add", tuple(out))


def mul(*factors: "Expr | float") -> Expr:
    flat: list[Expr] = []
    coeff = 1.0
    powers: dict[str, int] = {}  # name -> position in flat of its (merged) power
    exps: dict[int, float] = {}
    for f in map(_as_expr, factors):
        parts = f.args if isinstance(f, Op) and f.op == "mul" else (f,)
        for p in parts:
            if isinstance(p, Num):
                coeff *= p.value
                continue
            base, ex = (p, 1.0) if isinstance(p, Sym) else \
                (p.args[0], p.args[1].value) if (isinstance(p, Op) and p.op == "pow"
                                                 and isinstance(p.args[0], Sym)
                                                 and isinstance(p.args[1], Num)) else (None, 0.0)
            if isinstance(base, Sym):
                if base.name in powers:
                    exps[powers[base.name]] += ex
                    continue
                powers[base.name] = len(flat)
                exps[len(flat)] = ex
                flat.append(base)
                continue
            flat.append(p)
    flat = [power(f, exps[k]) if k in exps else f for k, f in enumerate(flat)]
    flat = [f for f in flat if not (isinstance(f, Num) and f.value == 1.0)]
    if coeff == 0.0 or not flat:
        return Num(coeff)
    if coeff != 1.0:
        flat.insert(0, Num(coeff))
    return flat[0] if len(flat) == 1 else Op("mul", tuple(flat))


def power(base: "Expr | float", exponent: "Expr | float") -> Expr:
    b, e = _as_expr(base), _as_expr(exponent)
    if isinstance(e, Num):
        if e.value == 0.0:
            return ONE
        if e.value == 1.0:
            return b
        if isinstance(b, Num):
            try:
                return Num(b.value ** e.value) if not (b.value < 0 and e.value % 1) else \
                    Op("pow", (b, e))
            except (OverflowError, ZeroDivisionError):
                return Op("pow", (b, e))
        if isinstance(b, Op) and b.op == "pow" and isinstance(b.args[1], Num) \
                and float(e.value).is_integer():
            return power(b.args[0], Num(b.args[1].value * e.value))
    if isinstance(b, Num) and b.value == 1.0:
        return ONE
    return Op("pow", (b, e))


def neg(a: "Expr | float") -> Expr:
    return mul(-1.0, a)


def sub(a: "Expr | float", b: "Expr | float") -> Expr:
    return add(a, neg(b))


def div(a: "Expr | float", b: "Expr | float") -> Expr:
    return mul(a, power(b, -1.0))


def call(op: str, *args: "Expr | float") -> Expr:
    """Any operator of :data:`ARITY`, evaluated when all its arguments are numbers."""
    if op not in ARITY:
        raise ValueError(f"unknown operator {op!r}")
    xs = tuple(map(_as_expr, args))
    arity = ARITY[op]
    if (arity >= 0 and len(xs) != arity) or not xs:
        raise ValueError(f"{op} takes {arity if arity >= 0 else 'one or more'} arguments, "
                         f"got {len(xs)}")
    if op == "add":
        return add(*xs)
    if op == "mul":
        return mul(*xs)
    if op == "pow":
        return power(*xs)
    if op == "piecewise":
        return _piecewise(xs)
    if all(isinstance(x, Num) for x in xs):
        try:
            return Num(_eval_op(op, [x.value for x in xs]))  # type: ignore[union-attr]
        except (ValueError, OverflowError, ZeroDivisionError):
            pass
    if op in ("min", "max") and len(xs) == 1:
        return xs[0]
    return Op(op, xs)


def _piecewise(xs: tuple[Expr, ...]) -> Expr:
    pieces = list(xs)
    out: list[Expr] = []
    while len(pieces) >= 2:
        value, cond = pieces[0], pieces[1]
        pieces = pieces[2:]
        if isinstance(cond, Num):
            if cond.value != 0.0:  # always true: this value, the rest never reached
                pieces = [value]
                break
            continue  # never true
        out += [value, cond]
    otherwise = pieces[0] if pieces else Num(math.nan)
    if not out:
        return otherwise
    return Op("piecewise", (*out, otherwise))


def _eval_op(op: str, v: list[float]) -> float:
    """One operator on floats (scalars), as the compiled code computes it."""
    if op in _SCALAR:
        return float(_SCALAR[op](v[0]))
    if op == "add":
        return float(sum(v))
    if op == "mul":
        return float(math.prod(v))
    if op == "pow":
        return float(v[0] ** v[1])
    if op == "min":
        return float(min(v))
    if op == "max":
        return float(max(v))
    if op in RELATIONS:
        a, b = v
        return float({"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b, "eq": a == b,
                      "ne": a != b}[op])
    if op == "and":
        return float(all(x != 0 for x in v))
    if op == "or":
        return float(any(x != 0 for x in v))
    if op == "xor":
        return float(sum(x != 0 for x in v) % 2 == 1)
    if op == "not":
        return float(v[0] == 0)
    if op == "piecewise":
        for k in range(0, len(v) - 1, 2):
            if v[k + 1] != 0:
                return v[k]
        return v[-1] if len(v) % 2 else math.nan
    raise ValueError(f"unknown operator {op!r}")


# ------------------------------------------------------------------ queries and rewriting
def symbols(e: Expr) -> frozenset[str]:
    """Every name the expression reads."""
    out: set[str] = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Sym):
            out.add(x.name)
        elif isinstance(x, Op):
            stack.extend(x.args)
    return frozenset(out)


def count_nodes(e: Expr) -> int:
    n, stack = 0, [e]
    while stack:
        x = stack.pop()
        n += 1
        if isinstance(x, Op):
            stack.extend(x.args)
    return n


def substitute(e: Expr, mapping: Mapping[str, "Expr | float"]) -> Expr:
    """Replace names by expressions (or numbers), rebuilding through the simplifying
    constructors so that numbers fold."""
    table = {k: _as_expr(v) for k, v in mapping.items()}
    memo: dict[int, Expr] = {}

    def walk(x: Expr) -> Expr:
        if isinstance(x, Num):
            return x
        if isinstance(x, Sym):
            return table.get(x.name, x)
        key = id(x)
        if key not in memo:
            memo[key] = call(x.op, *(walk(a) for a in x.args))
        return memo[key]

    return walk(e)


def evaluate(e: Expr, env: Mapping[str, float]) -> float:
    """The value of ``e`` with every name looked up in ``env`` (scalars; for initial
    assignments and tests; vectorised evaluation is :mod:`sbmleq.core.compile`). A missing name
    raises ``KeyError``; a math domain error gives nan, as NumPy would."""
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Sym):
        return float(env[e.name])
    if e.op == "piecewise":  # lazy, like SBML: a later branch may be undefined
        a = e.args
        for k in range(0, len(a) - 1, 2):
            if evaluate(a[k + 1], env) != 0:
                return evaluate(a[k], env)
        return evaluate(a[-1], env) if len(a) % 2 else math.nan
    values = [evaluate(a, env) for a in e.args]
    try:
        return _eval_op(e.op, values)
    except (ValueError, ZeroDivisionError):
        return math.nan
    except OverflowError:
        return math.inf


# ------------------------------------------------------------------ derivatives
def diff(e: Expr, name: str) -> Expr:
    """d e / d name, exact and simplified. Steps (floor, ceil, relations, logic) have derivative 0;
    ``piecewise`` differentiates each branch under the same conditions; ``min``/``max`` and
    ``abs`` become the piecewise derivative of the active argument."""
    memo: dict[int, Expr] = {}

    def d(x: Expr) -> Expr:
        if isinstance(x, Num):
            return ZERO
        if isinstance(x, Sym):
            return ONE if x.name == name else ZERO
        key = id(x)
        if key in memo:
            return memo[key]
        if name not in symbols(x):
            memo[key] = ZERO
            return ZERO
        memo[key] = out = _d_op(x, d)
        return out

    return d(e)


def _d_op(x: Op, d: Callable[[Expr], Expr]) -> Expr:
    a = x.args
    op = x.op
    if op == "add":
        return add(*(d(t) for t in a))
    if op == "mul":
        terms = []
        for i, f in enumerate(a):
            df = d(f)
            if df != ZERO:
                terms.append(mul(*a[:i], df, *a[i + 1:]))
        return add(*terms)
    if op == "pow":
        b, p = a
        db, dp = d(b), d(p)
        out = []
        if db != ZERO:
            out.append(mul(p, power(b, sub(p, 1.0)), db))
        if dp != ZERO:
            out.append(mul(x, call("ln", b), dp))
        return add(*out)
    if op in RELATIONS or op in LOGIC or op in ("floor", "ceil"):
        return ZERO
    if op == "piecewise":
        parts: list[Expr] = []
        for k in range(0, len(a) - 1, 2):
            parts += [d(a[k]), a[k + 1]]
        if len(a) % 2:
            parts.append(d(a[-1]))
        return call("piecewise", *parts)
    if op in ("min", "max"):
        if len(a) == 1:
            return d(a[0])
        first, rest = a[0], call(op, *a[1:])
        rel = "le" if op == "min" else "ge"
        return call("piecewise", d(first), call(rel, first, rest), d(rest))
    u = a[0]
    du = d(u)
    outer = {
        "exp": lambda: x,
        "ln": lambda: power(u, -1.0),
        "log10": lambda: div(1.0, mul(math.log(10.0), u)),
        "abs": lambda: call("piecewise", ONE, call("gt", u, 0.0), MINUS_ONE, call("lt", u, 0.0),
                            ZERO),
        "sin": lambda: call("cos", u),
        "cos": lambda: neg(call("sin", u)),
        "tan": lambda: add(1.0, power(call("tan", u), 2.0)),
        "sinh": lambda: call("cosh", u),
        "cosh": lambda: call("sinh", u),
        "tanh": lambda: sub(1.0, power(call("tanh", u), 2.0)),
        "arcsin": lambda: power(sub(1.0, power(u, 2.0)), -0.5),
        "arccos": lambda: neg(power(sub(1.0, power(u, 2.0)), -0.5)),
        "arctan": lambda: power(add(1.0, power(u, 2.0)), -1.0),
    }[op]
    return mul(outer(), du)


def walk_preorder(e: Expr) -> Iterable[Expr]:
    """Nodes in prefix order (operator before its arguments)."""
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        if isinstance(x, Op):
            stack.extend(reversed(x.args))
