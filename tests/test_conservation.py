"""Conservation laws: exact integer basis of the left null space, checked against roadrunner."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from sbmleq.core.conservation import conservation_laws

DATA = Path(__file__).resolve().parents[1] / "sbmleq" / "data" / "biomodels"
IN_CLASS = [DATA / f"{row['id']}.xml" for row in csv.DictReader((DATA / "manifest.csv").open())
            if row["in_class"] == "true"]  # no rules: roadrunner's moiety analysis applies


def test_enzyme_substrate_complex():
    # S + E -> C -> P + E: species S, E, C, P; reactions bind, release
    n = np.array([[-1, 0], [-1, 1], [1, -1], [0, 1]])
    laws = conservation_laws(n)
    assert laws.count == 2
    assert (laws.matrix @ n == 0).all()
    assert np.linalg.matrix_rank(laws.matrix) == 2
    # enzyme total E + C and substrate total S + C + P, in some integer basis
    for want in ([0, 1, 1, 0], [1, 0, 1, 1]):
        stacked = np.vstack([laws.matrix, want])
        assert np.linalg.matrix_rank(stacked) == 2
    for row, dep in zip(laws.matrix, laws.dependent):
        assert row[dep] > 0 and sum(laws.matrix[:, dep] != 0) == 1
    assert laws.totals(np.array([1.0, 0.5, 0.0, 0.0])).tolist() == pytest.approx(
        list(laws.matrix @ [1.0, 0.5, 0.0, 0.0]))
    described = laws.describe(["S", "E", "C", "P"])
    assert {d["dependent"] for d in described} <= {"S", "E", "C", "P"}


def test_fractional_and_open_networks():
    # 2 A -> B; B -> 2 A ... (A + 2B conserved); an open network has none
    n = np.array([[-2.0, 2.0], [1.0, -1.0]])
    laws = conservation_laws(n)
    assert laws.matrix.tolist() == [[1, 2]] and laws.dependent == (1,)
    half = conservation_laws(np.array([[-0.5], [1.0]]))
    assert half.matrix.tolist() == [[2, 1]]
    assert conservation_laws(np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])).count == 0
    with pytest.raises(ValueError, match="finite"):
        conservation_laws(np.array([[np.nan]]))


def test_same_laws_as_roadrunner_and_svd():
    """Every in-class shipped model: the laws span the numerical left null space; where
    roadrunner's moiety analysis applies (no species set by rules), its conservation matrix too."""
    import roadrunner
    import scipy.linalg

    with_rr = 0
    for path in IN_CLASS:
        r = roadrunner.RoadRunner(str(path))
        ids = list(r.model.getFloatingSpeciesIds())
        full = r.getFullStoichiometryMatrix()
        rows = list(full.rownames)
        n = np.array([[full[rows.index(s), j] for j in range(full.shape[1])] for s in ids])
        laws = conservation_laws(n)
        assert (np.abs(laws.matrix @ n) < 1e-9).all(), path.stem
        reference = scipy.linalg.null_space(n.T).T
        assert laws.count == reference.shape[0], path.stem
        if laws.count:
            assert np.linalg.matrix_rank(np.vstack([laws.matrix, reference])) == laws.count
        try:
            r.conservedMoietyAnalysis = True
        except RuntimeError:  # a floating species set by a rule: roadrunner refuses
            continue
        gamma = r.getConservationMatrix()
        with_rr += 1
        if laws.count == 0:
            assert gamma.shape[0] == 0 or gamma.size == 0, path.stem
            continue
        cols = list(gamma.colnames)
        g = np.array([[gamma[i, cols.index(s)] for s in ids] for i in range(gamma.shape[0])])
        assert np.linalg.matrix_rank(np.vstack([laws.matrix, g])) == laws.count == g.shape[0]
    assert with_rr >= 10  # most shipped in-class models are compared with roadrunner itself


def test_dense_random_matrix_falls_back_to_exact_rows_in_floats():
    rng = np.random.default_rng(0)
    n = rng.integers(-2, 3, size=(60, 30)).astype(float)
    laws = conservation_laws(n)
    assert laws.count == 60 - np.linalg.matrix_rank(n)
    assert not laws.integer and laws.matrix.dtype == np.float64
    assert np.abs(laws.matrix @ n).max() < 1e-12
    assert np.allclose(np.abs(laws.matrix).max(axis=1), 1.0)


def test_sparse_network_keeps_integers():
    rng = np.random.default_rng(1)
    n = np.zeros((60, 40))
    for j in range(40):
        a, b = rng.choice(60, 2, replace=False)
        n[a, j], n[b, j] = -1, 1
    laws = conservation_laws(n)
    assert laws.integer and laws.count == 60 - np.linalg.matrix_rank(n)
    assert (laws.matrix @ n == 0).all()
