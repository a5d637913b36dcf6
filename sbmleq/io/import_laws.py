"""Deciding one kinetic law: affine in the species it moves, and its LIFE coefficients.

:class:`LawDecisions` is mixed into the importer (:mod:`sbmleq.io.sbml_import`): the fast exact
walker decides most laws; sympy decides the rest; both end in :meth:`LawDecisions._classify`.
"""

from __future__ import annotations

import math
from typing import Any

from sbmleq.core.expr import evaluate, symbols
from sbmleq.errors import InputError
from sbmleq.io.general_math import MathConverter
from sbmleq.io.import_result import Flux, _fmt
from sbmleq.io.lin import Lin, Opaque, num_mul, num_pow_int
from sbmleq.io.reasons import NotInClass
from sbmleq.io.reasons import ReasonCode as R
from sbmleq.io.sbml_math import TIME


def _screen(at_raw, movers: list[str]) -> list[str]:
    """Cheap numeric screen before differentiating: the movers in which the law is clearly not
    affine (all of them for a cross term); empty when it looks affine or is undecided.
    ``at_raw(values)`` is the law's value with the movers at ``values``."""

    def at(*values: float) -> float:
        out = at_raw(values)
        if not math.isfinite(out):
            raise ValueError(out)
        return out

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * (abs(a) + abs(b) + abs(zero)))

    n = len(movers)
    try:
        zero = at(*[0.0] * n)
        unit = [[0.7 * (i == j) for j in range(n)] for i in range(n)]
        singles = [at(*p) - zero for p in unit]
        bad = [m for m, p, s1 in zip(movers, unit, singles)
               if not close(at(*[2.9 * v for v in p]) - zero, 2.9 * s1)]
        if not bad and n > 1 and not close(at(*[0.7] * n) - zero, sum(singles)):
            bad = list(movers)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return []
    return bad


def _fast_value(value: Lin, sizes: dict[str, float]) -> float:
    """A coefficient (compartments only) as sympy gives it: ``c * V**e`` with the size
    substituted, one rounding per operation. Anything that sympy would round differently (a
    sum of terms, two compartments, a power other than -1, 1, 2) is :class:`Opaque`."""
    if not value.terms:
        return 0.0
    if len(value.terms) != 1:
        raise Opaque("a coefficient with several terms")
    ((mono, c),) = value.terms.items()
    if len(mono) > 1:
        raise Opaque("a coefficient with several compartments")
    out = c
    if mono:
        ((name, e),) = mono
        size = sizes[name]
        if e not in (-1, 1, 2) or not math.isfinite(size):
            raise Opaque("a compartment power sympy rounds differently")
        out = num_mul(c, num_pow_int(size, e))
    out = float(out)
    if not math.isfinite(out):
        raise Opaque("a coefficient that is not finite")
    return out


class LawDecisions:
    """The importer's per-law steps (see the module docstring)."""

    def _modifiers(self, free: set[str], moved: dict[str, float], law_text: str) -> None:
        state = self.tables.state
        others = sorted(x for x in free if x in state and x not in moved)
        if others:
            names = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
            raise NotInClass(R.MODIFIER, f"kinetic law {law_text} depends on {names}, which the "
                           "reaction does not convert (a modifier, enzyme or catalyst; declare it "
                           "constant or boundary if it is held fixed)", tuple(others))

    def _decide_fast(self, math_: Any, local: dict[str, float | None], rid: str, law_text: str,
                     moved: dict[str, float], reactants: list[str], products: list[str],
                     via: str) -> tuple[str, list[Flux]]:
        """The reaction decided on its exact polynomial form (no sympy); :class:`Opaque` when
        the law is not one (a rational function, piecewise, ...)."""
        scope = self.fast
        scope.used, scope.owner = {}, rid
        law = scope.expr(math_, local, None, (), f"the kinetic law of {rid}")
        free = law.free()
        if TIME in free:
            raise NotInClass(R.TIME_DEPENDENCE, f"kinetic law {law_text} depends on time")
        self._modifiers(free, moved, law_text)
        if not moved:
            return "no effect on the network (only constant or boundary species take part)", []
        movers = reactants + products
        sizes = self.comp_size
        env = {name: sizes[name] for name in free if name in sizes}
        offenders = _screen(lambda values: law.evaluate({**env, **dict(zip(movers, values))}),
                            movers)
        if offenders:
            raise NotInClass(R.NOT_FIRST_ORDER,
                             f"kinetic law {law_text} is not first-order in {', '.join(offenders)}",
                             tuple(offenders))
        state = self.tables.state
        coef = {}
        for sid in movers:
            d = law.diff(sid)
            if d.free() & state:
                raise NotInClass(R.NOT_FIRST_ORDER,
                                 f"kinetic law {law_text} is not first-order in {sid}", (sid,))
            coef[sid] = d
        const = law.at_zero(set(movers))

        def rate(term: Lin, species: str) -> float:  # contribution to d(species)/dt
            factor = self.fast_factor[species]
            if factor is None:
                raise Opaque("a conversion factor")
            value = term.mul(Lin.number(moved[species])).div(factor)
            return _fast_value(value, sizes)

        return self._classify(rid, law_text, reactants, products, coef, const, rate, via,
                              scope.used)

    def _screen_opaque(self, math_: Any, local: dict[str, float | None], rid: str,
                       law_text: str, moved: dict[str, float], movers: list[str]) -> None:
        """Before sympy (about 1.5 s to import): a law the fast walker cannot represent (a
        rational law such as Michaelis-Menten) evaluated as an expression tree at the numeric
        screen's points. Raises what :meth:`_decide_sympy` would raise for a modifier or a law
        that is clearly not first-order; returns when undecided (a name whose value needs the
        walker's resolution: an assigned or changing parameter, a boundary species, ...), and
        sympy decides as before."""
        t = self.tables
        if self._converter is None:
            self._converter = MathConverter(t.functions, self.source_name)
        try:
            law = self._converter.convert(math_, f"the kinetic law of {rid}",
                                          {pid: f"{rid}.{pid}" for pid in local})
        except Exception:  # noqa: BLE001 - whatever it is, the walkers report it as before
            return
        names = symbols(law)
        env: dict[str, float] = {}
        fixed = set(t.initial) | set(t.assigned) | set(t.changing)
        for name in names:
            pid = name.split(".", 1)[1] if name.startswith(f"{rid}.") else None
            if name == TIME or name in t.state:
                continue  # decided below
            if pid is not None and local.get(pid) is not None:
                env[name] = float(local[pid])
            elif name in fixed or pid is not None or name in local:
                return  # a value only the walker resolves: sympy decides
            elif name in self.comp_size:
                env[name] = float(self.comp_size[name])
            elif name in t.parameters and t.parameters[name].isSetValue():
                env[name] = float(t.parameters[name].getValue())
            else:
                return  # a boundary species, a reaction id, ...: sympy decides
        if TIME in names:
            return  # sympy decides, with its finer reasons (a piecewise switch on time)
        self._modifiers(names, moved, law_text)  # raises for a modifier, as both walkers do
        if not all(math.isfinite(v) for v in env.values()):
            return
        offenders = _screen(lambda values: evaluate(law, {**env, **dict(zip(movers, values))}),
                            movers)
        if offenders:
            raise NotInClass(R.NOT_FIRST_ORDER,
                             f"kinetic law {law_text} is not first-order in {', '.join(offenders)}",
                             tuple(offenders))

    def _decide_sympy(self, math_: Any, local: dict[str, float | None], rid: str, law_text: str,
                      moved: dict[str, float], reactants: list[str], products: list[str],
                      via: str) -> tuple[str, list[Flux]]:
        """The reaction decided with sympy (what the fast walker cannot represent)."""
        scope = self.slow
        sp = scope.sp
        scope.used, scope.owner = {}, rid
        law = scope.expr(math_, local, None, (), f"the kinetic law of {rid}")
        free = law.free_symbols
        if scope.time in free:
            raise NotInClass(R.TIME_DEPENDENCE, f"kinetic law {law_text} depends on time")
        self._modifiers({scope.names[x] for x in free if x in scope.names}, moved, law_text)
        if not moved:
            return "no effect on the network (only constant or boundary species take part)", []
        movers = reactants + products
        syms = [scope.symbols[m] for m in movers]
        base = law.xreplace(self.comp_values)
        offenders = _screen(lambda values: float(base.xreplace(
            {x: sp.Float(v) for x, v in zip(syms, values)})), movers)
        if offenders:
            raise NotInClass(R.NOT_FIRST_ORDER,
                             f"kinetic law {law_text} is not first-order in {', '.join(offenders)}",
                             tuple(offenders))
        state_syms = self._state_symbols()
        coef = {}
        for sid in movers:
            d = sp.diff(law, scope.symbols[sid])
            if d.free_symbols & state_syms and sp.count_ops(d) < 400:
                d = sp.cancel(sp.together(d))
            if d.free_symbols & state_syms:
                raise NotInClass(R.NOT_FIRST_ORDER,
                                 f"kinetic law {law_text} is not first-order in {sid}", (sid,))
            coef[sid] = d
        const = law.xreplace({scope.symbols[s]: sp.Integer(0) for s in movers})

        def rate(term: Any, species: str) -> float:  # contribution to d(species)/dt
            value = term * moved[species] / self._slow_factor(species)
            value = value.xreplace(self.comp_values)
            try:
                out = float(value)
            except TypeError:
                raise NotInClass(R.UNSUPPORTED_MATH,
                                 f"kinetic law {law_text} does not evaluate to a number") from None
            if not math.isfinite(out):
                raise NotInClass(R.UNSUPPORTED_MATH, f"kinetic law {law_text} evaluates to {out}")
            return out

        return self._classify(rid, law_text, reactants, products, coef, const, rate, via,
                              scope.used)

    def _classify(self, rid: str, law_text: str, reactants: list[str], products: list[str],
                  coef: dict[str, Any], const: Any, rate, via: str,
                  used: dict[str, float]) -> tuple[str, list[Flux]]:
        """Edges, intake and excretion from the law's coefficients (``rate`` evaluates one)."""
        node = self.node_of
        fluxes: list[Flux] = []
        parts: list[str] = []
        if reactants and products:
            r, p = reactants[0], products[0]
            if rate(const, p) != 0:
                raise NotInClass(R.ZERO_ORDER_TRANSFER, f"kinetic law {law_text} has a term that does not depend on {r} "
                               "or on the product (a zero-order flux between two species)")
            for a, b in ((r, p), (p, r)):
                out, inflow = -rate(coef[a], a), rate(coef[a], b)
                if not math.isclose(out, inflow, rel_tol=1e-12, abs_tol=0.0):
                    raise NotInClass(R.VOLUME_MISMATCH, self._volume_reason(a, b))
                if out < 0:
                    self._negative(rid, law_text, f"gives a negative rate constant for {a}->{b}", used)
                if out > 0:
                    fluxes.append(("edge", node[a], node[b], out))
            if len(fluxes) == 2:
                return (f"reversible: edges {node[r]}->{node[p]} (k={_fmt(fluxes[0][3])}) and "
                        f"{node[p]}->{node[r]} (k={_fmt(fluxes[1][3])})"), fluxes
            if not fluxes:
                return "zero flux (no effect)", []
            return f"edge {fluxes[0][1]}->{fluxes[0][2]} k={_fmt(fluxes[0][3])}", fluxes
        x = (reactants + products)[0]
        intake, excretion = rate(const, x), -rate(coef[x], x)
        if intake < 0:
            self._negative(rid, law_text, f"drains {x} at a constant rate (a zero-order outflow; "
                           "LIFE outflows are first-order)", used)
        if excretion < 0:
            self._negative(rid, law_text, f"makes {x} grow in proportion to itself (autocatalytic "
                           "growth; LIFE has only first-order losses)", used)
        if intake > 0:
            fluxes.append(("intake", node[x], "", intake))
            parts.append(f"intake into {node[x]} ({_fmt(intake)}){via}")
        if excretion > 0:
            fluxes.append(("excretion", node[x], "", excretion))
            parts.append(f"excretion of {node[x]} (rate {_fmt(excretion)})")
        return ("; ".join(parts) or "zero flux (no effect)"), fluxes

    def _negative(self, rid: str, law_text: str, what: str, used: dict[str, float]) -> None:
        negative = [(k, v) for k, v in used.items() if v < 0]
        if negative:
            name, value = negative[0]
            raise InputError(f"parameter value must be >= 0, got {value!r} (the kinetic law of "
                             f"{rid} {what})", source=self.source_name, element=name)
        raise NotInClass(R.NEGATIVE_RATE, f"kinetic law {law_text} {what}")

    def _volume_reason(self, a: str, b: str) -> str:
        sa, sb = self.tables.species[a], self.tables.species[b]
        return (f"moves {a} (in {sa.getCompartment()}) to {b} (in {sb.getCompartment()}) but the "
                f"outflow of {a} and the inflow to {b} differ per unit of {a} (compartment volumes "
                "or amount/concentration units differ): not a LIFE edge in the declared units")

    # -------------------------------------------------------------- the result
