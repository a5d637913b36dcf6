"""Verified parameter scans of general reaction networks: specs, designs, the DataFrame, the
API routing (LIFE models keep the learned scan) and ``sbmleq scan``."""

from __future__ import annotations

import importlib.util
import io
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import sbmleq
from sbmleq.api import Session
from sbmleq.cli.main import app
from sbmleq.errors import InputError, OutOfClassError
from sbmleq.general_scan import RESULT_COLUMNS, design_points, parse_axes, scan_network
from sbmleq.io.sources import antimony_to_sbml, shipped_biomodels_dir
from sbmleq.results import ScanResult
from antimony_models import MM_CHAIN

MM = MM_CHAIN

LINEAR = """
J0: -> A; 1
J1: A -> B; ka*A
J2: B -> ; kb*B
ka = 2; kb = 0.5
A = 0; B = 0
"""

SHIPPED = "BIOMD0000000198"  # Stone1996, 12 species, reversible and bimolecular mass action
runner = CliRunner()


@pytest.fixture(scope="module")
def mm():
    return sbmleq.load_network(MM).network


@pytest.fixture(scope="module")
def mm_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "mm.xml"
    path.write_text(antimony_to_sbml(MM)[0])
    return path


def mm_exact(k0: float, km: float, vm: float = 2.0, k2: float = 1.0) -> tuple[float, float]:
    return km * k0 / (vm - k0), k0 / k2


# ---------------------------------------------------------------------------- specs, designs
def test_specs_and_grid(mm):
    axes = parse_axes(["k0=0.1:1:log:3", "Km=0.5,1,2"], mm)
    np.testing.assert_allclose(axes[0].grid(), [0.1, 10 ** -0.5, 1.0])
    points = design_points(axes, "grid")
    assert points.shape == (9, 2)
    np.testing.assert_allclose(points[:3, 0], 0.1)  # the first axis varies slowest
    np.testing.assert_allclose(points[:3, 1], [0.5, 1, 2])
    lin = parse_axes({"k2": "1:3:lin:3"}, mm)[0]
    np.testing.assert_allclose(lin.grid(), [1, 2, 3])
    assert parse_axes({"Km": [0.5, 2.0]}, mm)[0].values == (0.5, 2.0)


def test_lhs_is_stratified_in_log_space_and_seeded(mm):
    axes = parse_axes(["k0=0.01:1:log", "Km=0.5,1,2,4"], mm)
    a = design_points(axes, "lhs", n=40, seed=3)
    assert a.shape == (40, 2)
    np.testing.assert_array_equal(a, design_points(axes, "lhs", n=40, seed=3))
    assert not np.array_equal(a, design_points(axes, "lhs", n=40, seed=4))
    strata = np.floor((np.log10(a[:, 0]) + 2.0) / 2.0 * 40).astype(int)  # log10 in [-2, 0)
    assert sorted(strata) == list(range(40))  # one sample per stratum of the log axis
    assert np.bincount(np.searchsorted([0.5, 1, 2, 4], a[:, 1])).tolist() == [10, 10, 10, 10]


@pytest.mark.parametrize("spec, message", [
    ("kO=0.1:1:log:5", r"unknown parameter 'kO'; close matches: [^(]*k0"),
    ("k0=nan", "must be finite"),
    ("k0=-1,2", "must be >= 0"),
    ("k0=0:1:log:5", "0 is not allowed on a log axis"),
    ("k0=1:0.1:log:5", "above the upper bound"),
    ("k0=0.1:1:log:1", "count '1' must be an integer >= 2"),
    ("k0=0.1:1:cubic:5", "is not LO:HI:log|lin"),
    ("k0", "no '='"),
    ("k0=a,b", "'a' is not a number"),
    ("default_compartment=0,1", "compartment size"),
])
def test_bad_specs_name_the_id_and_file(mm, spec, message):
    with pytest.raises(InputError, match=message) as info:
        parse_axes([spec], mm, where="mm.xml")
    assert info.value.one_line().startswith("mm.xml: --set: ")


def test_design_errors(mm):
    axes = parse_axes(["k0=0.1:1:log"], mm)
    with pytest.raises(InputError, match="needs a count"):
        design_points(axes, "grid")
    with pytest.raises(InputError, match="LHS design needs"):
        design_points(axes, "lhs", n=None)
    with pytest.raises(InputError, match="unknown design"):
        design_points(axes, "sobol", n=4)
    with pytest.raises(InputError, match="given twice"):
        parse_axes(["k0=1,2", "k0=3"], mm)
    only_initial = sbmleq.load_network("J0: S1 -> ; k*S1; k = 1; a = 2; S1 = a").network
    with pytest.raises(InputError, match="'a' is not read by any rate law"):
        parse_axes(["a=2,4"], only_initial)  # an initial value is evaluated once, at import


# ---------------------------------------------------------------------------- the scan
def test_grid_scan_is_verified_and_exact(mm):
    calls = []
    frame = scan_network(mm, ["k0=0.5:1.5:lin:3", "Km=0.5,2", "Vm=2"], batch_size=4,
                         progress=lambda done, total: calls.append((done, total)))
    assert list(frame.columns) == ["k0", "Km", "Vm", *RESULT_COLUMNS, "S1", "S2"]
    assert len(frame) == 6 and calls == [(0, 6), (4, 6), (6, 6)]
    assert (frame["status"] == "stable").all() and frame["stable"].all()
    assert (frame["residual"] <= 1e-9).all() and (frame["eigenvalues_max_real"] < 0).all()
    for _, row in frame.iterrows():
        s1, s2 = mm_exact(row["k0"], row["Km"])
        assert row["S1"] == pytest.approx(s1, rel=1e-7) and row["S2"] == pytest.approx(s2)
    assert frame.attrs["axes"] == {"k0": "lin", "Km": "values", "Vm": "values"}


def test_unbounded_sets_have_no_values(mm):
    frame = scan_network(mm, {"k0": [1.0, 3.0]})  # k0 > Vm: S1 grows without bound
    assert frame["status"].tolist() == ["stable", "unbounded"]
    assert math.isnan(frame.loc[1, "S1"]) and math.isnan(frame.loc[1, "residual"])
    assert frame["stable"].isna().tolist() == [False, True]


def test_lhs_scan_of_a_shipped_model_agrees_with_solve():
    path = shipped_biomodels_dir() / f"{SHIPPED}.xml"
    net = sbmleq.load_network(path).network
    k1, k5 = net.parameters["k1"], net.parameters["k5"]
    frame = sbmleq.scan(path, [f"k1={k1 / 3}:{k1 * 3}:log", f"k5={k5 / 3}:{k5 * 3}:log"],
                        design="lhs", n=3, seed=1)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    species = [s.id for s in net.species]
    assert list(frame.columns) == ["k1", "k5", *RESULT_COLUMNS, *species]
    assert (frame["status"] == "stable").all()
    for _, row in frame.iterrows():
        variant = net.replace(parameters={**net.parameters, "k1": row["k1"], "k5": row["k5"]})
        one = sbmleq.solve(variant)
        assert one.status.value == "stable"
        got = row[species].to_numpy(dtype=float)
        want = np.array([one.concentrations[s] for s in species])
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12 * np.abs(want).max())


# ---------------------------------------------------------------------------- the API
def test_api_routes_by_model_and_engine(mm_file):
    with Session(timeout=None) as session:
        frame = session.scan(mm_file, ["k0=0.5,1"])  # out of the LIFE class: verified scan
        assert isinstance(frame, pd.DataFrame) and frame["status"].tolist() == ["stable"] * 2
        with pytest.raises(OutOfClassError):
            session.scan(mm_file, {"k0": [1.0]}, engine="learned")
        with pytest.raises(InputError, match="unknown scan engine"):
            session.scan(mm_file, ["k0=1"], engine="copasi")
        with pytest.raises(InputError, match=r"mm\.xml: --set: unknown parameter 'Kn'"):
            session.scan(mm_file, ["Kn=1,2"])
        life = session.scan(LINEAR, {"ka": [1.0, 4.0]})  # in class: the learned scan
        assert isinstance(life, ScanResult)
        rows = pd.DataFrame({"ka": [1.0, 4.0], "kb": [0.5, 0.25]}, index=["a", "b"])
        exact = session.scan(LINEAR, rows, engine="sbmleq")
        assert list(exact.index) == ["a", "b"]
        np.testing.assert_allclose(exact["A"], [1.0, 0.25], rtol=1e-9)  # 1 / ka
        np.testing.assert_allclose(exact["B"], [2.0, 4.0], rtol=1e-9)  # 1 / kb


# ---------------------------------------------------------------------------- the command
def test_cli_scan_csv_and_plot(tmp_path):
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    res = runner.invoke(app, ["scan", "-", "--set", "k0=0.2:1.5:log:4", "--set", "Km=0.5,1",
                              "--out", str(out), "--plot", str(png), "--species", "S2"],
                        input=MM)
    assert res.exit_code == 0, res.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 8 and (frame["status"] == "stable").all()
    s1, _ = mm_exact(frame.loc[7, "k0"], frame.loc[7, "Km"])
    assert frame.loc[7, "S1"] == pytest.approx(s1, rel=1e-7)
    assert png.stat().st_size > 1000 and "8 sets (stable 8)" in res.stderr
    res = runner.invoke(app, ["scan", "-", "--set", "k0=0.2:1.5:log", "--design", "lhs",
                              "--n", "5", "--seed", "2"], input=MM)
    assert res.exit_code == 0, res.stderr
    assert len(pd.read_csv(io.StringIO(res.stdout))) == 5


@pytest.mark.parametrize("args, message", [
    (["--set", "kx=0.1:1:log:5"], "unknown parameter 'kx'"),
    (["--set", "k0=0.1:1:log:5", "--out", "x.txt"], "must end in .csv or .parquet"),
    (["--set", "k0=1,2", "--set", "Km=1,2", "--set", "Vm=3", "--plot", "p.png"],
     "1 or 2 varied parameters"),
    ([], "give at least one --set"),
])
def test_cli_bad_input_is_one_line_exit_2(args, message):
    res = runner.invoke(app, ["scan", "-", *args], input=MM)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and message in lines[0]


def test_cli_parquet_needs_pyarrow(tmp_path):
    target = tmp_path / "s.parquet"
    res = runner.invoke(app, ["scan", "-", "--set", "k0=1,2", "--out", str(target)], input=MM)
    if importlib.util.find_spec("pyarrow") is None:
        assert res.exit_code == 2 and "needs pyarrow" in res.stderr
        assert not target.exists()
    else:
        assert res.exit_code == 0 and len(pd.read_parquet(target)) == 2
