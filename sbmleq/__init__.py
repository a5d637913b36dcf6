"""sbmleq: predict equilibria of biochemical networks with a small Transformer.

``import sbmleq`` is light: the names below are imported on first use, and heavy dependencies
(numpy, torch, roadrunner, libsbml, pandas, rich) only by the functions that need them. So the
command line can configure the process (e.g. BLAS threads) before numpy loads.

The Python API (:mod:`sbmleq.api`)::

    import sbmleq

    sbmleq.predict(source, model=None, check=False)  # ModelPrediction
    sbmleq.solve(source, timeout=30)                  # roadrunner ground truth (SolveResult)
    sbmleq.load(source)                               # ImportResult: network + import report
    sbmleq.scan(source, parameters)                   # ScanResult: batched parameter scan

``sbmleq.predict`` is also the name of the submodule that holds the
:class:`~sbmleq.predict.Predictor`; that module is made callable (whenever and however it is
imported), so both ``sbmleq.predict(source)`` and ``from sbmleq.predict import Predictor`` work.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from sbmleq.errors import (
    CheckpointError,
    InputError,
    NetworkError,
    OutOfClassError,
    SbmleqError,
    SolverError,
)

__version__ = "0.1.0"

_LAZY = {"Network": "sbmleq.network", "load": "sbmleq.api", "solve": "sbmleq.api",
         "scan": "sbmleq.api", "Session": "sbmleq.api", "ModelPrediction": "sbmleq.api",
         "ScanResult": "sbmleq.api", "SolveResult": "sbmleq.api"}


class _CallableModule(types.ModuleType):
    """The ``sbmleq.predict`` module, callable as :func:`sbmleq.api.predict`."""

    def __call__(self, source: Any, **kwargs: Any) -> Any:
        from sbmleq.api import predict as predict_source

        return predict_source(source, **kwargs)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # The import system sets ``sbmleq.predict`` when the submodule is first imported.
        if name == "predict" and type(value) is types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name == "predict":
        return importlib.import_module("sbmleq.predict")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sbmleq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CheckpointError",
    "InputError",
    "ModelPrediction",
    "Network",
    "NetworkError",
    "OutOfClassError",
    "SbmleqError",
    "ScanResult",
    "Session",
    "SolveResult",
    "SolverError",
    "__version__",
    "load",
    "predict",
    "scan",
    "solve",
]
