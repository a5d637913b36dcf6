"""The validation report: one self-contained HTML file (plots embedded as SVG) and a CSV table.

Input: the result rows of :mod:`sbmleq.validation.batch` (one dict per model, as in the results file).
:func:`summarize` computes the numbers, :func:`write_report` writes ``report.html`` and
``report.csv``, :func:`summary_markdown` gives the summary as Markdown (docs/results.md).

Out-of-class reasons are normalised to categories (:func:`categorize`) so that the report ranks
what blocks the most models, i.e. which kinetics to support next.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["RR_STATUSES", "categorize", "console_summary", "model_categories", "summarize",
           "summary_markdown", "write_csv", "write_html", "write_report"]

RR_STATUSES = ("converged_stable", "converged_unstable", "no_steady_state", "solver_failure",
               "timeout")
OUTCOMES = ("in_class", "out_of_class", "input_error", "import_failure")
DECIDED = ("converged_stable", "converged_unstable", "no_steady_state")

# ------------------------------------------------------------------------------ reasons
_KINETICS = {
    "michaelis-menten": "kinetic law not first-order (Michaelis-Menten, saturating)",
    "hill": "kinetic law not first-order (Hill, cooperative)",
    "mass-action-order-2+": "kinetic law not first-order (mass action of order >= 2)",
    "power-law": "kinetic law not first-order (power law)",
    "other": "kinetic law not first-order (other nonlinear law)",
}
_RULES: list[tuple[str, str]] = [  # (regex on the reason without its "id: " prefix, category)
    (r"\bevent", "events (discrete changes)"),
    (r"rate rule", "rate rules (ODEs outside reactions)"),
    (r"algebraic rule", "algebraic rules"),
    (r"uses delay\(\)", "delays"),
    (r"depends on time", "explicit time dependence"),
    (r"stoichiometry of \S+ is \S+, not 1", "stoichiometry != 1"),
    (r"stoichiometry of \S+ changes in time", "variable stoichiometry"),
    (r"has \d+ reactants", "multi-reactant reaction (A + B -> ...)"),
    (r"has \d+ products", "multi-product reaction (A -> B + C)"),
    (r"which the reaction does not convert", "rate depends on a modifier (enzyme, catalyst, "
                                             "regulator)"),
    (r"is not first-order in", "kinetic law not first-order (other nonlinear law)"),
    (r"zero-order flux between two species", "zero-order flux between two species"),
    (r"gives a negative|grow in proportion to itself|autocatalytic|at a constant rate \(a zero-order",
     "autocatalysis or zero-order drain (negative rate)"),
    (r"outflow of \S+ and the inflow", "compartment volumes differ across a reaction"),
    (r"compartment .*(size changes|is not a constant)|size of compartment", "variable compartment size"),
    (r"conversion factor", "conversion factors"),
    (r"(assignment rule|initial assignment) of \S+ is not a constant", "non-constant assigned value"),
    (r"changes in time", "time-varying parameter"),
    (r"has no kinetic law", "reaction without kinetic law"),
    (r"nothing to map", "no species changed by reactions"),
    (r"has no (initial )?value", "missing values"),
    (r"undefined|MathML construct|could not be analysed|does not evaluate|evaluates to|circular|"
     r"rateOf|rate of reaction|arguments, not", "unsupported or undefined math"),
]
_RULES_RE = [(re.compile(p), c) for p, c in _RULES]
_PREFIX = re.compile(r"^(\S+): ")
_NONLINEAR = re.compile(r"is not first-order in")


_MODIFIER_KINETICS = {
    "linear": "rate depends on a modifier: linear (k*M, e.g. synthesis driven by M)",
    "mass-action-order-2+": "rate depends on a modifier: mass action (k*E*S, catalysis)",
    "michaelis-menten": "rate depends on a modifier: Michaelis-Menten (enzyme, saturating)",
    "hill": "rate depends on a modifier: Hill (cooperative regulation)",
    "power-law": "rate depends on a modifier: power law",
    "other": "rate depends on a modifier: other law",
}
_MODIFIER = re.compile(r"which the reaction does not convert")


def categorize(reason: str, kinetics: dict[str, str] | None = None) -> str:
    """The category of one out-of-class reason (``kinetics``: reaction id -> law label, as
    :mod:`sbmleq.validation.batch` records it, refines "not first-order" and "depends on a modifier")."""
    m = _PREFIX.match(reason)
    rid = m.group(1) if m else ""
    label = (kinetics or {}).get(rid, "")
    for pattern, category in _RULES_RE:
        if pattern.search(reason):
            if _NONLINEAR.search(reason) and label in _KINETICS:
                return _KINETICS[label]
            if _MODIFIER.search(reason) and label.startswith("modifier:"):
                return _MODIFIER_KINETICS.get(label.split(":", 1)[1], category)
            return category
    return "other"


def family(category: str) -> str:
    """The kind of a category, its sub-type dropped ("rate depends on a modifier: Hill (...)"
    -> "rate depends on a modifier")."""
    return category.split(":")[0].split(" (")[0]


def model_categories(row: dict[str, Any]) -> list[str]:
    """The distinct reason categories of one row, most frequent in the model first."""
    counts = Counter(categorize(r, row.get("kinetics")) for r in row.get("reasons") or [])
    return [c for c, _ in counts.most_common()]


# ------------------------------------------------------------------------------ numbers
def _status(row: dict[str, Any]) -> str | None:
    return (row.get("roadrunner") or {}).get("status")


def _share(k: int, n: int) -> float | None:
    return k / n if n else None


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every number the report shows, as a JSON-ready dict."""
    rows = list(rows)
    outcome = Counter(r.get("outcome") for r in rows)
    inclass = [r for r in rows if r.get("outcome") == "in_class"]
    s: dict[str, Any] = {
        "models": len(rows),
        "outcomes": {k: outcome.get(k, 0) for k in OUTCOMES},
        "in_class": len(inclass),
        "rr_status_all": {k: sum(_status(r) == k for r in rows) for k in RR_STATUSES},
        "rr_status_in_class": {k: sum(_status(r) == k for r in inclass) for k in RR_STATUSES},
        "predicted": sum(r.get("prediction") is not None for r in inclass),
        "prediction_errors": dict(Counter(str(r["prediction_error"])[:120] for r in inclass
                                          if r.get("prediction_error"))),
        "predicted_exists": sum(bool((r.get("prediction") or {}).get("exists")) for r in inclass),
        "out_of_distribution": sum(bool((r.get("prediction") or {}).get("out_of_distribution"))
                                   for r in inclass),
        "checkpoints": sorted({f"{r['checkpoint']} (sha256 {str(r.get('checkpoint_sha256'))[:12]})"
                               for r in rows if r.get("checkpoint")}),
        "timeouts_s": sorted({r.get("timeout") for r in rows if r.get("timeout") is not None}),
    }
    # existence: the confusion of predicted exists x roadrunner status
    confusion = {e: {k: 0 for k in RR_STATUSES} for e in ("yes", "no")}
    for r in inclass:
        st, pred = _status(r), r.get("prediction")
        if pred is not None and st in RR_STATUSES:
            confusion["yes" if pred.get("exists") else "no"][st] += 1
    decided = [r for r in inclass if r.get("existence_agree") is not None]
    agree = sum(bool(r["existence_agree"]) for r in decided)
    exact_rows = [r for r in inclass if r.get("exact_agree") is not None]
    stable = [r for r in inclass if _status(r) == "converged_stable"]
    unique_stable = [r for r in stable if (r.get("roadrunner") or {}).get("unique")]
    life_decided = [r for r in decided if (r.get("exact") or {}).get("status") != "non_unique"]
    s["existence"] = {
        "decided": len(decided), "agree": agree, "agreement": _share(agree, len(decided)),
        "undecided": len(inclass) - len(decided), "confusion": confusion,
        "decided_without_pockets": len(life_decided),
        "agree_without_pockets": sum(bool(r["existence_agree"]) for r in life_decided),
        "exact_n": len(exact_rows), "exact_agree": sum(bool(r["exact_agree"]) for r in exact_rows),
        "exact_status": dict(Counter((r.get("exact") or {}).get("status") for r in inclass
                                     if r.get("exact"))),
        "rr_stable": len(stable), "rr_stable_unique": len(unique_stable),
    }
    e = s["existence"]
    e["agreement_without_pockets"] = _share(e["agree_without_pockets"], e["decided_without_pockets"])
    e["exact_agreement"] = _share(e["exact_agree"], e["exact_n"])
    # accuracy
    compared = [r for r in stable if r.get("rel_l1") is not None]
    errs = sorted(float(r["rel_l1"]) for r in compared)
    within = {t: sum(x <= t for x in errs) for t in (0.01, 0.05)}
    s["accuracy"] = {
        "rr_stable": len(stable),
        "compared": len(compared),
        "within_1pct": within[0.01], "within_5pct": within[0.05],
        "share_1pct_of_stable": _share(within[0.01], len(stable)),
        "share_5pct_of_stable": _share(within[0.05], len(stable)),
        "share_1pct_of_compared": _share(within[0.01], len(compared)),
        "share_5pct_of_compared": _share(within[0.05], len(compared)),
        "median_rel_l1": errs[len(errs) // 2] if errs else None,
        "species_pairs": sum(int(r.get("compared_species") or 0) for r in compared),
    }
    checks = [float(r["rr_exact_rel_l1"]) for r in stable if r.get("rr_exact_rel_l1") is not None]
    s["import_check"] = {"n": len(checks), "max": max(checks) if checks else None,
                         "within_1e-6": sum(x <= 1e-6 for x in checks)}
    # out-of-class reasons
    blocked: Counter[str] = Counter()
    sole: Counter[str] = Counter()
    reasons_n: Counter[str] = Counter()
    example: dict[str, tuple[str, str]] = {}
    for r in rows:
        if r.get("outcome") != "out_of_class":
            continue
        cats = model_categories(r)
        for c in cats:
            blocked[c] += 1
        if len(cats) == 1:
            sole[cats[0]] += 1
        for reason in r.get("reasons") or []:
            c = categorize(reason, r.get("kinetics"))
            reasons_n[c] += 1
            if c not in example or len(reason) < len(example[c][1]):
                example[c] = (r.get("id", ""), reason)
    s["reasons"] = [{"category": c, "models": n, "only_reason": sole.get(c, 0),
                     "reactions": reasons_n.get(c, 0), "example_model": example[c][0],
                     "example": example[c][1]} for c, n in blocked.most_common()]
    fam: Counter[str] = Counter()
    fam_only: Counter[str] = Counter()
    for r in rows:
        if r.get("outcome") != "out_of_class":
            continue
        kinds = {family(c) for c in model_categories(r)}
        fam.update(kinds)
        if len(kinds) == 1:
            fam_only[next(iter(kinds))] += 1
    s["reason_families"] = [{"kind": k, "models": n, "only_reason": fam_only.get(k, 0)}
                            for k, n in fam.most_common()]
    s["out_of_class"] = outcome.get("out_of_class", 0)
    errors = Counter(_error_kind(r.get("error") or "") for r in rows
                     if r.get("outcome") in ("input_error", "import_failure"))
    s["errors"] = dict(errors.most_common())
    return s


def _error_kind(message: str) -> str:
    text = re.sub(r"^\S+: ", "", message)
    for pattern, label in ((r"no species", "the model has no species"),
                           (r"malformed XML", "malformed XML"),
                           (r"not an SBML document", "not SBML"),
                           (r"timed out", "import timed out"),
                           (r"crashed|exited with code", "import crashed"),
                           (r"must be >= 0|must be finite", "invalid parameter value"),
                           (r"invalid SBML", "invalid SBML")):
        if re.search(pattern, text):
            return label
    return text[:80] or "error"


# ------------------------------------------------------------------------------ formatting
def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _pct_small(x: float | None) -> str:
    return _pct(x, 1 if x is not None and 0 < x < 0.01 else 0)


def _num(x: Any, fmt: str = ".3g") -> str:
    if x is None:
        return ""
    if isinstance(x, float) and not math.isfinite(x):
        return ""
    return format(x, fmt) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def console_summary(s: dict[str, Any]) -> str:
    e, a = s["existence"], s["accuracy"]
    lines = [
        f"models {s['models']}: in class {s['in_class']}, out of class {s['out_of_class']}, "
        f"not imported {s['outcomes']['input_error'] + s['outcomes']['import_failure']}",
        "roadrunner (all): " + ", ".join(f"{k} {v}" for k, v in s["rr_status_all"].items() if v),
    ]
    if s["in_class"]:
        pockets = e["decided"] - e["decided_without_pockets"]
        lines.append(f"existence agreement (in class, roadrunner decided): {e['agree']}/"
                     f"{e['decided']} ({_pct(e['agreement'])}); leaving out {pockets} closed "
                     f"pocket(s) (no unique equilibrium): {e['agree_without_pockets']}/"
                     f"{e['decided_without_pockets']} ({_pct(e['agreement_without_pockets'])}); "
                     f"vs the exact LIFE label {e['exact_agree']}/{e['exact_n']} "
                     f"({_pct(e['exact_agreement'])})")
        lines.append(f"in class with a stable roadrunner steady state: {a['rr_stable']}; within 1% "
                     f"{a['within_1pct']} ({_pct(a['share_1pct_of_stable'])}), within 5% "
                     f"{a['within_5pct']} ({_pct(a['share_5pct_of_stable'])}); median rel-L1 "
                     f"{_num(a['median_rel_l1'])}")
    if s["reasons"]:
        top = "; ".join(f"{r['category']} ({r['models']})" for r in s["reasons"][:3])
        lines.append(f"top out-of-class reasons: {top}")
    return "\n".join(lines)


def summary_markdown(s: dict[str, Any], *, title: str | None = None, command: str = "") -> str:
    """The summary as Markdown (for docs/results.md)."""
    e, a = s["existence"], s["accuracy"]
    out = []
    if title:
        out += [title, ""]
    if command:
        out += ["```", command, "```", ""]
    out += [
        "| | models |", "|---|---:|",
        f"| models | {s['models']} |",
        f"| in the LIFE class | {s['in_class']} |",
        f"| out of class | {s['out_of_class']} |",
        f"| not imported (input errors + import failures) | {s['outcomes']['input_error']} + "
        f"{s['outcomes']['import_failure']} |",
        "",
        "roadrunner status: " + ", ".join(f"{k} {v}" for k, v in s["rr_status_all"].items()) + " "
        "(in class: " + ", ".join(f"{k} {v}" for k, v in s["rr_status_in_class"].items() if v) + ").",
        "",
    ]
    if s["in_class"]:
        out += [
            "| in-class models | value |", "|---|---:|",
            f"| existence agreement with roadrunner (predicted exists = converged_stable) | "
            f"{e['agree']}/{e['decided']} ({_pct(e['agreement'])}) |",
            f"| same, leaving out closed pockets (roadrunner converges to an initial-value-dependent "
            f"state; LIFE: no unique equilibrium) | {e['agree_without_pockets']}/"
            f"{e['decided_without_pockets']} ({_pct(e['agreement_without_pockets'])}) |",
            f"| existence agreement with the exact LIFE label | {e['exact_agree']}/{e['exact_n']} "
            f"({_pct(e['exact_agreement'])}) |",
            f"| roadrunner converged_stable | {a['rr_stable']} |",
            f"| within 1% of roadrunner (rel-L1 <= 0.01), share of converged_stable | "
            f"{a['within_1pct']} ({_pct(a['share_1pct_of_stable'])}) |",
            f"| within 5% of roadrunner, share of converged_stable | {a['within_5pct']} "
            f"({_pct(a['share_5pct_of_stable'])}) |",
            f"| within 1% / 5%, share of models with a predicted value | "
            f"{_pct(a['share_1pct_of_compared'])} / {_pct(a['share_5pct_of_compared'])} "
            f"(of {a['compared']}) |",
            f"| median rel-L1 | {_num(a['median_rel_l1'])} |",
            "",
        ]
    if s.get("reason_families"):
        out += ["| kind of reason (out of class) | models | only reason |", "|---|---:|---:|"]
        out += [f"| {f['kind']} | {f['models']} | {f['only_reason']} |"
                for f in s["reason_families"][:10]]
        out.append("")
    if s["reasons"]:
        out += ["| what blocks models (out of class) | models | only reason |", "|---|---:|---:|"]
        out += [f"| {r['category']} | {r['models']} | {r['only_reason']} |" for r in s["reasons"][:12]]
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------ CSV
CSV_COLUMNS = ["id", "name", "outcome", "n_species", "n_reactions", "n_nodes", "roadrunner_status",
               "roadrunner_stage", "roadrunner_unique", "predicted_exists", "p_exists",
               "out_of_distribution", "exact_status", "existence_agree", "exact_agree", "rel_l1",
               "max_rel_err", "rr_exact_rel_l1", "compared_species", "reason_categories",
               "first_reason", "error", "seconds", "checkpoint", "source"]


def _csv_row(r: dict[str, Any]) -> dict[str, Any]:
    rr, pred = r.get("roadrunner") or {}, r.get("prediction") or {}
    return {
        "id": r.get("id", ""), "name": r.get("name", ""), "outcome": r.get("outcome", ""),
        "n_species": r.get("n_species", ""), "n_reactions": r.get("n_reactions", ""),
        "n_nodes": r.get("n_nodes", ""), "roadrunner_status": rr.get("status", ""),
        "roadrunner_stage": rr.get("stage", ""), "roadrunner_unique": rr.get("unique", ""),
        "predicted_exists": pred.get("exists", ""), "p_exists": _num(pred.get("p_exists"), ".4g"),
        "out_of_distribution": pred.get("out_of_distribution", ""),
        "exact_status": (r.get("exact") or {}).get("status", ""),
        "existence_agree": _blank(r.get("existence_agree")),
        "exact_agree": _blank(r.get("exact_agree")),
        "rel_l1": _num(r.get("rel_l1"), ".6g"), "max_rel_err": _num(r.get("max_rel_err"), ".6g"),
        "rr_exact_rel_l1": _num(r.get("rr_exact_rel_l1"), ".3g"),
        "compared_species": r.get("compared_species", ""),
        "reason_categories": "; ".join(model_categories(r)),
        "first_reason": (r.get("reasons") or [""])[0], "error": r.get("error") or "",
        "seconds": _num(r.get("seconds"), ".3f"), "checkpoint": r.get("checkpoint", ""),
        "source": r.get("source", ""),
    }


def _blank(x: Any) -> Any:
    return "" if x is None else x


def write_csv(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in sorted(rows, key=lambda r: r.get("id", "")):
            writer.writerow(_csv_row(r))
    return path


# ------------------------------------------------------------------------------ plots
def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    text = text[text.find("<svg"):]  # drop the XML declaration and doctype
    return text


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 10, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "sbmleq"})
    return plt


def error_histogram(rows: Sequence[dict[str, Any]]) -> str | None:
    models = [float(r["rel_l1"]) for r in rows if r.get("rel_l1") is not None
              and _status(r) == "converged_stable"]
    species = [float(sp["rel_err"]) for r in rows if r.get("rel_l1") is not None
               for sp in r.get("species") or [] if sp.get("rel_err") is not None]
    if not models:
        return None
    import numpy as np

    plt = _plt()
    floor, top = 1e-7, 1e2
    bins = np.logspace(np.log10(floor), np.log10(top), 37)
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    ax.hist(np.clip(species, floor, top), bins=bins, color="#9ecae1", label=f"species ({len(species)})")
    ax.hist(np.clip(models, floor, top), bins=bins, histtype="step", lw=2, color="#08519c",
            label=f"models, rel-L1 ({len(models)})")
    for x, lab in ((0.01, "1%"), (0.05, "5%")):
        ax.axvline(x, color="#d62728", ls="--", lw=1)
        ax.text(x, ax.get_ylim()[1] * 0.97, f" {lab}", color="#d62728", va="top", fontsize=9)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xscale("log")
    ax.set_xlabel("relative error vs roadrunner (values below 1e-7 shown at 1e-7)")
    ax.set_ylabel("count")
    ax.legend(frameon=False, loc="upper left")
    return _svg(fig)


def concentration_scatter(rows: Sequence[dict[str, Any]]) -> str | None:
    ind, ood, dropped = [], [], 0
    for r in rows:
        if r.get("rel_l1") is None or _status(r) != "converged_stable":
            continue
        target = ood if (r.get("prediction") or {}).get("out_of_distribution") else ind
        for sp in r.get("species") or []:
            p, q = sp.get("predicted"), sp.get("roadrunner")
            if p is None or q is None:
                continue
            if p > 0 and q > 0:
                target.append((q, p))
            else:
                dropped += 1
    if not ind and not ood:
        return None
    import numpy as np

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    everything = np.array(ind + ood)
    lo, hi = everything.min() / 2, everything.max() * 2
    if hi / lo < 1e3:  # at least three decades, so that the log axes get major ticks
        mid = math.sqrt(lo * hi)
        lo, hi = mid / 10**1.5, mid * 10**1.5
    line = np.array([lo, hi])
    ax.plot(line, line, color="#555", lw=1, label="y = x")
    ax.fill_between(line, line / 1.05, line * 1.05, color="#2ca02c", alpha=0.15, lw=0,
                    label="within 5%")
    for pts, color, label in ((ind, "#1f77b4", "in distribution"),
                              (ood, "#ff7f0e", "out of distribution")):
        if pts:
            a = np.array(pts)
            ax.scatter(a[:, 0], a[:, 1], s=12, alpha=0.7, color=color, lw=0,
                       label=f"{label} ({len(pts)})", rasterized=len(pts) > 2000)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("roadrunner steady state")
    ax.set_ylabel("predicted")
    title = "species of in-class models (declared units)"
    if dropped:
        title += f"; {dropped} non-positive value(s) not shown"
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    return _svg(fig)


# ------------------------------------------------------------------------------ HTML
_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1280px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:36px 0 10px;border-bottom:1px solid #d9dde3;padding-bottom:4px}
.meta{color:#5b6672;font-size:13px}.meta code{font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #d9dde3;border-radius:8px;padding:12px 16px;min-width:150px}
.card .v{font-size:26px;font-weight:600}.card .l{font-size:12px;color:#5b6672;text-transform:uppercase;letter-spacing:.04em}
.card .s{font-size:12px;color:#5b6672}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #e1e4e8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.plots{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.plot{background:#fff;border:1px solid #d9dde3;border-radius:8px;padding:8px}
.plot svg{display:block;max-width:100%;height:auto}
.bar{display:inline-block;height:10px;background:#6baed6;vertical-align:middle;margin-right:6px}
.ok{color:#1a7f37}.bad{color:#c62828}.muted{color:#8a949e}
.pill{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;white-space:nowrap}
.st-converged_stable{background:#dcf3e3}.st-converged_unstable{background:#fff1c2}.st-no_steady_state{background:#ffe1cc}
.st-solver_failure{background:#f8d7da}.st-timeout{background:#e4dcf7}
.oc-in_class{background:#dcecff}.oc-out_of_class{background:#eceff2}.oc-input_error,.oc-import_failure{background:#f8d7da}
#models{width:100%}#models td{max-width:420px;overflow-wrap:anywhere}
#models td:first-child{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
#reasons td:nth-child(2){min-width:260px}#reasons td:nth-child(3){min-width:270px;white-space:nowrap}
#models th{cursor:pointer;position:sticky;top:0}
#filter{margin:6px 0 8px;padding:5px 8px;width:360px;border:1px solid #c8ced5;border-radius:6px}
details{margin:8px 0}pre{background:#fff;border:1px solid #e1e4e8;padding:8px;font-size:11px;overflow:auto;max-height:320px}
.note{font-size:13px;color:#3d4650;max-width:1000px}
"""

_JS = """
(function(){
 var t=document.getElementById('models');if(!t)return;
 var body=t.tBodies[0],heads=t.tHead.rows[0].cells,dir={};
 for(var i=0;i<heads.length;i++)(function(k){heads[k].addEventListener('click',function(){
  var rows=Array.prototype.slice.call(body.rows),d=dir[k]=-(dir[k]||-1);
  rows.sort(function(a,b){var x=a.cells[k].getAttribute('data-v')||a.cells[k].textContent,
   y=b.cells[k].getAttribute('data-v')||b.cells[k].textContent,nx=parseFloat(x),ny=parseFloat(y);
   if(!isNaN(nx)&&!isNaN(ny))return d*(nx-ny);if(x===''&&y!=='')return 1;if(y===''&&x!=='')return -1;
   return d*x.localeCompare(y);});
  rows.forEach(function(r){body.appendChild(r);});});})(i);
 var f=document.getElementById('filter');
 f.addEventListener('input',function(){var q=f.value.toLowerCase();
  Array.prototype.forEach.call(body.rows,function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});
})();
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _card(value: Any, label: str, sub: str = "") -> str:
    return (f'<div class="card"><div class="l">{_e(label)}</div><div class="v">{_e(value)}</div>'
            f'<div class="s">{_e(sub)}</div></div>')


def _pill(kind: str, value: str | None) -> str:
    if not value:
        return ""
    return f'<span class="pill {kind}-{_e(value)}">{_e(value.replace("_", " "))}</span>'


def _agree_cell(x: Any, pocket: bool = False) -> str:
    if x is None:
        return '<td data-v=""></td>'
    if x:
        return '<td data-v="1" class="ok">yes</td>'
    if pocket:
        return ('<td data-v="0" class="muted" title="closed pocket: roadrunner converges to the '
                'state of the initial amounts; LIFE has no unique equilibrium">no (pocket)</td>')
    return '<td data-v="0" class="bad">no</td>'



def _model_rows(rows: Sequence[dict[str, Any]]) -> str:
    out = []
    for r in sorted(rows, key=lambda r: r.get("id", "")):
        rr, pred = r.get("roadrunner") or {}, r.get("prediction") or {}
        cats = model_categories(r)
        detail = r.get("error") or "; ".join(cats)
        exact_status = (r.get("exact") or {}).get("status")
        if r.get("outcome") == "in_class" and not detail:
            detail = f"exact LIFE: {exact_status or 'n/a'}"
            if exact_status == "non_unique":
                detail += " (closed pocket: the steady state depends on the initial amounts)"
            if r.get("prediction_error"):
                detail += f"; prediction failed: {r['prediction_error']}"
            if pred.get("ood_reasons"):
                detail += "; OOD: " + "; ".join(pred["ood_reasons"])
        title = (r.get("reasons") or [""])[0] if cats else (rr.get("message") or "")
        exists = pred.get("exists")
        pexists = "" if exists is None else f"{'yes' if exists else 'no'} ({pred.get('p_exists', 0):.2f})"
        rel = r.get("rel_l1")
        rel_cls = "" if rel is None else (' class="n ok"' if rel <= 0.05 else ' class="n bad"')
        ood = "OOD" if pred.get("out_of_distribution") else ""
        out.append(
            "<tr>"
            f'<td title="{_e(r.get("source"))}">{_e(r.get("id"))}</td>'
            f'<td>{_e((r.get("name") or "")[:70])}</td>'
            f'<td class="n">{_e(r.get("n_species", ""))}</td>'
            f'<td class="n">{_e(r.get("n_reactions", ""))}</td>'
            f'<td data-v="{_e(r.get("outcome"))}">{_pill("oc", r.get("outcome"))}</td>'
            f'<td data-v="{_e(rr.get("status", ""))}" title="{_e(rr.get("message", ""))}">'
            f'{_pill("st", rr.get("status"))}</td>'
            f'<td data-v="{_e(pred.get("p_exists", ""))}" title="{_e("; ".join(pred.get("ood_reasons") or []))}">'
            f'{_e(pexists)} <span class="muted">{ood}</span></td>'
            f'{_agree_cell(r.get("existence_agree"), exact_status == "non_unique")}'
            f'<td{rel_cls or " class=n"} data-v="{_e(rel if rel is not None else "")}">{_num(rel)}</td>'
            f'<td class="n" data-v="{_e(r.get("seconds", ""))}">{_num(r.get("seconds"), ".1f")}</td>'
            f'<td title="{_e(title)}">{_e(detail[:160])}</td>'
            "</tr>")
    return "\n".join(out)


def _status_table(s: dict[str, Any]) -> str:
    head = "".join(f'<th class="n">{_pill("st", k)}</th>' for k in RR_STATUSES)
    rows = []
    for label, key, total in (("all models", "rr_status_all", s["models"]),
                              ("in class", "rr_status_in_class", s["in_class"])):
        cells = "".join(f'<td class="n">{s[key][k]}</td>' for k in RR_STATUSES)
        rows.append(f"<tr><th>{label}</th>{cells}<td class='n'>{total}</td></tr>")
    return (f"<table><thead><tr><th>roadrunner status</th>{head}<th class='n'>total</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _confusion_table(s: dict[str, Any]) -> str:
    conf = s["existence"]["confusion"]
    head = "".join(f'<th class="n">{_pill("st", k)}</th>' for k in RR_STATUSES)
    rows = []
    for e, label in (("yes", "predicted: exists"), ("no", "predicted: no equilibrium")):
        cells = []
        for k in RR_STATUSES:
            v = conf[e][k]
            agree = (k == "converged_stable") == (e == "yes") if k in DECIDED else None
            cls = "n" + ("" if agree is None or not v else (" ok" if agree else " bad"))
            cells.append(f'<td class="{cls}">{v}</td>')
        rows.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
    return (f"<table><thead><tr><th>in-class models</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _families_table(s: dict[str, Any]) -> str:
    fams = s.get("reason_families") or []
    if not fams:
        return ""
    total = s["out_of_class"]
    rows = "".join(f"<tr><td>{_e(f['kind'])}</td><td class='n'>{f['models']}</td>"
                   f"<td class='n'>{_pct_small(_share(f['models'], total))}</td>"
                   f"<td class='n'>{f['only_reason']}</td></tr>" for f in fams)
    return ("<table id='families'><thead><tr><th>kind of reason</th><th class='n'>models blocked</th>"
            "<th class='n'>of out-of-class</th><th class='n'>only reason</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p class='note'>In detail (rate laws classified after "
            "expanding function definitions and assignment rules):</p>")


def _reasons_table(s: dict[str, Any]) -> str:
    reasons = s["reasons"]
    if not reasons:
        return "<p class='muted'>No model is out of class.</p>"
    top = max(r["models"] for r in reasons)
    total = s["out_of_class"]
    rows = []
    for k, r in enumerate(reasons, 1):
        width = int(220 * r["models"] / top) if top else 0
        rows.append(
            f"<tr><td class='n'>{k}</td><td>{_e(r['category'])}</td>"
            f"<td class='n'><span class='bar' style='width:{width}px'></span>{r['models']}</td>"
            f"<td class='n'>{_pct_small(_share(r['models'], total))}</td>"
            f"<td class='n'>{r['only_reason']}</td><td class='n'>{r['reactions']}</td>"
            f"<td><b>{_e(r['example_model'])}</b>: {_e(r['example'][:220])}</td></tr>")
    return ("<table id='reasons'><thead><tr><th class='n'>#</th><th>category</th><th class='n'>models blocked</th>"
            "<th class='n'>of out-of-class</th><th class='n'>only reason</th>"
            "<th class='n'>reactions / items</th><th>example</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _settings(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    for r in rows:
        settings = (r.get("roadrunner") or {}).get("settings") or {}
        if "steady_state" in settings:
            return settings
    for r in rows:
        settings = (r.get("roadrunner") or {}).get("settings")
        if settings:
            return settings
    return {}


def write_html(rows: Sequence[dict[str, Any]], path: str | Path, *, summary: dict[str, Any] | None = None,
               meta: dict[str, Any] | None = None) -> Path:
    """The self-contained HTML report."""
    rows = list(rows)
    s = summary or summarize(rows)
    meta = dict(meta or {})
    e, a = s["existence"], s["accuracy"]
    hist, scatter = error_histogram(rows), concentration_scatter(rows)
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    errors = s["outcomes"]["input_error"] + s["outcomes"]["import_failure"]
    cards = "".join([
        _card(s["models"], "models"),
        _card(s["in_class"], "in the LIFE class", _pct(_share(s["in_class"], s["models"]))),
        _card(s["predicted"], "predicted", f"{s['predicted_exists']} predicted to have an equilibrium"),
        _card(s["rr_status_all"]["converged_stable"], "roadrunner stable", "all models"),
        _card(_pct(e["agreement"]), "existence agreement", f"{e['agree']}/{e['decided']} in class"),
        _card(_pct(e["agreement_without_pockets"]), "agreement, no pockets",
              f"{e['agree_without_pockets']}/{e['decided_without_pockets']} (see below)"),
        _card(_pct(a["share_1pct_of_stable"]), "within 1%", f"{a['within_1pct']}/{a['rr_stable']} stable in class"),
        _card(_pct(a["share_5pct_of_stable"]), "within 5%", f"{a['within_5pct']}/{a['rr_stable']} stable in class"),
        _card(errors, "not imported", f"{s['outcomes']['input_error']} input errors, "
                                      f"{s['outcomes']['import_failure']} import failures"),
    ])
    err_list = "".join(f"<li>{_e(k)}: {v}</li>" for k, v in s["errors"].items())
    err_list += "".join(f"<li>in class, the prediction failed ({_e(k)}): {v}</li>"
                        for k, v in s["prediction_errors"].items())
    plots = "".join(f'<div class="plot">{p}</div>' for p in (hist, scatter) if p)
    if not plots:
        plots = "<p class='muted'>No in-class model has both a prediction and a stable roadrunner steady state: nothing to plot.</p>"
    meta_bits = [f"generated {now}"]
    if s["checkpoints"]:
        meta_bits.append("checkpoint " + ", ".join(f"<code>{_e(c)}</code>" for c in s["checkpoints"]))
    if s["timeouts_s"]:
        meta_bits.append("timeout " + ", ".join(f"{t:g} s" for t in s["timeouts_s"]))
    if meta.get("results"):
        meta_bits.append(f"results <code>{_e(meta['results'])}</code>")
    command = f"<div class='meta'>command: <code>{_e(meta['command'])}</code></div>" if meta.get("command") else ""
    check = s["import_check"]
    check_text = ("" if not check["n"] else
                  f"<p class='note'>Import check: on {check['n']} in-class models with a stable roadrunner "
                  f"steady state, the exact LIFE solution of the imported network matches roadrunner to "
                  f"rel-L1 &le; 1e-6 on {check['within_1e-6']} (largest {_num(check['max'])}).</p>")
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sbmleq validation report</title><style>{_CSS}</style></head>
<body><main>
<h1>sbmleq validation against roadrunner</h1>
<div class="meta">{' &middot; '.join(meta_bits)}</div>{command}
<div class="cards">{cards}</div>

<h2>Summary</h2>
{_status_table(s)}
<p class="note">{s['outcomes']['out_of_class']} model(s) are outside the LIFE class (see the reasons
below); {errors} could not be imported{(':</p><ul class="note">' + err_list + '</ul>') if err_list else '.</p>'}

<h2>Existence agreement with roadrunner</h2>
{_confusion_table(s)}
<p class="note">Agreement = predicted "equilibrium exists" equals roadrunner <i>converged_stable</i>, on
the {e['decided']} in-class models where roadrunner decided (converged stable, converged unstable or no
steady state): <b>{e['agree']}/{e['decided']} ({_pct(e['agreement'])})</b>. Timeouts and solver
failures ({e['undecided']}) are left out. A LIFE network whose species cannot all reach an excretion
has no <i>unique</i> equilibrium (a closed pocket keeps its initial mass), so the model answers "no"
where roadrunner converges to the initial-value-dependent state; leaving those {e['decided'] - e['decided_without_pockets']}
model(s) out, agreement is {e['agree_without_pockets']}/{e['decided_without_pockets']}
({_pct(e['agreement_without_pockets'])}). Against the exact LIFE label of the imported network the
model agrees on {e['exact_agree']}/{e['exact_n']} ({_pct(e['exact_agreement'])}).</p>
{check_text}

<h2>Accuracy of the predicted steady state</h2>
<p class="note">On the {a['rr_stable']} in-class models with a stable roadrunner steady state,
{a['compared']} have a predicted value; model-level error rel-L1 = &Sigma;|pred &minus; rr| / &Sigma;|rr|.
Within 1%: <b>{a['within_1pct']} ({_pct(a['share_1pct_of_stable'])})</b>, within 5%:
<b>{a['within_5pct']} ({_pct(a['share_5pct_of_stable'])})</b> of the {a['rr_stable']}
(of the {a['compared']} with a prediction: {_pct(a['share_1pct_of_compared'])} and
{_pct(a['share_5pct_of_compared'])}); median rel-L1 {_num(a['median_rel_l1'])};
{a['species_pairs']} species compared.</p>
<div class="plots">{plots}</div>

<h2>What keeps models out of the LIFE class</h2>
<p class="note">Each reason the importer gives is normalised to a category; a model counts once per
category. "Only reason": models that this category alone keeps out (supporting it would bring them in).</p>
{_families_table(s)}
{_reasons_table(s)}

<h2>Models</h2>
<input id="filter" type="search" placeholder="filter rows (id, name, status, reason...)">
<table id="models"><thead><tr><th>id</th><th>name</th><th class="n">species</th><th class="n">reactions</th>
<th>outcome</th><th>roadrunner</th><th>predicted exists (p)</th><th>agree</th><th class="n">rel-L1</th>
<th class="n">s</th><th>reason / error</th></tr></thead>
<tbody>
{_model_rows(rows)}
</tbody></table>
<p class="note">Click a column header to sort. Hover an id for its file, a roadrunner status for its
message, a reason for the importer's first reason.</p>

<h2>Settings</h2>
<details><summary>roadrunner solver settings (as recorded with the results)</summary>
<pre>{_e(json.dumps(_settings(rows), indent=1, default=str))}</pre></details>
<p class="note">BioModels content is public domain (CC0); cite BioModels (Malik-Sheriff et al., Nucleic
Acids Research 48(D1):D407-D415, 2020, doi:10.1093/nar/gkz1055) and each model's original publication when reporting results on them.</p>
</main><script>{_JS}</script></body></html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path


def write_report(rows: Sequence[dict[str, Any]], html_path: str | Path, *,
                 csv_path: str | Path | None = None, meta: dict[str, Any] | None = None,
                 markdown_path: str | Path | None = None) -> dict[str, Any]:
    """Write the HTML report (and the CSV table beside it, ``X.html`` -> ``X.csv``, and a
    Markdown summary ``X.summary.md``); return the summary."""
    rows = list(rows)
    s = summarize(rows)
    html_path = Path(html_path)
    write_html(rows, html_path, summary=s, meta=meta)
    write_csv(rows, csv_path if csv_path is not None else html_path.with_suffix(".csv"))
    md = Path(markdown_path) if markdown_path is not None else html_path.with_suffix(".summary.md")
    md.write_text(summary_markdown(s, command=(meta or {}).get("command", "")) + "\n", encoding="utf-8")
    return s
