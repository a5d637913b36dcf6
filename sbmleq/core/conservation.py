"""Conservation laws of a stoichiometric matrix: an exact integer basis and the totals it keeps.

For ``dn/dt = N v`` (``n`` the species amounts, ``N`` species x reactions), every row vector
``l`` with ``l N = 0`` gives a conserved total ``l . n`` whatever the rate laws. The laws form the
left null space of ``N``; :func:`conservation_laws` computes a basis of it exactly, with Python
fractions (stoichiometries are small integers or simple ratios; a float is read as the nearest
fraction with a denominator up to 10**6), in reduced row echelon form scaled to coprime integers:

- each law has a *dependent* species (coefficient > 0) that appears in no other law,
  so the reduced system keeps the other (independent) species and recovers the dependent ones
  from the totals;
- pivots are chosen from the last species backwards, so the dependent species are the late ones
  and the independent set is the leading one where the choice is free.

The totals a state keeps are ``L @ amounts`` (:meth:`ConservationLaws.totals`): conservation holds
for amounts, so a species declared as a concentration enters multiplied by its compartment size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

MAX_DENOMINATOR = 10**6


@dataclass(frozen=True)
class ConservationLaws:
    """``matrix`` (laws x species), one ``dependent`` species index per law. ``integer``: the
    rows are coprime integers (``matrix`` int64); False when exact integers would not fit in
    53 bits (dense random matrices, not real networks), then each row is the exact law scaled to
    a largest coefficient of 1, in float64."""

    matrix: np.ndarray
    dependent: tuple[int, ...]
    integer: bool = True

    @property
    def count(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def independent(self) -> tuple[int, ...]:
        dependent = set(self.dependent)
        return tuple(k for k in range(self.matrix.shape[1]) if k not in dependent)

    def totals(self, amounts: np.ndarray) -> np.ndarray:
        """The conserved totals of a state (one per law; ``amounts`` (n,) or (B, n))."""
        return np.asarray(amounts, dtype=np.float64) @ self.matrix.T.astype(np.float64)

    def describe(self, species: Sequence[str]) -> list[dict[str, object]]:
        """JSON-ready: per law, the species and coefficients (non-zero) and the dependent one."""
        out = []
        for row, dep in zip(self.matrix, self.dependent):
            nz = np.flatnonzero(row)
            coef = [int(row[k]) if self.integer else float(row[k]) for k in nz]
            out.append({"species": [species[k] for k in nz], "coefficients": coef,
                        "dependent": species[dep]})
        return out


def _fraction(x: float) -> Fraction:
    if not math.isfinite(x):
        raise ValueError(f"stoichiometry must be finite, got {x!r}")
    return Fraction(x).limit_denominator(MAX_DENOMINATOR)


def _subtract(row: dict[int, Fraction], factor: Fraction, other: dict[int, Fraction]) -> None:
    """``row -= factor * other`` in place, dropping the entries that become zero."""
    for c, b in other.items():
        v = row.get(c, 0) - factor * b
        if v:
            row[c] = v
        else:
            row.pop(c, None)


def conservation_laws(stoichiometry: np.ndarray) -> ConservationLaws:
    """The conservation laws of ``stoichiometry`` (species x reactions), exactly."""
    s = np.asarray(stoichiometry, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError("the stoichiometric matrix must be 2-d (species x reactions)")
    n_species, n_reactions = s.shape
    # Left null space of N = null space of N^T, whose columns are the species. Pivots fall on the
    # earliest species they can; the free columns (one per law, the dependent species) on late ones.
    order = list(range(n_species))
    # rows as sparse {column: value} dicts: stoichiometric matrices are sparse and stay so
    # under elimination; dense Fraction rows cost 40 s on BIOMD471 (303 species), this 0.1 s
    rows = [{k: _fraction(s[i, j]) for k, i in enumerate(order) if s[i, j] != 0}
            for j in range(n_reactions)]
    pivots: list[int] = []  # pivot column (in ``order`` positions) of each reduced row
    reduced: list[dict[int, Fraction]] = []
    for row in rows:
        for p, r in zip(pivots, reduced):
            factor = row.get(p)
            if factor:
                _subtract(row, factor, r)
        if not row:
            continue
        lead = min(row)
        inv = 1 / row[lead]
        row = {c: v * inv for c, v in row.items()}
        for r in reduced:
            factor = r.get(lead)
            if factor:
                _subtract(r, factor, row)
        pivots.append(lead)
        reduced.append(row)
    pivot_set = set(pivots)
    free = [c for c in range(n_species) if c not in pivot_set]
    laws: list[dict[int, Fraction]] = []
    for f in free:  # one null vector per free column: x_f = 1, x_pivot = -row[f] (sparse)
        vec = {f: Fraction(1)}
        for p, r in zip(pivots, reduced):
            v = r.get(f)
            if v:
                vec[p] = -v
        laws.append(vec)
    ints = []
    for vec in laws:
        scale = math.lcm(*(v.denominator for v in vec.values()))
        row = {c: int(v * scale) for c, v in vec.items()}
        g = math.gcd(*row.values()) or 1
        dense = [0] * n_species
        for c, v in row.items():
            dense[c] = v // g
        ints.append(dense)
    dependent = tuple(order[f] for f in free)
    integer = all(abs(v) < 2**53 for row in ints for v in row)
    if integer:
        matrix = np.zeros((len(laws), n_species), dtype=np.int64)
        for k, row in enumerate(ints):
            matrix[k, order] = row
        return ConservationLaws(matrix, dependent)
    matrix = np.zeros((len(laws), n_species))
    for k, row in enumerate(ints):
        top = max(abs(v) for v in row)
        matrix[k, order] = [float(Fraction(v, top)) for v in row]
    return ConservationLaws(matrix, dependent, integer=False)
