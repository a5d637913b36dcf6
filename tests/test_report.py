"""The validation report (sbmleq.report.html): categories, numbers, HTML, CSV and Markdown."""

from __future__ import annotations

import csv
import re

import pytest

from sbmleq.report.html import (
    CSV_COLUMNS,
    categorize,
    model_categories,
    summarize,
    summary_markdown,
    write_report,
)


def row(rid, outcome="in_class", status="converged_stable", exists=True, rel=0.001, **extra):
    data = {"key": rid, "id": rid, "name": f"model {rid}", "outcome": outcome, "n_species": 3,
            "n_reactions": 2, "roadrunner": {"status": status, "unique": True, "message": "ok",
                                             "settings": {"steady_state": {"solver": "nleq2"}}},
            "checkpoint": "default.npz", "timeout": 20.0, "seconds": 0.5}
    if outcome == "in_class":
        agree = None if status in ("timeout", "solver_failure") else exists == (status == "converged_stable")
        species = []
        if status == "converged_stable" and exists:
            species = [{"id": "A", "predicted": 2.0 * (1 + rel), "roadrunner": 2.0, "rel_err": rel},
                       {"id": "B", "predicted": 0.5 * (1 + rel), "roadrunner": 0.5, "rel_err": rel}]
        data.update(prediction={"exists": exists, "p_exists": 0.97 if exists else 0.05,
                                "out_of_distribution": False, "ood_reasons": []},
                    exact={"status": "unique" if exists else "non_unique", "exists": exists},
                    existence_agree=agree, exact_agree=True,
                    rel_l1=rel if species else None, max_rel_err=rel if species else None,
                    compared_species=len(species), species=species,
                    rr_exact_rel_l1=1e-12 if species else None)
    data.update(extra)
    return data


ROWS = [
    row("M1", rel=0.004),
    row("M2", rel=0.03),
    row("M3", rel=0.2),
    row("M4", exists=False),  # a closed pocket: roadrunner converges, LIFE says no
    row("M5", status="no_steady_state", exists=False, exact={"status": "unbounded", "exists": False}),
    row("M6", status="timeout"),
    row("O1", outcome="out_of_class", status="converged_unstable",
        reasons=["R1: kinetic law V*S/(K+S) is not first-order in S",
                 "R2: has 2 reactants (A, B): a LIFE flux leaves one species and enters at most one other"],
        kinetics={"R1": "michaelis-menten"}),
    row("O2", outcome="out_of_class", reasons=["the model has 1 event(s) (E1): discrete changes"]),
    row("O3", outcome="out_of_class", reasons=["R4: has 2 reactants (A, B): a LIFE flux ..."]),
    row("E1", outcome="input_error", status=None, roadrunner=None,
        error="E1: line 2: malformed XML: Badly formed XML"),
]


@pytest.mark.parametrize("reason, category", [
    ("R1: kinetic law Vm*S/(Km+S) is not first-order in S", "kinetic law not first-order (other nonlinear law)"),
    ("v2: stoichiometry of x3 is 2, not 1: a LIFE flux moves one molecule", "stoichiometry != 1"),
    ("v4: has 2 reactants (x23, x12): a LIFE flux leaves", "multi-reactant reaction (A + B -> ...)"),
    ("v5: has 2 products (x18, x9): a LIFE flux leaves", "multi-product reaction (A -> B + C)"),
    ("the model has 1 event(s) (RemovalACh): discrete changes", "events (discrete changes)"),
    ("React0: kf_0 changes in time (event RemovalACh)", "events (discrete changes)"),
    ("R1: S changes in time (a rate rule)", "rate rules (ODEs outside reactions)"),
    ("species V is governed by a rate rule, not by reactions", "rate rules (ODEs outside reactions)"),
    ("J0: kinetic law k*X depends on X, which the reaction does not convert (a modifier, enzyme or "
     "catalyst)", "rate depends on a modifier (enzyme, catalyst, regulator)"),
    ("R14: kinetic law F6 depends on time", "explicit time dependence"),
    ("TL: uses delay()", "delays"),
    ("R1: kinetic law k*x gives a negative excretion rate of x (self-amplification)",
     "autocatalysis or zero-order drain (negative rate)"),
    ("re3: kinetic law k*s1 makes s1 grow in proportion to itself (autocatalytic growth)",
     "autocatalysis or zero-order drain (negative rate)"),
    ("R2: kinetic law k*A*B is not first-order in A, B", "kinetic law not first-order (other nonlinear law)"),
    ("J1: parameter k has no value", "missing values"),
    ("something nobody foresaw", "other"),
])
def test_categorize(reason, category):
    assert categorize(reason) == category


def test_kinetics_labels_refine_not_first_order():
    reason = "R1: kinetic law V*S^n/(K^n+S^n) is not first-order in S"
    assert categorize(reason, {"R1": "hill"}) == "kinetic law not first-order (Hill, cooperative)"
    assert categorize(reason, {"R9": "hill"}).endswith("(other nonlinear law)")
    assert model_categories(ROWS[6]) == ["kinetic law not first-order (Michaelis-Menten, saturating)",
                                         "multi-reactant reaction (A + B -> ...)"]


def test_kinetics_labels_refine_modifiers():
    reason = ("J0: kinetic law k*X depends on X, which the reaction does not convert (a modifier, "
              "enzyme or catalyst)")
    assert categorize(reason) == "rate depends on a modifier (enzyme, catalyst, regulator)"
    assert categorize(reason, {"J0": "modifier:linear"}).startswith("rate depends on a modifier: linear")
    assert categorize(reason, {"J0": "modifier:michaelis-menten"}).endswith("(enzyme, saturating)")


def test_summarize():
    s = summarize(ROWS)
    assert s["models"] == 10 and s["in_class"] == 6 and s["out_of_class"] == 3
    assert s["outcomes"]["input_error"] == 1 and s["errors"] == {"malformed XML": 1}
    assert s["rr_status_in_class"] == {"converged_stable": 4, "converged_unstable": 0,
                                       "no_steady_state": 1, "solver_failure": 0, "timeout": 1}
    e = s["existence"]
    assert (e["decided"], e["agree"], e["undecided"]) == (5, 4, 1)  # M4 disagrees
    assert (e["decided_without_pockets"], e["agree_without_pockets"]) == (4, 4)
    assert e["confusion"]["no"]["converged_stable"] == 1
    a = s["accuracy"]
    assert (a["rr_stable"], a["compared"], a["within_1pct"], a["within_5pct"]) == (4, 3, 1, 2)
    assert a["share_5pct_of_stable"] == pytest.approx(0.5)
    assert a["share_5pct_of_compared"] == pytest.approx(2 / 3)
    reasons = {r["category"]: r for r in s["reasons"]}
    assert reasons["multi-reactant reaction (A + B -> ...)"]["models"] == 2
    assert reasons["multi-reactant reaction (A + B -> ...)"]["only_reason"] == 1
    assert s["reasons"][0]["category"] == "multi-reactant reaction (A + B -> ...)"  # ranked


def test_write_report(tmp_path):
    html_path = tmp_path / "sub" / "report.html"
    s = write_report(ROWS, html_path, meta={"results": "r.jsonl", "command": "sbmleq validate x"})
    text = html_path.read_text()
    for needle in ("Existence agreement with roadrunner", "Accuracy of the predicted steady state",
                   "What keeps models out of the LIFE class", "<svg", 'id="models"',
                   "multi-reactant reaction", "malformed XML", "sbmleq validate x",
                   "Malik-Sheriff"):
        assert needle in text, needle
    assert len(re.findall(r"<svg", text)) >= 2  # histogram and scatter
    assert "<link" not in text and 'src="http' not in text
    assert text.count("<tr>") >= len(ROWS)
    with open(html_path.with_suffix(".csv"), newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["id"] for r in table] == sorted(r["id"] for r in ROWS)
    assert list(table[0]) == CSV_COLUMNS
    assert table[[r["id"] for r in table].index("O1")]["reason_categories"].startswith("kinetic law")
    md = html_path.with_suffix(".summary.md").read_text()
    assert "| in the LIFE class | 6 |" in md and "within 5%" in md
    assert s["accuracy"]["within_5pct"] == 2


def test_report_without_comparable_models(tmp_path):
    rows = [r for r in ROWS if r["outcome"] != "in_class"]
    write_report(rows, tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text()
    assert "nothing to plot" in text
    assert "within 1%" in summary_markdown(summarize(ROWS))
    write_report([], tmp_path / "empty.html")
    assert "No model is out of class" in (tmp_path / "empty.html").read_text()
