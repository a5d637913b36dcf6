"""Cold start: whole-process wall time of ``sbmleq predict`` against plain roadrunner.

    python benchmarks/bench_cold_start.py [--runs 11] [--sbml examples/branched_pathway.xml]
                                          [--table]

Both arms get the same SBML file (default: ``examples/branched_pathway.xml``, a LIFE network;
``--sbml examples/enzyme_cycle.xml`` for a nonlinear one, which goes to the shipped general
model), each run a whole new process:

- ``sbmleq predict FILE --format json`` (the console script: import, model, JSON on stdout);
- ``sbmleq predict FILE`` (the rich table), only with ``--table``;
- the roadrunner one-liner in its fast configuration, conserved-moiety analysis set through its
  load options: ``python -c "import roadrunner; o = roadrunner.LoadSBMLOptions();
  o.conservedMoieties = True; roadrunner.RoadRunner(FILE, o).steadyState()"``.

Every arm is run once untimed first (file cache, ``.pyc`` files). ``PYTHONDONTWRITEBYTECODE`` is
removed from the arms' environment unless ``--keep-env`` is given: an installed package has its
bytecode compiled (pip compiles site-packages at install, as it did for roadrunner), while an
editable checkout under that variable would recompile every one of its modules on every start. Then the runs are interleaved
(A, B, A, B, ... with the order alternating within each round) so that a change of machine load
hits every arm alike; every arm gets the same environment. The script prints each arm's median
and min-max, and the ratio to roadrunner as the median and min-max of the per-round ratios
(target: <= 2x). It also prints the top imports of the predict path (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RR = "roadrunner one-liner (moieties at load)"
RR_CODE = ("import sys, roadrunner; o = roadrunner.LoadSBMLOptions(); o.conservedMoieties = True; "
           "roadrunner.RoadRunner(sys.argv[1], o).steadyState()")


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds


def top_imports(cmd: list[str], env: dict[str, str], count: int = 8) -> list[tuple[int, str]]:
    done = subprocess.run(cmd, env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            rows.append((int(parts[1]), parts[2].strip()))  # top-level imports: cumulative us
    return sorted(rows, reverse=True)[:count]


def sbmleq_command() -> list[str]:
    """The ``sbmleq`` console script next to this interpreter (what a user types), else
    ``python -m sbmleq``."""
    script = Path(sys.executable).with_name("sbmleq")
    if script.is_file():
        return [str(script)]
    found = shutil.which("sbmleq")
    return [found] if found else [sys.executable, "-m", "sbmleq"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=11, help="timed runs per arm (interleaved)")
    ap.add_argument("--sbml", default=str(ROOT / "examples" / "branched_pathway.xml"),
                    help="the SBML file both arms load")
    ap.add_argument("--table", action="store_true",
                    help="also time `sbmleq predict FILE` (rich table output)")
    ap.add_argument("--quick", action="store_true",
                    help="also time `sbmleq predict FILE --quick --format json` (a model outside "
                         "the LIFE class: the verified prediction without the confirming "
                         "simulation)")
    ap.add_argument("--no-imports", action="store_true", help="skip the -X importtime listing")
    ap.add_argument("--keep-env", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE if set (no .pyc for an editable checkout)")
    args = ap.parse_args()

    path = Path(args.sbml).resolve()
    if not path.is_file():
        raise SystemExit(f"no such SBML file: {path}")
    env = dict(os.environ)
    if not args.keep_env:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    bytecode = "off (PYTHONDONTWRITEBYTECODE)" if env.get("PYTHONDONTWRITEBYTECODE") else "on"
    sbmleq = sbmleq_command()
    json_arm = "sbmleq predict --format json"
    arms = {json_arm: [*sbmleq, "predict", str(path), "--format", "json"]}
    if args.table:
        arms["sbmleq predict (table)"] = [*sbmleq, "predict", str(path)]
    if args.quick:
        arms["sbmleq predict --quick --format json"] = [*sbmleq, "predict", str(path), "--quick",
                                                        "--format", "json"]
    arms[RR] = [sys.executable, "-c", RR_CODE, str(path)]

    for cmd in arms.values():  # warm the file cache and the .pyc files
        wall(cmd, env)
    names = list(arms)
    times: dict[str, list[float]] = {name: [] for name in names}
    for run in range(args.runs):
        order = names if run % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(wall(arms[name], env))
    imports = [] if args.no_imports else top_imports(arms[json_arm], env)

    threads = ", ".join(f"{v}={env.get(v, '-')}" for v in _timing.THREAD_VARS[:2])
    print(f"cold start: {path.name}, {args.runs} interleaved runs per arm (after one untimed "
          f"run each), whole processes; {os.cpu_count()} CPUs, load average "
          f"{_timing.load_average():.1f}; same environment for every arm ({threads}; .pyc "
          f"cache {bytecode})")
    print(f"sbmleq: {' '.join(Path(c).name for c in arms[json_arm][:1])} predict ...; "
          f"roadrunner: python -c \"{RR_CODE}\" FILE")
    rows = []
    ratio_of = {}
    for name in names:
        s = _timing.spread(times[name])
        ratio_of[name] = _timing.spread(_timing.ratios(times[name], times[RR]))
        rows.append((name, f"{s.median:.3f}", f"{s.lo:.3f}-{s.hi:.3f}", f"{s.q1:.3f}-{s.q3:.3f}",
                     "1 (baseline)" if name == RR else ratio_of[name].fmt(".2f")))
    print()
    print(_timing.table(("arm", "median s", "min-max s", "IQR s", "x roadrunner (per-round)"),
                        rows))
    print("(x roadrunner: median [min-max] of the per-round ratios, each round running every "
          "arm once, back to back)")
    if imports:
        print("\nlargest top-level imports of `sbmleq predict --format json` "
              "(cumulative, python -X importtime):")
        for us, name in imports:
            print(f"  {us / 1e3:8.1f} ms  {name}")
    r = ratio_of[json_arm]
    verdict = "met" if r.median <= 2.0 else "not met"
    print(f"summary: sbmleq predict --format json / roadrunner = {r.fmt('.2f')} "
          f"(median [min-max] over {r.n} rounds; target <= 2x: {verdict})")


if __name__ == "__main__":
    main()
