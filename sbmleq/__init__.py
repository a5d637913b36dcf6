"""sbmleq: the steady state of biochemical models (SBML), predicted by a small Transformer and
verified by exact solvers.

The Python API (:mod:`sbmleq.api`)::

    import sbmleq

    sbmleq.predict(source, model=None, check=False)  # ModelPrediction
    sbmleq.solve(source, timeout=30)                  # verified steady state (GeneralSolveResult)
    sbmleq.solve(source, engine="roadrunner")         # roadrunner's staged chain (SolveResult)
    sbmleq.load_network(source)                       # GeneralImport: a ReactionNetwork
    sbmleq.load(source)                               # ImportResult: network + import report
    sbmleq.scan(source, parameters)                   # ScanResult: batched parameter scan

``import sbmleq`` imports only the error types. The API names are resolved on first use by the
module ``__getattr__`` below (PEP 562), the one lazy import of the package's own modules: it keeps
``import sbmleq`` (and ``sbmleq --help``) free of numpy, libsbml and the rest.
"""

from __future__ import annotations

import importlib
from typing import Any

from sbmleq.errors import (
    CheckpointError,
    InputError,
    NetworkError,
    OutOfClassError,
    OutOfClassWarning,
    SbmleqError,
    SolverError,
)

__version__ = "0.2.0"

_LAZY = {"Network": "sbmleq.core.network", "load": "sbmleq.api", "solve": "sbmleq.api",
         "scan": "sbmleq.api", "predict": "sbmleq.api", "Session": "sbmleq.api",
         "ModelPrediction": "sbmleq.results", "ScanResult": "sbmleq.results",
         "SolveResult": "sbmleq.results", "GeneralSolveResult": "sbmleq.general",
         "ReactionNetwork": "sbmleq.core.reactions", "SolveSettings": "sbmleq.core.solve",
         "load_network": "sbmleq.api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sbmleq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CheckpointError",
    "GeneralSolveResult",
    "InputError",
    "ModelPrediction",
    "Network",
    "NetworkError",
    "OutOfClassError",
    "OutOfClassWarning",
    "ReactionNetwork",
    "SbmleqError",
    "ScanResult",
    "Session",
    "SolveResult",
    "SolveSettings",
    "SolverError",
    "__version__",
    "load",
    "load_network",
    "predict",
    "scan",
    "solve",
]
