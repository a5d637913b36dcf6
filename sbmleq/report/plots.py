"""The report's plots as inline SVG text: the relative-error histogram, the sbmleq vs
roadrunner scatter and, for the general networks, who is right against the simulation truth and
the time per model (:func:`general_plot`).

matplotlib (and numpy with it) is imported inside the functions, on purpose: it is a heavy
third-party library (about a second to import) that only a report with something to plot
needs; ``import sbmleq.report.html`` stays fast and the summary and CSV work without it.
Values that are missing, null or not finite are left out of the plots.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from sbmleq.report.fmt import as_dict, number, status

__all__ = ["concentration_scatter", "error_histogram", "general_plot"]


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]  # drop the XML declaration and doctype


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 10, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "sbmleq"})
    return plt


def _compared(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with a model error against a stable roadrunner steady state."""
    return [r for r in rows if number(r.get("rel_l1")) is not None and status(r) == "converged_stable"]


def _species(row: dict[str, Any]) -> list[dict[str, Any]]:
    value = row.get("species")
    return [sp for sp in value if isinstance(sp, dict)] if isinstance(value, list) else []


def error_histogram(rows: Sequence[dict[str, Any]]) -> str | None:
    """Histogram of model rel-L1 and per-species relative errors (log scale), or None."""
    compared = _compared(rows)
    models = [number(r["rel_l1"]) for r in compared]
    species = [x for r in compared for x in (number(sp.get("rel_err")) for sp in _species(r))
               if x is not None]
    if not models:
        return None
    import numpy as np
    from matplotlib.ticker import MaxNLocator

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
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xscale("log")
    ax.set_xlabel("relative error vs roadrunner (values below 1e-7 shown at 1e-7)")
    ax.set_ylabel("count")
    ax.legend(frameon=False, loc="upper left")
    return _svg(fig)


def concentration_scatter(rows: Sequence[dict[str, Any]]) -> str | None:
    """Log-log scatter against roadrunner of sbmleq's reported steady state and of the learned
    prediction (in / out of distribution), or None."""
    ind: list[tuple[float, float]] = []
    ood: list[tuple[float, float]] = []
    steady: list[tuple[float, float]] = []
    dropped = 0
    for r in _compared(rows):
        target = ood if as_dict(r.get("prediction")).get("out_of_distribution") else ind
        for sp in _species(r):
            q = number(sp.get("roadrunner"))
            for value, points in ((number(sp.get("exact")), steady),
                                  (number(sp.get("predicted")), target)):
                if value is None or q is None:
                    continue
                if value > 0 and q > 0:
                    points.append((q, value))
                else:
                    dropped += 1
    if not ind and not ood and not steady:
        return None
    import numpy as np
    from matplotlib.ticker import NullFormatter

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    everything = np.array(ind + ood + steady)
    lo, hi = everything.min() / 2, everything.max() * 2
    if hi / lo < 1e3:  # at least three decades, so that the log axes get major ticks
        mid = math.sqrt(lo * hi)
        lo, hi = mid / 10**1.5, mid * 10**1.5
    line = np.array([lo, hi])
    ax.plot(line, line, color="#555", lw=1, label="y = x")
    ax.fill_between(line, line / 1.05, line * 1.05, color="#2ca02c", alpha=0.15, lw=0,
                    label="within 5%")
    for pts, color, marker, label in (
            (steady, "#2ca02c", "o", "sbmleq steady state (exact)"),
            (ind, "#1f77b4", "x", "learned, in distribution"),
            (ood, "#ff7f0e", "x", "learned, out of distribution")):
        if pts:
            a = np.array(pts)
            ax.scatter(a[:, 0], a[:, 1], s=14 if marker == "o" else 18, alpha=0.7, color=color,
                       marker=marker, lw=0 if marker == "o" else 1,
                       label=f"{label} ({len(pts)})", rasterized=len(pts) > 2000)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("roadrunner steady state")
    ax.set_ylabel("sbmleq")
    title = "species of in-class models (declared units)"
    if dropped:
        title += f"; {dropped} non-positive value(s) not shown"
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    return _svg(fig)


def _general_seconds(row: dict[str, Any]) -> tuple[float, float] | None:
    """(sbmleq import + solve, roadrunner) seconds of one row, or None."""
    general = as_dict(row.get("general"))
    solve = as_dict(general.get("solve"))
    ours, imp = number(solve.get("seconds")), number(general.get("import_seconds")) or 0.0
    theirs = number(as_dict(row.get("roadrunner")).get("seconds"))
    if ours is None or theirs is None:
        return None
    return max(ours + imp, 1e-3), max(theirs, 1e-3)


def general_plot(rows: Sequence[dict[str, Any]]) -> str | None:
    """sbmleq's solver on the general networks: who is right against the simulation truth
    (bars per truth kind, where the rows carry a ``truth`` verdict) and the time per model,
    sbmleq vs roadrunner (log-log, coloured by whether the two states agree); None when there
    is nothing to show."""
    kinds = ("settled", "oscillating", "growing")
    verdicts = [as_dict(r.get("truth")) for r in rows]
    verdicts = [t for t in verdicts if t.get("kind") in kinds and t.get("sbmleq") is not None]
    times = [(t, as_dict(r.get("general")).get("rr_agree")) for r in rows
             if (t := _general_seconds(r)) is not None]
    if not verdicts and not times:
        return None
    import numpy as np

    plt = _plt()
    panels = int(bool(verdicts)) + int(bool(times))
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.9), squeeze=False)
    axes = list(axes[0])
    if verdicts:
        ax = axes.pop(0)
        x = np.arange(len(kinds))
        total = [sum(t["kind"] == k for t in verdicts) for k in kinds]
        ours = [sum(t["kind"] == k and t["sbmleq"] == "right" for t in verdicts) for k in kinds]
        theirs = [sum(t["kind"] == k and t.get("roadrunner") == "right" for t in verdicts)
                  for k in kinds]
        ax.bar(x - 0.2, ours, 0.4, color="#2ca02c", label="sbmleq right")
        ax.bar(x + 0.2, theirs, 0.4, color="#1f77b4", label="roadrunner right")
        ax.bar(x, total, 0.8, fill=False, edgecolor="#555", lw=1, label="models")
        ax.set_xticks(x, [f"{k}\n({n})" for k, n in zip(kinds, total)])
        ax.set_ylabel("models")
        ax.set_title("against the simulation truth", fontsize=9)
        ax.legend(frameon=False, fontsize=8, loc="upper right")
    if times:
        ax = axes.pop(0)
        a = np.array([t for t, _ in times])
        lo, hi = a.min() / 2, a.max() * 2
        ax.plot([lo, hi], [lo, hi], color="#555", lw=1, label="same time")
        for agree, color, label in ((True, "#2ca02c", "same state"), (False, "#d62728",
                                    "different state"), (None, "#8a949e", "not compared")):
            pts = np.array([t for t, g in times if g is agree or (agree is None and g is None)])
            if len(pts):
                ax.scatter(pts[:, 1], pts[:, 0], s=16, alpha=0.75, color=color, lw=0,
                           label=f"{label} ({len(pts)})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("roadrunner (s)")
        ax.set_ylabel("sbmleq: import + solve (s)")
        ax.set_title("time per model", fontsize=9)
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    return _svg(fig)
