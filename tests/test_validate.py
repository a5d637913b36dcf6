"""Batch validation (sbmleq.validation): real import, prediction, roadrunner and child processes.

The models are written here (LIFE networks exported to SBML, an Antimony Michaelis-Menten model,
broken files), so no test needs the network or the shared BioModels folder. The shipped model
predicts; ``SBMLEQ_TEST_MODEL=path.npz`` tests another checkpoint instead. The command is
:func:`sbmleq.validation.command.validate_command` (the typer layer is tested with the CLI).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sbmleq.core.network import Network
from sbmleq.errors import CheckpointError, InputError
from sbmleq.io.sbml_export import network_to_sbml
from sbmleq.io.sources import antimony_to_sbml
from sbmleq.validation.batch import run_batch
from sbmleq.validation.command import validate_command
from sbmleq.validation.items import BatchItem, collect_items
from sbmleq.validation.kinetics import classify_law
from sbmleq.validation.metrics import compare
from sbmleq.validation.store import ResultsStore, read_results, store_paths

MODEL = os.environ.get("SBMLEQ_TEST_MODEL") or None
REPO = Path(__file__).resolve().parents[1]
DRIVER = ("import json, sys; from sbmleq.validation.command import validate_command; "
          "sys.exit(validate_command(**json.loads(sys.argv[1])))")

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


def validate(**kwargs) -> tuple[int, str]:
    """``validate_command`` in this process: (exit code, what it printed on stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = validate_command(**{"progress": False, "model": MODEL, **kwargs})
    return code, err.getvalue()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One batch over five models through the command (in process), shared by several tests."""
    root = tmp_path_factory.mktemp("batch")
    files = write_models(root / "models")
    report = root / "out" / "report.html"
    code, output = validate(sources=[str(root / "models")], report=report, jobs=2, timeout=60)
    return {"root": root, "files": files, "report": report, "code": code, "output": output,
            "rows": {r["id"]: r for r in read_results(report.with_suffix(".jsonl"))}}


def test_batch_writes_results_report_and_csv(batch):
    assert batch["code"] == 0, batch["output"]
    rows, report = batch["rows"], batch["report"]
    store = report.with_suffix(".sqlite")
    assert f"5 model(s) validated, 0 already in {store}" in batch["output"]
    assert set(rows) == {"chain0", "chain1", "closed", "mm", "broken"}
    assert sorted(r["id"] for r in read_results(store)) == sorted(rows)
    export = [json.loads(line) for line in report.with_suffix(".jsonl").read_text().splitlines()]
    assert export == read_results(store)
    with open(report.with_suffix(".csv"), newline="") as fh:
        table = {r["id"]: r for r in csv.DictReader(fh)}
    assert sorted(table) == sorted(rows)
    for name in ("chain0", "chain1"):
        row = rows[name]
        assert row["outcome"] == "in_class"
        assert row["roadrunner"]["status"] == "converged_stable"
        assert row["exact"]["status"] == "unique"
        assert row["rr_exact_rel_l1"] < 1e-6  # the imported network is the SBML model
        # whatever the model's quality: the comparison is consistent with the prediction
        exists = row["prediction"]["exists"]
        assert row["existence_agree"] is True  # the exact verdict: these settle
        assert row["predicted_existence_agree"] is exists and row["exact_agree"] is exists
        assert len(row["species"]) == row["n_nodes"] == int(name[-1]) + 3
        for sp in row["species"]:
            assert sp["roadrunner"] > 0 and sp["exact"] == pytest.approx(sp["roadrunner"], rel=1e-6)
        assert row["compared_species"] == row["n_nodes"] and row["rel_l1"] < 1e-6
        if exists:
            pred = [sp["predicted"] for sp in row["species"]]
            ref = [sp["roadrunner"] for sp in row["species"]]
            assert row["predicted_rel_l1"] == pytest.approx(
                sum(abs(a - b) for a, b in zip(pred, ref)) / sum(map(abs, ref)))
        else:
            assert row["predicted_rel_l1"] is None
        assert table[name]["outcome"] == "in_class"
        assert table[name]["roadrunner_status"] == "converged_stable"
    closed = rows["closed"]
    assert closed["exact"]["status"] == "conserved" and closed["exact"]["unique"] is False
    assert closed["roadrunner"]["status"] == "converged_stable"  # the state of its initial mass
    assert closed["existence_agree"] is True and closed["rel_l1"] < 1e-6  # exact from x0
    assert closed["exact_agree"] is (not closed["prediction"]["exists"])
    mm = rows["mm"]
    assert mm["outcome"] == "out_of_class"
    assert mm["kinetics"] == {"J1": "michaelis-menten"}
    assert [(d["code"], d["reaction"], d["species"]) for d in mm["reason_codes"]] == \
        [("not_first_order", "J1", ["S"])]
    assert mm["reasons"] == [f"J1: {mm['reason_codes'][0]['message']}"]
    assert mm["roadrunner"]["status"] == "converged_stable"
    assert table["mm"]["reason_codes"] == "not_first_order"
    assert table["mm"]["reason_categories"] == \
        "kinetic law not first-order (Michaelis-Menten, saturating)"


def test_rows_carry_the_general_analysis(batch):
    """Every readable model is also imported as a general network and solved by sbmleq's own
    solver; its state is compared with roadrunner's (rel-L1 over the species both report)."""
    rows = batch["rows"]
    assert {r["v"] for r in rows.values()} == {2}
    for name in ("chain0", "chain1", "closed", "mm"):
        g = rows[name]["general"]
        assert g["outcome"] == "importable" and g["reason_codes"] == []
        assert g["solve"]["status"] == "stable" and g["solve"]["residual"] < 1e-6
        assert set(g["solve"]["concentrations"]) == set(rows[name]["roadrunner"]["concentrations"])
        assert g["rr_agree"] is True and g["rr_rel_l1"] < 1e-6
        assert g["rr_compared"] == len(g["solve"]["concentrations"])
        assert g["solve"]["seconds"] > 0 and g["import_seconds"] > 0
    assert set(rows["chain0"]["general"]["families"].values()) <= {"zero_order", "mass_action_1"}
    mm = rows["mm"]["general"]
    assert mm["families"] == {"J0": "zero_order", "J1": "michaelis_menten", "J2": "mass_action_1"}
    conc = mm["solve"]["concentrations"]  # S' = 1 - 2 S/(0.5 + S), P' = 2 S/(0.5 + S) - P
    assert conc["S"] == pytest.approx(0.5, rel=1e-6) and conc["P"] == pytest.approx(1.0, rel=1e-6)
    broken = rows["broken"]["general"]
    assert (broken["outcome"], broken["error_code"], broken["solve"]) == ("input_error", "InputError",
                                                                         None)
    assert "general networks: importable 4/4 (100.0%; 1 beyond first-order mass action)" in \
        batch["output"]
    assert "same state as roadrunner (rel-L1 <= 1e-4) 4/4" in batch["output"]
    text = batch["report"].read_text()
    assert "General reaction networks: sbmleq&#39;s own solver" in text or \
        "General reaction networks: sbmleq's own solver" in text
    assert "<code>michaelis_menten</code>" in text and "No simulation truth joined" in text
    with open(batch["report"].with_suffix(".csv"), newline="") as fh:
        table = {r["id"]: r for r in csv.DictReader(fh)}
    assert (table["mm"]["sbmleq_status"], table["mm"]["sbmleq_rr_agree"]) == ("stable", "True")
    assert table["mm"]["families"] == "mass_action_1; michaelis_menten; zero_order"
    assert (table["broken"]["general_outcome"], table["broken"]["truth_kind"]) == ("input_error", "")


def test_malformed_file_is_an_error_row_not_a_crash(batch):
    row = batch["rows"]["broken"]
    assert (row["outcome"], row["error_code"], row["error_type"]) == \
        ("input_error", "InputError", "InputError")
    assert row["error"].startswith("broken: line 2: malformed XML: ")
    assert "\n" not in row["error"]
    assert row["roadrunner"] is None


def test_report_has_the_sections(batch):
    text = batch["report"].read_text()
    for section in ("Summary", "Existence agreement with roadrunner", "Accuracy of the reported",
                    "What keeps models out of the LIFE class", 'id="models"',
                    "Michaelis-Menten, saturating", "malformed XML", "<code>not_first_order</code>"):
        assert section in text, section
    assert "<link" not in text and 'src="http' not in text  # one self-contained file
    md = batch["report"].with_suffix(".summary.md").read_text()
    assert "| in the LIFE class | 3 |" in md
    assert "| out of class | 1 |" in md


def test_rerun_resumes_without_duplicates(batch):
    report = batch["report"]
    before_rows = read_results(report.with_suffix(".sqlite"))
    before = report.with_suffix(".jsonl").read_bytes()
    code, output = validate(sources=[str(batch["root"] / "models")], report=report)
    assert code == 0, output
    assert f"0 model(s) validated, 5 already in {report.with_suffix('.sqlite')}" in output
    assert read_results(report.with_suffix(".sqlite")) == before_rows
    assert report.with_suffix(".jsonl").read_bytes() == before


@pytest.mark.parametrize("report, out, refused", [
    ("r.jsonl", None, "r.jsonl"),  # the default results export is the report itself
    ("r.sqlite", None, "r.sqlite"),  # ... its database
    ("r.html", "r.csv", "r.csv"),  # the CSV table would overwrite the export
    ("r.html", "r.html", "r.html"),  # --out r.html: the export would be the report
    ("r.html", "r.summary.md", "r.summary.md"),
    ("r.csv", None, "r.csv"),  # the report and its own CSV table
])
def test_report_paths_that_would_overwrite_the_results_are_refused(tmp_path, batch, report, out,
                                                                   refused):
    models = tmp_path / "models"
    models.mkdir()
    (models / "chain0.xml").write_bytes(batch["files"]["chain0"].read_bytes())
    kwargs = {"sources": [str(models)], "report": tmp_path / report}
    if out is not None:
        kwargs["out"] = tmp_path / out
    with pytest.raises(InputError) as info:
        validate(**kwargs)
    assert info.value.exit_code == 2
    line = info.value.one_line()
    assert line.startswith(f"{tmp_path / refused}: ") and "\n" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # nothing was run or written


def test_a_report_over_the_results_keeps_every_row(batch):
    """The defect: ``--report X.jsonl`` overwrote the results with HTML, the next run discarded
    every row. Refused now, and the results are intact."""
    report = batch["report"]
    before = report.with_suffix(".jsonl").read_bytes()
    with pytest.raises(InputError, match="would overwrite the results file"):
        validate(sources=[str(batch["root"] / "models")], report=report.with_suffix(".jsonl"),
                 out=report.with_suffix(".jsonl"), report_only=True)
    assert report.with_suffix(".jsonl").read_bytes() == before
    assert len(read_results(report.with_suffix(".sqlite"))) == 5


def test_report_only_on_rows_with_missing_or_nan_numbers(tmp_path, batch):
    """Rows a checkpoint with NaN weights leaves behind (prediction numbers null) and rows of
    an old results file: ``--report-only`` writes the report instead of crashing."""
    rows = [dict(r) for r in batch["rows"].values()]
    for r in rows:
        if r.get("prediction"):
            r["prediction"] = {**r["prediction"], "p_exists": float("nan"), "residual": None}
            r["species"] = [{**sp, "predicted": float("nan"), "rel_err": None} for sp in r["species"]]
            r.update(rel_l1=None, max_rel_err=float("nan"))
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.open()
        for r in rows:
            store.put(r)
    code, output = validate(report=tmp_path / "r.html", out=tmp_path / "r.sqlite", report_only=True)
    assert code == 0, output
    with open(tmp_path / "r.csv", newline="") as fh:
        table = {r["id"]: r for r in csv.DictReader(fh)}
    assert [table[k]["p_exists"] for k in ("chain0", "chain1", "closed")] == ["", "", ""]
    assert [table[k]["rel_l1"] for k in ("chain0", "chain1", "closed")] == ["", "", ""]
    assert "(p n/a)" in (tmp_path / "r.html").read_text()


def test_results_from_another_checkpoint_are_refused(tmp_path, batch):
    """Also: a results file of the earlier JSON-lines format is imported into the new store."""
    out = tmp_path / "r.jsonl"
    old = {"key": "x", "id": "x", "outcome": "in_class", "checkpoint": "old.npz",
           "checkpoint_sha256": "0" * 64}
    out.write_text(json.dumps(old) + "\n")
    items = collect_items([batch["files"]["chain0"]])
    with pytest.raises(CheckpointError, match="another checkpoint"):
        run_batch(items, out, progress=False, checkpoint=MODEL)
    assert read_results(tmp_path / "r.sqlite") == [old]
    with pytest.raises(CheckpointError) as info:
        validate(sources=[str(batch["files"]["chain0"])], out=out, report=tmp_path / "r.html")
    assert info.value.exit_code == 4
    assert "--fresh" in info.value.one_line()
    assert out.read_text() == json.dumps(old) + "\n"  # not rewritten: nothing ran
    code, output = validate(sources=[str(batch["files"]["chain0"])], out=out,
                            report=tmp_path / "r.html", fresh=True)
    assert code == 0, output
    assert [r["id"] for r in read_results(out)] == ["chain0"]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["chain0"]


def test_sigkill_mid_batch_then_resume(tmp_path):
    """A real batch in a subprocess, SIGKILLed mid-run, then re-run: every model exactly once."""
    files = write_models(tmp_path / "models", n_chains=4)
    out, report = tmp_path / "res.jsonl", tmp_path / "rep.html"
    store = tmp_path / "res.sqlite"
    kwargs = {"sources": [str(tmp_path / "models")], "out": str(out), "report": str(report),
              "timeout": 60, "progress": False, "model": MODEL}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps({**kwargs, "jobs": 1})],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    deadline = time.monotonic() + 60
    first: list = []
    while time.monotonic() < deadline and proc.poll() is None:
        if store.is_file() and (first := read_results(store)):
            break
        time.sleep(0.01)
    children = _children(proc.pid)
    assert len(children) == 1  # --jobs 1: one worker child
    assert _cmdline(children[0])[0] == sys.executable
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    kept = read_results(store)
    assert 1 <= len(kept) < len(files), "the kill should land mid-batch"
    assert [r["key"] for r in kept][:len(first)] == [r["key"] for r in first]  # no finished row lost
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not out.exists()  # the export is written at the end of a batch
    _wait_gone(children)  # PR_SET_PDEATHSIG: no roadrunner child outlives the batch
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps({**kwargs, "jobs": 2})],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(files) - len(kept)} model(s) validated, {len(kept)} already" in done.stderr
    keys = [r["key"] for r in read_results(store)]
    assert sorted(keys) == sorted(str(p.resolve()) for p in files.values())
    lines = out.read_text().splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == sorted(keys)
    assert report.is_file()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


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
    assert (summary.done, summary.skipped, len(rows)) == (2, 0, 2)
    assert summary.results == tmp_path / "r.sqlite"
    assert {r["roadrunner"]["status"] for r in rows} == {"timeout"}
    assert {r["outcome"] for r in rows} == {"import_failure"}
    assert {r["error_code"] for r in rows} == {"ChildTimeout"}
    assert {(r["general"]["outcome"], r["general"]["error_code"]) for r in rows} == \
        {("failure", "ChildTimeout")}
    assert sorted(r["error"] for r in rows) == [
        f"{i}: import and prediction timed out after 0.001 s" for i in ("chain0", "chain1")]
    again = run_batch(items, tmp_path / "r.jsonl", jobs=1, timeout=60, retry=True, progress=False,
                      checkpoint=MODEL)
    assert (again.done, again.skipped) == (2, 0)
    assert again.repairs == ["running 2 model(s) again (--retry)"]
    rows = read_results(tmp_path / "r.jsonl")
    assert sorted(r["id"] for r in rows) == ["chain0", "chain1"]
    assert {r["roadrunner"]["status"] for r in rows} == {"converged_stable"}
    assert {r.get("error_code") for r in rows} == {None}
    assert {r["general"]["solve"]["status"] for r in rows} == {"stable"}


# ------------------------------------------------------------------------------ units
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


def test_command_errors_before_anything_runs(tmp_path):
    with pytest.raises(InputError, match="no models to validate") as info:
        validate(sources=[], report=tmp_path / "r.html")
    assert info.value.exit_code == 2
    with pytest.raises(InputError, match="no results file to report on"):
        validate(report=tmp_path / "r.html", report_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert store_paths(tmp_path / "r.jsonl").store == tmp_path / "r.sqlite"


def test_compare_uses_declared_units_and_rel_l1():
    analysis = {"prediction": {"exists": True},
                "exact": {"status": "unique", "exists": True},
                "species": [{"id": "A", "amount": False, "volume": 2.0, "predicted": 1.1, "exact": 1.0},
                            {"id": "B", "amount": True, "volume": 2.0, "predicted": 3.0, "exact": 4.0}]}
    rr = {"status": "converged_stable", "concentrations": {"A": 1.0, "B": 2.0}}
    out = compare(analysis, rr)
    assert out["existence_agree"] is True and out["exact_agree"] is True
    assert [s["roadrunner"] for s in out["species"]] == [1.0, 4.0]  # B: amount = conc * volume
    assert out["predicted_rel_l1"] == pytest.approx((0.1 + 1.0) / 5.0)
    assert out["rel_l1"] == 0.0 and out["max_rel_err"] == 0.0  # the exact values match
    assert out["rr_exact_rel_l1"] == 0.0
    assert out["compared_species"] == 2
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
