"""The SQLite results store of a validation batch (sbmleq.validation.store)."""

from __future__ import annotations

import json
import math
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sbmleq.errors import InputError
from sbmleq.validation.store import (
    ResultsStore,
    StorePaths,
    export_jsonl,
    json_safe,
    parse_jsonl,
    read_results,
    store_paths,
)

REPO = Path(__file__).resolve().parents[1]
WRITER = """
import sys
from sbmleq.validation.store import ResultsStore
store = ResultsStore(sys.argv[1])
store.open()
for i in range(100000):
    store.put({"key": f"m{i}", "id": f"m{i}", "outcome": "in_class", "n": i})
    print(i, flush=True)
"""


def test_store_paths(tmp_path):
    assert store_paths(tmp_path / "r.jsonl") == StorePaths(tmp_path / "r.sqlite", tmp_path / "r.jsonl")
    assert store_paths(tmp_path / "r.sqlite") == StorePaths(tmp_path / "r.sqlite", tmp_path / "r.jsonl")
    assert store_paths(tmp_path / "r.db") == StorePaths(tmp_path / "r.db", tmp_path / "r.jsonl")
    paths = store_paths(tmp_path / "r.jsonl")
    assert [p.name for p in paths.files()] == ["r.sqlite", "r.sqlite-wal", "r.sqlite-shm",
                                               "r.sqlite.lock", "r.jsonl"]


def test_put_replace_reopen_and_export(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        assert store.open() == {}
        store.put({"key": "a", "outcome": "in_class", "x": 1})
        store.put({"key": "b", "outcome": "out_of_class", "x": 2})
        store.put({"key": "a", "outcome": "in_class", "x": 3})  # the model ran again
        store.export()
    assert read_results(path) == [{"key": "b", "outcome": "out_of_class", "x": 2},
                                  {"key": "a", "outcome": "in_class", "x": 3}]
    assert (tmp_path / "r.jsonl").read_text() == ('{"key":"b","outcome":"out_of_class","x":2}\n'
                                                  '{"key":"a","outcome":"in_class","x":3}\n')
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("SELECT key, outcome FROM results ORDER BY seq").fetchall() == \
        [("b", "out_of_class"), ("a", "in_class")]
    assert {r[1] for r in conn.execute("PRAGMA index_list(results)")} >= {"results_outcome"}
    conn.close()
    with ResultsStore(path) as store:
        assert list(store.open()) == ["b", "a"]
        assert store.repairs == []
        assert store.drop(["a", "zzz"]) == 1
    assert [r["key"] for r in read_results(path)] == ["b"]


def test_non_finite_numbers_are_stored_as_null(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.open()
        store.put({"key": "a", "rel": math.nan, "xs": [1.0, math.inf], "ok": True})
    assert read_results(tmp_path / "r.sqlite") == [{"key": "a", "rel": None, "xs": [1.0, None],
                                                    "ok": True}]
    assert json_safe({"n": (1, 2.5, -math.inf)}) == {"n": [1, 2.5, None]}
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.open()
        with pytest.raises(ValueError, match="key"):
            store.put({"id": "no key"})


def test_fresh_discards_the_rows_and_the_export(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultsStore(path) as store:
        store.open()
        store.put({"key": "a"})
        store.export()
    with ResultsStore(path) as store:
        assert store.open(fresh=True) == {}
    assert read_results(path) == [] and path.read_text() == ""


def test_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as first:
        first.open()
        first.put({"key": "a"})
        with pytest.raises(InputError, match="another `sbmleq validate`") as info:
            ResultsStore(tmp_path / "r.jsonl").open()  # the same store by its export's name
        assert info.value.exit_code == 2
        assert [r["key"] for r in read_results(path)] == ["a"]  # readers are welcome
    with ResultsStore(path) as again:  # the lock went with the first writer
        assert list(again.open(fresh=True)) == []


def test_threads_write_concurrently_while_a_reader_reads(tmp_path):
    path = tmp_path / "r.sqlite"
    seen: list[int] = []
    with ResultsStore(path) as store:
        store.open()

        def write(tag: str) -> None:
            for i in range(150):
                store.put({"key": f"{tag}{i}", "i": i})

        threads = [threading.Thread(target=write, args=(t,)) for t in "ab"]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            seen.append(len(read_results(path)))
        for t in threads:
            t.join()
        assert len(store.rows) == 300
    assert seen == sorted(seen)  # a reader never sees rows disappear
    assert sorted(r["key"] for r in read_results(path)) == sorted(f"{t}{i}" for t in "ab"
                                                                  for i in range(150))


def test_sigkill_loses_no_finished_row(tmp_path):
    """A writer killed with SIGKILL at a random moment: every row whose ``put`` returned is there."""
    path = tmp_path / "r.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    done = []
    deadline = time.monotonic() + 60
    while len(done) < 40 and time.monotonic() < deadline:
        done.append(int(proc.stdout.readline()))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert done == list(range(40))
    keys = [r["key"] for r in read_results(path)]
    assert keys[:40] == [f"m{i}" for i in range(40)]
    assert keys == [f"m{i}" for i in range(len(keys))]  # nothing torn, nothing out of order
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with ResultsStore(path) as store:  # the kernel dropped the dead writer's lock
        assert len(store.open()) == len(keys)


def test_results_file_of_an_earlier_version_is_imported_once(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"key": "a", "x": 1}\nnot json\n{"key": "a", "x": 9}\n[1, 2]\n'
                     b'{"key": "b", "x": 2}\n{"key": "c", "x"')  # a kill in mid-write
    with ResultsStore(path) as store:
        assert store.open() == {"a": {"key": "a", "x": 1}, "b": {"key": "b", "x": 2}}
        assert store.repairs == ["imported 2 row(s) from r.jsonl, a results file of an earlier "
                                 "version, into r.sqlite (skipped 2 unreadable line(s), 1 repeated "
                                 "row(s))"]
        store.put({"key": "c", "x": 3})
        store.export()
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["a", "b", "c"]
    path.write_text('{"key": "z"}\n')  # the store exists now: the .jsonl is only an export
    with ResultsStore(path) as store:
        assert list(store.open()) == ["a", "b", "c"] and store.repairs == []
    conn = sqlite3.connect(tmp_path / "r.sqlite")
    assert conn.execute("SELECT value FROM meta WHERE name = 'imported_from'").fetchone() == \
        (str(path.resolve()),)


def test_read_results(tmp_path):
    with pytest.raises(InputError, match="no results file"):
        read_results(tmp_path / "none.jsonl")
    export_jsonl([{"key": "a"}, {"key": "b"}], tmp_path / "old.jsonl")
    assert read_results(tmp_path / "old.jsonl") == [{"key": "a"}, {"key": "b"}]  # no database
    assert not (tmp_path / "old.sqlite").exists()  # reading creates nothing
    (tmp_path / "bad.sqlite").write_text("this is not a database, just text\n" * 10)
    with pytest.raises(InputError, match="not a results database"):
        read_results(tmp_path / "bad.sqlite")
    with pytest.raises(InputError, match="not a results database"):
        ResultsStore(tmp_path / "bad.sqlite").open()
    assert parse_jsonl(b'{"key": "a"}\n{"key": 1}\n\n{"key": "a"}\n') == ({"a": {"key": "a"}}, 1, 1)
