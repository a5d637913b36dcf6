"""The validation report: one self-contained HTML file (plots embedded as SVG), a CSV table and a
Markdown summary.

Rows in, files out: :func:`write_report` takes result rows (one dict per model, as the results
store keeps them) and writes ``report.html`` (:func:`write_html`), ``report.csv``
(:func:`sbmleq.report.csv.write_csv`) and ``report.summary.md``
(:func:`sbmleq.report.summary.summary_markdown`). The markup is the Jinja2 template
``templates/report.html.j2`` (with ``report.css`` and ``report.js``), rendered with autoescape
on; this module only prepares the values. The SVG plots (:mod:`sbmleq.report.plots`) are the only
values inserted as markup.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sbmleq.report.categories import model_categories, reason_entries
from sbmleq.report.csv import write_csv
from sbmleq.report.fmt import as_dict, flag, num, number, pct, pct_small, share
from sbmleq.report.general_summary import SOLVE_STATUSES, TRUTH_KINDS, general_seconds
from sbmleq.report.plots import concentration_scatter, error_histogram, general_plot
from sbmleq.report.summary import DECIDED, RR_STATUSES, summarize, summary_markdown

__all__ = ["render_html", "write_html", "write_report"]

def _environment() -> Any:
    """The template environment (jinja2 is imported here: ~50 ms that only a report needs)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("sbmleq.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    env.filters.update(pct=pct, pct_small=pct_small, num=num)
    return env


def _text(x: Any) -> str:
    return "" if x is None else str(x)


def _model_row(r: dict[str, Any]) -> dict[str, Any]:
    """The cells of one model in the table (plain values; the template escapes them)."""
    rr, pred = as_dict(r.get("roadrunner")), as_dict(r.get("prediction"))
    entries = reason_entries(r)
    cats = model_categories(r)
    detail = _text(r.get("error")) or "; ".join(cats)
    exact_status = as_dict(r.get("exact")).get("status")
    ood_reasons = [str(x) for x in pred.get("ood_reasons") or [] if x is not None] \
        if isinstance(pred.get("ood_reasons"), list) else []
    if r.get("outcome") == "in_class" and not detail:
        detail = f"exact LIFE: {exact_status or 'n/a'}"
        if exact_status in ("non_unique", "conserved"):
            detail += " (closed pool: the steady state keeps the initial totals)"
        if r.get("prediction_error"):
            detail += f"; prediction failed: {r['prediction_error']}"
        if ood_reasons:
            detail += "; OOD: " + "; ".join(ood_reasons)
    exists, p_exists = flag(pred.get("exists")), number(pred.get("p_exists"))
    exists_text = "" if exists is None else ("yes" if exists else "no")
    if exists is not None:
        exists_text += f" ({p_exists:.2f})" if p_exists is not None else " (p n/a)"
    rel = number(r.get("rel_l1"))
    general, truth = as_dict(r.get("general")), as_dict(r.get("truth"))
    solve = as_dict(general.get("solve"))
    g_status = _text(solve.get("status")) or _text(general.get("outcome")).replace("_", " ")
    g_seconds = general_seconds(r)
    verdict = "" if truth.get("sbmleq") is None else \
        f"{truth.get('kind')}: sbmleq {truth.get('sbmleq')}, rr {truth.get('roadrunner')}"
    return {
        "id": _text(r.get("id")), "source": _text(r.get("source")),
        "name": _text(r.get("name"))[:70],
        "n_species": num(r.get("n_species"), "d"), "n_reactions": num(r.get("n_reactions"), "d"),
        "outcome": _text(r.get("outcome")),
        "rr_status": _text(rr.get("status")), "rr_message": _text(rr.get("message")),
        "p_exists": "" if p_exists is None else p_exists, "exists": exists_text,
        "ood_reasons": "; ".join(ood_reasons), "ood": bool(pred.get("out_of_distribution")),
        "agree": flag(r.get("existence_agree")), "pocket": exact_status == "non_unique",
        "rel_l1": "" if rel is None else rel, "rel_l1_text": num(rel),
        "rel_class": "n" if rel is None else ("n ok" if rel <= 0.05 else "n bad"),
        "seconds": "" if number(r.get("seconds")) is None else number(r.get("seconds")),
        "seconds_text": num(r.get("seconds"), ".1f"),
        "title": entries[0].text if entries else _text(rr.get("message")),
        "detail": detail[:160],
        "g_status": g_status, "g_message": _text(solve.get("message") or general.get("error")),
        "g_seconds": "" if g_seconds is None else g_seconds, "g_seconds_text": num(g_seconds, ".2f"),
        "g_agree": flag(general.get("rr_agree")), "truth": verdict,
        "truth_class": "" if truth.get("sbmleq") is None else
        ("ok" if truth.get("sbmleq") == "right" else "bad"),
    }


def _confusion(s: dict[str, Any]) -> list[tuple[str, list[tuple[int, str]]]]:
    conf = s["existence"]["confusion"]
    out = []
    for e, label in (("yes", "learned: unique equilibrium"), ("no", "learned: none")):
        cells = []
        for k in RR_STATUSES:
            v = conf[e][k]
            agree = (k == "converged_stable") == (e == "yes") if k in DECIDED else None
            cells.append((v, "n" + ("" if agree is None or not v else (" ok" if agree else " bad"))))
        out.append((label, cells))
    return out


def _settings(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    for r in rows:
        settings = as_dict(as_dict(r.get("roadrunner")).get("settings"))
        if "steady_state" in settings:
            return settings
    for r in rows:
        settings = as_dict(as_dict(r.get("roadrunner")).get("settings"))
        if settings:
            return settings
    return {}


def _context(rows: list[dict[str, Any]], s: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    e, a = s["existence"], s["accuracy"]
    not_imported = s["outcomes"]["input_error"] + s["outcomes"]["import_failure"]
    cards = [
        (s["models"], "models", ""),
        (s["in_class"], "in the LIFE class", pct(share(s["in_class"], s["models"]))),
        (s["rr_status_all"]["converged_stable"], "roadrunner stable", "all models"),
        (pct(e["agreement"]), "existence agreement",
         f"{e['agree']}/{e['decided']} in class: sbmleq's steady state"),
        (e["decided"] - e["decided_without_pockets"], "closed pools",
         "in class, decided by roadrunner"),
        (pct(e["learned_agreement"]), "learned verdict",
         f"{e['learned_agree']}/{e['learned_decided']} agree (unique equilibrium)"),
        (pct(a["share_1pct_of_stable"]), "within 1%", f"{a['within_1pct']}/{a['rr_stable']} stable in class"),
        (pct(a["share_5pct_of_stable"]), "within 5%", f"{a['within_5pct']}/{a['rr_stable']} stable in class"),
        (not_imported, "not imported", f"{s['outcomes']['input_error']} input errors, "
                                       f"{s['outcomes']['import_failure']} import failures"),
    ]
    total = s["out_of_class"]
    top = max((r["models"] for r in s["reasons"]), default=0)
    reasons = [{**r, "share": share(r["models"], total),
                "width": int(220 * r["models"] / top) if top else 0} for r in s["reasons"]]
    families = [{**f, "share": share(f["models"], total)} for f in s.get("reason_families") or []]
    from markupsafe import Markup  # jinja2's, with it

    plots = [Markup(p) for p in (error_histogram(rows), concentration_scatter(rows)) if p]
    g = s["general"]
    g_plot = general_plot(rows)
    return {
        "g": g, "g_plot": Markup(g_plot) if g_plot else "", "solve_statuses": SOLVE_STATUSES,
        "truth_kinds": TRUTH_KINDS,
        "s": {**s, "reason_families": families}, "meta": meta,
        "now": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "timeouts": [f"{t:g} s" for t in s["timeouts_s"]],
        "cards": cards, "statuses": RR_STATUSES,
        "status_rows": [("all models", s["rr_status_all"], s["models"]),
                        ("in class", s["rr_status_in_class"], s["in_class"])],
        "not_imported": not_imported, "errors": list(s["errors"].items()),
        "confusion": _confusion(s), "reasons": reasons, "plots": plots,
        "models": [_model_row(r) for r in sorted(rows, key=lambda r: str(r.get("id", "")))],
        "settings": json.dumps(_settings(rows), indent=1, default=str),
    }


def render_html(rows: Sequence[dict[str, Any]], *, summary: dict[str, Any] | None = None,
                meta: dict[str, Any] | None = None) -> str:
    """The self-contained HTML report as text."""
    rows = [r for r in rows if isinstance(r, dict)]
    s = summary or summarize(rows)
    meta = {"results": "", "command": "", "truth": "", **(meta or {})}
    return _environment().get_template("report.html.j2").render(_context(rows, s, meta))


def write_html(rows: Sequence[dict[str, Any]], path: str | Path, *, summary: dict[str, Any] | None = None,
               meta: dict[str, Any] | None = None) -> Path:
    """Write the self-contained HTML report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(rows, summary=summary, meta=meta), encoding="utf-8")
    return path


def write_report(rows: Sequence[dict[str, Any]], html_path: str | Path, *,
                 csv_path: str | Path | None = None, meta: dict[str, Any] | None = None,
                 markdown_path: str | Path | None = None) -> dict[str, Any]:
    """Write the HTML report (and the CSV table beside it, ``X.html`` -> ``X.csv``, and a
    Markdown summary ``X.summary.md``); return the summary."""
    rows = [r for r in rows if isinstance(r, dict)]
    s = summarize(rows)
    html_path = Path(html_path)
    write_html(rows, html_path, summary=s, meta=meta)
    write_csv(rows, csv_path if csv_path is not None else html_path.with_suffix(".csv"))
    md = Path(markdown_path) if markdown_path is not None else html_path.with_suffix(".summary.md")
    md.write_text(summary_markdown(s, command=(meta or {}).get("command", "")) + "\n", encoding="utf-8")
    return s
