"""The sympy walker: libsbml ASTs to sympy expressions, where the fast walker gave up.

Shares the symbol tables and name resolution of :mod:`sbmleq.io.sbml_math`; sympy (~0.4 s to
import) is imported when a scope is built, so a model whose laws the fast walker decides never
loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sbmleq.io.reasons import NotInClass
from sbmleq.io.reasons import ReasonCode as R
from sbmleq.io.sbml_math import AVOGADRO, TIME, _libsbml, _Tables, _Walker

if TYPE_CHECKING:
    import libsbml
    import sympy


class _Scope(_Walker):
    """The walker to sympy expressions: what the importer falls back to."""

    def __init__(self, tables: _Tables) -> None:
        import sympy as sp

        super().__init__(tables)
        self.sp, self.lib = sp, _libsbml()
        self.time = sp.Dummy("t")
        self.symbols = {i: sp.Symbol(i) for i in list(self.species) + list(self.compartments)}
        self.names = {sym: name for name, sym in self.symbols.items()}

    def _float(self, value: float) -> "sympy.Expr":
        return self.sp.Float(value)

    def _symbol(self, name: str) -> "sympy.Expr":
        return self.symbols[name]

    def _free_names(self, value: Any) -> set[str]:
        free = getattr(value, "free_symbols", set())
        return {TIME if x == self.time else self.names.get(x, str(x)) for x in free}

    def _at_time_zero(self, value: Any, species: dict[str, Any]) -> Any:
        at_zero = {self.symbols[s]: v for s, v in species.items()}
        return value.xreplace({**at_zero, self.time: self.sp.Integer(0)})

    def _scaled(self, value: float, compartment: str | None, how: str) -> Any:
        out = self.sp.Float(value)
        if how == "same":
            return out
        size = self.symbols[compartment] if compartment is not None else self.sp.Integer(1)
        return out / size if how == "divide" else out * size

    def leaf(self, node: "libsbml.ASTNode", t: int) -> Any:
        sp, L = self.sp, self.lib
        if t == L.AST_INTEGER:
            return sp.Integer(node.getInteger())
        if t in (L.AST_REAL, L.AST_REAL_E):
            return sp.Float(node.getReal())
        if t == L.AST_RATIONAL:
            return sp.Rational(node.getNumerator(), node.getDenominator())
        return {L.AST_NAME_TIME: self.time, L.AST_NAME_AVOGADRO: sp.Float(AVOGADRO),
                L.AST_CONSTANT_E: sp.E, L.AST_CONSTANT_PI: sp.pi, L.AST_CONSTANT_TRUE: sp.true,
                L.AST_CONSTANT_FALSE: sp.false}[t]

    def operator(self, t: int, node: "libsbml.ASTNode", kids: list[Any]) -> "sympy.Expr":
        sp, L = self.sp, self.lib
        n = len(kids)
        if t == L.AST_PLUS:
            return sp.Add(*kids)
        if t == L.AST_TIMES:
            return sp.Mul(*kids)
        if t == L.AST_MINUS:
            return -kids[0] if n == 1 else kids[0] - kids[1]
        if t == L.AST_DIVIDE:
            return kids[0] / kids[1]
        if t in (L.AST_POWER, L.AST_FUNCTION_POWER):
            base, power = kids
            if power.is_Float and power == int(power):
                power = sp.Integer(int(power))
            return sp.Pow(base, power)
        if t == L.AST_FUNCTION_ROOT:
            return kids[-1] ** (1 / kids[0]) if n == 2 else sp.sqrt(kids[0])
        if t == L.AST_FUNCTION_LOG:
            return sp.log(kids[1], kids[0]) if n == 2 else sp.log(kids[0], 10)
        if t == L.AST_FUNCTION_PIECEWISE:  # collapsed by hand: sympy's own can take minutes
            pieces = [(kids[i], kids[i + 1]) for i in range(0, n - 1, 2)]
            kept = []
            for value, cond in pieces + ([(kids[-1], sp.true)] if n % 2 else []):
                if self.time in getattr(cond, "free_symbols", ()):
                    raise NotInClass(R.TIME_DEPENDENCE, "depends on time (a piecewise switch on time)")
                if cond == sp.true and not kept:
                    return value
                if cond != sp.false:
                    kept.append((value, cond))
                if cond == sp.true:
                    break
            return sp.Piecewise(*kept, evaluate=False) if kept else sp.nan
        if t == L.AST_FUNCTION_QUOTIENT:
            return sp.floor(kids[0] / kids[1])
        table = {
            L.AST_FUNCTION_EXP: sp.exp, L.AST_FUNCTION_LN: sp.log, L.AST_FUNCTION_ABS: sp.Abs,
            L.AST_FUNCTION_FLOOR: sp.floor, L.AST_FUNCTION_CEILING: sp.ceiling,
            L.AST_FUNCTION_FACTORIAL: sp.factorial, L.AST_FUNCTION_SIN: sp.sin,
            L.AST_FUNCTION_COS: sp.cos, L.AST_FUNCTION_TAN: sp.tan, L.AST_FUNCTION_SEC: sp.sec,
            L.AST_FUNCTION_CSC: sp.csc, L.AST_FUNCTION_COT: sp.cot, L.AST_FUNCTION_SINH: sp.sinh,
            L.AST_FUNCTION_COSH: sp.cosh, L.AST_FUNCTION_TANH: sp.tanh,
            L.AST_FUNCTION_ARCSIN: sp.asin, L.AST_FUNCTION_ARCCOS: sp.acos,
            L.AST_FUNCTION_ARCTAN: sp.atan, L.AST_FUNCTION_ARCSINH: sp.asinh,
            L.AST_FUNCTION_ARCCOSH: sp.acosh, L.AST_FUNCTION_ARCTANH: sp.atanh,
            L.AST_LOGICAL_NOT: sp.Not, L.AST_LOGICAL_AND: sp.And, L.AST_LOGICAL_OR: sp.Or,
            L.AST_LOGICAL_XOR: sp.Xor, L.AST_LOGICAL_IMPLIES: sp.Implies,
            L.AST_FUNCTION_MAX: sp.Max, L.AST_FUNCTION_MIN: sp.Min, L.AST_FUNCTION_REM: sp.Mod,
        }
        if t in table:
            return table[t](*kids)
        relations = {L.AST_RELATIONAL_EQ: sp.Eq, L.AST_RELATIONAL_NEQ: sp.Ne,
                     L.AST_RELATIONAL_GT: sp.Gt, L.AST_RELATIONAL_GEQ: sp.Ge,
                     L.AST_RELATIONAL_LT: sp.Lt, L.AST_RELATIONAL_LEQ: sp.Le}
        if t in relations:
            return sp.And(*[relations[t](a, b) for a, b in zip(kids, kids[1:])])
        raise NotInClass(R.UNSUPPORTED_MATH, f"uses the MathML construct {node.getName() or f'of type {t}'}, "
                       "which sbmleq does not interpret")
