"""``load``: any supported model source as an :class:`~sbmleq.io.sbml_import.ImportResult`.

See :mod:`sbmleq.io.sources` for what a source may be (a path to an SBML or Antimony file, SBML or
Antimony text, a RoadRunner, a libsbml document, a BioModels id, a Network); the source is read
and parsed once (:mod:`sbmleq.io.request`).
"""

from __future__ import annotations

from typing import Any

from sbmleq.io.request import open_source
from sbmleq.io.sbml_import import ImportResult


def load(source: Any, *, name: str | None = None) -> ImportResult:
    """Import any supported source (see the module docstring) as an ``ImportResult``."""
    return open_source(source, name=name).imported()
