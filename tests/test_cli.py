"""The ``sbmleq`` command line: formats, exit codes, one-line errors, stdin, start-up.

Most tests use typer's CliRunner in this process (fast); a few run ``python -m sbmleq`` as a
real subprocess to prove the exit codes and that no traceback reaches the user.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import socket
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sbmleq.api import Session
from sbmleq.cli.main import app
from sbmleq.core.network import Network
from sbmleq.io import biomodels as bm
from sbmleq.io.sbml_export import write_sbml
from sbmleq.io.sources import antimony_to_sbml
from antimony_models import MM_CHAIN

REPO = Path(__file__).resolve().parents[1]
EXACT = {"A": 4 / 3, "B": 8 / 3, "C": 10 / 3}  # small_network(): intake 1, excretion 0.3 of C

OUT_OF_CLASS = MM_CHAIN

CHAIN_ANTIMONY = """
J0: -> A; 1.5
J1: A -> B; 2*A
J2: B -> ; 0.5*B
A = 0; B = 0
"""

runner = CliRunner()


def small_network() -> Network:
    return Network.from_edges([("A", "B", 2.0), ("B", "C", 1.0), ("C", "A", 0.5)],
                              {"A": 1.0}, {"C": 0.3}, name="small")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    paths = {"in_class": write_sbml(small_network(), d / "small.xml")}
    ooc = d / "mm.xml"
    ooc.write_text(antimony_to_sbml(OUT_OF_CLASS)[0])
    paths["out_of_class"] = ooc
    (d / "malformed.xml").write_text("<sbml><model id='m'><listOfSpecies>")
    paths["malformed"] = d / "malformed.xml"
    (d / "page.xml").write_text('<?xml version="1.0"?><html><body/></html>')
    paths["not_sbml"] = d / "page.xml"
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip file")
    paths["corrupt"] = d / "corrupt.npz"
    paths["missing"] = d / "missing.xml"
    text = paths["in_class"].read_text()
    assert text.count('species="A"') >= 1
    undefined = d / "undefined.xml"  # the first reaction's reactant A renamed to a species
    undefined.write_text(text.replace('species="A"', 'species="Nowhere"', 1))  # nobody defines
    paths["undefined"] = undefined
    return paths


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


# ---------------------------------------------------------------------------- predict
def test_predict_table_closed_pool(tmp_path):
    model = tmp_path / "pool.ant"
    model.write_text("J1: A -> B; 2*A\nJ2: B -> A; 1*B\nA = 3; B = 0\n")
    res = invoke("predict", str(model))
    assert res.exit_code == 0, res.output
    assert "settles (exact, from the initial values)" in res.stdout
    assert "{A, B}: total 3 (initially 3)" in res.stdout
    assert "no unique equilibrium (p = " in res.stdout


def test_predict_table(files):
    res = invoke("predict", files["in_class"])
    assert res.exit_code == 0, res.output
    assert "settles to its unique equilibrium (exact)" in res.stdout
    assert "unique equilibrium (p = " in res.stdout  # the learned verdict, beside it
    for word in ("steady state", "distribution", "confidence", "roadrunner", "not run"):
        assert word in res.stdout
    for species in ("A", "B", "C"):
        assert f"│ {species} " in res.stdout
    assert "concentration (mole/litre)" in res.stdout  # the declared unit, not converted
    assert res.stderr == ""


def test_predict_json_schema(files):
    res = invoke("predict", files["in_class"], "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert isinstance(data, dict)  # one model: one object
    for key in ("model", "in_class", "out_of_class", "equilibrium_exists", "p_exists",
                "out_of_distribution", "species", "roadrunner", "seconds"):
        assert key in data
    assert data["model"] == str(files["in_class"])
    assert data["in_class"] is True and data["out_of_class"] == []
    assert data["roadrunner"] is None
    assert data["equilibrium_exists"] is True and data["out_of_distribution"] is False
    assert set(data["species"]) == {"A", "B", "C"}
    for sid, row in data["species"].items():
        assert set(row) >= {"predicted", "unit", "roadrunner", "rel_error"}
        assert row["roadrunner"] is None and row["rel_error"] is None
        assert row["unit"] == "concentration (mole/litre)"
        assert row["predicted"] == pytest.approx(EXACT[sid], rel=1e-3)


def test_predict_csv(files):
    res = invoke("predict", files["in_class"], "-f", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["species"] for r in rows] == ["A", "B", "C"]
    assert all(r["model"] == str(files["in_class"]) and r["roadrunner"] == "" for r in rows)
    assert [float(r["predicted"]) for r in rows] == pytest.approx(list(EXACT.values()), rel=1e-3)
    assert {r["in_class"] for r in rows} == {"true"}


def test_predict_check(files):
    res = invoke("predict", files["in_class"], "--check", "--timeout", "0", "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["roadrunner"]["status"] == "converged_stable"
    assert data["roadrunner"]["stage"] == "steady_state"
    assert 0 < data["roadrunner"]["seconds"] < 60
    for sid, row in data["species"].items():
        assert row["roadrunner"] == pytest.approx(EXACT[sid], rel=1e-6)
        assert row["rel_error"] == pytest.approx(abs(row["predicted"] - row["roadrunner"])
                                                 / row["roadrunner"])
        assert row["rel_error"] < 1e-3
    table = invoke("predict", files["in_class"], "--check", "--timeout", "0")
    assert table.exit_code == 0 and "converged_stable" in table.stdout
    assert "rel. error" in table.stdout


def test_out_of_class_life_only_exit_3_with_reasons(files):
    res = invoke("predict", files["out_of_class"], "--life-only")
    assert res.exit_code == 3
    assert "outside the LIFE class" in res.stdout and "J1" in res.stdout
    line = one_error_line(res.stderr)
    assert line.startswith(f"error: {files['out_of_class']}: outside the LIFE class: a general "
                           "reaction network (")
    assert "sbmleq solve" in line and line.endswith("(and 1 more)")
    data = json.loads(invoke("predict", files["out_of_class"], "--life-only", "-f",
                             "json").stdout)
    assert data["in_class"] is False and data["equilibrium_exists"] is None
    assert [r["code"] for r in data["out_of_class"]] == ["needs_general_model", "not_first_order"]
    assert [r["reaction"] for r in data["out_of_class"]] == [None, "J1"]
    assert "first-order" in data["out_of_class"][1]["reason"]


def test_out_of_class_with_check_shows_roadrunner(files):
    res = invoke("predict", files["out_of_class"], "--life-only", "--check", "--timeout", "0",
                 "-f", "json")
    assert res.exit_code == 3
    data = json.loads(res.stdout)
    assert data["roadrunner"]["status"] == "converged_stable"
    assert data["species"]["S1"]["roadrunner"] == pytest.approx(0.5, rel=1e-6)
    assert data["species"]["S1"]["predicted"] is None


def test_out_of_class_default_is_the_shipped_general_model_verified(files):
    res = invoke("predict", files["out_of_class"], "--check", "--timeout", "0", "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model_kind"] == "general" and data["checkpoint"] == "general.npz"
    assert data["verified"]["status"] == "stable" and data["outcome"]["verified"] == "settles"
    # the verified state is roadrunner's (S1 = Km k0 / (Vm - k0) = 0.5, S2 = k0 / k2 = 1)
    for sid, value in (("S1", 0.5), ("S2", 1.0)):
        assert data["species"][sid]["steady_state"] == pytest.approx(value, rel=1e-8)
        assert data["species"][sid]["roadrunner"] == pytest.approx(value, rel=1e-6)
        assert data["species"][sid]["predicted"] > 0
    res = invoke("predict", files["out_of_class"], "--life-only", "--general-model", "x.npz")
    assert res.exit_code == 2 and "exclude" in res.output
    table = invoke("predict", files["out_of_class"], "--check", "--timeout", "0")
    assert table.exit_code == 0 and "steady state" in table.stdout
    assert "rel. difference" in table.stdout and "converged_stable" in table.stdout


@pytest.mark.parametrize("which, problem", [("malformed", "malformed XML"),
                                             ("missing", "file not found"),
                                             ("not_sbml", "not an SBML document")])
def test_bad_input_exit_2_one_line(files, which, problem):
    res = invoke("predict", files[which])
    assert res.exit_code == 2
    line = one_error_line(res.stderr)
    assert str(files[which]) in line and problem in line
    assert res.stdout == ""


def test_corrupt_checkpoint_exit_4(files):
    res = invoke("predict", files["in_class"], "--model", files["corrupt"])
    assert res.exit_code == 4
    line = one_error_line(res.stderr)
    assert "corrupt.npz" in line


def test_cuda_unavailable_exit_2(files, monkeypatch):
    fake_torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))
    monkeypatch.setitem(sys.modules, "torch", fake_torch)  # no CUDA (and no slow torch import)
    res = invoke("predict", files["in_class"], "--device", "cuda")
    assert res.exit_code == 2
    assert "cuda" in one_error_line(res.stderr).lower()


def test_stdin_sbml_and_antimony(files):
    res = invoke("predict", "-", "-f", "json", input=files["in_class"].read_text())
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model"] == "<stdin>" and set(data["species"]) == {"A", "B", "C"}
    res = invoke("predict", "-", "-f", "csv", input=CHAIN_ANTIMONY)
    assert res.exit_code == 0, res.output
    assert [r["species"] for r in csv.DictReader(io.StringIO(res.stdout))] == ["A", "B"]
    res = invoke("predict", "-", input="")
    assert res.exit_code == 2 and "stdin" in one_error_line(res.stderr)


def test_several_models_worst_code_and_json_list(files):
    res = invoke("predict", files["in_class"], files["missing"], files["out_of_class"],
                 "--life-only", "-f", "json")
    assert res.exit_code == 3  # worst of 0, 2, 3
    data = json.loads(res.stdout)
    assert isinstance(data, list) and len(data) == 3
    assert data[0]["in_class"] is True
    assert data[1]["error"]["exit_code"] == 2 and "file not found" in data[1]["error"]["message"]
    assert data[2]["in_class"] is False
    assert len([line for line in res.stderr.splitlines() if line]) == 2
    res = invoke("predict", files["in_class"], files["malformed"], "-f", "csv")
    assert res.exit_code == 2
    assert len(list(csv.DictReader(io.StringIO(res.stdout)))) == 3


def test_unexpected_error_one_line_and_debug(files, monkeypatch):
    def boom(self, *args, **kwargs):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(Session, "predict", boom)
    res = invoke("predict", files["in_class"])
    assert res.exit_code == 1
    line = one_error_line(res.stderr)
    assert "RuntimeError: something broke" in line and "--debug" in line
    res = invoke("predict", files["in_class"], "--debug")
    assert res.exit_code == 1 and "Traceback" in res.stderr


def test_biomodels_id(monkeypatch, tmp_path):
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path))  # an empty cache: shipped files only
    rows = bm.read_manifest()
    inside = next(r["id"] for r in rows if r["in_class"] == "true")
    outside = next(r["id"] for r in rows if r["in_class"] == "false")
    res = invoke("predict", inside, "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["model"] == inside and data["in_class"] is True
    res = invoke("predict", outside, "-f", "json")  # the shipped general model answers
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["model_kind"] == "general"
    res = invoke("predict", outside, "--life-only", "-f", "json")
    assert res.exit_code == 3
    assert json.loads(res.stdout)["in_class"] is False
    assert one_error_line(res.stderr).startswith(f"error: {outside}: outside the LIFE class: ")
    absent = invoke("predict", "BIOMD0000099999")
    assert absent.exit_code == 2 and "biomodels fetch" in one_error_line(absent.stderr)


@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_model_argument_exit_2(blank, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in ("predict", "import", "solve"):
        res = invoke(command, blank)
        assert res.exit_code == 2
        line = one_error_line(res.stderr)
        assert "empty model source" in line and str(tmp_path) not in line


# ---------------------------------------------------------------------------- import, solve
def test_import_command(files):
    res = invoke("import", files["in_class"])
    assert res.exit_code == 0, res.output
    for text in ("edge A->B k=2", "excretion of C", "tokens (8)", "NODE A in=1 ex=0",
                 "EDGE C>A k=0.5", "<bos>"):
        assert text in res.stdout
    data = json.loads(invoke("import", files["in_class"], "-f", "json").stdout)
    assert data["in_class"] is True and data["tokens"][0] == "<bos>"
    assert {r["reaction_id"]: r["as"] for r in data["report"]}["edge_A_B"] == "edge A->B k=2"
    res = invoke("import", files["out_of_class"], "-f", "json")
    assert res.exit_code == 3
    data = json.loads(res.stdout)
    assert data["in_class"] is False and data["tokens"] is None
    assert [r["reaction_id"] for r in data["report"] if r["reason"]] == ["J1"]


def test_import_out_of_class_error_line(files):
    res = invoke("import", files["out_of_class"])
    assert res.exit_code == 3
    line = one_error_line(res.stderr)
    assert line.startswith(f"error: {files['out_of_class']}: outside the LIFE class: J1: ")
    assert "first-order" in line and "more)" not in line  # one reason only
    assert "OUT OF CLASS" in res.stdout and "J1" in res.stdout  # the report is still printed
    both = invoke("import", files["in_class"], files["out_of_class"], "-f", "json")
    assert both.exit_code == 3
    assert [d["in_class"] for d in json.loads(both.stdout)] == [True, False]
    assert one_error_line(both.stderr) == line


def test_import_model_level_reason_table():
    events = next(r["id"] for r in bm.read_manifest() if r["reason_if_not"].startswith("events"))
    res = invoke("import", events)
    assert res.exit_code == 3
    assert "model-level" in res.stdout and "event" in res.stdout
    assert one_error_line(res.stderr).startswith(f"error: {events}: outside the LIFE class: ")


def test_solve_command_sbmleq_engine(files):
    res = invoke("solve", files["in_class"], "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["engine"] == "sbmleq" and data["status"] == "stable" and data["stable"] is True
    assert data["concentrations"] == pytest.approx(EXACT, rel=1e-9)
    assert data["residual"] <= 1e-9 and data["stages"][0]["name"] == "newton"
    rows = list(csv.DictReader(io.StringIO(invoke("solve", files["in_class"], "-f", "csv").stdout)))
    assert {r["species"]: float(r["concentration"]) for r in rows} == pytest.approx(EXACT)
    table = invoke("solve", files["in_class"])
    assert "stable" in table.stdout and "engine" in table.stdout
    events_id = next(r["id"] for r in bm.read_manifest()
                     if r["reason_if_not"].startswith("events"))
    events = invoke("solve", events_id)
    assert events.exit_code == 3 and "[events]" in one_error_line(events.stderr)


def test_solve_command(files):
    res = invoke("solve", files["in_class"], "--timeout", "0", "-f", "json", "--engine",
                 "roadrunner")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "converged_stable" and data["stage"] == "steady_state"
    assert data["concentrations"] == pytest.approx(EXACT, rel=1e-9)
    assert data["eigenvalues_max_real"] < 0
    assert data["settings"]["sbmleq"]["steady_state_solver"] == "nleq2"
    assert data["settings"]["conserved_moiety_analysis"] == "on"
    rows = list(csv.DictReader(io.StringIO(
        invoke("solve", files["in_class"], "--timeout", "0", "-f", "csv", "--engine",
               "roadrunner").stdout)))
    assert {r["species"]: float(r["concentration"]) for r in rows} == pytest.approx(EXACT)
    assert {r["status"] for r in rows} == {"converged_stable"}
    table = invoke("solve", files["in_class"], "--timeout", "0", "--engine", "roadrunner")
    assert "converged_stable" in table.stdout and "nleq2" in table.stdout
    bad = invoke("solve", files["malformed"])
    assert bad.exit_code == 2 and str(files["malformed"]) in one_error_line(bad.stderr)


def test_solve_undefined_species_exit_2(files):
    res = invoke("solve", files["undefined"], "--timeout", "0")
    assert res.exit_code == 2
    line = one_error_line(res.stderr)
    assert line.startswith(f"error: {files['undefined']}: reaction ")
    assert "invalid SBML: " in line and "references species 'Nowhere', which is undefined" in line
    assert res.stdout == ""
    res = invoke("solve", files["undefined"], files["in_class"], "-f", "json")  # isolated
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert data[0]["error"]["exit_code"] == 2 and data[1]["status"] == "stable"


@pytest.mark.parametrize("command", ["predict", "solve"])
@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_bad_timeout_exit_2(files, command, value):
    res = invoke(command, files["in_class"], "--timeout", value)
    assert res.exit_code == 2
    line = one_error_line(res.stderr)
    assert line.startswith("error: --timeout: must be a finite number of seconds >= 0")
    assert res.stdout == ""


# ---------------------------------------------------------------------------- other commands
def test_evaluate_help_and_version():
    res = invoke("evaluate", "--help")
    assert res.exit_code == 0 and "--markdown" in res.stdout
    res = invoke("evaluate", "general", "--help")  # training.evaluate_general's own options
    assert res.exit_code == 0 and "--curated" in res.stdout
    res = invoke("--version")
    assert res.exit_code == 0 and res.stdout.startswith("sbmleq ")


def test_every_command_is_registered():
    res = invoke("--help")
    assert res.exit_code == 0
    listed = [line.split()[0] for line in res.stdout.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed == ["predict", "import", "solve", "scan", "evaluate", "validate", "biomodels"]
    res = invoke("biomodels", "--help")
    assert res.exit_code == 0 and "fetch" in res.stdout and "list" in res.stdout
    res = invoke("validate", "--help")
    assert res.exit_code == 0
    for option in ("--report", "--out", "--jobs", "--timeout", "--model", "--shipped", "--fresh",
                   "--retry", "--report-only", "--no-progress"):
        assert option in res.stdout


def test_biomodels_list(monkeypatch, tmp_path):
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path))
    res = invoke("biomodels", "list")
    assert res.exit_code == 0
    lines = res.stdout.strip().splitlines()
    rows = bm.read_manifest()
    assert [line.split()[0] for line in lines[:-1]] == [r["id"] for r in rows]
    assert lines[-1].startswith(f"{len(rows)} shipped in ") and "0 cached in" in lines[-1]


# ---------------------------------------------------------------------------- biomodels fetch
def test_fetch_offline_exit_2(monkeypatch, tmp_path):
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path))

    def offline(model_id):
        raise ConnectionError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(bm, "_download", offline)
    res = invoke("biomodels", "fetch", "BIOMD0000009999", "BIOMD9998")
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == ["BIOMD0000009999", "BIOMD0000009998"]
    assert all(line.startswith("error: BIOMD") and "cannot reach BioModels" in line
               for line in lines)
    assert res.stdout == ""
    res = invoke("biomodels", "fetch", "12")
    assert res.exit_code == 2 and "not a BioModels id" in one_error_line(res.stderr)


def closed_port() -> int:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fetch_offline_subprocess_exit_2(tmp_path):
    pytest.importorskip("biomodels.metadata")  # the PyPI package (the repo has a biomodels/ folder)
    url = f"http://127.0.0.1:{closed_port()}"
    done = run_module("biomodels", "fetch", "BIOMD0000009998",
                      env={"SBMLEQ_BIOMODELS_URL": url, "SBMLEQ_CACHE": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith(f"error: BIOMD0000009998: cannot reach BioModels ({url})")
    assert not (tmp_path / "biomodels" / "BIOMD0000009998.xml").exists()


# ---------------------------------------------------------------------------- real processes
def run_module(*args: str, env: dict[str, str] | None = None,
               code: str | None = None) -> subprocess.CompletedProcess:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    full = {**os.environ, "PYTHONPATH": path, **(env or {})}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if name not in (env or {}):
            full.pop(name, None)
    command = ["-c", code] if code is not None else ["-m", "sbmleq"]
    return subprocess.run([sys.executable, *command, *map(str, args)], capture_output=True,
                          text=True, env=full, timeout=120)


BLAS_PROBE = """
import json, os, sys
from threadpoolctl import threadpool_info
from sbmleq.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
import scipy.linalg  # a BLAS library loaded after main(): limited through the variable
print(json.dumps({"env": os.environ.get("OPENBLAS_NUM_THREADS"),
                  "threads": sorted({i["num_threads"] for i in threadpool_info()
                                     if i["user_api"] == "blas"})}))
"""


def test_main_limits_blas_to_one_thread():
    done = run_module("--version", code=BLAS_PROBE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"env": "1", "threads": [1]}


def test_main_keeps_the_users_blas_threads():
    done = run_module("--version", code=BLAS_PROBE, env={"OPENBLAS_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"env": "2", "threads": [2]}


def test_help_is_fast_and_light():
    probe = ("import sys, time; t = time.perf_counter(); from sbmleq.cli.main import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit as e:\n    code = e.code\n"
             "heavy = [m for m in ('rich', 'pandas', 'libsbml', 'roadrunner', 'sympy', 'torch',"
             " 'antimony', 'matplotlib') if m in sys.modules]\n"
             "print(code, heavy, file=sys.stderr)")
    done = run_module(code=probe)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "0 []"
    assert "predict" in done.stdout


def test_subprocess_exit_codes_without_traceback(files):
    done = run_module("predict", files["missing"], files["malformed"], files["out_of_class"],
                      "--life-only")
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 3
    done = run_module("predict", files["in_class"], "--model", files["corrupt"])
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_subprocess_check_with_isolated_roadrunner(files):
    """--check with a timeout solves in a spawned child: the __main__ guard must hold."""
    done = run_module("predict", files["in_class"], "--check", "-f", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["roadrunner"]["status"] == "converged_stable"
    assert data["species"]["A"]["roadrunner"] == pytest.approx(4 / 3, rel=1e-6)


def test_subprocess_stdin_with_isolated_roadrunner(files):
    """A model on stdin and a solve in the child: the child must not read (or need) stdin."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "sbmleq", "solve", "-", "-f", "json"],
                          input=files["in_class"].read_text(), capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path}, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["model"] == "<stdin>" and data["concentrations"] == pytest.approx(EXACT)
