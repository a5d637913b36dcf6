"""sbmleq: predict equilibria of biochemical networks with a small Transformer.

Heavy dependencies (torch, roadrunner, libsbml) are imported lazily by the functions that need
them, so ``import sbmleq`` stays fast.
"""

from __future__ import annotations

from sbmleq.errors import (
    CheckpointError,
    InputError,
    NetworkError,
    OutOfClassError,
    SbmleqError,
    SolverError,
)
from sbmleq.network import Network

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "InputError",
    "Network",
    "NetworkError",
    "OutOfClassError",
    "SbmleqError",
    "SolverError",
    "__version__",
]
