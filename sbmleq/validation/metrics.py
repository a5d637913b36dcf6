"""The comparison of one in-class model with roadrunner: existence agreement and errors.

:func:`compare` takes the child's analysis (:func:`sbmleq.validation.worker.analyse_model`) and
roadrunner's result dict and returns the row's comparison fields (``existence_agree``,
``exact_agree``, ``rel_l1``, ``max_rel_err``, ``predicted_existence_agree``,
``predicted_rel_l1``, ``rr_exact_rel_l1``, ``compared_species``, ``species``). Kept apart from the worker so that what is compared can change in one place.
"""

from __future__ import annotations

from typing import Any

from sbmleq.compare import finite, in_declared_unit, noise_floor, rel_error, rel_l1

__all__ = ["compare"]


def compare(analysis: dict[str, Any], rr: dict[str, Any] | None) -> dict[str, Any]:
    """Existence agreement, per-species relative errors and the model rel-L1.

    ``analysis`` is :func:`analyse_model`'s dict of an in-class model, ``rr`` a
    ``RoadRunnerResult.to_dict()``. The headline fields compare **what sbmleq reports** with
    roadrunner: ``existence_agree`` (the exact verdict "the dynamics settle from the initial
    state" == roadrunner converged_stable, where roadrunner decided: converged stable, converged
    unstable or no steady state) and ``rel_l1`` / ``max_rel_err`` (the exact steady state from the
    initial state vs roadrunner's, where it converged stable). The learned model is compared
    beside it: ``predicted_existence_agree`` (its verdict, the paper's *unique* label, vs
    roadrunner), ``predicted_rel_l1``, and ``exact_agree`` (its verdict vs the exact unique
    label). Values are compared in the units the SBML declares for each species (an amount
    species is roadrunner's concentration times its compartment size)."""
    out: dict[str, Any] = {"existence_agree": None, "exact_agree": None, "rel_l1": None,
                           "max_rel_err": None, "predicted_existence_agree": None,
                           "predicted_rel_l1": None, "rr_exact_rel_l1": None,
                           "compared_species": 0}
    pred = analysis.get("prediction")
    species = analysis.get("species") or []
    status = (rr or {}).get("status")
    exact = analysis.get("exact") or {}
    unique = exact.get("unique", exact.get("exists"))  # rows before 0.2: "exists" was unique
    if pred is not None and unique is not None:
        out["exact_agree"] = bool(pred["exists"]) == bool(unique)
    if status is None:
        out["species"] = species
        return out
    decided = status in ("converged_stable", "converged_unstable", "no_steady_state")
    if decided and "exists" in exact:
        out["existence_agree"] = bool(exact["exists"]) == (status == "converged_stable")
    if decided and pred is not None:
        out["predicted_existence_agree"] = bool(pred["exists"]) == (status == "converged_stable")
    conc = (rr or {}).get("concentrations") or {}
    refs = {sp_["id"]: _declared(conc.get(sp_["id"]), sp_) for sp_ in species}
    floor = noise_floor(refs.values())
    rows = []
    pairs: list[tuple[float, float]] = []  # (reported steady state, roadrunner)
    learned: list[tuple[float, float]] = []  # (learned prediction, roadrunner)
    rels: list[float | None] = []
    for sp_ in species:
        ref = refs[sp_["id"]] if status == "converged_stable" else None
        p, x = sp_.get("predicted"), sp_.get("exact")
        rel = None
        if x is not None and ref is not None:
            rel = rel_error(x, ref, floor)
            rels.append(rel)
            pairs.append((x, ref))
        if p is not None and ref is not None:
            learned.append((p, ref))
        rows.append({**sp_, "roadrunner": ref, "rel_err": finite(rel),
                     "predicted_rel_err": finite(rel_error(p, ref, floor))})
    out["species"] = rows
    out["compared_species"] = len(pairs)
    if pairs:
        out["rel_l1"] = rel_l1(pairs)
        out["rr_exact_rel_l1"] = out["rel_l1"]  # the same figure: kept for old readers
        out["max_rel_err"] = None if None in rels else finite(max(rels))
    if learned and len(learned) == len(species):
        out["predicted_rel_l1"] = rel_l1(learned)
    return out


def _declared(value: Any, sp_: dict[str, Any]) -> float | None:
    """roadrunner's concentration in the species' declared unit (:mod:`sbmleq.compare`)."""
    return in_declared_unit(value, bool(sp_.get("amount")), float(sp_.get("volume") or 1.0))
