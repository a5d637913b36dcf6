"""Labels for generated reaction networks: the outcome of the dynamics and the state reached.

A network's label is what its dynamics do from its own initial values, as the verified solver
of :mod:`sbmleq.core.solve` finds it: the solver status, the outcome class the training data is
balanced over (:data:`OUTCOME_OF_STATUS`: ``settles``, ``oscillates``, ``grows``; anything else
is ``unresolved``) and the steady state (reached when it settles; the fixed point inside the
cycle, when one was found, when it oscillates).

:func:`label_networks` is the fast path for many networks: it groups them by structure
(:func:`~sbmleq.core.reaction_generators.structure_key`: the same species, reactions and rate
laws, so only the parameter vector and the initial state differ), compiles each structure once
and decides each group with one batched trajectory (:func:`sbmleq.core.label_batch.batch_outcomes`:
the solver's batched Newton and verification for the states, a batched stiff integration for
where the dynamics go, with the single chain's rules); the items it leaves undecided go through
the single chain, :func:`~sbmleq.core.solve.solve_steady_state`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork, compile_network
from sbmleq.core.label_batch import MAX_STEPS, batch_outcomes
from sbmleq.core.reaction_generators import structure_key
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve import SolveSettings, SteadyStateResult, solve_steady_state
from sbmleq.core.solve.outcome import OUTCOME_OF_STATUS, UNRESOLVED

__all__ = ["Label", "OUTCOME_OF_STATUS", "UNRESOLVED", "LABEL_SETTINGS", "label_result",
           "group_by_structure", "label_networks"]

LABEL_SETTINGS = SolveSettings(timeout=20.0)


@dataclass(frozen=True)
class Label:
    """One network's label (JSON round trip with :meth:`to_dict` / :meth:`from_dict`)."""

    outcome: str
    status: str
    state: tuple[float, ...] | None
    stable: bool | None
    residual: float | None
    seconds: float
    message: str = ""
    stage: str = ""  # what decided: "batched trajectory", or the single chain's stage

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "status": self.status,
                "state": None if self.state is None else list(self.state),
                "stable": self.stable, "residual": self.residual, "seconds": self.seconds,
                "message": self.message, "stage": self.stage}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Label":
        state = d.get("state")
        return cls(d["outcome"], d["status"], None if state is None else tuple(map(float, state)),
                   d.get("stable"), d.get("residual"), float(d.get("seconds", 0.0)),
                   d.get("message", ""), d.get("stage", ""))


def label_result(result: SteadyStateResult, seconds: float | None = None) -> Label:
    status = result.status.value
    state = None if result.state is None else tuple(float(v) for v in result.state)
    residual = None if result.residual is None or not math.isfinite(result.residual) \
        else float(result.residual)
    return Label(OUTCOME_OF_STATUS.get(status, UNRESOLVED), status, state, result.stable,
                 residual, float(result.seconds if seconds is None else seconds),
                 result.message, result.stage or "")


def group_by_structure(nets: Iterable[ReactionNetwork]) -> dict[Hashable, list[int]]:
    """Indices of ``nets`` by structure, in first-seen order."""
    groups: dict[Hashable, list[int]] = {}
    for i, net in enumerate(nets):
        groups.setdefault(structure_key(net), []).append(i)
    return groups


def label_networks(nets: Sequence[ReactionNetwork],
                   settings: SolveSettings = LABEL_SETTINGS,
                   cache: dict[Hashable, CompiledNetwork] | None = None,
                   batched: bool = True, max_steps: int = MAX_STEPS) -> list[Label]:
    """The label of every network (see the module docstring); ``cache`` keeps compiled
    structures between calls; ``batched=False`` solves each network with the single chain;
    ``max_steps``: the batched trajectory's step budget per item."""
    out: list[Label | None] = [None] * len(nets)
    cache = {} if cache is None else cache
    for key, idx in group_by_structure(nets).items():
        t0 = time.perf_counter()
        compiled = cache.get(key)
        if compiled is None:
            compiled = cache[key] = compile_network(nets[idx[0]])
        x0 = np.stack([nets[i].initial_state() for i in idx])
        p = np.stack([nets[i].parameter_vector() for i in idx])
        results: list[SteadyStateResult | None] = \
            batch_outcomes(compiled, x0, p, settings, max_steps) if batched \
            else [None] * len(idx)
        share = (time.perf_counter() - t0) / len(idx)
        for k, (i, r) in enumerate(zip(idx, results)):
            if r is None:  # undecided in the batch (or not batched): the single chain
                t1 = time.perf_counter()
                r = solve_steady_state(compiled, x0[k], p[k], settings)
                out[i] = label_result(r, share + time.perf_counter() - t1)
            else:
                out[i] = label_result(r, share)
    return [lab for lab in out if lab is not None]
