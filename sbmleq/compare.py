"""Comparing steady states: the one place that defines the errors and the unit conversion.

- :func:`finite` (a JSON-ready float or None), :func:`rel_error` (per species, with a
  :func:`noise_floor` at 1e-9 of the model's largest value so that a species at ~0 is not a
  100 % error) and
  :func:`rel_l1` (the paper's ``sum |a - b| / sum |b|`` over species; :func:`rel_l1_array` for
  many vectors at once, as training and the benchmarks use it);
- :func:`declared_units`: roadrunner reports every species as a concentration (amount / compartment
  size); a species declared as an amount (``hasOnlySubstanceUnits``) is compared as
  ``concentration x size``, with the size at t = 0 as :func:`sbmleq.io.initial.compartment_sizes`
  reads it (1 when the SBML leaves it unset, which is also what roadrunner and the importer assume).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from sbmleq.io.initial import compartment_sizes

if TYPE_CHECKING:
    import libsbml


def finite(x: Any) -> float | None:
    """``float(x)`` when finite, else None (also for None)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


NOISE_FLOOR = 1e-9  # per-species errors: references below this share of the largest are noise


def rel_error(value: float | None, reference: float | None, floor: float = 0.0) -> float | None:
    """``|value - reference| / max(|reference|, floor)``; 0 when both are 0 (or both within the
    floor); None when undefined. ``floor`` (see :func:`noise_floor`) keeps a species at ~0 — an
    exact 0 against roadrunner's 1e-30 — from counting as a 100 % error."""
    p, r = finite(value), finite(reference)
    if p is None or r is None:
        return None
    scale = max(abs(r), floor)
    if scale == 0.0:
        return 0.0 if p == 0.0 else None
    return abs(p - r) / scale


def noise_floor(references: Iterable[float | None]) -> float:
    """``NOISE_FLOOR`` times the largest finite ``|reference|`` of one model (0 if none)."""
    values = [abs(v) for v in map(finite, references) if v is not None]
    return NOISE_FLOOR * max(values, default=0.0)


def rel_l1(pairs: Iterable[tuple[float | None, float | None]]) -> float | None:
    """``sum |a - b| / sum |b|`` over ``(a, b)`` pairs; None if any value is missing or there are
    no pairs; 0 when every value is 0."""
    diff = total = 0.0
    n = 0
    for a, b in pairs:
        a, b = finite(a), finite(b)
        if a is None or b is None:
            return None
        diff += abs(a - b)
        total += abs(b)
        n += 1
    if n == 0:
        return None
    if total > 0:
        return finite(diff / total)
    return 0.0 if diff == 0 else None


def rel_l1_array(values: np.ndarray, reference: np.ndarray, axis: int = -1) -> np.ndarray:
    """:func:`rel_l1` of many vectors at once, along ``axis`` (NaN propagates; 0/0 is NaN)."""
    values, reference = np.asarray(values, dtype=np.float64), np.asarray(reference, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(values - reference).sum(axis=axis) / np.abs(reference).sum(axis=axis)


def amount_scales(model: "libsbml.Model", species: Iterable[str]) -> dict[str, float]:
    """Compartment size of each of ``species`` that is declared as an amount."""
    sizes: dict[str, float] | None = None
    scales: dict[str, float] = {}
    for sid in species:
        sp = model.getSpecies(sid)
        if sp is None or not sp.getHasOnlySubstanceUnits():
            continue
        if sizes is None:
            sizes = compartment_sizes(model)
        scales[sid] = sizes.get(sp.getCompartment(), math.nan)
    return scales


def in_declared_unit(concentration: float | None, amount: bool, size: float) -> float | None:
    """roadrunner's concentration of one species in its declared unit: ``concentration x size``
    for a species declared as an amount, the concentration itself otherwise (None stays None)."""
    value = finite(concentration)
    return value * size if value is not None and amount else value


def declared_units(concentrations: Mapping[str, float], model: "libsbml.Model") -> dict[str, float]:
    """roadrunner's concentrations by species id, in each species' declared unit."""
    scales = amount_scales(model, concentrations)
    return {s: in_declared_unit(v, True, scales[s]) if s in scales else v
            for s, v in concentrations.items()}
