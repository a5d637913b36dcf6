"""What a request is checked for before :class:`sbmleq.api.Session` runs it: which path a
model takes (LIFE or general), the initial state a closed pool needs, the reason a general
network is not predicted, and whether a device can be used."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sbmleq.core.network import Network
from sbmleq.core.steady import steady_state
from sbmleq.errors import InputError, SbmleqError
from sbmleq.io.reasons import Reason, ReasonCode
from sbmleq.io.request import ModelSource
from sbmleq.io.sbml_import import ImportResult

__all__ = ["not_life", "initial_state", "needs_general", "check_device"]


def not_life(src: ModelSource) -> bool:
    """Whether ``src`` is outside the LIFE class (its scan takes the general path)."""
    if src.reaction_network is not None:
        return True
    imported = src.imported()
    return not (imported.in_class and imported.network is not None)


def initial_state(src: ModelSource, imported: ImportResult, net: Network) -> np.ndarray:
    """The network's initial state; a value the SBML leaves undetermined is an InputError only
    when a closed pool needs it (elsewhere the steady state does not depend on it)."""
    x0 = src.initial_state(net, imported.node_species)
    missing = np.flatnonzero(~np.isfinite(x0))
    if len(missing):
        x0 = np.where(np.isfinite(x0), x0, 0.0)
        pools = {i for p in steady_state(net, x0).pools for i in p.nodes}
        needed = [int(k) for k in missing if int(k) in pools]
        if needed:
            sid = imported.node_species.get(net.nodes[needed[0]], net.nodes[needed[0]])
            raise InputError("the initial value could not be evaluated, and the steady state of "
                             "its closed pool depends on it", source=src.display, element=sid)
    return x0


def needs_general(src: ModelSource) -> Reason | None:
    """The ``needs_general_model`` reason when an out-of-LIFE model is a general reaction
    network (``sbmleq solve`` answers it; no general model is shipped yet)."""
    try:
        general = src.general()
    except SbmleqError:
        return None
    if general.network is None:
        return None
    families = ", ".join(f"{k} {v}" for k, v in sorted(general.network.families().items()))
    return Reason(ReasonCode.NEEDS_GENERAL_MODEL,
                  f"a general reaction network ({families}): the shipped learned model reads "
                  "LIFE networks only; `sbmleq predict --general-model CKPT` predicts it with a "
                  "general model, `sbmleq solve` gives its verified steady state")


def check_device(device: str, path: Path) -> None:
    if device == "cpu":
        return
    if device != "cuda" and not device.startswith("cuda:"):
        raise InputError(f"unknown device {device!r}: use cpu or cuda")
    try:
        import torch
    except ImportError:
        raise InputError("--device cuda needs PyTorch, which is not installed") from None
    if not torch.cuda.is_available():
        raise InputError("--device cuda requested but CUDA is not available here "
                         "(torch.cuda.is_available() is False): use --device cpu")
    if path.suffix == ".npz":
        raise InputError(f"--device cuda needs a PyTorch checkpoint (.pt) given with --model; "
                         f"{path.name} is a NumPy export that runs on the CPU")
