"""The general-network part of a validation report: coverage, sbmleq vs roadrunner, the truth.

:func:`summarize_general` reads each row's ``general`` record (the general import and sbmleq's
verified solve, :mod:`sbmleq.validation.general_rows`), its ``roadrunner`` result and, where
the command joined a simulation truth, its ``truth`` verdict (:mod:`sbmleq.validation.truth`);
it returns plain numbers (the report's ``general`` summary). Reasons are counted by code, never
by their wording; rows without a ``general`` record (an earlier version, or a batch failure) are
counted as "not run". :func:`general_lines` and :func:`general_markdown` write it as text.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sbmleq.report.categories import code_label
from sbmleq.report.fmt import as_dict, flag, num, number, pct, share, status

__all__ = ["GENERAL_OUTCOMES", "LINEAR_FAMILIES", "SOLVE_STATUSES", "TRUTH_KINDS",
           "general_lines", "general_markdown", "general_seconds", "summarize_general"]

GENERAL_OUTCOMES = ("importable", "not_importable", "input_error", "failure")
SOLVE_STATUSES = ("stable", "unstable", "oscillation", "unbounded", "not_found", "failed",
                  "timeout")
TRUTH_KINDS = ("settled", "oscillating", "growing")
LINEAR_FAMILIES = ("zero_order", "mass_action_1")  # a model with only these is linear


def _general(row: dict[str, Any]) -> dict[str, Any] | None:
    value = row.get("general")
    return value if isinstance(value, dict) else None


def _solve(row: dict[str, Any]) -> dict[str, Any]:
    return as_dict(as_dict(row.get("general")).get("solve"))


def general_seconds(row: dict[str, Any]) -> float | None:
    """sbmleq's time for one model from the SBML file: import + compile + solve."""
    g, solve = as_dict(row.get("general")), _solve(row)
    imp, sec = number(g.get("import_seconds")), number(solve.get("seconds"))
    return None if sec is None else sec + (imp or 0.0)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _coverage(rows: list[dict[str, Any]]) -> dict[str, Any]:
    records = [g for g in map(_general, rows) if g is not None]
    outcomes = Counter(str(g.get("outcome")) for g in records)
    importable = outcomes.get("importable", 0)
    candidates = importable + outcomes.get("not_importable", 0) + outcomes.get("failure", 0)
    blocked: Counter[str] = Counter()
    sole: Counter[str] = Counter()
    items: Counter[str] = Counter()
    example: dict[str, tuple[str, str]] = {}
    for row, g in ((r, _general(r)) for r in rows):
        if g is None or g.get("outcome") != "not_importable":
            continue
        codes = [as_dict(d) for d in g.get("reason_codes") or [] if isinstance(d, dict)]
        own = list(dict.fromkeys(str(d.get("code") or "other") for d in codes))
        blocked.update(own)
        if len(own) == 1:
            sole[own[0]] += 1
        for d in codes:
            code = str(d.get("code") or "other")
            items[code] += 1
            text = f"{d.get('element')}: {d.get('message')}" if d.get("element") else \
                str(d.get("message") or "")
            if code not in example or len(text) < len(example[code][1]):
                example[code] = (str(row.get("id", "")), text)
    reasons = [{"code": c, "label": code_label(c), "models": n, "only_reason": sole.get(c, 0),
                "occurrences": items.get(c, 0), "example_model": example[c][0],
                "example": example[c][1]} for c, n in blocked.most_common()]
    reactions: Counter[str] = Counter()
    models: Counter[str] = Counter()
    beyond = 0  # models with a law other than zero order / first-order mass action
    for g in records:
        if g.get("outcome") != "importable":
            continue
        fams = [str(f) for f in as_dict(g.get("families")).values()]
        reactions.update(fams)
        models.update(set(fams))
        beyond += any(f not in LINEAR_FAMILIES for f in fams)
    families = [{"family": f, "reactions": reactions[f], "models": models[f]}
                for f in sorted(reactions, key=lambda f: (-models[f], -reactions[f], f))]
    return {"rows": len(rows), "not_run": len(rows) - len(records),
            "outcomes": {k: outcomes.get(k, 0) for k in GENERAL_OUTCOMES},
            "candidates": candidates, "importable": importable,
            "coverage": share(importable, candidates), "beyond_linear": beyond,
            "reasons": reasons, "families": families,
            "failure_codes": dict(Counter(str(g.get("error_code")) for g in records
                                          if g.get("outcome") in ("failure", "input_error")))}


def _solver(rows: list[dict[str, Any]]) -> dict[str, Any]:
    importable = [r for r in rows if as_dict(_general(r) or {}).get("outcome") == "importable"]
    statuses = Counter(str(_solve(r).get("status")) for r in importable)
    compared = [r for r in importable if flag(as_dict(r["general"]).get("rr_agree")) is not None]
    agree = sum(bool(r["general"]["rr_agree"]) for r in compared)
    cross = Counter((str(_solve(r).get("status")), status(r) or "not run") for r in importable)
    both = [r for r in importable if general_seconds(r) is not None
            and number(as_dict(r.get("roadrunner")).get("seconds")) is not None]
    ours = [general_seconds(r) for r in both]
    theirs = [number(r["roadrunner"]["seconds"]) for r in both]
    return {
        "solved": len(importable),
        "statuses": {k: statuses.get(k, 0) for k in SOLVE_STATUSES},
        "compared": len(compared), "agree": agree, "agreement": share(agree, len(compared)),
        "cross": [{"sbmleq": a, "roadrunner": b, "models": n}
                  for (a, b), n in sorted(cross.items(), key=lambda kv: (-kv[1], kv[0]))],
        "timed": len(both), "median_s": _median(ours), "rr_median_s": _median(theirs),
        "max_s": max(ours) if ours else None, "rr_max_s": max(theirs) if theirs else None,
        "faster": sum(a < b for a, b in zip(ours, theirs)),
    }


def _truth(rows: list[dict[str, Any]]) -> dict[str, Any]:
    verdicts = [(r, as_dict(r.get("truth"))) for r in rows if as_dict(r.get("truth"))]
    kinds = Counter(str(t.get("kind")) for _, t in verdicts)
    out: dict[str, Any] = {"joined": len(verdicts), "kinds": dict(kinds.most_common()),
                           "by_kind": {}}
    for kind in TRUTH_KINDS:
        group = [t for _, t in verdicts if t.get("kind") == kind and t.get("sbmleq") is not None]
        ours = [t["sbmleq"] == "right" for t in group]
        theirs = [t.get("roadrunner") == "right" for t in group]
        entry = {"models": len(group), "sbmleq_right": sum(ours), "rr_right": sum(theirs),
                 "both": sum(a and b for a, b in zip(ours, theirs)),
                 "neither": sum(not a and not b for a, b in zip(ours, theirs)),
                 "sbmleq": dict(Counter(str(t["sbmleq"]) for t in group)),
                 "roadrunner": dict(Counter(str(t.get("roadrunner")) for t in group))}
        entry["sbmleq_only"] = entry["sbmleq_right"] - entry["both"]
        entry["rr_only"] = entry["rr_right"] - entry["both"]
        if kind == "settled":
            rr_bad = [t for t in group if t.get("roadrunner") != "right"]
            plain_bad = [t for t in group if t.get("plain") not in (None, "agrees")]
            entry.update(
                rr_wrong_or_failed=len(rr_bad),
                rr_wrong_or_failed_sbmleq_right=sum(t["sbmleq"] == "right" for t in rr_bad),
                plain_known=sum(t.get("plain") is not None for t in group),
                plain_right=sum(t.get("plain") == "agrees" for t in group),
                plain_wrong_or_failed=len(plain_bad),
                plain_wrong_or_failed_sbmleq_right=sum(t["sbmleq"] == "right" for t in plain_bad),
                plain=dict(Counter(str(t.get("plain")) for t in group)))
        out["by_kind"][kind] = entry
    return out


def summarize_general(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every general-network number of the report, as a JSON-ready dict."""
    rows = [r for r in rows if isinstance(r, dict)]
    return {**_coverage(rows), "solver": _solver(rows), "truth": _truth(rows)}


def general_lines(g: dict[str, Any]) -> list[str]:
    """The general part of the terminal summary (empty when no row has a general record)."""
    if g["rows"] == g["not_run"]:
        return [f"general networks: not analysed ({g['not_run']} row(s) of an earlier version: "
                "--retry runs them again)"] if g["rows"] else []
    o, v = g["outcomes"], g["solver"]
    fams = ", ".join(f"{f['family']} {f['models']}" for f in g["families"][:6])
    lines = [f"general networks: importable {g['importable']}/{g['candidates']} "
             f"({pct(g['coverage'])}; {g['beyond_linear']} beyond first-order mass action), "
             f"not importable {o['not_importable']}, input errors {o['input_error']}, "
             f"failures {o['failure']}"
             + (f", not run {g['not_run']}" if g["not_run"] else "")]
    if g["reasons"]:
        lines.append("  not importable, by code: " + "; ".join(
            f"{r['code']} {r['models']}" for r in g["reasons"][:6]))
    if fams:
        lines.append(f"  models by rate-law family: {fams}")
    lines.append("  sbmleq solver: " + ", ".join(f"{k} {n}" for k, n in v["statuses"].items() if n)
                 + f"; same state as roadrunner (rel-L1 <= 1e-4) {v['agree']}/{v['compared']} "
                 f"where both returned one")
    if v["timed"]:
        lines.append(f"  time per model, median: sbmleq {num(v['median_s'])} s, roadrunner "
                     f"{num(v['rr_median_s'])} s ({v['timed']} models; sbmleq faster on "
                     f"{v['faster']})")
    t = g["truth"]
    if t["joined"]:
        s = t["by_kind"]["settled"]
        lines.append(f"  vs simulation truth ({t['joined']} models with a record): settled "
                     f"{s['models']}: sbmleq right {s['sbmleq_right']}, roadrunner right "
                     f"{s['rr_right']}, both {s['both']}, neither {s['neither']}; roadrunner "
                     f"wrong or failed on {s['rr_wrong_or_failed']} (sbmleq right on "
                     f"{s['rr_wrong_or_failed_sbmleq_right']}); plain steadyState() wrong or "
                     f"failed on {s['plain_wrong_or_failed']} (sbmleq right on "
                     f"{s['plain_wrong_or_failed_sbmleq_right']})")
        for kind, what in (("oscillating", "oscillation"), ("growing", "unbounded growth")):
            k = t["by_kind"][kind]
            if k["models"]:
                lines.append(f"  {kind} {k['models']}: sbmleq recognises {what} in "
                             f"{k['sbmleq_right']}, roadrunner reports no stable steady state "
                             f"in {k['rr_right']}")
    return lines


def general_markdown(g: dict[str, Any]) -> list[str]:
    """The general part of the Markdown summary (lines)."""
    if g["rows"] == g["not_run"]:
        return []
    o, v, t = g["outcomes"], g["solver"], g["truth"]
    out = ["| general reaction networks | models |", "|---|---:|",
           f"| importable (of readable models) | {g['importable']}/{g['candidates']} "
           f"({pct(g['coverage'])}) |",
           f"| of them with a rate law other than zero order / first-order mass action | "
           f"{g['beyond_linear']} |",
           f"| not importable / input errors / failures | {o['not_importable']} / "
           f"{o['input_error']} / {o['failure']} |",
           f"| sbmleq = roadrunner (rel-L1 <= 1e-4, both returned a state) | "
           f"{v['agree']}/{v['compared']} |",
           f"| median time per model, sbmleq / roadrunner (s) | {num(v['median_s'])} / "
           f"{num(v['rr_median_s'])} |", ""]
    if g["reasons"]:
        out += ["| not importable: code | models | only reason |", "|---|---:|---:|"]
        out += [f"| `{r['code']}` | {r['models']} | {r['only_reason']} |" for r in g["reasons"]]
        out.append("")
    if t["joined"]:
        out += ["| simulation truth | models | sbmleq right | roadrunner right | both | neither |",
                "|---|---:|---:|---:|---:|---:|"]
        out += [f"| {kind} | {k['models']} | {k['sbmleq_right']} | {k['rr_right']} | "
                f"{k['both']} | {k['neither']} |" for kind, k in t["by_kind"].items()]
        s = t["by_kind"]["settled"]
        out += ["", f"Settled models where roadrunner is wrong or failed: "
                f"{s['rr_wrong_or_failed']}, sbmleq right on {s['rr_wrong_or_failed_sbmleq_right']};"
                f" where plain `steadyState()` is wrong or failed: {s['plain_wrong_or_failed']}, "
                f"sbmleq right on {s['plain_wrong_or_failed_sbmleq_right']}.", ""]
    return out
