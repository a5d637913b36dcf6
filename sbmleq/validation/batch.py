"""Batch validation: import, predict and solve many SBML models, and compare with roadrunner.

:func:`run_batch` validates a list of :class:`~sbmleq.validation.items.BatchItem` with ``jobs``
threads, each owning one isolated child process (:class:`~sbmleq.solvers.isolate.IsolatedWorker`,
prepared by :func:`sbmleq.validation.worker.init_child`); for every model:

1. import and, for a model in the LIFE class, a prediction (:func:`.worker.analyse_model`), in
   the child, time-limited;
2. the roadrunner steady state (:func:`.worker.solve_file`) in the same child, time-limited
   separately (a hang or crash kills only the child: the model is recorded as ``timeout`` /
   ``solver_failure`` and the batch goes on with a fresh child);
3. the general import and sbmleq's verified solve (:func:`.general_rows.run_general`), again
   time-limited separately;
4. the comparisons (:func:`.metrics.compare`, :func:`.general_rows.compare_general`).

Each finished model is one committed row of the SQLite results store
(:class:`~sbmleq.validation.store.ResultsStore`), so a batch that is killed, even with SIGKILL,
resumes when run again with the same ``--out``: the models already recorded are skipped.
The command (``sbmleq validate``) is :func:`sbmleq.validation.command.validate_command`.
See docs/validation.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbmleq.core.network import Network
from sbmleq.errors import CheckpointError
from sbmleq.model.predictor import DEFAULT_MODEL, Predictor
from sbmleq.solvers.isolate import IsolatedWorker
from sbmleq.solvers.roadrunner import SolverSettings
from sbmleq.validation.items import BatchItem
from sbmleq.validation.progress import ProgressReporter
from sbmleq.validation.store import ResultsStore, json_safe
from sbmleq.validation.worker import ROW_VERSION, error_code, init_child, validate_item

__all__ = ["DEFAULT_TIMEOUT", "BatchSummary", "checkpoint_identity", "needs_retry", "run_batch"]

DEFAULT_TIMEOUT = 30.0


@dataclass
class BatchSummary:
    results: Path  # the results database
    total: int  # models in the batch
    skipped: int  # already in the results store
    done: int  # finished in this run
    interrupted: bool = False
    repairs: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def needs_retry(row: dict[str, Any]) -> bool:
    """A row ``--retry`` runs again: the import or the prediction failed, roadrunner timed out
    or failed, the general analysis was killed or crashed (``failure``) or sbmleq's solve timed
    out, or the row is of an earlier version without the general analysis."""
    status = (row.get("roadrunner") or {}).get("status")
    general = row.get("general")
    general_failed = not isinstance(general, dict) or general.get("outcome") == "failure" or \
        (general.get("solve") or {}).get("status") == "timeout"
    return (row.get("outcome") == "import_failure" or bool(row.get("prediction_error"))
            or status in ("timeout", "solver_failure") or general_failed)


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


def _check_checkpoint(existing: dict[str, dict[str, Any]], info: dict[str, str], source: Path) -> None:
    other = sorted({r.get("checkpoint_sha256", "") for r in existing.values()} - {info["sha256"]})
    if other:
        names = sorted({str(r.get("checkpoint", "?")) for r in existing.values()
                        if r.get("checkpoint_sha256") in other})
        raise CheckpointError(f"the results file holds rows made with another checkpoint "
                              f"({', '.join(names)}, sha256 {str(other[0])[:12]}...); pass --fresh "
                              f"to start over or choose another --out", source=str(source))


def _failure_row(item: BatchItem, exc: BaseException, info: dict[str, str], timeout: float) -> dict:
    """The row of a model whose validation raised (a bug): recorded, the batch goes on."""
    return json_safe({"v": ROW_VERSION, "key": item.key, "id": item.id, "source": str(item.path),
                      "outcome": "import_failure", "error_code": error_code(exc),
                      "error": f"{item.id}: {type(exc).__name__}: {exc}"[:400],
                      "roadrunner": None, "general": None, "checkpoint": info["name"],
                      "checkpoint_sha256": info["sha256"], "timeout": timeout})


def run_batch(items: Sequence[BatchItem], results: str | os.PathLike, *, jobs: int = 1,
              timeout: float = DEFAULT_TIMEOUT, checkpoint: str | os.PathLike | None = None,
              settings: Any = None, fresh: bool = False, retry: bool = False,
              progress: bool = True,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> BatchSummary:
    """Validate ``items`` with ``jobs`` isolated children, one row per model in the results store
    of ``results`` (a ``.sqlite``/``.db`` path, or the ``.jsonl`` export path: see
    :func:`~sbmleq.validation.store.store_paths`), resuming: keys already there are skipped; with
    ``retry`` the rows of the batch's models that :func:`needs_retry` are removed first and run
    again. The JSON-lines export is rewritten at the end. Returns a :class:`BatchSummary`."""

    started = time.perf_counter()
    info = checkpoint_identity(checkpoint)
    ckpt = str(checkpoint) if checkpoint is not None else None
    settings = settings or SolverSettings()
    store = ResultsStore(results)
    existing = store.open(fresh=fresh)
    try:
        _check_checkpoint(existing, info, store.path)
        if retry:
            wanted = {it.key for it in items}
            again = [k for k, r in existing.items() if k in wanted and needs_retry(r)]
            if again:
                store.drop(again)
                store.repairs.append(f"running {len(again)} model(s) again (--retry)")
        todo = [it for it in items if it.key not in existing]
        summary = BatchSummary(store.path, len(items), len(items) - len(todo), 0,
                               repairs=list(store.repairs))
        if todo:
            _run(todo, store, summary, jobs=jobs, timeout=timeout, checkpoint=ckpt,
                 settings=settings, info=info, progress=progress, on_row=on_row)
        store.export()
        summary.seconds = time.perf_counter() - started
        return summary
    finally:
        store.close()


def _run(todo: Sequence[BatchItem], store: ResultsStore, summary: BatchSummary, *, jobs: int,
         timeout: float, checkpoint: str | None, settings: Any, info: dict[str, str],
         progress: bool, on_row: Callable[[dict[str, Any]], None] | None) -> None:
    """The worker threads over ``todo``; rows go to ``store`` as they finish."""
    jobs = max(1, min(int(jobs), len(todo)))
    work: queue.Queue[BatchItem] = queue.Queue()
    for it in todo:
        work.put(it)
    stop = threading.Event()
    failures: list[BaseException] = []
    workers: list[IsolatedWorker] = []
    lock = threading.Lock()

    with ProgressReporter(summary.total, summary.skipped, progress) as reporter:
        def run(worker: IsolatedWorker) -> None:
            try:
                while not stop.is_set():
                    try:
                        it = work.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        row = validate_item(it, worker, checkpoint=checkpoint, timeout=timeout,
                                            settings=settings, checkpoint_info=info, stop=stop)
                    except CheckpointError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - keep the batch going
                        if stop.is_set():
                            return
                        row = _failure_row(it, exc, info, timeout)
                    if row is None or stop.is_set():
                        return
                    store.put(row)
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
            worker = IsolatedWorker(initializer=init_child, init_args=(True,))
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


def _kill_child(worker: IsolatedWorker) -> None:
    pid = worker.pid
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
