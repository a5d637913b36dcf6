"""``load``: any supported model source as an :class:`~sbmleq.io.sbml_import.ImportResult`.

See :mod:`sbmleq.io.sources` for what a source may be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sbmleq.core.network import Network
from sbmleq.io.sbml_import import ImportResult, import_sbml, result_from_network
from sbmleq.io.sources import _biomodel_path, _classify_string, _is_sbml_document, load_sbml_text


def load(source: Any, *, name: str | None = None) -> ImportResult:
    """Import any supported source (see the module docstring) as an ``ImportResult``."""
    if isinstance(source, Network):
        return result_from_network(source, name)
    if _is_sbml_document(source):
        model = source.getModel()
        label = model.getId() if model is not None and model.getId() else "document"
        return import_sbml(source, source_name=name or f"<SBMLDocument {label}>")
    if isinstance(source, (str, Path)) and (isinstance(source, Path)
                                            or _classify_string(source) == "path"):
        return import_sbml(Path(source), source_name=name or str(source))
    if isinstance(source, str) and _classify_string(source) == "biomodels":
        model_id = source.strip()
        return import_sbml(_biomodel_path(model_id), source_name=name or model_id)
    text, display = load_sbml_text(source, name=name)
    return import_sbml(text, source_name=display)
