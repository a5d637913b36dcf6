"""Random general reaction networks: families, structure groups, decades, JSON, motifs' outcomes
by real labels, multistability, the balanced sampler, and the batched labeller against the
single chain."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from sbmleq.core.expr import Num, Op
from sbmleq.core.families import FAMILIES as LAW_FAMILIES
from sbmleq.core.labels import Label, label_networks
from sbmleq.core.reaction_generators import (FAMILY_OUTCOMES, GENERATORS, OUTCOMES,
                                             RNConfig, balanced_sample, build_network,
                                             families_for, generate_networks, min_size,
                                             network_from_dict, network_to_dict, sample_group,
                                             sample_networks, structure_key)
from sbmleq.errors import NetworkError

GENERAL = ["mass_action", "michaelis_menten", "hill", "modifiers", "zero_order",
           "intake_degradation", "enzyme_complex", "phosphorylation", "mixed"]
MOTIFS = ["brusselator", "selkov", "repressilator", "goodwin", "autocatalysis",
          "saturated_drain", "schlogl", "toggle_switch"]


def numbers(e) -> list[float]:
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        if isinstance(x, Num):
            out.append(x.value)
        elif isinstance(x, Op):
            stack.extend(x.args)
    return out


def test_registry_has_every_family():
    assert set(GENERAL + MOTIFS) <= set(GENERATORS)
    assert set(families_for("oscillates")) == {"brusselator", "selkov", "repressilator",
                                               "goodwin"}
    assert set(families_for("grows")) == {"autocatalysis", "saturated_drain"}
    assert set(GENERAL) <= set(families_for("settles"))
    with pytest.raises(ValueError):
        RNConfig(families=("mass_action",), target="oscillates")
    with pytest.raises(ValueError):
        RNConfig(families=("nope",))
    with pytest.raises(ValueError):
        RNConfig(n_min=1)
    with pytest.raises(ValueError):  # no oscillator fits in 2 species but these
        RNConfig(families=("repressilator", "goodwin"), n_max=5, target="oscillates")
    small = RNConfig(n_min=2, n_max=3, group_size=1)  # families too big for 3 are not drawn
    nets = sample_networks(small, np.random.default_rng(1), 60)
    assert max(net.n_state for net in nets) <= 3
    assert len({net.name.split(":")[0] for net in nets}) >= 8


@pytest.mark.parametrize("family", sorted(GENERATORS))
def test_family_builds_valid_networks_of_the_asked_size(family):
    for n in (2, 7, 64):
        for target in FAMILY_OUTCOMES[family]:
            net = build_network(family, n, structure_seed=n, value_seed=1, target=target)
            assert net.n_state == max(n, min_size(family, target)), (family, n, net.n_state)
            assert net.parameter_vector().shape == (len(net.parameter_ids),)
            read = set()
            for r in net.reactions:
                assert r.family in LAW_FAMILIES and r.family != "other", (r.id, r.family)
                # every constant is a named local parameter: numbers left in a law are only
                # structure (exponents of stoichiometry, the -1 of a reverse term)
                assert set(numbers(r.rate)) <= {-1.0, 1.0, 2.0, 3.0}, r.rate
                read |= {s for s in net.parameters if s.startswith(r.id + ".")}
            assert read == set(net.parameters)  # every parameter belongs to one reaction
    if family in ("enzyme_complex", "phosphorylation"):
        assert net.conservation.count >= 1  # conserved pools


def test_law_families_cover_the_brief():
    seen = Counter()
    for k, family in enumerate(sorted(GENERATORS)):
        net = build_network(family, 16, structure_seed=k, value_seed=k)
        seen.update(r.family for r in net.reactions)
    assert {"zero_order", "mass_action_1", "mass_action_2", "reversible_mass_action",
            "michaelis_menten", "hill", "modifier"} <= set(seen)


def test_groups_share_structure_and_differ_in_values():
    cfg = RNConfig(n_min=4, n_max=12, group_size=5)
    rng = np.random.default_rng(3)
    for _ in range(6):
        group = sample_group(cfg, rng)
        assert len(group) == 5
        assert len({structure_key(net) for net in group}) == 1
        vectors = {tuple(net.parameter_vector()) for net in group}
        assert len(vectors) == 5
        assert len({tuple(net.initial_state()) for net in group}) == 5
        assert [r.family for r in group[0].reactions] == [r.family for r in group[-1].reactions]
    a = generate_networks(cfg, 12, seed=9)
    b = generate_networks(cfg, 12, seed=9)
    assert [network_to_dict(x) for x in a] == [network_to_dict(y) for y in b]
    c = generate_networks(cfg, 12, seed=10)
    assert [network_to_dict(x) for x in a] != [network_to_dict(y) for y in c]


def test_decades_set_the_parameter_spread():
    flat = build_network("mass_action", 20, 1, 2, decades=0.0)
    assert set(flat.parameters.values()) == {1.0}
    logs = []
    for k in range(10):
        net = build_network("mass_action", 20, k, k, decades=6.0)
        logs += [math.log10(v) for v in net.parameters.values()]
    assert min(logs) >= -3.0 and max(logs) <= 3.0
    assert max(logs) - min(logs) > 5.0
    hill = build_network("hill", 12, 4, 4, decades=6.0)
    ns = [v for k, v in hill.parameters.items() if k.split(".")[1].startswith("n")]
    assert ns and set(ns) <= {1.0, 2.0, 3.0, 4.0}


def test_json_round_trip_is_exact():
    nets = generate_networks(RNConfig(n_min=2, n_max=20, group_size=2), 30, seed=5)
    for net in nets:
        back = network_from_dict(json.loads(json.dumps(network_to_dict(net))))
        assert structure_key(back) == structure_key(net)
        assert back.parameters == net.parameters and back.species == net.species
        assert back.reactions == net.reactions and back.name == net.name
        np.testing.assert_array_equal(back.parameter_vector(), net.parameter_vector())
    with pytest.raises(NetworkError):
        network_from_dict({"schema": "something else"})


# ------------------------------------------------------------------ outcomes, by real labels
@pytest.mark.parametrize("family,target,n", [
    ("brusselator", "oscillates", 2), ("brusselator", "settles", 4),
    ("selkov", "oscillates", 3), ("selkov", "settles", 2),
    ("goodwin", "oscillates", 6), ("goodwin", "settles", 4),
    ("repressilator", "oscillates", 6), ("repressilator", "settles", 6),
    ("autocatalysis", "grows", 3), ("autocatalysis", "settles", 2),
    ("saturated_drain", "grows", 2), ("saturated_drain", "settles", 3),
    ("schlogl", "settles", 2), ("toggle_switch", "settles", 3)])
def test_motifs_reach_their_target(family, target, n):
    nets = [build_network(family, n, structure_seed=11, value_seed=k, decades=4.0,
                          target=target) for k in range(4)]
    labels = label_networks(nets)
    assert [lab.outcome for lab in labels] == [target] * 4
    assert {lab.stage for lab in labels} == {"batched trajectory"}  # decided in the batch
    for lab in labels:
        if target == "settles":
            assert lab.status == "stable" and lab.state is not None
            assert lab.residual is not None and lab.residual <= 1e-9
        if target == "grows":
            assert lab.state is None


def test_multistable_motifs_settle_where_they_start():
    net = build_network("schlogl", 2, structure_seed=3, value_seed=8, decades=0.0)
    k = net.state_ids.index("X0")
    lo, hi = net.with_initial({"X0": 0.01}), net.with_initial({"X0": 1e4})
    a, b = label_networks([lo, hi])
    assert a.outcome == b.outcome == "settles"
    assert b.state[k] > 3.0 * a.state[k]  # the low and the high stable root
    tog = build_network("toggle_switch", 2, structure_seed=3, value_seed=8, decades=0.0)
    u, v = tog.state_ids.index("U0"), tog.state_ids.index("V0")
    one = tog.with_initial({"U0": 10.0, "V0": 0.0})
    two = tog.with_initial({"U0": 0.0, "V0": 10.0})
    p, q = label_networks([one, two])
    assert p.state[u] > p.state[v] and q.state[v] > q.state[u]


def test_balanced_sampler_rebalances_by_labels():
    cfg = RNConfig(families=("brusselator", "selkov", "autocatalysis", "saturated_drain",
                             "schlogl", "intake_degradation"), n_min=2, n_max=3, group_size=2)
    nets, labels, report = balanced_sample(cfg, 6, np.random.default_rng(0), label_networks)
    assert report.kept == {"settles": 2, "oscillates": 2, "grows": 2}
    assert Counter(lab.outcome for lab in labels) == Counter(report.kept)
    # the labels, not the targets, decide the bucket
    assert all(isinstance(lab, Label) and lab.outcome in OUTCOMES for lab in labels)
    assert sum(report.proposed.values()) >= 6


def test_batched_labels_match_the_single_chain():
    cfg = RNConfig(families=("mass_action", "michaelis_menten", "enzyme_complex",
                             "brusselator", "autocatalysis"), n_min=3, n_max=6, group_size=3)
    nets = generate_networks(cfg, 9, seed=4)
    fast, slow = label_networks(nets), label_networks(nets, batched=False)
    assert [a.outcome for a in fast] == [b.outcome for b in slow]
    for a, b in zip(fast, slow):
        if a.outcome == "settles":
            u, v = np.array(a.state), np.array(b.state)
            assert np.max(np.abs(u - v)) <= 1e-6 * max(np.max(np.abs(v)), 1e-12)
        assert Label.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_undecided_items_fall_back_to_the_single_chain():
    nets = [build_network("brusselator", 2, structure_seed=5, value_seed=k, target=t)
            for k, t in enumerate(["oscillates", "settles", "oscillates"])]
    short = label_networks(nets, max_steps=3)  # no decision in 3 steps: the chain decides
    assert [lab.outcome for lab in short] == ["oscillates", "settles", "oscillates"]
    assert "batched trajectory" not in {lab.stage for lab in short}
    full = label_networks(nets)
    assert [lab.outcome for lab in full] == [lab.outcome for lab in short]
    np.testing.assert_allclose(full[1].state, short[1].state, rtol=1e-6)
