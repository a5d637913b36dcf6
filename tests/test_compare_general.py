"""The architecture comparison (training/compare_general.py) and its sequence arm
(sbmleq/model/general_seq.py): token positions, scale-freedom, padding, the untrained
iteration's fixed point, and one tiny end-to-end run. Real generated networks, real labels."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch

from sbmleq.core.expr import num, sub, sym
from sbmleq.core.reaction_generators import RNConfig, sample_networks
from sbmleq.core.reactions import RateRule, Species
from sbmleq.model.general_features import network_features
from sbmleq.model.general_seq import (SeqModelConfig, SeqVocab, SequenceSteadyStateModel,
                                      collate_seq, seq_example)
from sbmleq.model.numbers import DecimalFloat
from training import compare_general

FAST = "mass_action,michaelis_menten,zero_order,enzyme_complex,brusselator"
TINY = ["--d-model", "32", "--n-heads", "4", "--n-local-heads", "2", "--n-layers", "2",
        "--d-ff", "64", "--batch-size", "8", "--warmup", "5"]


def nets_with_a_rule():
    cfg = RNConfig(families=("enzyme_complex", "mixed", "hill"), n_min=3, n_max=8, decades=3.0,
                   group_size=1)
    nets = sample_networks(cfg, np.random.default_rng(4), 4)
    ruled = nets[0].replace(parameters={**nets[0].parameters, "q": 2.5},
                            rate_rules=(RateRule("q", sub(num(1.0), sym("q"))),))
    return nets + [ruled]


def test_each_node_is_read_at_its_own_declaring_token():
    vocab, cfg = SeqVocab(), SeqModelConfig(vocab_size=0)
    for net in nets_with_a_rule():
        ex = network_features(net)
        seq = seq_example(net, ex, vocab, cfg)
        tokens = seq.tokens
        spec = [i for i, t in enumerate(tokens) if t == "SPEC"]
        par = [i for i, t in enumerate(tokens) if t == "PAR"]
        assert len(seq.positions) == ex.n_species and len(set(seq.positions)) == ex.n_species
        species = {s.id: k for k, s in enumerate(net.species)}
        params = list(net.parameters)
        for node, pos in zip(ex.node_ids, seq.positions):
            if node in species:  # SPEC C<k> <number>: the species' own (normalised) value
                assert pos == spec[species[node]]
                value, _ = DecimalFloat().parse(tokens, pos + 2)
                initial = net.species[species[node]].initial
            else:  # a rate-rule parameter: PAR <number>
                assert pos == par[params.index(node)]
                value, _ = DecimalFloat().parse(tokens, pos + 1)
                initial = net.parameters[node]
            assert value == pytest.approx(initial * 10.0 ** -ex.reference, rel=5e-3)
        assert (seq.ids == np.array([vocab.stoi[t] for t in tokens])).all()  # no <unk>
    assert "q" in network_features(nets_with_a_rule()[-1]).node_ids


def test_tokens_are_scale_free_and_padding_does_not_leak():
    vocab = SeqVocab()
    cfg = SeqModelConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, vocab_size=len(vocab))
    nets = nets_with_a_rule()
    net = nets[1]
    f = 10.0 ** 3
    big = net.replace(species=tuple(Species(s.id, s.compartment, s.initial * f, s.amount,
                                            s.boundary, s.constant) for s in net.species),
                      parameters={k: v * f for k, v in net.parameters.items()},
                      compartments={k: v * f for k, v in net.compartments.items()})
    a, b = network_features(net), network_features(big)
    sa, sb = seq_example(net, a, vocab, cfg), seq_example(big, b, vocab, cfg)
    assert b.reference == pytest.approx(a.reference + 3.0)
    assert np.mean(sa.ids != sb.ids) < 0.01  # identical up to a rare last-digit rounding
    torch.manual_seed(0)
    model = SequenceSteadyStateModel(cfg).eval()
    small = min(nets, key=lambda n: len(n.species))
    large = max(nets, key=lambda n: len(n.species))
    s_small = seq_example(small, network_features(small), vocab, cfg)
    s_large = seq_example(large, network_features(large), vocab, cfg)
    assert len(s_small.ids) < len(s_large.ids)
    with torch.no_grad():
        alone = model(**collate_seq([s_small]))
        padded = model(**collate_seq([s_large, s_small]))
    n = len(s_small.positions)
    torch.testing.assert_close(padded["y"][1, :n], alone["y"][0], atol=1e-5, rtol=0)
    torch.testing.assert_close(padded["logits"][1], alone["logits"][0], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def settling_items():
    ns = argparse.Namespace(data=None, generate=32, seed=3, decades="2", families=FAST,
                            n_min=2, n_max=6, group=8, max_shards=0)
    items, _ = compare_general.load_tagged(ns)
    out = [it for it in items if it.state is not None and (it.state > 0).all()]
    assert out
    return out


def test_untrained_iteration_keeps_the_exact_steady_state(settling_items):
    exact = []
    for it in settling_items:
        y = np.zeros(it.ex.n_species, np.float32)
        ok = np.flatnonzero(it.ex.state_index >= 0)
        y[ok] = np.log10(it.state[it.ex.state_index[ok]]) - it.ex.reference
        exact.append(y)
    stay = compare_general.untrained_iteration(settling_items, 8, {}, exact)
    for it, y, s in zip(settling_items, exact, stay):
        assert np.abs(s - y).max() < 1e-3
        assert compare_general.rel_l1(it, s) < 1e-2
    kicked = [y + 0.3 * (it.ex.state_index >= 0) for it, y in zip(settling_items, exact)]
    moved = compare_general.untrained_iteration(settling_items, 1, {}, kicked)
    assert max(np.abs(m - k).max() for m, k in zip(moved, kicked)) > 0.05  # not the identity


def test_tiny_comparison_prints_every_arm_with_finite_numbers(tmp_path, capsys):
    out_json, out_md = tmp_path / "cmp.json", tmp_path / "cmp.md"
    res = compare_general.main(["--generate", "48", "--seed", "1", "--decades", "2",
                                "--families", FAST, "--n-max", "6", "--val-fraction", "0.3",
                                "--max-val", "16", "--budget-minutes", "0.1", *TINY,
                                "--json", str(out_json), "--markdown", str(out_md)])
    text = capsys.readouterr().out
    keys = ("a", "b", "c", "d", "e", "e*", "f")
    for key in keys:
        assert f"({key}) " in text
    saved = json.loads(out_json.read_text())
    assert list(saved["arms"]) == list(keys) and saved == json.loads(json.dumps(res))
    for key, arm in saved["arms"].items():
        row = arm["buckets"]["all"]
        assert row["settle"] > 0
        for name in ("within_1pct", "within_5pct", "within_10pct", "median_rel_l1",
                     "ms_per_net", "rhs_per_net"):
            assert math.isfinite(row[name]), (key, name)
        assert (row["acc"] is None) == (key in ("d", "e", "e*"))
        if arm["train"]:
            assert arm["train"]["steps"] >= 1 and arm["train"]["train_cpu_minutes"] >= 0.09
    assert saved["arms"]["e"]["buckets"]["all"]["jac_per_net"] <= 8 + 1  # K, + the polish step
    assert saved["arms"]["f"]["buckets"]["all"]["acc"] > 0.9  # the labeller itself
    assert out_md.read_text().count("\n") == 2 + len(keys)  # one spread: no "all" rows
