"""The numbers of a validation report: :func:`summarize`, and the summary as text and Markdown.

Input: result rows (one dict per model, as :func:`sbmleq.validation.store.read_results` gives
them); output: plain dicts and strings. Out-of-class reasons and errors are counted by code
(:mod:`sbmleq.report.categories`). Rows with missing, null or NaN numbers are counted as
"no value" (:mod:`sbmleq.report.fmt`), never an error. The general-network numbers (coverage,
sbmleq's solver against roadrunner and the simulation truth) are ``summary["general"]``
(:mod:`sbmleq.report.general_summary`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sbmleq.report.categories import error_code, error_label, model_categories, reason_entries
from sbmleq.report.fmt import as_dict, flag, num, number, pct, share, status
from sbmleq.report.general_summary import general_lines, general_markdown, summarize_general

__all__ = ["DECIDED", "OUTCOMES", "RR_STATUSES", "console_summary", "model_categories", "summarize",
           "summary_markdown"]

RR_STATUSES = ("converged_stable", "converged_unstable", "no_steady_state", "solver_failure",
               "timeout")
OUTCOMES = ("in_class", "out_of_class", "input_error", "import_failure")
DECIDED = ("converged_stable", "converged_unstable", "no_steady_state")


def _existence(inclass: list[dict[str, Any]]) -> dict[str, Any]:
    confusion = {e: {k: 0 for k in RR_STATUSES} for e in ("yes", "no")}
    for r in inclass:
        st, pred = status(r), r.get("prediction")
        if isinstance(pred, dict) and st in RR_STATUSES:
            confusion["yes" if pred.get("exists") else "no"][st] += 1
    decided = [r for r in inclass if flag(r.get("existence_agree")) is not None]
    agree = sum(r["existence_agree"] for r in decided)
    exact_rows = [r for r in inclass if flag(r.get("exact_agree")) is not None]
    stable = [r for r in inclass if status(r) == "converged_stable"]
    unique_stable = [r for r in stable if as_dict(r.get("roadrunner")).get("unique")]
    life_decided = [r for r in decided
                    if as_dict(r.get("exact")).get("status") not in ("non_unique", "conserved")]
    learned = [r for r in inclass if flag(r.get("predicted_existence_agree")) is not None]
    e = {
        "decided": len(decided), "agree": agree, "agreement": share(agree, len(decided)),
        "undecided": len(inclass) - len(decided), "confusion": confusion,
        "decided_without_pockets": len(life_decided),
        "agree_without_pockets": sum(r["existence_agree"] for r in life_decided),
        "exact_n": len(exact_rows), "exact_agree": sum(r["exact_agree"] for r in exact_rows),
        "exact_status": dict(Counter(str(as_dict(r.get("exact")).get("status")) for r in inclass
                                     if as_dict(r.get("exact")))),
        "rr_stable": len(stable), "rr_stable_unique": len(unique_stable),
        "learned_decided": len(learned),
        "learned_agree": sum(r["predicted_existence_agree"] for r in learned),
    }
    e["learned_agreement"] = share(e["learned_agree"], e["learned_decided"])
    e["agreement_without_pockets"] = share(e["agree_without_pockets"], e["decided_without_pockets"])
    e["exact_agreement"] = share(e["exact_agree"], e["exact_n"])
    return e


def _accuracy(inclass: list[dict[str, Any]], key: str = "rel_l1") -> dict[str, Any]:
    """Model-level rel-L1 against roadrunner's stable steady state: ``rel_l1`` is sbmleq's
    reported (exact) steady state, ``predicted_rel_l1`` the learned prediction."""
    stable = [r for r in inclass if status(r) == "converged_stable"]
    compared = [r for r in stable if number(r.get(key)) is not None]
    errs = sorted(number(r[key]) for r in compared)
    within = {t: sum(x <= t for x in errs) for t in (0.01, 0.05)}
    return {
        "rr_stable": len(stable),
        "compared": len(compared),
        "within_1pct": within[0.01], "within_5pct": within[0.05],
        "share_1pct_of_stable": share(within[0.01], len(stable)),
        "share_5pct_of_stable": share(within[0.05], len(stable)),
        "share_1pct_of_compared": share(within[0.01], len(compared)),
        "share_5pct_of_compared": share(within[0.05], len(compared)),
        "median_rel_l1": errs[len(errs) // 2] if errs else None,
        "species_pairs": sum(int(number(r.get("compared_species")) or 0) for r in compared),
    }


def _reasons(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(reasons by category, reasons by kind), each ranked by the models they block."""
    blocked: Counter[str] = Counter()
    sole: Counter[str] = Counter()
    items: Counter[str] = Counter()
    code: dict[str, str] = {}
    example: dict[str, tuple[str, str]] = {}
    kinds: Counter[str] = Counter()
    kinds_sole: Counter[str] = Counter()
    kind_code: dict[str, str] = {}
    for r in rows:
        if r.get("outcome") != "out_of_class":
            continue
        entries = reason_entries(r)
        cats = Counter(e.category for e in entries)
        blocked.update(cats.keys())
        if len(cats) == 1:
            sole[next(iter(cats))] += 1
        own = list(dict.fromkeys(e.kind for e in entries))  # in order: ties rank as met
        kinds.update(own)
        if len(own) == 1:
            kinds_sole[next(iter(own))] += 1
        for e in entries:
            items[e.category] += 1
            code.setdefault(e.category, e.code)
            kind_code.setdefault(e.kind, e.code)
            if e.category not in example or len(e.text) < len(example[e.category][1]):
                example[e.category] = (str(r.get("id", "")), e.text)
    reasons = [{"category": c, "code": code[c], "models": n, "only_reason": sole.get(c, 0),
                "reactions": items.get(c, 0), "example_model": example[c][0],
                "example": example[c][1]} for c, n in blocked.most_common()]
    families = [{"kind": k, "code": kind_code[k], "models": n, "only_reason": kinds_sole.get(k, 0)}
                for k, n in kinds.most_common()]
    return reasons, families


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every number the report shows, as a JSON-ready dict."""
    rows = [r for r in rows if isinstance(r, dict)]
    outcome = Counter(r.get("outcome") for r in rows)
    inclass = [r for r in rows if r.get("outcome") == "in_class"]
    s: dict[str, Any] = {
        "models": len(rows),
        "outcomes": {k: outcome.get(k, 0) for k in OUTCOMES},
        "in_class": len(inclass),
        "rr_status_all": {k: sum(status(r) == k for r in rows) for k in RR_STATUSES},
        "rr_status_in_class": {k: sum(status(r) == k for r in inclass) for k in RR_STATUSES},
        "predicted": sum(isinstance(r.get("prediction"), dict) for r in inclass),
        "prediction_errors": dict(Counter(str(r["prediction_error"])[:120] for r in inclass
                                          if r.get("prediction_error"))),
        "predicted_exists": sum(bool(as_dict(r.get("prediction")).get("exists")) for r in inclass),
        "out_of_distribution": sum(bool(as_dict(r.get("prediction")).get("out_of_distribution"))
                                   for r in inclass),
        "checkpoints": sorted({f"{r['checkpoint']} (sha256 {str(r.get('checkpoint_sha256'))[:12]})"
                               for r in rows if r.get("checkpoint")}),
        "timeouts_s": sorted({t for t in (number(r.get("timeout")) for r in rows) if t is not None}),
    }
    s["existence"] = _existence(inclass)
    s["accuracy"] = _accuracy(inclass)
    s["learned_accuracy"] = _accuracy(inclass, "predicted_rel_l1")
    checks = [x for x in (number(r.get("rr_exact_rel_l1")) for r in inclass
                          if status(r) == "converged_stable") if x is not None]
    s["import_check"] = {"n": len(checks), "max": max(checks) if checks else None,
                         "within_1e-6": sum(x <= 1e-6 for x in checks)}
    s["reasons"], s["reason_families"] = _reasons(rows)
    s["out_of_class"] = outcome.get("out_of_class", 0)
    codes = Counter(error_code(r) for r in rows if r.get("outcome") in ("input_error", "import_failure"))
    s["error_codes"] = dict(codes.most_common())
    s["errors"] = {error_label(c): n for c, n in codes.most_common()}
    s["general"] = summarize_general(rows)
    return s


def console_summary(s: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    e, a = s["existence"], s["accuracy"]
    lines = [
        f"models {s['models']}: in class {s['in_class']}, out of class {s['out_of_class']}, "
        f"not imported {s['outcomes']['input_error'] + s['outcomes']['import_failure']}",
        "roadrunner (all): " + ", ".join(f"{k} {v}" for k, v in s["rr_status_all"].items() if v),
    ]
    if s["in_class"]:
        pockets = e["decided"] - e["decided_without_pockets"]
        lines.append(f"existence agreement, sbmleq's steady state (exact, from the initial values) "
                     f"vs roadrunner, in class where roadrunner decided: {e['agree']}/"
                     f"{e['decided']} ({pct(e['agreement'])}); of them {pockets} closed pool(s); "
                     f"learned verdict (unique equilibrium) vs roadrunner {e['learned_agree']}/"
                     f"{e['learned_decided']} ({pct(e['learned_agreement'])}), vs the exact "
                     f"unique label {e['exact_agree']}/{e['exact_n']} ({pct(e['exact_agreement'])})")
        lines.append(f"sbmleq's steady state vs roadrunner's, in class with a stable roadrunner "
                     f"steady state: {a['rr_stable']}; within 1% "
                     f"{a['within_1pct']} ({pct(a['share_1pct_of_stable'])}), within 5% "
                     f"{a['within_5pct']} ({pct(a['share_5pct_of_stable'])}); median rel-L1 "
                     f"{num(a['median_rel_l1'])}")
        la = s["learned_accuracy"]
        lines.append(f"learned prediction vs roadrunner (where the model predicts a unique "
                     f"equilibrium): {la['compared']} compared; within 1% {la['within_1pct']}, "
                     f"within 5% {la['within_5pct']} of the {la['rr_stable']} stable")
    if s["reasons"]:
        top = "; ".join(f"{r['category']} ({r['models']})" for r in s["reasons"][:3])
        lines.append(f"top out-of-class reasons: {top}")
    if "general" in s:
        lines += general_lines(s["general"])
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
            f"| existence agreement with roadrunner (sbmleq's exact verdict from the initial "
            f"values: the dynamics settle = converged_stable) | "
            f"{e['agree']}/{e['decided']} ({pct(e['agreement'])}) |",
            f"| of them closed pools (conserved totals from the initial values) | "
            f"{e['decided'] - e['decided_without_pockets']} |",
            f"| learned verdict (a unique equilibrium) = converged_stable | "
            f"{e['learned_agree']}/{e['learned_decided']} ({pct(e['learned_agreement'])}) |",
            f"| learned verdict = the exact unique-equilibrium label | "
            f"{e['exact_agree']}/{e['exact_n']} ({pct(e['exact_agreement'])}) |",
            f"| roadrunner converged_stable | {a['rr_stable']} |",
            f"| within 1% of roadrunner (rel-L1 <= 0.01), share of converged_stable | "
            f"{a['within_1pct']} ({pct(a['share_1pct_of_stable'])}) |",
            f"| within 5% of roadrunner, share of converged_stable | {a['within_5pct']} "
            f"({pct(a['share_5pct_of_stable'])}) |",
            f"| learned prediction within 1% / 5% of roadrunner, share of converged_stable | "
            f"{s['learned_accuracy']['within_1pct']} / {s['learned_accuracy']['within_5pct']} "
            f"(of {a['rr_stable']}; {s['learned_accuracy']['compared']} predicted) |",
            f"| median rel-L1 | {num(a['median_rel_l1'])} |",
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
    if "general" in s:
        out += general_markdown(s["general"])
    return "\n".join(out)
