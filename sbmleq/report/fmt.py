"""Reading row fields defensively and formatting numbers for the report.

Rows come from results files of any version and may hold None, NaN, infinities, strings where
numbers are expected, or miss keys; every reader here answers None (or an empty dict) instead
of raising, so no report can crash on a row.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["as_dict", "flag", "number", "num", "pct", "pct_small", "share", "status"]


def number(x: Any) -> float | None:
    """``x`` as a finite float, or None (None, NaN, infinite, a bool, not a number)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def flag(x: Any) -> bool | None:
    """``x`` as a bool, or None when it is not one (missing, null, a number, text)."""
    return x if isinstance(x, bool) else None


def as_dict(x: Any) -> dict[str, Any]:
    """``x`` when it is a dict, else an empty one."""
    return x if isinstance(x, dict) else {}


def status(row: dict[str, Any]) -> str | None:
    """roadrunner's status of a row, or None."""
    value = as_dict(row.get("roadrunner")).get("status")
    return value if isinstance(value, str) else None


def share(k: int, n: int) -> float | None:
    return k / n if n else None


def pct(x: float | None, digits: int = 1) -> str:
    x = number(x)
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def pct_small(x: float | None) -> str:
    x = number(x)
    return pct(x, 1 if x is not None and 0 < x < 0.01 else 0)


def num(x: Any, fmt: str = ".3g") -> str:
    """A number formatted with ``fmt``; "" for None/NaN/infinite; other values as text."""
    if x is None or isinstance(x, bool):
        return "" if x is None else str(x)
    if isinstance(x, (int, float)):
        value = number(x)
        if value is None:
            return ""
        if isinstance(x, float) and value.is_integer() and fmt.endswith("d"):
            x = int(value)
        try:
            return format(x if isinstance(x, int) else value, fmt)
        except ValueError:  # e.g. a float given an integer format
            return str(x)
    return str(x)
