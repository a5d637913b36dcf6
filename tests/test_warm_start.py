"""Predicted, then verified: a steady state from a guess (sbmleq.core.solve.warm)."""

from __future__ import annotations

import numpy as np
import pytest

from sbmleq.api import load_network
from sbmleq.core.compile import compile_network
from sbmleq.core.solve import SolveSettings, SolveStatus, solve_from_guess, solve_steady_state
from sbmleq.errors import InputError
from antimony_models import TOGGLE


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
