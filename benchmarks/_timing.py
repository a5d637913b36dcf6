"""Shared helpers for the benchmark scripts: thread limits, spreads of repeats, tables.

Import this module before NumPy (it imports nothing heavy at module level) and call
:func:`limit_threads_env` before ``import numpy`` so that every BLAS / OpenMP pool starts with
the requested size; call :func:`apply_thread_limits` after the heavy imports (NumPy, torch) to
pin the pools that are already loaded and report what each pool actually uses.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

_LIMITS = []  # keeps threadpoolctl's context objects alive


def pre_parse_threads(default: int = 1) -> int:
    """``--threads N`` from sys.argv, read before argparse (which runs after the imports)."""
    argv = sys.argv[1:]
    for k, arg in enumerate(argv):
        if arg == "--threads" and k + 1 < len(argv):
            return max(1, int(argv[k + 1]))
        if arg.startswith("--threads="):
            return max(1, int(arg.split("=", 1)[1]))
    return default


def limit_threads_env(n: int) -> bool:
    """Set every thread-count variable to ``n``; call before NumPy / torch are imported.
    Returns False when NumPy was already imported (then only :func:`apply_thread_limits`
    reaches its pools)."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    return "numpy" not in sys.modules


def apply_thread_limits(n: int) -> str:
    """Pin the loaded thread pools (threadpoolctl; torch intra-op and inter-op) to ``n`` and
    return a one-line description of what each pool uses."""
    parts = []
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        _LIMITS.append(threadpool_limits(limits=n))
        pools = sorted({(p.get("internal_api", "?"), p.get("num_threads"))
                        for p in threadpool_info()})
        parts += [f"{api}={threads}" for api, threads in pools]
    except ImportError:
        parts.append("threadpoolctl missing (env vars only)")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # only settable before the first parallel op
            pass
        parts.append(f"torch={torch.get_num_threads()}/interop={torch.get_num_interop_threads()}")
    env = ",".join(f"{v}={os.environ.get(v, '-')}" for v in THREAD_VARS[:2])
    return f"threads: {n} per arm ({', '.join(parts) or 'no pools loaded'}; {env})"


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


@dataclass
class Spread:
    median: float
    lo: float
    hi: float
    q1: float
    q3: float
    n: int

    def fmt(self, spec: str = ".3g", iqr: bool = False) -> str:
        """``median [min-max]`` (or ``[q1-q3]``); a single value prints alone."""
        if self.n <= 1:
            return format(self.median, spec)
        lo, hi = (self.q1, self.q3) if iqr else (self.lo, self.hi)
        return f"{format(self.median, spec)} [{format(lo, spec)}-{format(hi, spec)}]"


def spread(values: Sequence[float]) -> Spread:
    vals = sorted(float(v) for v in values)
    if not vals:
        nan = float("nan")
        return Spread(nan, nan, nan, nan, nan, 0)
    if len(vals) >= 2:
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    else:
        q1 = q3 = vals[0]
    return Spread(statistics.median(vals), vals[0], vals[-1], q1, q3, len(vals))


def ratios(num: Sequence[float], den: Sequence[float]) -> list[float]:
    """Per-repeat ratios num[i] / den[i] (the two measured in the same repeat)."""
    if len(num) != len(den):
        raise ValueError("ratio of series of different lengths")
    return [a / b for a, b in zip(num, den)]


def rotated(items: Sequence, shift: int) -> list:
    """``items`` rotated by ``shift``: repeat r runs the arms in a different order, so a trend
    in machine load does not always hit the same arm."""
    if not items:
        return []
    s = shift % len(items)
    return list(items[s:]) + list(items[:s])


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cols = [list(headers)] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[c]) for r in cols) for c in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if c == 0 else v.rjust(w)
                         for c, (v, w) in enumerate(zip(r, widths)))

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cols[1:]]
    return "\n".join(out)


SPREAD_NOTE = ("values: median [min-max] over repeats; ratios are per-repeat ratios of arms "
               "timed side by side in the same repeat")
