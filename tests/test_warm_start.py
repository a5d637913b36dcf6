"""Predicted, then verified: a steady state from a guess (sbmleq.core.solve.warm)."""

from __future__ import annotations

import numpy as np
import pytest

from sbmleq.api import load_network
from sbmleq.core.compile import compile_network
from sbmleq.core.solve import SolveSettings, SolveStatus, solve_from_guess, solve_steady_state
from sbmleq.core.solve.chain import solve_system
from sbmleq.core.reaction_generators import GENERATORS, RNConfig, sample_networks
from sbmleq.core.solve.system import ReducedSystem
from sbmleq.errors import InputError
from antimony_models import BRUSSELATOR, TOGGLE


# a conserved pool: E + S <-> C -> E + P, P -> S (the totals decide the state)
POOL = """
model pool
  J1: E + S -> C; kf*E*S - kr*C
  J2: C -> E + P; kc*C
  J3: P -> S; kp*P
  kf = 2; kr = 1; kc = 0.5; kp = 0.3
  E = 1; S = 5; C = 0; P = 0
end
"""


@pytest.fixture(scope="module")
def toggle():
    return compile_network(load_network(TOGGLE).network)


def test_a_good_guess_is_polished_and_used(toggle) -> None:
    truth = solve_steady_state(toggle)
    assert truth.status is SolveStatus.STABLE
    guess = truth.state * (1 + 0.05 * np.array([1.0, -1.0]))
    warm = solve_from_guess(toggle, guess)
    assert warm.used_guess and not warm.fallback
    assert warm.result.status is SolveStatus.STABLE and warm.result.stage == "prediction"
    assert warm.polished is not None and warm.polished.ok and warm.polished.stable
    np.testing.assert_allclose(warm.result.state, truth.state, rtol=1e-8)
    assert warm.polish_iterations >= 1


def test_a_guess_at_the_other_attractor_is_not_reported(toggle) -> None:
    truth = solve_steady_state(toggle)  # from u=2, v=0.1: u stays high
    u, v = truth.state
    assert u > v
    warm = solve_from_guess(toggle, np.array([v, u]))  # the mirror state: stable, not reached
    assert warm.polished is not None and warm.polished.ok and warm.polished.stable
    assert warm.fallback and warm.result.status is SolveStatus.STABLE
    np.testing.assert_allclose(warm.result.state, truth.state, rtol=1e-6)


def test_without_integration_the_polished_guess_stands_unconfirmed(toggle) -> None:
    truth = solve_steady_state(toggle)
    u, v = truth.state
    quick = SolveSettings(stages=("newton",))
    warm = solve_from_guess(toggle, np.array([v, u]), settings=quick)
    assert warm.used_guess and "not confirmed" in warm.result.message
    np.testing.assert_allclose(warm.result.state, [v, u], rtol=1e-6)


def test_a_useless_guess_falls_back_to_the_chain(toggle) -> None:
    truth = solve_steady_state(toggle)
    warm = solve_from_guess(toggle, np.array([np.nan, 1e9]))
    assert warm.result.status is SolveStatus.STABLE
    np.testing.assert_allclose(warm.result.state, truth.state, rtol=1e-6)


def test_the_polish_stays_in_the_initial_conservation_class() -> None:
    pool = compile_network(load_network(POOL).network)
    truth = solve_steady_state(pool)
    ids = list(pool.state_ids)
    guess = np.ones(len(ids))  # a guess outside the class (E + C = 2, S + C + P = 4)
    warm = solve_from_guess(pool, guess)
    assert warm.result.status is SolveStatus.STABLE
    x = dict(zip(ids, warm.result.state))
    assert x["E"] + x["C"] == pytest.approx(1.0, rel=1e-9)
    assert x["S"] + x["C"] + x["P"] == pytest.approx(5.0, rel=1e-9)
    np.testing.assert_allclose(warm.result.state, truth.state, rtol=1e-6, atol=1e-12)


def test_a_guess_of_the_wrong_shape_is_an_input_error(toggle) -> None:
    with pytest.raises(InputError, match="expected \\(2,\\)"):
        solve_from_guess(toggle, [1.0, 2.0, 3.0])




def _stages(result) -> list[tuple[str, str]]:
    return [(s.name, s.outcome) for s in result.stages]


def test_quick_accepts_a_good_guess_without_simulating(toggle) -> None:
    truth = solve_steady_state(toggle)
    warm = solve_from_guess(toggle, truth.state * 1.05, quick=True)
    assert warm.used_guess and not warm.fallback
    r = warm.result
    assert r.status is SolveStatus.STABLE and r.stage == "prediction" and r.stable
    assert "not confirmed" in r.message
    assert _stages(r) == [("prediction", "stable")]  # polished, verified once, no simulation
    assert r.max_real_eigenvalue < 0 and r.residual <= 1e-9
    np.testing.assert_allclose(r.state, truth.state, rtol=1e-8)
    assert 0 < warm.verify_seconds <= warm.polish_seconds


def test_quick_with_a_useless_guess_gives_the_chain_s_answer_and_says_fallback() -> None:
    osc = compile_network(load_network(BRUSSELATOR).network)
    chain = solve_steady_state(osc)
    assert chain.status is SolveStatus.OSCILLATION
    warm = solve_from_guess(osc, np.array([1e6, 1e-6]), quick=True)
    assert warm.fallback and not warm.used_guess
    r = warm.result
    # the chain's own answer: the same status, stages (after the prediction's record), fixed
    # point inside the cycle and Newton iterations, its Newton from x0 run once
    assert r.status is chain.status and r.stage == chain.stage
    assert _stages(r)[0][0] == "prediction" and _stages(r)[1:] == _stages(chain)
    assert [s.name for s in r.stages].count("newton") == 1
    assert r.newton_iterations == chain.newton_iterations
    np.testing.assert_allclose(r.state, chain.state, rtol=1e-9)
    assert r.message == chain.message


def test_quick_falls_back_to_newton_from_x0_when_the_guess_fails(toggle) -> None:
    truth = solve_steady_state(toggle)
    warm = solve_from_guess(toggle, np.array([np.nan, 1e9]), quick=True)
    assert warm.fallback
    r = warm.result
    assert r.status is SolveStatus.STABLE and r.stage == "newton" and "not confirmed" in r.message
    assert [s.name for s in r.stages] == ["prediction", "newton"]
    np.testing.assert_allclose(r.state, truth.state, rtol=1e-8)


def test_the_unconfirmed_shortcut_answers_as_the_chain_with_its_hint(toggle) -> None:
    truth = solve_steady_state(toggle)
    quick = SolveSettings(stages=("newton",))
    warm = solve_from_guess(toggle, truth.state * 0.97, settings=quick)
    chain = solve_system(ReducedSystem.build(toggle), quick, None, [warm.polished.state],
                         candidate_stage="prediction")
    for key in ("status", "stage", "stable", "message", "newton_iterations",
                "max_real_eigenvalue", "residual"):
        assert getattr(warm.result, key) == getattr(chain, key), key
    assert _stages(warm.result) == _stages(chain)
    np.testing.assert_array_equal(warm.result.state, chain.state)


def test_quick_answers_each_network_from_its_own_values() -> None:
    # one compiled structure, two parameter sets and initial states: nothing of the first
    # solve may leak into the second
    pool = compile_network(load_network(POOL).network)
    x_a, x_b = pool.x0, pool.x0 * np.array([3.0, 0.5, 1.0, 2.0])
    p_b = {"kf": 0.2, "kc": 2.0}
    first = solve_from_guess(pool, solve_steady_state(pool).state, quick=True)
    truth_b = solve_steady_state(pool, x_b, p_b)
    second = solve_from_guess(pool, first.result.state, x0=x_b, p=p_b, quick=True)
    assert second.result.status is SolveStatus.STABLE
    np.testing.assert_allclose(second.result.state, truth_b.state, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(second.result.totals, truth_b.totals, rtol=1e-12)
    assert not np.allclose(second.result.state, first.result.state)
    again = solve_from_guess(pool, first.result.state, x0=x_a, quick=True)
    np.testing.assert_allclose(again.result.state, first.result.state, rtol=1e-9)


def test_the_float_residual_scale_is_numpy_s_to_the_last_bit() -> None:
    # the polish and every verification measure residuals against it (ReducedSystem.scale)
    rng = np.random.default_rng(3)
    nets = [net for family in GENERATORS for net in sample_networks(
        RNConfig(n_min=2, n_max=24, decades=4, families=(family,), group_size=1), rng, 1)]
    for net in nets:
        system = ReducedSystem.build(compile_network(net))
        for x in (system.x0, system.x0 * rng.uniform(0.1, 10.0, system.x0.shape) + 1e-3):
            fast = system._scalar.scale(system.scaler, x)
            slow = system.scaler.scale(x, system.p, system.volumes)
            assert fast is not None, net.name
            np.testing.assert_array_equal(fast, slow, err_msg=net.name)
            np.testing.assert_array_equal(system.scale(x), slow)


def test_where_floats_raise_the_scale_is_numpy_s() -> None:
    net = load_network("""
    model inverse
      J1: -> S; k / S
      J2: S -> ; S
      k = 1; S = 0
    end
    """).network
    system = ReducedSystem.build(compile_network(net))
    x = np.zeros(1)
    assert system._scalar.scale(system.scaler, x) is None  # 1 / 0 raises with floats
    with np.errstate(all="ignore"):
        expected = system.scaler.scale(x, system.p, system.volumes)
        got = system.scale(x)
    assert not np.all(np.isfinite(expected))
    np.testing.assert_array_equal(got, expected)  # inf / NaN, as NumPy says


def test_the_reached_guess_is_confirmed_by_the_batched_integration(toggle) -> None:
    truth = solve_steady_state(toggle)
    warm = solve_from_guess(toggle, truth.state * 1.02)
    names = [s.name for s in warm.result.stages]
    assert names == ["prediction", "integrate (ROS3)"] and warm.used_guess
    assert warm.result.stages[1].outcome.startswith("reached at t=")
    assert warm.result.reached_state is not None
    # the trajectory's end is near the answer (within the chain's ball), not elsewhere
    rel = np.abs(warm.result.reached_state - truth.state) / np.abs(truth.state)
    assert rel.max() < 0.05


def test_a_confirmed_prediction_does_not_import_scipy_when_the_trajectory_reaches_it() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from sbmleq.api import load_network; "
            "from sbmleq.core.solve import solve_steady_state, solve_from_guess, SolveSettings; "
            "from antimony_models import TOGGLE; net = load_network(TOGGLE).network; "
            "s = SolveSettings(stages=('newton',)); x = solve_steady_state(net, settings=s).state; "
            "w = solve_from_guess(net, x); "
            "print(w.result.stages[-1].name, 'scipy.integrate' in sys.modules)")
    here = Path(__file__).parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=here.parent,
                         env={**os.environ, "PYTHONPATH": f"{here.parent}:{here}"})
    assert out.stdout.split()[-3:] == ["integrate", "(ROS3)", "False"], out.stdout + out.stderr
