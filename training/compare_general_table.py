"""The table of training/compare_general.py: per arm and value spread, the numbers of one row
(:func:`summarise`), as aligned text (:func:`text_table`) or Markdown (:func:`markdown_table`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Record = dict[str, Any]  # per validation network: settles, correct, rel_l1, wall, cpu, rhs, jac

COLUMNS = ("arm", "decades", "n", "settle", "acc", "<=1%", "<=5%", "<=10%", "medL1",
           "rhs/net", "jac/net", "ms/net", "cpu ms/net", "nets/CPU-h", "train CPU-min", "steps")


def summarise(records: Sequence[Record], with_accuracy: bool) -> dict[str, Any]:
    """One table row's numbers (None: not applicable / no networks)."""
    settle = [r for r in records if r["settles"] and r["rel_l1"] is not None]
    rel = np.array([r["rel_l1"] for r in settle], dtype=np.float64)
    acc = [r["correct"] for r in records if r.get("correct") is not None]
    cpu = float(np.mean([r["cpu"] for r in records])) if records else math.nan

    def mean(key: str) -> float | None:
        return float(np.mean([r[key] for r in records])) if records else None

    out = {"n": len(records), "settle": len(settle),
           "acc": float(np.mean(acc)) if with_accuracy and acc else None,
           "median_rel_l1": float(np.median(rel)) if len(rel) else None,
           "rhs_per_net": mean("rhs"), "jac_per_net": mean("jac"),
           "ms_per_net": None if not records else 1e3 * mean("wall"),
           "cpu_ms_per_net": None if not records else 1e3 * cpu,
           "nets_per_cpu_hour": 3600.0 / cpu if records and cpu > 0 else None}
    for tol in (1, 5, 10):
        out[f"within_{tol}pct"] = float((rel <= tol / 100).mean()) if len(rel) else None
    return out


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.{digits}f}" if abs(v) < 1e4 else f"{v:.3g}"
    return str(v)


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, arm in result["arms"].items():
        info = arm.get("train") or {}
        filled = [b for b, s in arm["buckets"].items() if b != "all" and s["n"]]
        for bucket, s in arm["buckets"].items():
            if not s["n"] or (bucket == "all" and len(filled) == 1):
                continue  # empty spreads, and "all" when it is one spread (kept in the JSON)
            rows.append([f"({key}) {arm['name']}", bucket, fmt(s["n"]), fmt(s["settle"]),
                         fmt(s["acc"]), fmt(s["within_1pct"]), fmt(s["within_5pct"]),
                         fmt(s["within_10pct"]), fmt(s["median_rel_l1"], 4),
                         fmt(s["rhs_per_net"], 1), fmt(s["jac_per_net"], 1),
                         fmt(s["ms_per_net"], 2), fmt(s["cpu_ms_per_net"], 2),
                         fmt(s["nets_per_cpu_hour"], 0),
                         fmt(info.get("train_cpu_minutes"), 2), fmt(info.get("steps"))])
    return rows


def text_table(result: dict[str, Any]) -> str:
    rows = [list(COLUMNS)] + table_rows(result)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))) for r in rows)


def markdown_table(result: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "| " + " | ".join(["---"] * 2 + ["---:"] * (len(COLUMNS) - 2)) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(result)]
    return "\n".join(lines) + "\n"
