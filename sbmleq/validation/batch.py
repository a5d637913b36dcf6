"""Batch validation: import, predict and solve many SBML models, and compare with roadrunner.

``sbmleq validate PATH|ID ... --report report.html`` runs, for every model:

1. import (:func:`sbmleq.io.sbml_import.import_sbml`) and, for a model in the LIFE class, a
   prediction (:class:`sbmleq.model.predictor.Predictor`) — in an isolated child process, time-limited;
2. the roadrunner steady state (:func:`sbmleq.solvers.roadrunner.solve_in_process`) in the same child,
   time-limited separately (a hang or crash kills only the child: the model is recorded as
   ``timeout`` / ``solver_failure`` and the batch goes on with a fresh child);
3. the comparison: existence agreement (predicted exists vs roadrunner ``converged_stable``),
   per-species relative error and the model-level rel-L1 ``sum|pred - rr| / sum|rr|``.

``--jobs N`` runs N children at once (one :class:`~sbmleq.solvers.isolate.IsolatedWorker` per job).
Each finished model is appended to a JSON-lines results file (flushed and fsynced per row), so
a batch that is killed, even with SIGKILL, resumes when run again with the same ``--out``: the
models already recorded are skipped, a partial last line left by the kill is cut off. The HTML
and CSV reports (:mod:`sbmleq.report.html`) are written from the results file at the end.
See docs/validation.md.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import math
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbmleq.errors import CheckpointError, InputError, SbmleqError
from sbmleq.io.reasons import Reason, ReasonCode
from sbmleq.core.exact import solve_equilibrium
from sbmleq.core.network import Network
from sbmleq.io.sbml_import import import_sbml, read_document
from sbmleq.io.sources import BIOMODELS_ID, biomodels_cache_dir, find_biomodel, shipped_biomodels_dir
from sbmleq.model.predictor import DEFAULT_MODEL, Predictor
from sbmleq.model.predictor import Predictor
from sbmleq.report import html as report_mod
from sbmleq.solvers.isolate import ChildCrashed, ChildTimeout
from sbmleq.solvers.isolate import IsolatedWorker
from sbmleq.solvers.roadrunner import SolverSettings
from sbmleq.solvers.roadrunner import SolverSettings, call_isolated
from sbmleq.solvers.roadrunner import init_child as rr_init
from sbmleq.solvers.roadrunner import solve_in_process

__all__ = ["BatchItem", "BatchSummary", "ResultsFile", "analyse_model", "collect_items",
           "compare", "read_results", "register", "run_batch", "validate_command",
           "validate_item"]

ROW_VERSION = 1
DEFAULT_TIMEOUT = 30.0
DEFAULT_REPORT = Path("validation") / "report.html"
SBML_SUFFIXES = (".xml", ".sbml")


# ============================================================================ inputs
@dataclass(frozen=True)
class BatchItem:
    """One model of a batch: ``key`` identifies it in the results file (resume)."""

    key: str  # the BioModels id for an id argument, else the absolute path of the file
    id: str  # display id: the BioModels id or the file stem
    path: Path


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def collect_items(sources: Sequence[str | os.PathLike], *, shipped: bool = False) -> list[BatchItem]:
    """The models named by ``sources``: SBML files, directories of them (``*.xml``, ``*.sbml``,
    recursively, sorted) and BioModels ids (shipped set or cache). ``shipped`` adds every shipped
    BioModels file. Duplicates are dropped. A path that does not exist or an id that is not
    available offline raises :class:`InputError` before anything runs."""

    items: dict[str, BatchItem] = {}
    missing: list[str] = []
    unavailable: list[str] = []

    def add_file(path: Path, key: str | None = None, model_id: str | None = None) -> None:
        resolved = path.resolve()
        key = key or str(resolved)
        items.setdefault(key, BatchItem(key, model_id or path.stem, resolved))

    def add_dir(folder: Path) -> None:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SBML_SUFFIXES)
        for path in files:
            add_file(path)

    if shipped:
        folder = shipped_biomodels_dir()
        for path in sorted(folder.glob("*.xml")) if folder.is_dir() else []:
            add_file(path, key=path.stem, model_id=path.stem)
    for source in sources:
        text = os.fspath(source)
        path = Path(text).expanduser()
        if path.is_dir():
            add_dir(path)
        elif path.is_file():
            add_file(path)
        elif BIOMODELS_ID.match(text.strip()):
            model_id = text.strip()
            found = find_biomodel(model_id)
            if found is None:
                unavailable.append(model_id)
            else:
                add_file(found, key=model_id, model_id=model_id)
        else:
            missing.append(text)
    if missing:
        raise InputError(f"no such file or directory: {', '.join(missing[:5])}"
                         + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""),
                         source="sbmleq validate")
    if unavailable:
        shown = " ".join(unavailable[:5]) + (" ..." if len(unavailable) > 5 else "")
        raise InputError(f"BioModels model(s) not available offline (not shipped, not in the "
                         f"cache {biomodels_cache_dir()}): {shown}; run `sbmleq biomodels fetch "
                         f"{shown}` first", source="sbmleq validate")
    return list(items.values())


# ============================================================================ results file
class ResultsFile:
    """An append-only JSON-lines file of result rows, one per model, safe against kills.

    :meth:`open` takes an exclusive ``flock`` (a second batch on the same file is refused; the
    kernel drops the lock when the process dies, even by SIGKILL), reads the rows already there
    and repairs the file: a partial last line (a kill in the middle of a write) is cut off with
    ``ftruncate``; undecodable lines or repeated keys elsewhere (not produced by this writer)
    are removed after a backup copy ``<name>.bak`` is written. :meth:`append` writes one whole
    line with ``O_APPEND``, then ``fsync``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None
        self._lock = threading.Lock()
        self.rows: dict[str, dict[str, Any]] = {}
        self.repairs: list[str] = []

    def open(self, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError("another `sbmleq validate` is writing this results file; wait "
                                 "for it or choose another --out", source=str(self.path)) from None
            raise
        self._fd = fd
        if fresh:
            os.ftruncate(fd, 0)
            os.fsync(fd)
        self.rows = self._load_and_repair()
        return self.rows

    def _load_and_repair(self) -> dict[str, dict[str, Any]]:
        assert self._fd is not None
        fd = self._fd
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if size else b""
        rows, clean, bad, dupes = parse_results(data)
        end = data.rfind(b"\n") + 1  # bytes up to the last complete line
        tail = data[end:]
        if not bad and not dupes:
            if tail:
                os.ftruncate(fd, end)
                os.fsync(fd)
                self.repairs.append(f"dropped a partial last line ({len(tail)} bytes, left by an "
                                    "interrupted run)")
            return rows
        backup = self._backup(data)
        self._rewrite(clean)
        self.repairs.append(f"removed {bad} unreadable line(s) and {dupes} repeated row(s) "
                            f"(original kept as {backup.name})")
        return rows

    def _backup(self, data: bytes) -> Path:
        """Keep the original content as ``<file>.bak`` (durably) before a rewrite."""
        backup = self.path.with_name(self.path.name + ".bak")
        with open(backup, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return backup

    def _rewrite(self, clean: bytes) -> None:
        """Replace the content in place (same inode, so the lock stays): a second descriptor
        without O_APPEND, since Linux ``pwrite`` on an O_APPEND descriptor appends."""
        fd = os.open(self.path, os.O_WRONLY)
        try:
            view = memoryview(clean)
            offset = 0
            while offset < len(clean):
                offset += os.pwrite(fd, view[offset:], offset)
            os.ftruncate(fd, len(clean))
            os.fsync(fd)
        finally:
            os.close(fd)

    def drop(self, keys: Iterable[str]) -> int:
        """Remove the rows of ``keys`` (to run those models again); returns how many."""
        keys = set(keys) & set(self.rows)
        if not keys:
            return 0
        with self._lock:
            assert self._fd is not None
            fd = self._fd
            data = os.pread(fd, os.fstat(fd).st_size, 0)
            kept = [line + b"\n" for line in data.split(b"\n")[:-1]
                    if line.strip() and _key_of(line) not in keys]
            clean = b"".join(kept)
            self._backup(data)
            self._rewrite(clean)
            for key in keys:
                self.rows.pop(key, None)
        return len(keys)

    def append(self, row: dict[str, Any]) -> None:
        line = (json.dumps(row, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                raise RuntimeError("results file is not open")
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
            self.rows[row["key"]] = row

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)  # releases the flock
                self._fd = None

    def __enter__(self) -> "ResultsFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _key_of(line: bytes) -> str | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row.get("key") if isinstance(row, dict) else None


def needs_retry(row: dict[str, Any]) -> bool:
    """A row ``--retry`` runs again: the import or the prediction failed, or roadrunner timed
    out or failed."""
    status = (row.get("roadrunner") or {}).get("status")
    return (row.get("outcome") == "import_failure" or bool(row.get("prediction_error"))
            or status in ("timeout", "solver_failure"))


def parse_results(data: bytes) -> tuple[dict[str, dict[str, Any]], bytes, int, int]:
    """Rows by key of a results file's bytes, the clean bytes, #bad lines, #repeated keys.
    A last line without its newline is never a row (it may be cut short)."""
    rows: dict[str, dict[str, Any]] = {}
    clean: list[bytes] = []
    bad = dupes = 0
    lines = data.split(b"\n")
    for line in lines[:-1]:  # the last piece has no newline: partial or empty
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            bad += 1
            continue
        if row["key"] in rows:
            dupes += 1
            continue
        rows[row["key"]] = row
        clean.append(line + b"\n")
    return rows, b"".join(clean), bad, dupes


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a results file (read-only: no lock, a partial last line ignored)."""
    data = Path(path).read_bytes()
    return list(parse_results(data)[0].values())


# ============================================================================ child side
_PREDICTORS: dict[str, Any] = {}


def init_child(quiet: bool = True) -> None:
    """Child initializer: roadrunner imported (and quiet), and the child dies with its parent.

    ``PR_SET_PDEATHSIG`` makes the kernel kill the child when the thread that started it exits,
    so a SIGKILLed batch leaves no roadrunner process running (Linux only; elsewhere a child
    notices the closed pipe after its current call)."""
    try:
        import ctypes
        import multiprocessing
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:
            os._exit(1)  # the parent died before prctl took effect
    except Exception:  # noqa: BLE001 - best effort
        pass

    rr_init(quiet)
    if quiet:  # CVODE warnings also reach stdout; the child answers through its pipe only
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)


def _predictor(checkpoint: str | None) -> Any:

    key = checkpoint or ""
    if key not in _PREDICTORS:
        _PREDICTORS[key] = Predictor(checkpoint)
    return _PREDICTORS[key]




def classify_law(formula: str, species: str, movers: Iterable[str] = ()) -> str:
    """A label for a rate law that is not first-order in ``species`` (``movers``: all species
    the reaction converts): ``michaelis-menten`` (saturating: a mover in the denominator, degree
    1), ``hill`` (a mover to a power >= 2, or a symbolic power, in the denominator),
    ``mass-action-order-2+`` (a polynomial of degree >= 2 in the movers, e.g. k*A*A or k*A*B),
    ``linear`` (degree 1: for a rate driven by a modifier, k*M), ``power-law`` (a non-integer
    power), ``other``."""
    if not formula or len(formula) > 3000:
        return "other"
    try:
        import sympy as sp
        from sympy.parsing.sympy_parser import parse_expr

        reserved = r"\b(and|or|not|lambda|if|else|in|is|def|class|None|True|False)\b"
        text = re.sub(reserved, r"\1_", formula.replace("^", "**"))
        names = set(re.findall(r"[A-Za-z_]\w*", text))
        if names & {"piecewise", "floor", "ceil", "ceiling", "min", "max", "gt", "lt", "geq", "leq",
                    "eq", "neq", "and_", "or_", "not_"}:
            return "other"
        funcs = {"exp": sp.exp, "ln": sp.log, "log": sp.log, "sqrt": sp.sqrt, "pow": sp.Pow,
                 "abs": sp.Abs}
        local: dict[str, Any] = {n: sp.Symbol(n) for n in names if n not in funcs}
        local.update({n: f for n, f in funcs.items() if n in names})
        expr = parse_expr(text, local_dict=local, evaluate=True)
        ids = [re.sub(reserved, r"\1_", m) for m in {species, *movers}]
        xs = [sp.Symbol(i) for i in ids if sp.Symbol(i) in expr.free_symbols]
        if not xs:
            return "other"
        num, den = sp.fraction(sp.together(expr))

        def degree(e: Any) -> float | None:
            try:
                return float(sp.Poly(e, *xs).total_degree())
            except Exception:  # noqa: BLE001 - not a polynomial in the movers
                return None

        if den.free_symbols & set(xs):
            d = degree(den)
            return "michaelis-menten" if d == 1 else "hill"
        d = degree(num)
        if d is not None and d >= 2:
            return "mass-action-order-2+"
        if d == 1:
            return "linear"
        if d is None and any(isinstance(a, sp.Pow) and a.base in xs
                             for a in sp.preorder_traversal(num)):
            return "power-law"
        return "other"
    except Exception:  # noqa: BLE001 - classification is a hint only
        return "other"


def _kinetics_labels(doc: Any, reasons: Iterable[Reason]) -> dict[str, str]:
    """reaction id -> kinetics label, for reasons about non-first-order laws and modifiers."""
    wanted: dict[str, tuple[str, str]] = {}
    for reason in reasons:
        if not reason.reaction or not reason.species:
            continue
        if reason.code is ReasonCode.NOT_FIRST_ORDER:
            wanted[reason.reaction] = ("nonlinear", reason.species[0])
        elif reason.code is ReasonCode.MODIFIER:
            wanted.setdefault(reason.reaction, ("modifier", " ".join(reason.species)))
    if not wanted:
        return {}
    import libsbml

    clone = doc.clone()
    props = libsbml.ConversionProperties()
    props.addOption("expandFunctionDefinitions", True)
    clone.convert(props)
    model = clone.getModel()
    rules = {r.getVariable(): r.getMath() for r in model.getListOfRules()
             if r.isAssignment() and r.isSetMath()}
    labels: dict[str, str] = {}
    for rid, (kind, species) in wanted.items():
        rxn = model.getReaction(rid)
        kl = rxn.getKineticLaw() if rxn is not None else None
        formula = ""
        if kl is not None and kl.isSetMath():
            math_ = kl.getMath().deepCopy()
            for _ in range(8):  # substitute assignment rules (nested ones too)
                names = _ast_names(math_) & set(rules)
                if not names:
                    break
                for name in names:
                    math_.replaceArgument(name, rules[name])
            formula = libsbml.formulaToL3String(math_) or ""
        movers = [ref.getSpecies() for ref in (*rxn.getListOfReactants(),
                                               *rxn.getListOfProducts())] if rxn is not None else []
        if kind == "nonlinear":
            labels[rid] = classify_law(formula, species, movers)
        else:  # how the rate depends on the modifiers and the species it converts
            modifiers = species.split()
            labels[rid] = "modifier:" + classify_law(formula, modifiers[0] if modifiers else "",
                                                     movers + modifiers)
    return labels


def _ast_names(node: Any) -> set[str]:
    import libsbml

    names, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n.getType() == libsbml.AST_NAME:
            names.add(n.getName())
        stack.extend(n.getChild(i) for i in range(n.getNumChildren()))
    return names


def _compartment_sizes(model: Any) -> dict[str, float]:
    return {c.getId(): (c.getSize() if c.isSetSize() else 1.0) for c in model.getListOfCompartments()}


def analyse_model(path: str, name: str, checkpoint: str | None) -> dict[str, Any]:
    """Child side, step 1: import the SBML file and predict (for a model in the LIFE class).

    Never raises for problems of the model: an unreadable file comes back as
    ``{"outcome": "input_error", "error": one line}``."""

    start = time.perf_counter()
    try:
        doc = read_document(path, name)
        model = doc.getModel()
        info: dict[str, Any] = {"name": model.getName() or model.getId(),
                                "n_species": model.getNumSpecies(),
                                "n_reactions": model.getNumReactions()}
        result = import_sbml(doc, source_name=name)
    except SbmleqError as exc:
        return {"outcome": "input_error", "error": exc.one_line(),
                "error_type": type(exc).__name__, "import_seconds": time.perf_counter() - start}
    info["import_seconds"] = time.perf_counter() - start
    info["reasons"] = [str(r) for r in result.reasons]
    info["reason_codes"] = [r.to_dict() for r in result.reasons]
    info["warnings"] = len(result.warnings)
    if not result.in_class or result.network is None:
        info["outcome"] = "out_of_class"
        try:
            info["kinetics"] = _kinetics_labels(doc, result.reasons)
        except Exception:  # noqa: BLE001 - a hint only
            info["kinetics"] = {}
        return info
    net = result.network
    info.update(outcome="in_class", n_nodes=net.n_nodes, n_edges=net.n_edges)
    sizes = _compartment_sizes(model)
    values: dict[str, Any] = {}
    try:
        pred = _predictor(checkpoint).predict(net)
    except Exception as exc:  # noqa: BLE001 - a model that cannot predict: recorded, not fatal
        info["prediction"] = None
        info["prediction_error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    else:
        info["prediction"] = {"exists": bool(pred.equilibrium_exists),
                              "p_exists": float(pred.p_exists),
                              "out_of_distribution": bool(pred.out_of_distribution),
                              "ood_reasons": list(pred.ood_reasons),
                              "residual": _finite(pred.residual), "seconds": float(pred.seconds)}
        values = pred.as_dict()

    exact = solve_equilibrium(net)
    exact_values = exact.as_dict()
    info["exact"] = {"status": exact.status.value, "exists": bool(exact.exists)}
    species = []
    for node in net.nodes:
        sid = result.node_species.get(node, node)
        sbml = model.getSpecies(sid)
        amount = bool(sbml is not None and sbml.getHasOnlySubstanceUnits())
        volume = sizes.get(sbml.getCompartment(), 1.0) if sbml is not None else 1.0
        species.append({"id": sid, "node": node, "unit": result.species_units.get(node, ""),
                        "amount": amount, "volume": volume, "predicted": _finite(values.get(node)),
                        "exact": _finite(exact_values.get(node))})
    info["species"] = species
    return info


def solve_file(path: str, settings: Any, name: str) -> Any:
    """Child side, step 2: the roadrunner steady state of an SBML file."""

    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    return solve_in_process(text, settings, name)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ============================================================================ comparison
def compare(analysis: dict[str, Any], rr: dict[str, Any] | None) -> dict[str, Any]:
    """Existence agreement, per-species relative errors and the model rel-L1.

    ``analysis`` is :func:`analyse_model`'s dict of an in-class model, ``rr`` a
    ``RoadRunnerResult.to_dict()``. ``existence_agree`` is defined where roadrunner decided
    (converged stable, converged unstable, no steady state): predicted exists ==
    converged_stable. ``exact_agree`` compares with the exact LIFE label (a *unique* equilibrium;
    a closed pocket with a conserved total is "no" there, while roadrunner converges to the
    pocket's initial-value-dependent state). Values are compared in the units the SBML declares
    for each species (an amount species is roadrunner's concentration times its compartment
    size). ``rr_exact_rel_l1`` (exact LIFE solution vs roadrunner) checks the import itself."""
    out: dict[str, Any] = {"existence_agree": None, "exact_agree": None, "rel_l1": None,
                           "max_rel_err": None, "rr_exact_rel_l1": None, "compared_species": 0}
    pred = analysis.get("prediction")
    species = analysis.get("species") or []
    status = (rr or {}).get("status")
    exact = analysis.get("exact") or {}
    if pred is not None and "exists" in exact:
        out["exact_agree"] = bool(pred["exists"]) == bool(exact["exists"])
    if pred is None or status is None:
        out["species"] = species
        return out
    if status in ("converged_stable", "converged_unstable", "no_steady_state"):
        out["existence_agree"] = bool(pred["exists"]) == (status == "converged_stable")
    conc = (rr or {}).get("concentrations") or {}
    rows = []
    err_sum = ref_sum = exact_err = exact_ref = 0.0
    max_rel = 0.0
    for sp_ in species:
        ref = conc.get(sp_["id"])
        if ref is not None and sp_.get("amount"):
            ref = ref * float(sp_.get("volume") or 1.0)
        ref = _finite(ref) if status == "converged_stable" else None
        p, x = sp_.get("predicted"), sp_.get("exact")
        rel = None
        if p is not None and ref is not None:
            err = abs(p - ref)
            err_sum += err
            ref_sum += abs(ref)
            rel = err / abs(ref) if ref != 0 else (0.0 if err == 0 else None)
            max_rel = math.inf if rel is None else max(max_rel, rel)
            out["compared_species"] += 1
        if x is not None and ref is not None:
            exact_err += abs(x - ref)
            exact_ref += abs(ref)
        rows.append({**sp_, "roadrunner": ref, "rel_err": _finite(rel)})
    out["species"] = rows
    if out["compared_species"]:
        out["rel_l1"] = _ratio(err_sum, ref_sum)
        out["max_rel_err"] = _finite(max_rel)
    if exact_ref > 0 or exact_err > 0:
        out["rr_exact_rel_l1"] = _ratio(exact_err, exact_ref)
    return out


def _ratio(err: float, ref: float) -> float | None:
    if ref > 0:
        return _finite(err / ref)
    return 0.0 if err == 0 else None


# ============================================================================ one model
_RR_KEEP = ("status", "stage", "message", "seconds", "eigenvalues_max_real", "residual", "unique",
            "attempts", "settings")


def validate_item(item: BatchItem, worker: Any, *, checkpoint: str | None, timeout: float,
                  settings: Any = None, checkpoint_info: dict[str, str] | None = None,
                  stop: threading.Event | None = None) -> dict[str, Any] | None:
    """One model's result row (``None`` if ``stop`` was set while it ran: not a result)."""

    settings = settings or SolverSettings()
    start = time.perf_counter()
    row: dict[str, Any] = {"v": ROW_VERSION, "key": item.key, "id": item.id, "source": str(item.path),
                           "name": "", "outcome": None, "error": None}
    try:
        analysis = worker.call(analyse_model, str(item.path), item.id, checkpoint, timeout=timeout)
    except ChildTimeout:
        analysis = {"outcome": "import_failure",
                    "error": f"{item.id}: import and prediction timed out after {timeout:g} s"}
    except ChildCrashed as exc:
        analysis = {"outcome": "import_failure", "error": f"{item.id}: {exc}"}
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug: recorded, the batch goes on
        analysis = {"outcome": "import_failure",
                    "error": f"{item.id}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}
    if stop is not None and stop.is_set():
        return None
    rr_dict: dict[str, Any] | None = None
    if analysis["outcome"] != "input_error":
        result = call_isolated(solve_file, str(item.path), settings, item.id, timeout=timeout,
                               worker=worker, name=item.id, settings=settings)
        if stop is not None and stop.is_set():
            return None
        rr_dict = result.to_dict()
    row.update({k: v for k, v in analysis.items() if k not in ("species",)})
    if rr_dict is not None:
        row["roadrunner"] = {k: rr_dict.get(k) for k in _RR_KEEP}
    else:
        row["roadrunner"] = None
    if analysis["outcome"] == "in_class":
        row.update(compare(analysis, rr_dict))
    row["checkpoint"] = (checkpoint_info or {}).get("name", "")
    row["checkpoint_sha256"] = (checkpoint_info or {}).get("sha256", "")
    row["timeout"] = timeout
    row["seconds"] = time.perf_counter() - start
    row["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return _json_safe(row)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return _json_safe(obj.item())
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


# ============================================================================ the batch
@dataclass
class BatchSummary:
    results: Path
    total: int  # models in the batch
    skipped: int  # already in the results file
    done: int  # finished in this run
    interrupted: bool = False
    repairs: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def checkpoint_identity(checkpoint: str | os.PathLike | None) -> dict[str, str]:
    """Name and sha256 of the checkpoint file (the shipped default if None); loads it once so a
    missing or corrupt checkpoint fails before the batch starts (CheckpointError)."""

    path = Path(checkpoint) if checkpoint is not None else DEFAULT_MODEL
    if not path.is_file():
        raise CheckpointError("checkpoint file not found", source=str(path))
    try:

        probe = Network.from_edges([("a", "b", 1.0)], intake={"a": 1.0}, excretion={"b": 1.0},
                                   name="probe")
        Predictor(path).predict(probe)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. weights that do not fit the code
        raise CheckpointError(f"the checkpoint cannot predict ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]})", source=str(path)) from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"name": path.name, "path": str(path.resolve()), "sha256": digest}


class _Reporter:
    """A rich progress bar on a terminal; a line every ~30 s (or 25 models) otherwise."""

    def __init__(self, total: int, done: int, enabled: bool):
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.total, self.done = total, done
        self.counts: dict[str, int] = {}
        self.enabled = enabled
        self.live = enabled and self.console.is_terminal
        self._last_line = time.monotonic()
        self._since = 0
        self.progress = None
        if self.live:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self.progress = Progress(SpinnerColumn(), TextColumn("validate"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("eta"), TimeRemainingColumn(),
                                     TextColumn("{task.fields[stats]}"), console=self.console,
                                     transient=False)
            self.task = self.progress.add_task("validate", total=total, completed=done, stats="")

    def __enter__(self) -> "_Reporter":
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def stats(self) -> str:
        c = self.counts
        parts = [f"in class {c.get('in_class', 0)}"]
        if c.get("agree") or c.get("disagree"):
            parts.append(f"agree {c.get('agree', 0)}/{c.get('agree', 0) + c.get('disagree', 0)}")
        for key in ("timeout", "solver_failure", "errors"):
            if c.get(key):
                parts.append(f"{key.replace('_', ' ')} {c[key]}")
        return " | ".join(parts)

    def advance(self, row: dict[str, Any]) -> None:
        self.done += 1
        self._since += 1
        c = self.counts
        if row.get("outcome") == "in_class":
            c["in_class"] = c.get("in_class", 0) + 1
        if row.get("outcome") in ("input_error", "import_failure"):
            c["errors"] = c.get("errors", 0) + 1
        status = (row.get("roadrunner") or {}).get("status")
        if status in ("timeout", "solver_failure"):
            c[status] = c.get(status, 0) + 1
        if row.get("existence_agree") is not None:
            key = "agree" if row["existence_agree"] else "disagree"
            c[key] = c.get(key, 0) + 1
        if self.progress is not None:
            self.progress.update(self.task, completed=self.done, stats=self.stats())
        elif self.enabled and (time.monotonic() - self._last_line > 30 or self._since >= 25
                               or self.done == self.total):
            self.console.print(f"validate: {self.done}/{self.total} models | {self.stats()}",
                               highlight=False)
            self._last_line, self._since = time.monotonic(), 0


def run_batch(items: Sequence[BatchItem], results: str | os.PathLike, *, jobs: int = 1,
              timeout: float = DEFAULT_TIMEOUT, checkpoint: str | os.PathLike | None = None,
              settings: Any = None, fresh: bool = False, retry: bool = False,
              progress: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> BatchSummary:
    """Validate ``items`` with ``jobs`` isolated children, appending one row per model to
    ``results`` (resuming: keys already there are skipped; with ``retry`` the rows of the batch's
    models that :func:`needs_retry` are removed first and run again). Returns a
    :class:`BatchSummary`."""

    started = time.perf_counter()
    info = checkpoint_identity(checkpoint)
    ckpt = str(checkpoint) if checkpoint is not None else None
    settings = settings or SolverSettings()
    store = ResultsFile(results)
    existing = store.open(fresh=fresh)
    try:
        other = sorted({r.get("checkpoint_sha256", "") for r in existing.values()} - {info["sha256"]})
        if other:
            names = sorted({r.get("checkpoint", "?") for r in existing.values()
                            if r.get("checkpoint_sha256") in other})
            raise CheckpointError(f"the results file holds rows made with another checkpoint "
                                  f"({', '.join(names)}, sha256 {other[0][:12]}...); pass --fresh "
                                  f"to start over or choose another --out", source=str(store.path))
        if retry:
            wanted = {it.key for it in items}
            again = [k for k, r in existing.items() if k in wanted and needs_retry(r)]
            if again:
                store.drop(again)
                store.repairs.append(f"running {len(again)} model(s) again (--retry)")
        todo = [it for it in items if it.key not in existing]
        summary = BatchSummary(store.path, len(items), len(items) - len(todo), 0,
                               repairs=list(store.repairs))
        if not todo:
            summary.seconds = time.perf_counter() - started
            return summary
        jobs = max(1, min(int(jobs), len(todo)))
        work: queue.Queue[BatchItem] = queue.Queue()
        for it in todo:
            work.put(it)
        stop = threading.Event()
        failures: list[BaseException] = []
        workers: list[Any] = []
        lock = threading.Lock()

        with _Reporter(len(items), summary.skipped, progress) as reporter:
            def run(worker: Any) -> None:
                try:
                    while not stop.is_set():
                        try:
                            it = work.get_nowait()
                        except queue.Empty:
                            return
                        try:
                            row = validate_item(it, worker, checkpoint=ckpt, timeout=timeout,
                                                settings=settings, checkpoint_info=info, stop=stop)
                        except CheckpointError:
                            raise
                        except Exception as exc:  # noqa: BLE001 - keep the batch going
                            if stop.is_set():
                                return
                            row = _json_safe({"v": ROW_VERSION, "key": it.key, "id": it.id,
                                              "source": str(it.path), "outcome": "import_failure",
                                              "error": f"{it.id}: {type(exc).__name__}: {exc}"[:400],
                                              "roadrunner": None,
                                              "checkpoint": info["name"],
                                              "checkpoint_sha256": info["sha256"],
                                              "timeout": timeout})
                        if row is None or stop.is_set():
                            return
                        store.append(row)
                        with lock:
                            summary.done += 1
                            reporter.advance(row)
                        if on_row is not None:
                            on_row(row)
                except BaseException as exc:  # noqa: BLE001
                    failures.append(exc)
                    stop.set()
                finally:
                    worker.close()

            threads = []
            for _ in range(jobs):
                worker = _make_worker()
                workers.append(worker)
                thread = threading.Thread(target=run, args=(worker,), daemon=True)
                threads.append(thread)
                thread.start()
            try:
                for thread in threads:
                    while thread.is_alive():
                        thread.join(0.2)
            except KeyboardInterrupt:
                stop.set()
                summary.interrupted = True
                for worker in workers:
                    _kill_child(worker)
                for thread in threads:
                    thread.join(10.0)
        if failures and not summary.interrupted:
            raise failures[0]
        summary.seconds = time.perf_counter() - started
        return summary
    finally:
        store.close()


def _make_worker() -> Any:

    return IsolatedWorker(initializer=init_child, init_args=(True,))


def _kill_child(worker: Any) -> None:
    import signal

    pid = worker.pid
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ============================================================================ command line
def report_paths(report: Path, out: Path | None) -> tuple[Path, Path, Path]:
    """(html, csv, results) for a report path: ``X.html`` -> ``X.csv``, ``X.jsonl``."""
    report = Path(report)
    csv = report.with_suffix(".csv")
    results = Path(out) if out is not None else report.with_suffix(".jsonl")
    return report, csv, results


def rerun_command(sources: Sequence[str], *, report: Path, out: Path | None, jobs: int | None,
                  timeout: float, model: Path | None, shipped: bool) -> str:
    """The ``sbmleq validate`` command line that (re)runs this batch (shown in the report)."""
    import shlex

    parts = ["sbmleq", "validate", *map(str, sources)]
    if shipped:
        parts.append("--shipped")
    parts += ["--report", str(report)]
    if out is not None:
        parts += ["--out", str(out)]
    if jobs:
        parts += ["--jobs", str(jobs)]
    parts += ["--timeout", f"{timeout:g}"]
    if model is not None:
        parts += ["--model", str(model)]
    return " ".join(shlex.quote(p) for p in parts)


def validate_command(
    sources: list[str] | None = None,
    report: Path = DEFAULT_REPORT,
    out: Path | None = None,
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    model: Path | None = None,
    shipped: bool = False,
    fresh: bool = False,
    retry: bool = False,
    report_only: bool = False,
    progress: bool = True,
) -> int:
    """Run a validation batch and write the report; returns the exit status (0 when the batch
    ran, whatever the models' outcomes). Raises SbmleqError for problems of the command."""
    from rich.console import Console


    console = Console(stderr=True, soft_wrap=True)
    html, csv, results = report_paths(report, out)
    if not report_only:
        items = collect_items(sources or [], shipped=shipped)
        if not items:
            raise InputError("no models to validate: give SBML files, directories or BioModels "
                             "ids (or --shipped)", source="sbmleq validate")
        if timeout <= 0:
            raise InputError("--timeout must be > 0", source="sbmleq validate")
        summary = run_batch(items, results, jobs=jobs or default_jobs(), timeout=timeout,
                            checkpoint=model, fresh=fresh, retry=retry, progress=progress)
        for line in summary.repairs:
            console.print(f"results file {results}: {line}", highlight=False)
        console.print(f"{summary.done} model(s) validated, {summary.skipped} already in {results} "
                      f"({summary.seconds:.1f} s)" + (" - interrupted" if summary.interrupted else ""),
                      highlight=False)
        if summary.interrupted:
            console.print("interrupted: run the same command again to resume", highlight=False)
            return 130
    elif not results.is_file():
        raise InputError("no results file to report on", source=str(results))
    rows = read_results(results)
    if report_only and sources:
        wanted = {it.key for it in collect_items(sources, shipped=shipped)}
        rows = [r for r in rows if r.get("key") in wanted]
    if report_only:  # the command that made the rows: their timeout, not this call's default
        used = {r.get("timeout") for r in rows if r.get("timeout") is not None}
        if len(used) == 1:
            timeout = float(used.pop())
    meta = {"results": str(results),
            "command": rerun_command(sources or [], report=html, out=out, jobs=jobs,
                                     timeout=timeout, model=model, shipped=shipped)}
    written = report_mod.write_report(rows, html, csv_path=csv, meta=meta)
    console.print(report_mod.console_summary(written), highlight=False)
    console.print(f"report: {html}  table: {csv}  results: {results}", highlight=False)
    return 0


def register(app: Any) -> None:
    """Add ``validate`` to a typer app (the ``sbmleq`` command line)."""
    import typer

    @app.command("validate")
    def validate(
        sources: list[str] = typer.Argument(None, metavar="PATH|ID...",
                                            help="SBML files, directories of SBML files "
                                                 "(recursive) or BioModels ids"),
        report: Path = typer.Option(DEFAULT_REPORT, "--report", "-r",
                                    help="HTML report to write (the CSV table goes beside it, "
                                         "X.html -> X.csv)"),
        out: Path = typer.Option(None, "--out", "-o",
                                 help="results file (JSON lines, appended as models finish; "
                                      "re-running resumes) [default: the report's path with "
                                      ".jsonl]"),
        jobs: int = typer.Option(None, "--jobs", "-j", min=1,
                                 help=f"models solved in parallel [default: {default_jobs()}]"),
        timeout: float = typer.Option(DEFAULT_TIMEOUT, "--timeout", "-t",
                                      help="seconds allowed per model for import+prediction "
                                           "and again for the roadrunner solve"),
        model: Path = typer.Option(None, "--model", "-m",
                                   help="checkpoint (.npz or .pt) [default: the shipped model]"),
        shipped: bool = typer.Option(False, "--shipped",
                                     help="validate the BioModels files shipped with sbmleq"),
        fresh: bool = typer.Option(False, "--fresh",
                                   help="discard the results file's rows and start over"),
        retry: bool = typer.Option(False, "--retry",
                                   help="run again the models recorded as import failures, "
                                        "roadrunner timeouts or solver failures"),
        report_only: bool = typer.Option(False, "--report-only",
                                         help="write the report from the results file only"),
        progress: bool = typer.Option(True, "--progress/--no-progress",
                                      help="show a progress bar"),
    ) -> None:
        """Validate predictions against roadrunner over many models and write a report."""
        try:
            code = validate_command(sources, report=report, out=out, jobs=jobs, timeout=timeout,
                                    model=model, shipped=shipped, fresh=fresh, retry=retry,
                                    report_only=report_only, progress=progress)
        except SbmleqError as exc:
            typer.echo(f"error: {exc.one_line()}", err=True)
            raise typer.Exit(exc.exit_code) from None
        if code:
            raise typer.Exit(code)


def main() -> None:  # ``python -m sbmleq.validation.batch``: the command without the rest of the CLI
    import typer

    app = typer.Typer(add_completion=False, help="sbmleq validate")
    register(app)

    @app.callback()
    def _root() -> None:  # keeps ``validate`` a subcommand
        pass

    app(args=["validate", *sys.argv[1:]], prog_name="sbmleq")


if __name__ == "__main__":
    main()
