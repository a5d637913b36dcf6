"""Batch validation (sbmleq.validation.batch): real import, prediction, roadrunner and child processes.

The models are written here (LIFE networks exported to SBML, an Antimony Michaelis-Menten model,
broken files), so no test needs the network or the shared BioModels folder. The shipped model
predicts; ``SBMLEQ_TEST_MODEL=path.npz`` tests another checkpoint instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sbmleq.errors import CheckpointError, InputError
from sbmleq.io.sources import antimony_to_sbml
from sbmleq.core.network import Network
from sbmleq.io.sbml_export import network_to_sbml
from sbmleq.validation.batch import (
    BatchItem,
    ResultsFile,
    classify_law,
    collect_items,
    compare,
    read_results,
    register,
    run_batch,
)

MODEL = os.environ.get("SBMLEQ_TEST_MODEL") or None
MODEL_ARGS = ["--model", MODEL] if MODEL else []

MM = """
model mm
  J0: -> S; 1
  J1: S -> P; Vm*S/(Km + S)
  J2: P -> ; k*P
  Vm = 2; Km = 0.5; k = 1; S = 0; P = 0
end
"""


def chain(n: int, name: str, rate: float = 1.0) -> Network:
    nodes = [f"s{i}" for i in range(n)]
    edges = [(nodes[i], nodes[i + 1], rate * (1 + 0.1 * i)) for i in range(n - 1)]
    return Network.from_edges(edges, intake={nodes[0]: 1.5}, excretion={nodes[-1]: 0.7},
                              name=name)


def write_models(folder: Path, n_chains: int = 2) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for k in range(n_chains):
        path = folder / f"chain{k}.xml"
        path.write_text(network_to_sbml(chain(3 + k, f"chain{k}")))
        files[path.stem] = path
    closed = Network.from_edges([("a", "b", 1.0), ("b", "a", 2.0)], intake={}, excretion={},
                                name="closed")
    files["closed"] = folder / "closed.xml"
    files["closed"].write_text(network_to_sbml(closed))
    files["mm"] = folder / "mm.xml"
    files["mm"].write_text(antimony_to_sbml(MM)[0])
    files["broken"] = folder / "broken.xml"
    files["broken"].write_text('<?xml version="1.0"?>\n<sbml xmlns="http://www.sbml.org/sbml/'
                               'level3/version1/core" level="3" version="1"><model id="m">')
    return files


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One batch over five models through the command (in process), shared by several tests."""
    root = tmp_path_factory.mktemp("batch")
    files = write_models(root / "models")
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    report = root / "out" / "report.html"
    result = CliRunner().invoke(app, ["validate", str(root / "models"), "--report", str(report),
                                      "--jobs", "2", "--timeout", "60", "--no-progress",
                                      *MODEL_ARGS])
    return {"root": root, "files": files, "app": app, "report": report, "result": result,
            "rows": {r["id"]: r for r in read_results(report.with_suffix(".jsonl"))}}


def test_batch_writes_results_report_and_csv(batch):
    assert batch["result"].exit_code == 0, batch["result"].output
    rows, report = batch["rows"], batch["report"]
    assert set(rows) == {"chain0", "chain1", "closed", "mm", "broken"}
    assert report.is_file() and report.with_suffix(".csv").is_file()
    csv_lines = report.with_suffix(".csv").read_text().strip().splitlines()
    assert len(csv_lines) == 1 + 5
    for name in ("chain0", "chain1"):
        row = rows[name]
        assert row["outcome"] == "in_class"
        assert row["roadrunner"]["status"] == "converged_stable"
        assert row["exact"]["status"] == "unique"
        assert row["rr_exact_rel_l1"] < 1e-6  # the imported network is the SBML model
        # whatever the model's quality: the comparison is consistent with the prediction
        exists = row["prediction"]["exists"]
        assert row["existence_agree"] is exists and row["exact_agree"] is exists
        assert len(row["species"]) == row["n_nodes"]
        for sp in row["species"]:
            assert sp["roadrunner"] > 0 and sp["exact"] == pytest.approx(sp["roadrunner"], rel=1e-6)
        if exists:
            assert row["compared_species"] == row["n_nodes"] and row["rel_l1"] >= 0
            pred = [sp["predicted"] for sp in row["species"]]
            ref = [sp["roadrunner"] for sp in row["species"]]
            assert row["rel_l1"] == pytest.approx(
                sum(abs(a - b) for a, b in zip(pred, ref)) / sum(map(abs, ref)))
        else:
            assert row["rel_l1"] is None
    closed = rows["closed"]
    assert closed["exact"]["status"] == "non_unique"
    assert closed["roadrunner"]["status"] == "converged_stable"  # the state of its initial mass
    assert closed["exact_agree"] is (not closed["prediction"]["exists"])
    assert rows["mm"]["outcome"] == "out_of_class"
    assert rows["mm"]["kinetics"] == {"J1": "michaelis-menten"}
    assert rows["mm"]["roadrunner"]["status"] == "converged_stable"


def test_malformed_file_is_an_error_row_not_a_crash(batch):
    row = batch["rows"]["broken"]
    assert row["outcome"] == "input_error"
    assert "malformed XML" in row["error"] and "\n" not in row["error"]
    assert row["roadrunner"] is None


def test_report_has_the_sections(batch):
    text = batch["report"].read_text()
    for section in ("Summary", "Existence agreement with roadrunner", "Accuracy of the predicted",
                    "What keeps models out of the LIFE class", 'id="models"', "<svg",
                    "Michaelis-Menten", "malformed XML"):
        assert section in text, section
    assert "<link" not in text and 'src="http' not in text  # one self-contained file
    md = batch["report"].with_suffix(".summary.md").read_text()
    assert "existence agreement" in md


def test_rerun_resumes_without_duplicates(batch):
    report = batch["report"]
    before = report.with_suffix(".jsonl").read_bytes()
    result = CliRunner().invoke(batch["app"], ["validate", str(batch["root"] / "models"),
                                               "--report", str(report), "--no-progress",
                                               *MODEL_ARGS])
    assert result.exit_code == 0, result.output
    assert "0 model(s) validated, 5 already" in result.output
    assert report.with_suffix(".jsonl").read_bytes() == before


def test_results_from_another_checkpoint_are_refused(tmp_path, batch):
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"key": "x", "checkpoint": "old.npz",
                               "checkpoint_sha256": "0" * 64}) + "\n")
    items = collect_items([batch["files"]["chain0"]])
    with pytest.raises(CheckpointError, match="another checkpoint"):
        run_batch(items, out, progress=False, checkpoint=MODEL)
    result = CliRunner().invoke(batch["app"], ["validate", str(batch["files"]["chain0"]),
                                               "--out", str(out), "--report",
                                               str(tmp_path / "r.html"), "--no-progress",
                                               *MODEL_ARGS])
    assert result.exit_code == 4
    assert "--fresh" in result.output


def test_sigkill_mid_batch_then_resume(tmp_path):
    """A real batch in a subprocess, SIGKILLed mid-run, then re-run: every model exactly once."""
    files = write_models(tmp_path / "models", n_chains=4)
    out, report = tmp_path / "res.jsonl", tmp_path / "rep.html"
    cmd = [sys.executable, "-m", "sbmleq.validation.batch", str(tmp_path / "models"), "--out", str(out),
           "--report", str(report), "--timeout", "60", "--no-progress", *MODEL_ARGS]
    proc = subprocess.Popen([*cmd, "--jobs", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_file() and out.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.01)
    children = _children(proc.pid)
    assert children  # the worker (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    first = read_results(out)
    assert 1 <= len(first) < len(files), "the kill should land mid-batch"
    _wait_gone(children)  # PR_SET_PDEATHSIG: no roadrunner child outlives the batch
    with open(out, "ab") as fh:  # what a kill in the middle of a write leaves behind
        fh.write(b'{"v":1,"key":"' + str(files["mm"]).encode() + b'","id":"mm","outc')
    done = subprocess.run([*cmd, "--jobs", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dropped a partial last line" in done.stderr
    assert f"{len(files) - len(first)} model(s) validated, {len(first)} already" in done.stderr
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""
    keys = [json.loads(line)["key"] for line in lines[:-1]]
    assert sorted(keys) == sorted(str(p.resolve()) for p in files.values())
    assert len(keys) == len(set(keys))
    assert report.is_file()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _wait_gone(pids: list[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _running(p)]
        time.sleep(0.05)
    assert not alive, f"children still running: {alive}"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_timeouts_are_recorded_the_batch_continues_and_retry_reruns(tmp_path):
    """Each step past its time limit kills the child (a hang, as far as the batch can tell):
    the model is recorded, the next one gets a fresh child; --retry runs them again."""
    files = write_models(tmp_path / "m", n_chains=2)
    items = collect_items([files["chain0"], files["chain1"]])
    summary = run_batch(items, tmp_path / "r.jsonl", jobs=1, timeout=0.001, progress=False,
                        checkpoint=MODEL)
    rows = read_results(tmp_path / "r.jsonl")
    assert summary.done == 2 and len(rows) == 2
    assert {r["roadrunner"]["status"] for r in rows} == {"timeout"}
    assert {r["outcome"] for r in rows} == {"import_failure"}
    assert all("timed out after 0.001 s" in r["error"] for r in rows)
    again = run_batch(items, tmp_path / "r.jsonl", jobs=1, timeout=60, retry=True, progress=False,
                      checkpoint=MODEL)
    assert again.done == 2 and "running 2 model(s) again (--retry)" in again.repairs
    rows = read_results(tmp_path / "r.jsonl")
    assert sorted(r["id"] for r in rows) == ["chain0", "chain1"]
    assert {r["roadrunner"]["status"] for r in rows} == {"converged_stable"}


# ------------------------------------------------------------------------------ units
def test_results_file_repairs_a_partial_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultsFile(path) as store:
        store.open()
        store.append({"key": "a", "x": 1})
        store.append({"key": "b", "x": 2})
    with open(path, "ab") as fh:
        fh.write(b'{"key": "c", "x"')
    with ResultsFile(path) as store:
        assert set(store.open()) == {"a", "b"}
        assert store.repairs and "partial" in store.repairs[0]
        store.append({"key": "c", "x": 3})
    assert [r["key"] for r in read_results(path)] == ["a", "b", "c"]
    assert path.read_bytes().endswith(b"}\n")


def test_results_file_drops_garbage_and_repeats_with_a_backup(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"key": "a"}\nnot json\n{"key": "a"}\n[1, 2]\n{"key": "b"}\n')
    with ResultsFile(path) as store:
        assert set(store.open()) == {"a", "b"}
        assert "removed 2 unreadable line(s) and 1 repeated row(s)" in store.repairs[0]
    assert path.read_bytes() == b'{"key": "a"}\n{"key": "b"}\n'
    assert (tmp_path / "r.jsonl.bak").read_bytes().count(b"\n") == 5


def test_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultsFile(path) as first:
        first.open()
        with pytest.raises(InputError, match="another `sbmleq validate`"):
            ResultsFile(path).open()
    with ResultsFile(path) as again:  # the lock went with the first writer
        again.open(fresh=True)


def test_collect_items(tmp_path, monkeypatch):
    files = write_models(tmp_path / "m", n_chains=1)
    (tmp_path / "m" / "sub").mkdir()
    (tmp_path / "m" / "sub" / "deep.sbml").write_text(files["chain0"].read_text())
    (tmp_path / "m" / "notes.txt").write_text("not a model")
    items = collect_items([tmp_path / "m", files["chain0"]])
    assert [i.id for i in items] == ["broken", "chain0", "closed", "mm", "deep"]
    assert all(isinstance(i, BatchItem) and Path(i.key).is_absolute() for i in items)
    with pytest.raises(InputError, match="no such file"):
        collect_items([tmp_path / "missing.xml"])
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="sbmleq biomodels fetch BIOMD0000009999"):
        collect_items(["BIOMD0000009999"])
    (tmp_path / "cache" / "biomodels").mkdir(parents=True)
    (tmp_path / "cache" / "biomodels" / "BIOMD0000009999.xml").write_text("<sbml/>")
    assert collect_items(["BIOMD0000009999"])[0].key == "BIOMD0000009999"


def test_compare_uses_declared_units_and_rel_l1():
    analysis = {"prediction": {"exists": True},
                "exact": {"status": "unique", "exists": True},
                "species": [{"id": "A", "amount": False, "volume": 2.0, "predicted": 1.1, "exact": 1.0},
                            {"id": "B", "amount": True, "volume": 2.0, "predicted": 3.0, "exact": 4.0}]}
    rr = {"status": "converged_stable", "concentrations": {"A": 1.0, "B": 2.0}}
    out = compare(analysis, rr)
    assert out["existence_agree"] is True and out["exact_agree"] is True
    assert [s["roadrunner"] for s in out["species"]] == [1.0, 4.0]  # B: amount = conc * volume
    assert out["rel_l1"] == pytest.approx((0.1 + 1.0) / 5.0)
    assert out["max_rel_err"] == pytest.approx(0.25)
    assert out["rr_exact_rel_l1"] == 0.0
    unstable = compare(analysis, {"status": "converged_unstable", "concentrations": {}})
    assert unstable["existence_agree"] is False and unstable["rel_l1"] is None
    assert compare(analysis, {"status": "timeout"})["existence_agree"] is None


@pytest.mark.parametrize("law, species, movers, label", [
    ("Vm * S / (Km + S)", "S", ["S", "P"], "michaelis-menten"),
    ("V * S^n / (K^n + S^n)", "S", ["S"], "hill"),
    ("k * A * A", "A", ["A"], "mass-action-order-2+"),
    ("k * A * B", "A", ["A", "B"], "mass-action-order-2+"),
    ("k * A^0.7", "A", ["A"], "power-law"),
    ("k_tl * X", "X", ["PX", "X"], "linear"),
    ("piecewise(k * A, A > 1, 0)", "A", ["A"], "other"),
])
def test_classify_law(law, species, movers, label):
    assert classify_law(law, species, movers) == label
