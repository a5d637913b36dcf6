"""The ``sbmleq`` command line: formats, exit codes, one-line errors, stdin, plugins.

Most tests use typer's CliRunner in this process (fast); a few run ``python -m sbmleq`` as a
real subprocess to prove the exit codes and that no traceback reaches the user.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sbmleq.cli import app as cli
from sbmleq.io.sources import antimony_to_sbml, shipped_biomodels_dir
from sbmleq.core.network import Network
from sbmleq.io.sbml_export import write_sbml

REPO = Path(__file__).resolve().parents[1]
CURATED = Path(__file__).resolve().parents[2] / "shared" / "biomodels" / "curated"
IN_CLASS_BIOMODEL = "BIOMD0000000668"  # mass action, uni-uni and sinks: in the LIFE class

OUT_OF_CLASS = """
J0: -> S1; k0
J1: S1 -> S2; Vm*S1/(Km + S1)
J2: S2 -> ; k2*S2
k0 = 1; Vm = 2; Km = 0.5; k2 = 1
S1 = 0; S2 = 0
"""

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
    return paths


def invoke(*args: str, input: str | None = None):
    return runner.invoke(cli.app, [str(a) for a in args], input=input)


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


# ---------------------------------------------------------------------------- predict
def test_predict_table(files):
    res = invoke("predict", files["in_class"])
    assert res.exit_code == 0, res.output
    assert "equilibrium exists" in res.stdout
    for word in ("distribution", "confidence", "roadrunner", "not run"):
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
    assert set(data["species"]) == {"A", "B", "C"}
    for row in data["species"].values():
        assert set(row) >= {"predicted", "unit", "roadrunner", "rel_error"}
        assert row["roadrunner"] is None and row["rel_error"] is None
        assert row["unit"] == "concentration (mole/litre)"
        assert data["equilibrium_exists"] is False or row["predicted"] > 0


def test_predict_csv(files):
    res = invoke("predict", files["in_class"], "-f", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["species"] for r in rows] == ["A", "B", "C"]
    assert all(r["model"] == str(files["in_class"]) and r["roadrunner"] == "" for r in rows)
    float(rows[0]["predicted"])


def test_predict_check(files):
    res = invoke("predict", files["in_class"], "--check", "--timeout", "0", "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["roadrunner"]["status"] == "converged_stable"
    assert data["roadrunner"]["seconds"] >= 0
    exact = {"A": 4 / 3, "B": 8 / 3, "C": 10 / 3}  # intake 1, excretion 0.3 of C
    for sid, row in data["species"].items():
        assert row["roadrunner"] == pytest.approx(exact[sid], rel=1e-6)
        if row["predicted"] is not None:
            assert row["rel_error"] == pytest.approx(abs(row["predicted"] - row["roadrunner"])
                                                     / row["roadrunner"])
    table = invoke("predict", files["in_class"], "--check", "--timeout", "0")
    assert table.exit_code == 0 and "converged_stable" in table.stdout
    assert "rel. error" in table.stdout


def test_out_of_class_exit_3_with_reasons(files):
    res = invoke("predict", files["out_of_class"])
    assert res.exit_code == 3
    assert "outside the LIFE class" in res.stdout and "J1" in res.stdout
    line = one_error_line(res.stderr)
    assert str(files["out_of_class"]) in line and "J1" in line
    data = json.loads(invoke("predict", files["out_of_class"], "-f", "json").stdout)
    assert data["in_class"] is False and data["equilibrium_exists"] is None
    assert [r["reaction"] for r in data["out_of_class"]] == ["J1"]
    assert "first-order" in data["out_of_class"][0]["reason"]


def test_out_of_class_with_check_shows_roadrunner(files):
    res = invoke("predict", files["out_of_class"], "--check", "--timeout", "0", "-f", "json")
    assert res.exit_code == 3
    data = json.loads(res.stdout)
    assert data["roadrunner"]["status"] == "converged_stable"
    assert data["species"]["S1"]["roadrunner"] == pytest.approx(0.5, rel=1e-6)
    assert data["species"]["S1"]["predicted"] is None


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
                 "-f", "json")
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
    from sbmleq.api import Session

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
    shipped = sorted(shipped_biomodels_dir().glob("BIOMD*.xml"))
    if shipped:
        model_id = shipped[0].stem
    elif (CURATED / f"{IN_CLASS_BIOMODEL}.xml").is_file():
        cache = tmp_path / "biomodels"
        cache.mkdir()
        shutil.copy(CURATED / f"{IN_CLASS_BIOMODEL}.xml", cache)
        monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path))
        model_id = IN_CLASS_BIOMODEL
    else:
        pytest.skip("no shipped BioModels file and no curated snapshot to fill a cache from")
    res = invoke("predict", model_id, "-f", "json")
    assert res.exit_code in (0, 3), res.output
    assert json.loads(res.stdout)["model"] == model_id
    absent = invoke("predict", "BIOMD0000099999")
    assert absent.exit_code == 2 and "biomodels fetch" in one_error_line(absent.stderr)


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
    assert data["tokens"] is None and any(r["reason"] for r in data["report"])


def test_solve_command(files):
    res = invoke("solve", files["in_class"], "--timeout", "0", "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "converged_stable" and data["stage"]
    assert data["concentrations"]["C"] == pytest.approx(10 / 3)
    assert data["eigenvalues_max_real"] < 0 and data["settings"]
    rows = list(csv.DictReader(io.StringIO(
        invoke("solve", files["in_class"], "--timeout", "0", "-f", "csv").stdout)))
    assert {r["species"] for r in rows} == {"A", "B", "C"}
    table = invoke("solve", files["in_class"], "--timeout", "0")
    assert "converged_stable" in table.stdout and "nleq2" in table.stdout
    bad = invoke("solve", files["malformed"])
    assert bad.exit_code == 2 and str(files["malformed"]) in one_error_line(bad.stderr)


# ---------------------------------------------------------------------------- other commands
def test_evaluate_help_and_version():
    res = invoke("evaluate", "--help")
    assert res.exit_code == 0 and "--markdown" in res.stdout
    res = invoke("--version")
    assert res.exit_code == 0 and res.stdout.startswith("sbmleq ")


def test_plugins_are_registered_lazily():
    core = cli.get_app(["predict", "x.xml"])
    assert core is cli.app
    full = cli.get_app(["--help"])
    res = runner.invoke(full, ["--help"])
    assert res.exit_code == 0
    for command in ("predict", "import", "solve", "evaluate", "validate", "biomodels"):
        assert command in res.stdout


# ---------------------------------------------------------------------------- real processes
def run_module(*args: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run([sys.executable, "-m", "sbmleq", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)


def test_subprocess_exit_codes_without_traceback(files):
    done = run_module("predict", files["missing"], files["malformed"], files["out_of_class"])
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
