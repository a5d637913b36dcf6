"""The verified scan's confirmation modes: continuation from solved neighbours against
independent solves, the ``confirmed`` flag per row, the sample mode on a bistable model, and
the pieces (level order, block eigenvalues, reduced-coordinate reach)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from antimony_models import MM_CHAIN, TOGGLE
from typer.testing import CliRunner

import sbmleq
from sbmleq.cli.main import app
from sbmleq.core.compile import compile_network
from sbmleq.core.solve import SolveSettings, solve_batch, solve_steady_state
from sbmleq.core.solve.continuation import START_NEIGHBOUR, continue_sets, level_order
from sbmleq.core.solve.eigen import _components, max_real_parts
from sbmleq.core.solve.system import Reduction, state_volumes
from sbmleq.errors import InputError
from sbmleq.general_scan import coordinates, scan_network
from sbmleq.io.sources import shipped_biomodels_dir
from sbmleq.scan_solver import sample_size

MM = MM_CHAIN
SHIPPED = "BIOMD0000000198"  # Stone1996, 12 species, conservation laws, bimolecular
runner = CliRunner()


@pytest.fixture(scope="module")
def mm():
    return sbmleq.load_network(MM).network


@pytest.fixture(scope="module")
def shipped():
    return sbmleq.load_network(shipped_biomodels_dir() / f"{SHIPPED}.xml").network


@pytest.fixture(scope="module")
def toggle_scans():
    net = sbmleq.load_network(TOGGLE).network
    spec = ["a1=1:10:log:16", "a2=1:10:log:16"]
    return {mode: scan_network(net, spec, confirm=mode) for mode in ("all", "none", "sample")}


def test_level_order_covers_every_set_once_and_grows_fourfold():
    levels = level_order(10_000, seed=3)
    assert [len(lv) for lv in levels] == [32, 96, 384, 1536, 6144, 1808]
    assert np.array_equal(np.sort(np.concatenate(levels)), np.arange(10_000))
    assert [len(lv) for lv in level_order(1000, known=10)] == [30, 120, 480, 370]
    assert [len(lv) for lv in level_order(5)] == [5]


def test_continuation_matches_exact_and_independent_solves(mm):
    frame = scan_network(mm, ["k0=0.2:1.8:lin:30", "Km=0.1:10:log:30"], confirm="none")
    assert len(frame) == 900 and (frame["status"] == "stable").all()
    assert not frame["confirmed"].any() and frame["stable"].all()
    assert (frame["residual"] <= 1e-9).all() and (frame["eigenvalues_max_real"] < 0).all()
    s1 = frame["Km"] * frame["k0"] / (2.0 - frame["k0"])  # Km k0 / (Vm - k0)
    np.testing.assert_allclose(frame["S1"], s1, rtol=1e-8)
    np.testing.assert_allclose(frame["S2"], frame["k0"], rtol=1e-8)  # k0 / k2


def test_continuation_agrees_with_the_full_solver_on_a_shipped_model(shipped):
    compiled = compile_network(shipped)
    rng = np.random.default_rng(0)
    ids = ["k1", "k5", "k2"]
    cols = [list(compiled.parameter_ids).index(i) for i in ids]
    points = compiled.p0[cols] * 10.0 ** rng.uniform(-0.5, 0.5, (120, 3))
    p = np.tile(compiled.p0, (len(points), 1))
    p[:, cols] = points
    cont = continue_sets(compiled, p, coordinates(points, ["log"] * 3), SolveSettings())
    assert cont.ok.all() and (cont.start == START_NEIGHBOUR).sum() >= 80  # all but FIRST
    near, initial = (cont.iterations[cont.start == k].mean() for k in (START_NEIGHBOUR, 0))
    assert near < initial  # a neighbour's state is a better start than the initial state
    full = solve_batch(compiled, None, p[:12])
    for k, r in enumerate(full):
        assert r.status.value == "stable"
        np.testing.assert_allclose(cont.state[k], r.state, rtol=1e-7,
                                   atol=1e-10 * np.abs(r.state).max())
    one = solve_steady_state(compiled, None, p[50])
    np.testing.assert_allclose(cont.state[50], one.state, rtol=1e-7,
                               atol=1e-10 * np.abs(one.state).max())


def test_confirmed_flag_per_mode(shipped):
    k1, k5 = shipped.parameters["k1"], shipped.parameters["k5"]
    spec = {"k1": f"{k1 / 3}:{k1 * 3}:log", "k5": f"{k5 / 3}:{k5 * 3}:log"}
    frames = {m: scan_network(shipped, spec, design="lhs", n=40, seed=2, confirm=m,
                              confirm_n=5) for m in ("all", "none", "sample")}
    assert frames["all"]["confirmed"].all()
    assert not frames["none"]["confirmed"].any()
    sample = frames["sample"]
    assert sample["confirmed"].sum() == 5 and sample.attrs["counts"]["sample"] == 5
    assert sample.attrs["confirm"] == "sample"
    species = [s.id for s in shipped.species]
    for mode in ("none", "sample"):
        np.testing.assert_allclose(frames[mode][species], frames["all"][species], rtol=1e-6,
                                   atol=1e-12)
    assert sample_size(40, None) == 40 and sample_size(10_000, None) == 64
    assert sample_size(100_000, None) == 500 and sample_size(40, 5) == 5


def test_sample_mode_finds_the_other_branch_of_a_bistable_model(toggle_scans):
    full, none, sample = toggle_scans["all"], toggle_scans["none"], toggle_scans["sample"]
    assert full["confirmed"].all() and (full["status"] == "stable").all()
    same = np.isclose(none[["u", "v"]], full[["u", "v"]], rtol=1e-6).all(axis=1)
    assert not same.all()  # continuation alone follows one branch past where x0 switches
    assert none.loc[~same, "stable"].all()  # (each of its answers still a stable state)
    np.testing.assert_allclose(sample[["u", "v"]], full[["u", "v"]], rtol=1e-6)
    counts = sample.attrs["counts"]
    assert counts["branch_pairs"] > 0 and 64 < counts["confirmed"] < len(full)


def test_progress_reaches_the_total_and_bad_mode_is_refused(mm):
    calls: list[tuple[int, int]] = []
    scan_network(mm, ["k0=0.2:1.8:lin:20", "Km=0.1:10:log:20"], confirm="sample",
                 progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 400) and calls[-1] == (400, 400)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    with pytest.raises(InputError, match="unknown confirm mode 'some'"):
        scan_network(mm, ["k0=1,2"], confirm="some")


def test_cli_confirm_option():
    res = runner.invoke(app, ["scan", "-", "--set", "k0=0.2:1.5:log:80", "--confirm", "none"],
                        input=MM)
    assert res.exit_code == 0, res.stderr
    frame = pd.read_csv(io.StringIO(res.stdout))
    assert "confirmed" in frame.columns and not frame["confirmed"].any()
    assert "confirmed by simulation: 0 (confirm none)" in res.stderr
    res = runner.invoke(app, ["scan", "-", "--set", "k0=1,2", "--confirm", "maybe"], input=MM)
    assert res.exit_code == 2


def test_block_eigenvalues_are_the_eigenvalues():
    rng = np.random.default_rng(5)
    for m in (1, 2, 3, 7, 15):
        pattern = rng.random((m, m)) < 0.25
        jr = rng.standard_normal((9, m, m)) * pattern + np.diag(rng.standard_normal(m) - 1)
        np.testing.assert_allclose(max_real_parts(jr), np.linalg.eigvals(jr).real.max(axis=-1),
                                   rtol=1e-10, atol=1e-12)
    chain = np.zeros((4, 4), bool)
    chain[0, 1] = chain[1, 0] = chain[1, 2] = chain[3, 3] = True  # {0, 1}, {2}, {3}
    assert sorted(map(tuple, _components(chain))) == [(0, 1), (2,), (3,)]
    assert max_real_parts(np.zeros((3, 0, 0))).tolist() == [-np.inf] * 3


def test_reach_in_reduced_coordinates_keeps_the_conservation_class(shipped):
    compiled = compile_network(shipped)
    ids = list(compiled.parameter_ids)
    p = np.tile(compiled.p0, (6, 1))
    p[:, ids.index("k1")] *= np.linspace(0.5, 2.0, 6)
    red = Reduction.of(compiled)
    for k, r in enumerate(solve_batch(compiled, None, p)):
        assert r.status.value == "stable"
        assert "reached" in r.stages[0].outcome  # confirmed by the batched ROS3
        vol = state_volumes(compiled, p[k])
        np.testing.assert_allclose(red.totals(r.state, vol), r.totals, rtol=1e-9)
        if k in (0, 5):
            one = solve_steady_state(compiled, None, p[k])
            np.testing.assert_allclose(r.state, one.state, rtol=1e-7,
                                       atol=1e-10 * np.abs(one.state).max())
