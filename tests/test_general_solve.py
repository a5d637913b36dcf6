"""sbmleq.core.solve: verified steady states of general reaction networks, checked against long
scipy simulations, exact solutions and roadrunner (real ODE solves throughout)."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from sbmleq.core.compile import compile_network
from sbmleq.core.expr import add, call, div, mul, num, power, sub, sym
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.core.solve import SolveSettings, SolveStatus, solve_batch, solve_steady_state
from sbmleq.core.solve.scale import flux_terms
from sbmleq.core.solve.system import ReducedSystem, verify
from sbmleq.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "sbmleq" / "data" / "biomodels"


# ---------------------------------------------------------------------- networks
def michaelis_menten(k0: float = 0.8) -> ReactionNetwork:
    """S inflow, E + S <-> ES -> E + P, P degraded; E + ES conserved (compartment size 2)."""
    S, E, ES, P = map(sym, ["S", "E", "ES", "P"])
    return ReactionNetwork(
        species=(Species("S", "c", 5), Species("E", "c", 1), Species("ES", "c", 0),
                 Species("P", "c", 0)),
        reactions=(
            Reaction("bind", (("S", 1), ("E", 1)), (("ES", 1),),
                     mul("c", sub(mul("kf", S, E), mul("kr", ES))), reversible=True),
            Reaction("cat", (("ES", 1),), (("E", 1), ("P", 1)), mul("c", "kc", ES)),
            Reaction("deg", (("P", 1),), (), mul("c", "kd", P)),
            Reaction("in", (), (("S", 1),), mul("c", "k0"))),
        parameters={"kf": 2.0, "kr": 1.0, "kc": 1.5, "kd": 0.3, "k0": k0},
        compartments={"c": 2.0}, name="michaelis_menten")


def schlogl(x: float) -> ReactionNetwork:
    """dX/dt = -(X-1)(X-2)(X-3): stable at 1 and 3, unstable at 2."""
    X = sym("X")
    return ReactionNetwork(
        species=(Species("X", "c", x), Species("A", "c", 1.0, boundary=True),
                 Species("B", "c", 1.0, boundary=True)),
        reactions=(Reaction("r1", (("A", 1), ("X", 2)), (("X", 3),), mul("k1", "A", X, X)),
                   Reaction("r2", (("X", 3),), (("A", 1), ("X", 2)), mul("k2", X, X, X)),
                   Reaction("r3", (("B", 1),), (("X", 1),), mul("k3", "B")),
                   Reaction("r4", (("X", 1),), (("B", 1),), mul("k4", X))),
        parameters={"k1": 6.0, "k2": 1.0, "k3": 6.0, "k4": 11.0}, compartments={"c": 1.0},
        name="schlogl")


def toggle(u: float, v: float) -> ReactionNetwork:
    U, V = sym("U"), sym("V")
    return ReactionNetwork(
        species=(Species("U", "c", u), Species("V", "c", v)),
        reactions=(Reaction("su", (), (("U", 1),), div("a", add(1.0, power(V, 2.0)))),
                   Reaction("du", (("U", 1),), (), U),
                   Reaction("sv", (), (("V", 1),), div("a", add(1.0, power(U, 2.0)))),
                   Reaction("dv", (("V", 1),), (), V)),
        parameters={"a": 10.0}, compartments={"c": 1.0}, name="toggle")


def brusselator(b: float) -> ReactionNetwork:
    X, Y = sym("X"), sym("Y")
    return ReactionNetwork(
        species=(Species("X", "c", 1.0), Species("Y", "c", 1.0)),
        reactions=(Reaction("r1", (), (("X", 1),), num(1.0)),
                   Reaction("r2", (("X", 2), ("Y", 1)), (("X", 3),), mul(X, X, Y)),
                   Reaction("r3", (("X", 1),), (("Y", 1),), mul("b", X)),
                   Reaction("r4", (("X", 1),), (), X)),
        parameters={"b": b}, compartments={"c": 1.0}, name="brusselator")


def repressilator() -> ReactionNetwork:
    m = [sym(f"m{i}") for i in range(3)]
    pr = [sym(f"p{i}") for i in range(3)]
    species = tuple(Species(f"m{i}", "c", [1.0, 2.0, 3.0][i]) for i in range(3)) + \
        tuple(Species(f"p{i}", "c", [0.5, 1.0, 1.5][i]) for i in range(3))
    reactions = []
    for i in range(3):
        reactions += [
            Reaction(f"tx{i}", (), ((f"m{i}", 1),),
                     add("a0", div("alpha", add(1.0, power(pr[(i + 2) % 3], "n"))))),
            Reaction(f"md{i}", ((f"m{i}", 1),), (), m[i]),
            Reaction(f"tl{i}", (), ((f"p{i}", 1),), mul("beta", m[i])),
            Reaction(f"pd{i}", ((f"p{i}", 1),), (), mul("beta", pr[i]))]
    return ReactionNetwork(species=species, reactions=tuple(reactions),
                           parameters={"a0": 0.2, "alpha": 216.0, "n": 2.0, "beta": 5.0},
                           compartments={"c": 1.0}, name="repressilator")


def lotka_volterra() -> ReactionNetwork:
    X, Y = sym("X"), sym("Y")
    return ReactionNetwork(
        species=(Species("X", "c", 1.0), Species("Y", "c", 0.5)),
        reactions=(Reaction("birth", (("X", 1),), (("X", 2),), X),
                   Reaction("prey", (("X", 1), ("Y", 1)), (("Y", 2),), mul(X, Y)),
                   Reaction("death", (("Y", 1),), (), sym("Y"))),
        parameters={}, compartments={"c": 1.0}, name="lotka_volterra")


def phosphorylation_cycle() -> ReactionNetwork:
    """Goldbeter-Koshland: S <-> Sp by a kinase and a phosphatase (boundary), S + Sp conserved."""
    S, Sp = sym("S"), sym("Sp")
    return ReactionNetwork(
        species=(Species("S", "c", 10.0), Species("Sp", "c", 0.0),
                 Species("K", "c", 1.0, boundary=True), Species("Pp", "c", 0.5, boundary=True)),
        reactions=(Reaction("phos", (("S", 1),), (("Sp", 1),),
                            div(mul("kcat1", "K", S), add("Km1", S)), modifiers=("K",)),
                   Reaction("dephos", (("Sp", 1),), (("S", 1),),
                            div(mul("kcat2", "Pp", Sp), add("Km2", Sp)), modifiers=("Pp",))),
        parameters={"kcat1": 1.0, "Km1": 0.1, "kcat2": 1.5, "Km2": 0.1},
        compartments={"c": 1.0}, name="goldbeter_koshland")


def transport() -> ReactionNetwork:
    """A (concentration in c1, size 2) <-> B (in c2, size 0.5) -> C (an amount) -> A."""
    A, B, C = sym("A"), sym("B"), sym("C")
    return ReactionNetwork(
        species=(Species("A", "c1", 3.0), Species("B", "c2", 0.5),
                 Species("C", "c2", 1.0, amount=True)),
        reactions=(Reaction("t", (("A", 1),), (("B", 1),),
                            sub(mul("c1", "kt", A), mul("c2", "kb", B))),
                   Reaction("r2", (("B", 1),), (("C", 1),), div(mul("c2", "V2", B), add("K2", B))),
                   Reaction("r3", (("C", 1),), (("A", 1),), mul("k3", C))),
        parameters={"kt": 1.0, "kb": 0.4, "V2": 2.0, "K2": 0.5, "k3": 0.7},
        compartments={"c1": 2.0, "c2": 0.5}, name="transport")


def decaying_catalyst() -> ReactionNetwork:
    """A -> B catalysed by E, which decays: every (A, B, 0) is a steady state (a continuum);
    the trajectory stops at A = A0 exp(-k2 E0 / k)."""
    A, E = sym("A"), sym("E")
    return ReactionNetwork(
        species=(Species("A", "c", 2.0), Species("B", "c", 0.0), Species("E", "c", 1.0)),
        reactions=(Reaction("conv", (("A", 1),), (("B", 1),), mul("k2", E, A), modifiers=("E",)),
                   Reaction("edeg", (("E", 1),), (), mul("k", E))),
        parameters={"k2": 0.8, "k": 0.5}, compartments={"c": 1.0}, name="decaying_catalyst")


def autocatalysis() -> ReactionNetwork:
    X = sym("X")
    return ReactionNetwork(species=(Species("X", "c", 1.0),),
                           reactions=(Reaction("r", (("X", 1),), (("X", 2),), mul("k", X)),),
                           parameters={"k": 0.5}, compartments={"c": 1.0}, name="autocatalysis")


def with_rate_rule() -> ReactionNetwork:
    """Michaelis-Menten plus a signal z with dz/dt = kz P - dz z (a rate rule)."""
    net = michaelis_menten()
    return net.replace(parameters={**net.parameters, "z": 0.0, "kz": 2.0, "dz": 0.5},
                       rate_rules=(RateRule("z", sub(mul("kz", sym("P")), mul("dz", sym("z")))),),
                       name="mm_rate_rule")


def simulate(net, x0=None, p=None, t_end: float = 500.0) -> np.ndarray:
    """The reference: a tight LSODA run to ``t_end``."""
    cn = compile_network(net)
    x0 = cn.x0 if x0 is None else np.asarray(x0, float)
    p = cn.p0 if p is None else np.asarray(p, float)
    sol = solve_ivp(lambda t, x: cn.rhs(x, p), (0.0, t_end), x0, method="LSODA", rtol=1e-11,
                    atol=1e-13, jac=lambda t, x: cn.jacobian(x, p, sparse=False), t_eval=[t_end])
    assert sol.status == 0
    return sol.y[:, -1]


def assert_verified(r, net):
    assert r.status is SolveStatus.STABLE and r.state is not None
    assert r.residual <= 1e-9
    system = ReducedSystem.build(compile_network(net))
    cons = system.reduction.conservation_error(r.state, system.volumes, system.totals)
    assert cons <= 1e-9
    assert np.all(r.state >= 0)


# ---------------------------------------------------------------------- single solves
def test_michaelis_menten_exact_and_in_its_class():
    net = michaelis_menten()
    r = solve_steady_state(net)
    assert_verified(r, net)
    es = 0.8 / 1.5  # inflow = kc ES; E + ES = 1; kf S E = (kr + kc) ES; kd P = kc ES
    expected = [(1.0 + 1.5) * es / (2.0 * (1.0 - es)), 1.0 - es, es, 0.8 / 0.3]
    np.testing.assert_allclose(r.state, expected, rtol=1e-12)
    np.testing.assert_allclose(r.totals, [2.0], rtol=1e-15)  # (E + ES) * volume 2
    assert r.stable is True and r.max_real_eigenvalue < 0
    # the full Jacobian has the conservation law's zero eigenvalue; the reduced one does not
    cn = compile_network(net)
    full = np.linalg.eigvals(cn.jacobian(r.state, sparse=False)).real
    assert np.min(np.abs(full)) < 1e-12 and r.max_real_eigenvalue < -1e-3
    np.testing.assert_allclose(r.state, simulate(net, t_end=400.0), rtol=1e-8)
    assert r.stages[0].name == "newton" and r.stage == "newton"
    assert any(s.name.startswith("integrate") for s in r.stages)  # confirmed by the trajectory
    via_ptc = solve_steady_state(net, x0=[0.1, 1.0, 0.0, 0.0], settings=SolveSettings(
        stages=("ptc",)))  # pseudo-transient continuation alone (unconfirmed)
    assert via_ptc.stage == "ptc" and "not confirmed" in via_ptc.message
    np.testing.assert_allclose(via_ptc.state, expected, rtol=1e-10)


def test_bistable_switch_reports_the_state_the_dynamics_reach():
    low = solve_steady_state(schlogl(1.5))
    # Newton from 1.5 jumps to 3 (f'(1.5) > 0); the trajectory goes to 1, and 1 is the answer
    assert low.stages[0].name == "newton" and low.stages[0].outcome == "stable"
    assert low.status is SolveStatus.STABLE and low.state[0] == pytest.approx(1.0, abs=1e-12)
    assert low.stage != "newton"
    high = solve_steady_state(schlogl(2.5))
    assert high.state[0] == pytest.approx(3.0, abs=1e-12)
    for x0, r in ((1.5, low), (2.5, high)):
        assert r.state[0] == pytest.approx(simulate(schlogl(x0), t_end=50.0)[0], abs=1e-9)
        assert r.max_real_eigenvalue == pytest.approx(-2.0, rel=1e-8)
    middle = solve_steady_state(schlogl(2.0))  # exactly on the unstable state: it stays there
    assert middle.status is SolveStatus.UNSTABLE and middle.stable is False
    assert middle.state[0] == 2.0 and middle.max_real_eigenvalue == pytest.approx(1.0)
    assert middle.reached_state[0] == pytest.approx(2.0)
    # a hair from the saddle the side decides, and the chain follows it (re-run at 1e-10)
    for x0, end in ((2.0 + 1e-9, 3.0), (2.0 - 1e-9, 1.0), (2.0 + 1e-12, 3.0)):
        near_saddle = solve_steady_state(schlogl(x0))
        assert near_saddle.status is SolveStatus.STABLE
        assert near_saddle.state[0] == pytest.approx(end, abs=1e-12)
    # only Newton (no simulation) gives 3 from 1.5: why the integration stage is the default
    fast = solve_steady_state(schlogl(1.5), settings=SolveSettings(stages=("newton",)))
    assert fast.state[0] == pytest.approx(3.0) and "not confirmed" in fast.message


def test_toggle_switch_two_initial_states_two_answers():
    for u, v in ((2.0, 1.0), (1.0, 2.0)):
        net = toggle(u, v)
        r = solve_steady_state(net)
        assert_verified(r, net)
        np.testing.assert_allclose(r.state, simulate(net, t_end=100.0), rtol=1e-9)
        assert (r.state[0] > r.state[1]) == (u > v)


def test_oscillators_are_recognised_with_their_unstable_fixed_point():
    r = solve_steady_state(brusselator(3.0))  # b > 1 + a^2: a limit cycle around (1, 3)
    assert r.status is SolveStatus.OSCILLATION and "period" in r.message
    np.testing.assert_allclose(r.state, [1.0, 3.0], rtol=1e-12)
    assert r.stable is False and r.max_real_eigenvalue == pytest.approx(0.5)
    assert r.reached_state is not None
    r = solve_steady_state(repressilator())
    assert r.status is SolveStatus.OSCILLATION and r.stable is False
    assert np.ptp(r.state) < 1e-9  # the symmetric fixed point m_i = p_i
    stable = solve_steady_state(brusselator(1.5))  # below the Hopf bifurcation: settles
    assert stable.status is SolveStatus.STABLE
    np.testing.assert_allclose(stable.state, [1.0, 1.5], rtol=1e-12)


def test_lotka_volterra_center_is_an_oscillation_around_a_marginal_point():
    r = solve_steady_state(lotka_volterra())
    assert r.status is SolveStatus.OSCILLATION
    np.testing.assert_allclose(r.state, [1.0, 1.0], rtol=1e-12)
    assert r.stable is None  # purely imaginary eigenvalues


def test_unbounded_growth():
    r = solve_steady_state(autocatalysis())  # exponential: beyond growth_limit
    assert r.status is SolveStatus.UNBOUNDED and r.state is None
    r = solve_steady_state(michaelis_menten(k0=2.0))  # inflow above the enzyme's capacity
    assert r.status is SolveStatus.UNBOUNDED and "growing" in r.message
    assert r.reached_state[0] > 1e8  # S accumulates linearly


def test_conserved_cycles_and_compartments():
    net = phosphorylation_cycle()
    r = solve_steady_state(net)
    assert_verified(r, net)
    assert r.state.sum() == pytest.approx(10.0, rel=1e-12)
    np.testing.assert_allclose(r.state, simulate(net, t_end=200.0), rtol=1e-8)
    net = transport()
    r = solve_steady_state(net)
    assert_verified(r, net)
    # amounts are conserved: 2 A + 0.5 B + C (C is declared as an amount)
    assert 2 * r.state[0] + 0.5 * r.state[1] + r.state[2] == pytest.approx(6.0 + 0.25 + 1.0)
    np.testing.assert_allclose(r.state, simulate(net, t_end=300.0), rtol=1e-8)


def test_continuum_of_steady_states_is_where_the_trajectory_stops():
    r = solve_steady_state(decaying_catalyst())
    assert r.status is SolveStatus.STABLE and r.stable is None  # marginal
    a_inf = 2.0 * math.exp(-0.8 / 0.5)
    np.testing.assert_allclose(r.state, [a_inf, 2.0 - a_inf, 0.0], rtol=1e-8, atol=1e-14)


def test_rate_rule_variable():
    net = with_rate_rule()
    r = solve_steady_state(net)
    assert_verified(r, net)
    assert r.as_dict()["z"] == pytest.approx(2.0 * (0.8 / 0.3) / 0.5, rel=1e-12)


def test_inputs_by_id_and_timeout():
    net = schlogl(1.5)
    r = solve_steady_state(net, x0={"X": 2.5}, p={"k4": 11.0})
    assert r.state[0] == pytest.approx(3.0)
    with pytest.raises(InputError):
        solve_steady_state(net, x0=[1.0, 2.0])
    with pytest.raises(InputError):
        SolveSettings(stages=("bogus",))
    r = solve_steady_state(repressilator(), settings=SolveSettings(timeout=0.0))
    assert r.status is SolveStatus.TIMEOUT and r.seconds < 5.0


def test_undefined_rate_law_fails_cleanly():
    X = sym("X")
    net = ReactionNetwork(species=(Species("X", "c", 0.0), Species("Y", "c", 1.0)),
                          reactions=(Reaction("r", (("X", 1),), (("Y", 1),), call("ln", X)),),
                          parameters={}, compartments={"c": 1.0}, name="log_of_zero")
    r = solve_steady_state(net)
    assert r.status is SolveStatus.FAILED and r.state is None
    assert [s.name for s in r.stages] == ["newton", "integrate (LSODA)", "integrate (BDF)"]


def test_status_values_are_stable_strings():
    assert [s.value for s in SolveStatus] == ["stable", "unstable", "oscillation", "unbounded",
                                             "not_found", "failed", "timeout"]
    assert SolveStatus("stable") is SolveStatus.STABLE


def test_verification_rejects_what_is_not_an_answer():
    net = michaelis_menten()
    system = ReducedSystem.build(compile_network(net))
    good = solve_steady_state(net).state
    settings = SolveSettings()
    assert verify(system, good, settings).ok
    assert not verify(system, good * (1 + 1e-6), settings).ok  # residual
    other = solve_steady_state(net, x0=[5.0, 2.0, 0.0, 0.0]).state  # a steady state, E + ES = 2
    assert verify(system, other, settings).reason.startswith("conservation error")
    negative = good.copy()
    negative[3] = -1e-3
    assert verify(system, negative, settings).reason == "negative species"
    tiny = good.copy()
    tiny[2] -= good[2] + 1e-14  # a round-off negative is clipped, then judged
    assert verify(system, tiny, settings).state[2] == 0.0


def test_reversible_laws_split_into_gross_fluxes():
    S, E, ES = sym("S"), sym("E"), sym("ES")
    law = mul("c", sub(mul("kf", S, E), mul("kr", ES)))
    assert len(flux_terms(law)) == 2
    assert len(flux_terms(div(law, add("K", S)))) == 2


# ---------------------------------------------------------------------- batches
def test_batch_of_initial_states_matches_the_single_chain():
    cn = compile_network(schlogl(1.0))
    xs = np.linspace(0.0, 4.0, 17)[:, None]
    batch = solve_batch(cn, x0=xs)
    for x0, b in zip(xs, batch):
        single = solve_steady_state(cn, x0=x0)
        assert b.status is single.status
        assert b.state[0] == pytest.approx(single.state[0], abs=1e-10)
    assert any(b.stage == "batched newton" for b in batch)  # vectorised and confirmed
    # Newton from x0 went to the other basin: found again from the batched trajectory
    assert any(b.stage == "batched newton@t" for b in batch)
    assert batch[8].status is SolveStatus.UNSTABLE  # x0 = 2: the single chain


def test_batch_of_parameter_sets_with_fallbacks():
    net = michaelis_menten()
    cn = compile_network(net)
    rng = np.random.default_rng(3)
    p = cn.p0 * rng.uniform(0.6, 1.6, size=(40, len(cn.p0)))
    k0, kc = cn.parameter_ids.index("k0"), cn.parameter_ids.index("kc")
    p[0, k0], p[0, kc] = 3.0, 1.0  # beyond capacity: unbounded, from the single chain
    batch = solve_batch(cn, p=p)
    assert batch[0].status is SolveStatus.UNBOUNDED
    for k in (1, 7, 23, 39):
        single = solve_steady_state(cn, p=p[k])
        assert batch[k].status is single.status is SolveStatus.STABLE
        np.testing.assert_allclose(batch[k].state, single.state, rtol=1e-9)
        assert batch[k].residual <= 1e-9
    settled = [b for b in batch if b.status is SolveStatus.STABLE]
    assert sum(b.stage.startswith("batched") for b in settled) >= 30


@pytest.mark.slow  # torch's import and first torch.func trace take seconds
def test_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    cn = compile_network(michaelis_menten())
    p = cn.p0 * np.linspace(0.8, 1.2, 5)[:, None]
    a = solve_batch(cn, p=p)
    b = solve_batch(cn, p=p, device="cpu")
    for x, y in zip(a, b):
        assert x.status is y.status is SolveStatus.STABLE
        np.testing.assert_allclose(x.state, y.state, rtol=1e-9)


# ---------------------------------------------------------------------- curated SBML
@pytest.mark.parametrize("model", ["BIOMD0000000060", "BIOMD0000000150", "BIOMD0000000486"])
def test_curated_models_against_roadrunner(model):
    roadrunner = pytest.importorskip("roadrunner")
    general_import = pytest.importorskip("sbmleq.io.general_import")
    path = DATA / f"{model}.xml"
    net = general_import.import_reaction_network_from(str(path)).require()
    r = solve_steady_state(net)
    assert r.status is SolveStatus.STABLE and r.residual <= 1e-9
    rr = roadrunner.RoadRunner(str(path))
    rr.simulate(0, 1e4, 200)  # the trajectory, then Newton from where it got to
    rr.steadyState()
    ids = list(rr.model.getFloatingSpeciesIds())
    conc = dict(zip(ids, rr.model.getFloatingSpeciesConcentrations()))
    species = net.species_by_id()
    sizes = {**net.compartments, **net.parameters}
    ours = {s: (v / sizes[species[s].compartment] if species[s].amount else v)
            for s, v in r.as_dict().items() if s in species}
    scale = max(abs(v) for v in conc.values())
    for s in ids:
        assert ours[s] == pytest.approx(conc[s], rel=1e-6, abs=1e-9 * scale), s
