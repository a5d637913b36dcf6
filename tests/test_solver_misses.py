"""Weaknesses of the general solver found on the curated BioModels corpus, each reproduced small.

- signed species (a membrane potential held as a species, negative initial value: BIOMD304,
  346, 371, 374, 377, 378 were refused at import): imported, checked against roadrunner, and
  solved without clipping them at zero (verification, Newton, guesses, the batched solvers);
- the integrator's hot path on Python floats (:mod:`sbmleq.core.solve.fast`: BIOMD046, 239, 330,
  457 timed out at 60 s): the same values as the NumPy path, NumPy where floats raise;
- growth the norm does not show (BIOMD399: one species fed at a constant rate beside a much
  larger constant one) and a finite-time blow-up that exhausts the step budget (BIOMD336);
- exact conservation laws of large sparse networks in well under a second (BIOMD469-472 spent
  a minute there).

Real components only: libsbml, roadrunner 2.10, scipy's integrators.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from sbmleq.core.compile import compile_network
from sbmleq.core.conservation import conservation_laws
from sbmleq.core.expr import add, call, div, mul, num, power, sub, sym
from sbmleq.core.label_batch import batch_outcomes
from sbmleq.core.reactions import Reaction, ReactionNetwork, Species
from sbmleq.core.solve import SolveSettings, SolveStatus, solve_batch, solve_from_guess, \
    solve_steady_state
from sbmleq.core.solve.fast import ScalarRates
from sbmleq.core.solve.integrate import exploding, growing_component
from sbmleq.core.solve.system import ReducedSystem, verify
from sbmleq.errors import NetworkError
from sbmleq.io.general_import import import_reaction_network_from
from sbmleq.io.sources import antimony_to_sbml

DATA = Path(__file__).parent / "data"

# a leaky membrane with a gated potassium-like current: V settles at a negative potential
MEMBRANE = """
model membrane
  compartment cell = 1;
  species V in cell = -60;
  species n in cell = 0.1;
  J1: => V; (gL*(EL - V) + gK*n*(EK - V))/Cm;
  J2: => n; (ninf - n)/tau;
  ninf := 1/(1 + exp(-(V + 55)/8));
  gL = 0.3; EL = -70; gK = 1.0; EK = -90; Cm = 1; tau = 5;
end
"""

# FitzHugh-Nagumo with the voltage-like variable starting negative: a limit cycle through signs
# (w stays positive, as it must: only a species that starts negative is signed)
FHN = """
model fhn
  compartment c = 1;
  species v in c = -1;
  species w in c = 0.5;
  J1: => v; v - v^3/3 - w + I;
  J2: => w; eps*(v + a - b*w);
  I = 1.0; eps = 0.08; a = 0.7; b = 0.8;
end
"""


def against_roadrunner(net: ReactionNetwork, sbml: str) -> None:
    """x0 and rhs(x0) of ``net`` equal roadrunner's (concentrations, unit compartments)."""
    import roadrunner  # the reference simulator

    rr = roadrunner.RoadRunner(sbml)
    conc = dict(zip(rr.model.getFloatingSpeciesIds(),
                    rr.model.getFloatingSpeciesConcentrations()))
    roc = rr.getRatesOfChangeNamedArray()
    rates = dict(zip((c.rstrip("'") for c in roc.colnames), roc[0]))
    f = compile_network(net).rhs(net.initial_state())
    for i, sid in enumerate(net.state_ids):
        vol = net.compartments[net.species_by_id()[sid].compartment]
        assert net.initial_state()[i] == pytest.approx(conc[sid], rel=1e-12)
        assert f[i] == pytest.approx(rates[sid] / vol, rel=1e-9, abs=1e-12), sid


def imported(antimony: str) -> tuple[ReactionNetwork, str]:
    sbml, _ = antimony_to_sbml(antimony)
    result = import_reaction_network_from(sbml)
    assert result.network is not None, result.reasons
    return result.network, sbml


# ------------------------------------------------------------------ signed species
def test_negative_initial_value_imports_as_signed_and_matches_roadrunner() -> None:
    net, sbml = imported(MEMBRANE)
    by_id = net.species_by_id()
    assert by_id["V"].signed and not by_id["n"].signed
    assert net.nonnegative.tolist() == [False, True]
    against_roadrunner(net, sbml)


def test_network_refuses_negative_values_unless_signed() -> None:
    law = mul(sym("k"), sym("A"))
    rxn = (Reaction("R", (("A", 1.0),), (), law),)
    with pytest.raises(NetworkError, match="signed"):
        ReactionNetwork((Species("A", "c", -1.0),), rxn, {"k": 1.0}, {"c": 1.0})
    net = ReactionNetwork((Species("A", "c", -1.0, signed=True),), rxn, {"k": 1.0},
                          {"c": 1.0})
    assert net.with_initial({"A": -2.0}).species[0].signed  # copies keep the flag


def test_signed_species_settles_at_its_negative_potential() -> None:
    net, _ = imported(MEMBRANE)
    r = solve_steady_state(net)
    assert r.status is SolveStatus.STABLE and r.stable
    v, n = r.state
    assert v < -70 < -60  # between EK and EL, pulled below EL by the potassium current
    ninf = 1 / (1 + np.exp(-(v + 55) / 8))
    assert n == pytest.approx(ninf, rel=1e-9)
    assert 0.3 * (-70 - v) + n * (-90 - v) == pytest.approx(0.0, abs=1e-9)
    system = ReducedSystem.build(compile_network(net))
    assert verify(system, r.state, SolveSettings()).ok  # a negative state verifies
    unsigned = np.array([5.0, -1e-3])  # ... but a negative ordinary species does not
    assert verify(system, unsigned, SolveSettings()).reason == "negative species"
    # Newton from a guess on the wrong side of zero is not clipped to 0 (the polish works)
    warm = solve_from_guess(net, np.array([-75.0, 0.01]))
    assert warm.used_guess and warm.result.state[0] == pytest.approx(v, rel=1e-9)


def test_signed_species_in_the_batched_solvers() -> None:
    net, _ = imported(MEMBRANE)
    compiled = compile_network(net)
    single = solve_steady_state(net).state
    x0 = np.array([[-60.0, 0.1], [-80.0, 0.0], [-20.0, 0.5], [-100.0, 0.9]])
    for r in solve_batch(net, x0=x0):
        assert r.status is SolveStatus.STABLE
        np.testing.assert_allclose(r.state, single, rtol=1e-8)
    outcomes = batch_outcomes(compiled, x0, np.tile(compiled.p0, (4, 1)), SolveSettings())
    decided = [r for r in outcomes if r is not None]
    assert decided, "the label batch decided no item"
    for r in decided:
        assert r.status is SolveStatus.STABLE
        np.testing.assert_allclose(r.state, single, rtol=1e-6)


def test_limit_cycle_through_negative_values() -> None:
    net, sbml = imported(FHN)
    against_roadrunner(net, sbml)
    r = solve_steady_state(net, settings=SolveSettings(timeout=20))
    assert r.status is SolveStatus.OSCILLATION, r.message
    assert r.state is not None and r.stable is False  # the unstable focus inside the cycle
    assert r.state[0] == pytest.approx(0.409, abs=1e-3)  # v - v^3/3 - (v + a)/b + I = 0


def test_curated_membrane_model_oscillates() -> None:
    """BIOMD0000000346 (tests/data, 7 kB): refused before (``x`` starts at -1)."""
    result = import_reaction_network_from(DATA / "BIOMD0000000346.xml")
    net = result.require()
    assert net.species_by_id()["x"].signed
    r = solve_steady_state(net, settings=SolveSettings(timeout=20))
    assert r.status is SolveStatus.OSCILLATION, r.message


# ------------------------------------------------------------------ the float hot path
def _awkward() -> ReactionNetwork:
    """Laws with every kind of generated operation (powers, piecewise, min/max, logic)."""
    a, b, c = sym("A"), sym("B"), sym("C")
    laws = [
        div(mul(sym("k1"), power(a, num(2.5))), add(num(1.0), power(b, num(-1.0)))),
        mul(sym("k2"), call("exp", power(b, num(0.5))), call("ln", add(c, num(1.0)))),
        call("piecewise", mul(sym("k3"), a), call("lt", a, b), call("max", b, c, num(0.1))),
        mul(call("min", a, num(2.0)), call("tanh", c), call("and", call("gt", a, num(0.0)),
                                                          call("ne", b, num(3.0)))),
    ]
    rxns = tuple(Reaction(f"R{j}", ((s, 1.0),), ((t, 1.0),), law)
                 for j, (law, s, t) in enumerate(zip(laws, "ABCA", "BCAC")))
    return ReactionNetwork((Species("A", "c", 1.5), Species("B", "c", 0.7),
                            Species("C", "c", 0.2)), rxns,
                           {"k1": 0.3, "k2": 1.1, "k3": 0.5}, {"c": 2.0})


def test_float_path_equals_numpy() -> None:
    net = _awkward()
    compiled = compile_network(net)
    system = ReducedSystem.build(compiled)
    fast = ScalarRates(compiled, compiled.p0, system.volumes)
    rng = np.random.default_rng(1)
    for x in rng.uniform(0.01, 4.0, size=(20, 3)):
        np.testing.assert_allclose(fast.rates(x), compiled.rates(x), rtol=1e-13)
        np.testing.assert_allclose(system.rhs(x), compiled.rhs(x), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fast.jacobian(x), compiled.jacobian(x, sparse=False),
                                   rtol=1e-12, atol=1e-15)


def test_float_path_falls_back_to_numpy_where_floats_raise() -> None:
    """1 / B at B = 0 (ZeroDivisionError with floats, inf with NumPy) and B^2.5 of a negative
    B (ValueError with floats, NaN with NumPy): the rhs is NumPy's."""
    net = _awkward()
    compiled = compile_network(net)
    system = ReducedSystem.build(compiled)
    for x in (np.array([1.0, 0.0, 0.3]), np.array([-1.0, 0.5, 0.3])):
        assert ScalarRates(compiled, compiled.p0).rates(x) is None
        with np.errstate(all="ignore"):
            want = compiled.rhs(x)
        got = system.rhs(x)
        assert np.array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)])


# ------------------------------------------------------------------ growth
def test_one_species_growing_beside_a_large_constant_one_is_unbounded() -> None:
    """BIOMD399's shape: ``B`` fed at 0.1 per time unit, no outflow, beside ``A`` at 1e7; the
    largest component stays 1e7 until t = 1e8 and B ends at 1e8, 10x the state's size, so
    the norm test alone said ``not_found``."""
    rxns = (Reaction("in_A", (), (("A", 1.0),), sym("kin")),
            Reaction("out_A", (("A", 1.0),), (), mul(sym("kout"), sym("A"))),
            Reaction("feed_B", (), (("B", 1.0),), sym("kb")))
    net = ReactionNetwork((Species("A", "c", 1e7), Species("B", "c", 0.0)), rxns,
                          {"kin": 1e7, "kout": 1.0, "kb": 0.1}, {"c": 1.0})
    r = solve_steady_state(net, settings=SolveSettings(timeout=20))
    assert r.status is SolveStatus.UNBOUNDED, r.message
    assert "B is still growing" in r.message


def test_growing_component_needs_monotone_large_growth() -> None:
    t = np.logspace(0, 9, 19)
    settle = [(ti, np.array([1e7, 5.0 * (1 - np.exp(-ti / 1e3))])) for ti in t]
    assert growing_component(settle, 1e7) is None  # B settles at 5
    linear = [(ti, np.array([1e7, 0.1 * ti])) for ti in t]
    assert growing_component(linear, 1e7) == 1
    wobble = [(ti, np.array([1e7, 0.1 * ti * (0.2 if k % 2 else 1.0)]))
              for k, ti in enumerate(t)]
    assert growing_component(wobble, 1e7) is None  # not monotone: no verdict


def test_finite_time_blow_up_that_exhausts_the_step_budget_is_unbounded() -> None:
    """dx/dt = x^2 from 1 blows up at t = 1; with a step budget that runs out on the way (as
    BIOMD336's 200 000 steps did) the chain says ``unbounded``, not ``not_found``."""
    net = ReactionNetwork((Species("X", "c", 1.0),),
                          (Reaction("R", (), (("X", 1.0),), mul(sym("k"), sym("X"), sym("X"))),),
                          {"k": 1.0}, {"c": 1.0})
    r = solve_steady_state(net, settings=SolveSettings(growth_limit=1e20, max_steps=400,
                                                       timeout=20))
    assert r.status is SolveStatus.UNBOUNDED, r.message
    assert "step budget" in r.message
    assert exploding([(1.0, 1.0), (2.0, 1e3), (3.0, 1e7)], 1e12)
    assert not exploding([(1.0, 1.0), (2.0, 1e7), (3.0, 1e3)], 1e12)  # falling
    assert not exploding([(1.0, 1.0), (2.0, 10.0), (3.0, 100.0)], 1e12)  # still small


# ------------------------------------------------------------------ large networks
def _binding_network(pairs: int) -> ReactionNetwork:
    """``pairs`` independent E_i + S_i <-> C_i: 3 * pairs species, 2 * pairs laws."""
    species, rxns = [], []
    for i in range(pairs):
        e, s, c = f"E{i}", f"S{i}", f"C{i}"
        species += [Species(e, "cell", 1.0), Species(s, "cell", 2.0), Species(c, "cell", 0.0)]
        law = sub(mul(sym("kf"), sym(e), sym(s)), mul(sym("kr"), sym(c)))
        rxns.append(Reaction(f"B{i}", ((e, 1.0), (s, 1.0)), ((c, 1.0),), law, reversible=True))
    return ReactionNetwork(tuple(species), tuple(rxns), {"kf": 1.0, "kr": 0.5}, {"cell": 1.0})


def test_conservation_laws_of_a_large_sparse_network_are_fast_and_exact() -> None:
    net = _binding_network(200)  # 600 species
    start = time.perf_counter()
    laws = conservation_laws(np.asarray(net.stoichiometry))
    assert time.perf_counter() - start < 4.0  # 0.2 s; the dense-row version took ~12 s
    assert laws.count == 400 and laws.integer
    assert np.all(laws.matrix @ np.asarray(net.stoichiometry) == 0)
    assert np.linalg.matrix_rank(laws.matrix) == 400
    for row, dep in zip(laws.matrix, laws.dependent):
        assert row[dep] > 0 and np.count_nonzero(laws.matrix[:, dep]) == 1


def test_trajectory_driven_negative_into_undefined_laws_is_not_found() -> None:
    """BIOMD066's shape: a zero-order drain empties A and goes on (A < 0) until another law,
    (1 + A)^0.5, is undefined; the integrators fail on NaN. The answer names the cause
    (``not_found``, the trajectory goes negative) rather than the integrator's error."""
    rxns = (Reaction("drain", (("A", 1.0),), (), sym("k0")),
            Reaction("make", (), (("B", 1.0),), mul(sym("k"), power(add(num(1.0), sym("A")),
                                                                  0.5))))
    net = ReactionNetwork((Species("A", "c", 1.0), Species("B", "c", 0.0)), rxns,
                          {"k0": 1.0, "k": 0.1}, {"c": 1.0})
    r = solve_steady_state(net, settings=SolveSettings(timeout=20))
    assert r.status is SolveStatus.NOT_FOUND, (r.status, r.message)
    assert "goes negative" in r.message


def test_marginal_state_with_a_slow_drift_is_not_accepted_at_the_start() -> None:
    """BIOMD885's shape: A <-> B at equilibrium with rates 1e12 and a slow B -> C (1e-3): the
    initial state passes the residual test (5e-16) and its slow mode (-5e-4) is marginal
    against |J| ~ 1e12, so it stopped "moving" between the first checkpoints and was answered
    at t ~ 1e-12. The dynamics take everything to C; that is the answer now."""
    fast = sub(mul(sym("kf"), sym("A")), mul(sym("kr"), sym("B")))
    rxns = (Reaction("AB", (("A", 1.0),), (("B", 1.0),), fast, reversible=True),
            Reaction("BC", (("B", 1.0),), (("C", 1.0),), mul(sym("k"), sym("B"))))
    net = ReactionNetwork((Species("A", "c", 1.0), Species("B", "c", 1.0),
                           Species("C", "c", 0.0)), rxns,
                          {"kf": 1e12, "kr": 1e12, "k": 1e-3}, {"c": 1.0})
    r = solve_steady_state(net, settings=SolveSettings(timeout=20))
    assert r.status is SolveStatus.STABLE, r.message
    a, b, c = r.state
    assert c == pytest.approx(2.0, rel=2e-3) and a + b < 4e-3, r.state
