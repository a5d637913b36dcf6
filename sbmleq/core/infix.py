"""Readable infix strings of :mod:`sbmleq.core.expr` trees (``k1*S1/(Km + S1)``), for reports,
``sbmleq import`` and docs; not a parser (the exact, reversible form is token format v2)."""

from __future__ import annotations

from sbmleq.core.expr import Expr, Num, Op, Sym, mul, power

__all__ = ["to_infix"]

_PREC = {"add": 1, "mul": 2, "pow": 3}


def to_infix(e: Expr) -> str:
    """A readable infix string (``k1*S1/(Km + S1)``), for reports and docs, not for parsing."""
    return _infix(e, 0)


def _fmt_num(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _infix(e: Expr, parent: int) -> str:
    if isinstance(e, Num):
        s = _fmt_num(e.value)
        return f"({s})" if e.value < 0 and parent > 0 else s
    if isinstance(e, Sym):
        return e.name
    op, a = e.op, e.args
    if op == "add":
        s = _infix(a[0], 1)
        for t in a[1:]:
            if isinstance(t, Op) and t.op == "mul" and isinstance(t.args[0], Num) \
                    and t.args[0].value < 0:
                s += " - " + _infix(mul(-t.args[0].value, *t.args[1:]), 2)
            elif isinstance(t, Num) and t.value < 0:
                s += " - " + _fmt_num(-t.value)
            else:
                s += " + " + _infix(t, 1)
        return f"({s})" if parent > 1 else s
    if op == "mul":
        num_parts, den_parts = [], []
        for f in a:
            if isinstance(f, Op) and f.op == "pow" and isinstance(f.args[1], Num) \
                    and f.args[1].value < 0:
                den_parts.append(power(f.args[0], -f.args[1].value))
            else:
                num_parts.append(f)
        sign = ""
        if num_parts and isinstance(num_parts[0], Num) and num_parts[0].value == -1.0:
            sign, num_parts = "-", num_parts[1:]
        top = "*".join(_infix(f, 2) for f in num_parts) or "1"
        s = sign + top
        if den_parts:
            bottom = "*".join(_infix(f, 2) for f in den_parts)
            s += "/" + (f"({bottom})" if len(den_parts) > 1 else _infix(den_parts[0], 3))
        return f"({s})" if parent > 2 or (sign and parent > 1) else s
    if op == "pow":
        s = f"{_infix(a[0], 4)}^{_infix(a[1], 4)}"
        return f"({s})" if parent > 3 else s
    return f"{op}({', '.join(_infix(x, 0) for x in a)})"


