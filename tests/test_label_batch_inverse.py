"""The batched labeller's linear solves: one item with a non-finite or singular matrix must not
fail the batch (a NaN Jacobian once stopped a whole shard of 100 networks)."""

from __future__ import annotations

import numpy as np

from sbmleq.core.label_batch import _inverse


def test_bad_items_get_nan_and_the_others_their_inverse():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 3)) + 3 * np.eye(3)
    w[1, 0, 0] = np.nan
    w[2] = 0.0  # singular: inv raises for the batch, pinv answers per item
    inv = _inverse(w)
    assert np.all(np.isnan(inv[1]))
    for k in (0, 3):
        np.testing.assert_allclose(inv[k] @ w[k], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(inv[2], 0.0)
