"""The results store of a validation batch: one SQLite database (standard library), one row per model.

Layout (``--out R``, see :func:`store_paths`): when ``R`` ends in ``.sqlite``, ``.sqlite3`` or
``.db`` it is the database and the JSON-lines export is ``R`` with ``.jsonl``; otherwise (the
default ``report.jsonl``) ``R`` is the JSON-lines export and the database is ``R`` with
``.sqlite``. The database is authoritative; the export is rewritten from it at the end of each
batch (and at the start of a ``--fresh`` one).

Schema: table ``results`` (``seq`` insertion order, ``key`` unique, ``id``, ``outcome``,
``checkpoint_sha256``, ``row`` = the row as JSON text; indexes on key and outcome) and table
``meta`` (name, value). The database runs in WAL mode with ``synchronous=FULL``: every
:meth:`ResultsStore.put` is one committed ``INSERT OR REPLACE`` transaction, so a batch killed
at any moment (even by SIGKILL) keeps every finished row, and readers (:func:`read_results`,
``--report-only``) may read while a batch writes.

A batch holds an exclusive ``flock`` on ``<database>.lock`` while it runs, so a second batch on
the same store is refused at once (:class:`InputError`); the kernel drops the lock when the
process dies. A SQLite file is never opened a second time for the lock (closing such a
descriptor would drop SQLite's own POSIX locks).

Results files of earlier versions (JSON lines written with ``flock``/``fsync``) are imported
once: when the database does not exist yet and the ``.jsonl`` file does, its rows are copied
into the new database (a partial last line or unreadable lines are skipped), so resuming an
old batch still skips its finished models.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbmleq.errors import InputError

__all__ = ["STORE_SUFFIXES", "ResultsStore", "StorePaths", "export_jsonl", "json_safe",
           "parse_jsonl", "read_results", "store_paths"]

STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    id TEXT,
    outcome TEXT,
    checkpoint_sha256 TEXT,
    row TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_outcome ON results (outcome);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class StorePaths:
    """The files of one results store."""

    store: Path  # the SQLite database
    jsonl: Path  # the JSON-lines export (and where a results file of an earlier version lies)

    @property
    def lock(self) -> Path:
        return self.store.with_name(self.store.name + ".lock")

    def files(self) -> list[Path]:
        """Every file the store may write: database, its WAL and shared-memory files, the lock
        and the export (a report must not overwrite any of them)."""
        name = self.store.name
        return [self.store, self.store.with_name(name + "-wal"), self.store.with_name(name + "-shm"),
                self.lock, self.jsonl]


def store_paths(results: str | os.PathLike) -> StorePaths:
    """The database and export for a ``--out`` path (see the module docstring)."""
    path = Path(results)
    if path.suffix.lower() in STORE_SUFFIXES:
        return StorePaths(path, path.with_suffix(".jsonl"))
    return StorePaths(path.with_suffix(".sqlite"), path)


def json_safe(obj: Any) -> Any:
    """``obj`` as plain JSON values: non-finite floats become None, numpy scalars Python ones,
    anything else its ``str``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item) and type(obj).__module__ == "numpy":
        return json_safe(item())
    return str(obj)


def _dumps(row: dict[str, Any]) -> str:
    return json.dumps(json_safe(row), allow_nan=False, separators=(",", ":"))


def parse_jsonl(data: bytes) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Rows by key of a JSON-lines results file, #unreadable lines, #repeated keys (the first
    row of a key is kept). A last line without its newline is never a row (it may be cut short)."""
    rows: dict[str, dict[str, Any]] = {}
    bad = dupes = 0
    for line in data.split(b"\n")[:-1]:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            bad += 1
        elif row["key"] in rows:
            dupes += 1
        else:
            rows[row["key"]] = row
    return rows, bad, dupes


def export_jsonl(rows: Iterable[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write ``rows`` as JSON lines, atomically (a temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(_dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"not a results database ({exc})", source=str(path)) from None
    return conn


def _select_rows(conn: sqlite3.Connection, source: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    try:
        for key, text in conn.execute("SELECT key, row FROM results ORDER BY seq"):
            rows[key] = json.loads(text)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"not a results database ({exc})", source=str(source)) from None
    return rows


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a results store (in the order they were written), for a database path or its
    ``.jsonl`` export path: the database when it exists, else the JSON-lines file (an export or
    a results file of an earlier version; a partial last line is ignored). Read-only."""
    paths = store_paths(path)
    if paths.store.is_file():
        conn = sqlite3.connect(paths.store, timeout=30.0)
        try:
            tables = {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:  # a store being created this instant: no rows yet
                return []
            return list(_select_rows(conn, paths.store).values())
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a results database ({exc})", source=str(paths.store)) from None
        finally:
            conn.close()
    if paths.jsonl.is_file():
        return list(parse_jsonl(paths.jsonl.read_bytes())[0].values())
    raise InputError("no results file (run `sbmleq validate` first)", source=str(path))


class ResultsStore:
    """The results database of one batch run (see the module docstring).

    :meth:`open` locks the store, creates the database (importing a results file of an earlier
    version once) and returns the rows already there; :meth:`put` records one row (durably,
    replacing a row of the same key); :meth:`drop` removes rows; :meth:`export` rewrites the
    JSON-lines export; :meth:`close` releases everything. Thread-safe.
    """

    def __init__(self, results: str | os.PathLike):
        self.paths = store_paths(results)
        self.path = self.paths.store
        self.rows: dict[str, dict[str, Any]] = {}
        self.repairs: list[str] = []  # what :meth:`open` did besides reading (shown to the user)
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._lock = threading.Lock()

    def open(self, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            new = not self.path.is_file() or self.path.stat().st_size == 0
            self._conn = _connect(self.path)
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            if fresh:
                self._conn.execute("DELETE FROM results")
            elif new and self.paths.jsonl.is_file():
                self._import_jsonl()
            self.rows = _select_rows(self._conn, self.path)
            if fresh:
                self.export()  # no stale rows left in the export
        except BaseException:
            self.close()
            raise
        return self.rows

    def _take_lock(self) -> None:
        fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError("another `sbmleq validate` is writing this results store; wait "
                                 "for it or choose another --out", source=str(self.path)) from None
            raise
        self._lock_fd = fd

    def _import_jsonl(self) -> None:
        assert self._conn is not None
        rows, bad, dupes = parse_jsonl(self.paths.jsonl.read_bytes())
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for row in rows.values():
                    self._insert(row)
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('imported_from', ?)",
                                   (str(self.paths.jsonl.resolve()),))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        skipped = f" (skipped {bad} unreadable line(s), {dupes} repeated row(s))" if bad or dupes else ""
        self.repairs.append(f"imported {len(rows)} row(s) from {self.paths.jsonl.name}, a results "
                            f"file of an earlier version, into {self.path.name}{skipped}")

    def _insert(self, row: dict[str, Any]) -> None:
        assert self._conn is not None
        self._conn.execute(
            "INSERT OR REPLACE INTO results (key, id, outcome, checkpoint_sha256, row) "
            "VALUES (?, ?, ?, ?, ?)",
            (row["key"], row.get("id"), row.get("outcome"), row.get("checkpoint_sha256"), _dumps(row)))

    def put(self, row: dict[str, Any]) -> None:
        """Record one row (one committed transaction; a row of the same key is replaced)."""
        if not isinstance(row.get("key"), str):
            raise ValueError("a result row needs a string 'key'")
        with self._lock:
            if self._conn is None:
                raise RuntimeError("results store is not open")
            self._insert(row)
            self.rows[row["key"]] = json_safe(row)

    append = put  # the name of the JSON-lines results file of earlier versions

    def drop(self, keys: Iterable[str]) -> int:
        """Remove the rows of ``keys`` (to run those models again); returns how many."""
        keys = sorted(set(keys) & set(self.rows))
        if not keys:
            return 0
        with self._lock:
            assert self._conn is not None
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("DELETE FROM results WHERE key = ?", [(k,) for k in keys])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            for key in keys:
                self.rows.pop(key, None)
        return len(keys)

    def export(self) -> Path:
        """Rewrite the JSON-lines export from the database."""
        with self._lock:
            if self._conn is None:
                raise RuntimeError("results store is not open")
            rows = list(_select_rows(self._conn, self.path).values())
        return export_jsonl(rows, self.paths.jsonl)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
