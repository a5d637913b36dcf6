"""Tables of benchmarks/bench_warm_start.py: per-arm summaries of its rows, printed.

A row is one item (network): ``outcome`` (the truth), its group keys (``family``, ``size``,
``decades``) and per arm ``{"status", "quick", "iterations", "right", "first_stable",
"first_reached", "rhs", "jac", "times": [seconds per repeat], "splits": [...]}``. Ratios are
taken against arm ``D`` (the chain) repeat by repeat (the two timed side by side).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

import numpy as np

import _timing

def median_time(a: dict[str, Any]) -> float:
    return statistics.median(a["times"])


def summary(rows: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        arm = [r["arms"][name] for r in rows]
        per_item = [statistics.median(_timing.ratios(a["times"], r["arms"]["D"]["times"]))
                    for a, r in zip(arm, rows)]
        reps = min(len(r["arms"]["D"]["times"]) for r in rows)
        per_repeat = [statistics.median(r["arms"][name]["times"][k] / r["arms"]["D"]["times"][k]
                                        for r in rows) for k in range(reps)]
        firsts = [a for a in arm if a["first_stable"]]
        its = [a["iterations"] for a in arm if a["iterations"] is not None]
        out[name] = {
            "items": len(arm), "right": float(np.mean([a["right"] for a in arm])),
            "first_stable": float(np.mean([a["first_stable"] for a in arm])),
            "first_reached": (float(np.mean([a["first_reached"] for a in firsts]))
                              if firsts else float("nan")),
            "quick": float(np.mean([a["quick"] for a in arm])),
            "iterations": statistics.median(its) if its else float("nan"),
            "rhs": statistics.median(a["rhs"] for a in arm),
            "jac": statistics.median(a["jac"] for a in arm),
            "seconds": _timing.spread([median_time(a) for a in arm]),
            "ratio": _timing.spread(per_item), "ratio_repeats": _timing.spread(per_repeat)}
    return out


def split_summary(rows: list[dict[str, Any]], name: str = "A") -> dict[str, Any]:
    """Median seconds of each part of arm A (model forward with its compile, polish,
    verification, and the rest: the system's build and, on a fallback, the chain), on the
    items whose polish verified a stable point and on the others."""
    parts = ("predict", "polish", "verify", "rest")
    out: dict[str, Any] = {}
    for subset, keep in (("used", True), ("fallback", False)):
        sel = [r["arms"][name] for r in rows if name in r["arms"] and r["arms"][name]["splits"]
               and (r["arms"][name]["first_stable"] == keep)]
        if not sel:
            continue
        per_item = []
        for a in sel:
            reps = [{**sp, "rest": t - sp["predict"] - sp["polish"] - sp["verify"]}
                    for t, sp in zip(a["times"], a["splits"])]
            per_item.append({p: statistics.median(r[p] for r in reps) for p in parts})
        med: dict[str, Any] = {p: statistics.median(it[p] for it in per_item) for p in parts}
        med["total"] = statistics.median(median_time(a) for a in sel)
        med["share"] = {p: statistics.median(it[p] / max(sum(it.values()), 1e-300)
                                             for it in per_item) for p in parts}
        med["items"] = len(sel)
        out[subset] = med
    return out


def arm_table(title: str, summ: dict[str, dict[str, Any]], labels: dict[str, str]) -> str:
    head = ["arm", "items", "right", "1st stable", "1st=reached", "quick", "iters", "rhs",
            "jac", "median s [IQR]", "ratio to D [repeats]", "ratio IQR (items)"]
    rows = []
    for name, s in summ.items():
        first = name not in ("D",)  # the chain has no single first attempt of its own
        rows.append([f"{name} {labels[name]}", str(s["items"]), f"{s['right']:.3f}",
                     f"{s['first_stable']:.3f}" if first else "-",
                     f"{s['first_reached']:.3f}" if first else "-",
                     f"{s['quick']:.3f}", f"{s['iterations']:g}", f"{s['rhs']:g}",
                     f"{s['jac']:g}", s["seconds"].fmt(".3g", iqr=True),
                     f"{s['ratio'].median:.3g} [{s['ratio_repeats'].lo:.3g}-"
                     f"{s['ratio_repeats'].hi:.3g}]",
                     f"{s['ratio'].q1:.3g}-{s['ratio'].q3:.3g}"])
    return f"{title}\n{_timing.table(head, rows)}"


def group_table(title: str, rows: list[dict[str, Any]], key: str, names: list[str]) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[str(r[key])].append(r)
    head = [key, "items"] + [f"{n} ratio" for n in names if n != "D"] + \
        [f"{n} right" for n in names] + ["A quick", "D median s"]
    out = []
    for g, sel in groups.items():
        s = summary(sel, names)
        out.append([g, str(len(sel))] + [f"{s[n]['ratio'].median:.3g}" for n in names
                                         if n != "D"]
                   + [f"{s[n]['right']:.2f}" for n in names]
                   + [f"{s['A']['quick']:.2f}" if "A" in s else "-",
                      f"{s['D']['seconds'].median:.3g}"])
    return f"{title}\n{_timing.table(head, out)}"


def report(label: str, rows: list[dict[str, Any]], names: list[str], keys: tuple[str, ...],
           labels: dict[str, str]) -> dict[str, Any]:
    """Print the tables of one item set (all, by truth outcome, by each of ``keys``, the
    split of arm A) and return the summaries."""
    if not rows:
        return {}
    res: dict[str, Any] = {"all": summary(rows, names)}
    print(arm_table(f"\n{label}: all ({len(rows)} items)", res["all"], labels))
    for outcome in ("settles", "not"):
        sel = [r for r in rows if (r["outcome"] == "settles") == (outcome == "settles")]
        if sel:
            res[outcome] = summary(sel, names)
            print(arm_table(f"\n{label}: truth {outcome if outcome == 'settles' else 'does not settle'}"
                            f" ({len(sel)} items)", res[outcome], labels))
    for key in keys:
        print("\n" + group_table(f"{label} by {key} (ratio: median over items, to D)", rows,
                                 key, names))
    if "A" in names:
        res["split_A"] = split_summary(rows)
        for subset, med in res["split_A"].items():
            parts = "  ".join(f"{p} {med[p] * 1e3:.1f} ms ({med['share'][p]:.0%})"
                              for p in ("predict", "polish", "verify", "rest"))
            print(f"\n{label}: arm A split, polish {subset} ({med['items']} items, median "
                  f"total {med['total'] * 1e3:.1f} ms): {parts}")
    return res
