"""One request's model source, read once: the SBML text, its parsed document, its import.

:func:`open_source` turns anything :func:`sbmleq.io.loader.load` accepts into a
:class:`ModelSource`. The file is read (or the Antimony converted, or the RoadRunner asked for its
SBML) once; the document is parsed once, on first use, and every consumer of the request — the
importer, the initial state, the roadrunner check, the unit conversion, a parameter scan — uses
that same text and document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sbmleq.core.life_bridge import reaction_network_from_life
from sbmleq.core.network import Network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.io.general_import import GeneralImport, import_reaction_network
from sbmleq.io.initial import initial_values
from sbmleq.io.sbml_import import ImportResult, import_document, result_from_network
from sbmleq.io.sources import _is_sbml_document, load_sbml_text, parse_sbml_text, read_document

if TYPE_CHECKING:
    import libsbml


@dataclass
class ModelSource:
    """A model source, read once. ``network`` is set for a :class:`Network` source (no SBML)."""

    display: str
    text: str | None = None
    network: Network | None = None
    reaction_network: ReactionNetwork | None = None  # a ReactionNetwork source (no SBML)
    _document: Any = field(default=None, repr=False)
    _imported: ImportResult | None = field(default=None, repr=False)
    _general: GeneralImport | None = field(default=None, repr=False)

    @property
    def document(self) -> "libsbml.SBMLDocument":
        """The parsed, checked document (:class:`~sbmleq.errors.InputError` when unreadable)."""
        if self._document is None:
            if self.text is None:
                raise TypeError("a Network source has no SBML document")
            self._document = parse_sbml_text(self.text, self.display)
        return self._document

    @property
    def model(self) -> "libsbml.Model":
        return self.document.getModel()

    def imported(self) -> ImportResult:
        """The import (done once per source)."""
        if self._imported is None:
            if self.network is not None:
                self._imported = result_from_network(self.network, self.display)
            else:
                self._imported = import_document(self.document, source_name=self.display)
        return self._imported

    def general(self) -> GeneralImport:
        """The import as a general reaction network (done once per source). A LIFE
        :class:`Network` source converts exactly (initial values 0: it has none)."""
        if self._general is None:
            if self.reaction_network is not None:
                self._general = GeneralImport(self.reaction_network, source_name=self.display,
                                              families={r.id: r.family for r in
                                                        self.reaction_network.reactions})
            elif self.network is not None:
                rn = reaction_network_from_life(self.network)
                self._general = GeneralImport(rn, source_name=self.display,
                                              families={r.id: r.family for r in rn.reactions})
            else:
                self._general = import_reaction_network(self.document, self.display)
        return self._general

    def initial_state(self, net: Network, node_species: dict[str, str]) -> np.ndarray:
        """The network's initial state in its units (zeros for a Network source; NaN where the
        SBML gives no value)."""
        if self.network is not None or self.text is None:
            return np.zeros(net.n_nodes)
        ids = [node_species.get(n, n) for n in net.nodes]
        values = initial_values(self.model, ids)
        return np.array([values[s] for s in ids], dtype=np.float64)


def open_source(source: Any, *, name: str | None = None) -> ModelSource:
    """Read ``source`` once (see :mod:`sbmleq.io.sources` for what it may be)."""
    if isinstance(source, ModelSource):
        return source
    if isinstance(source, Network):
        return ModelSource(name or source.name or "network", network=source)
    if isinstance(source, ReactionNetwork):
        return ModelSource(name or source.name or "network", reaction_network=source)
    if _is_sbml_document(source):
        model = source.getModel()
        label = model.getId() if model is not None and model.getId() else "document"
        display = name or f"<SBMLDocument {label}>"
        text, _ = load_sbml_text(source, name=display)
        return ModelSource(display, text, _document=read_document(source, display))
    text, display = load_sbml_text(source, name=name)
    return ModelSource(display, text)
