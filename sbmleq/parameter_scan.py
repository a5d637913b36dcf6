"""Parameter scans of one LIFE model: which network numbers each scan column changes.

``scan_arrays`` turns the user's columns (SBML parameter ids, ``reaction.parameter`` for a local
parameter, edges ``"A->B"``, ``"intake:A"``, ``"excretion:A"``) into per-set weight, intake and
excretion arrays. An SBML parameter is followed into every rate it scales by re-importing the
model's document with the parameter at 2x and 3x its value (rates must scale as powers of it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sbmleq.core.network import Network
from sbmleq.errors import InputError
from sbmleq.io.request import ModelSource
from sbmleq.io.sbml_import import ImportResult, import_document


def _columns(parameters: Any) -> tuple[dict[Any, np.ndarray], Any]:
    """Parameter sets as {key: (K,) float array} plus the DataFrame index (if any)."""
    index = None
    if hasattr(parameters, "columns") and hasattr(parameters, "index"):  # a DataFrame
        index = parameters.index
        raw = {c: parameters[c].to_numpy() for c in parameters.columns}
    elif isinstance(parameters, Mapping):
        raw = dict(parameters)
    else:
        raise InputError("scan parameters must be a pandas DataFrame or a mapping of arrays "
                         f"(got {type(parameters).__name__})", element="parameters")
    if not raw:
        raise InputError("scan needs at least one parameter column", element="parameters")
    columns: dict[Any, np.ndarray] = {}
    for key, values in raw.items():
        try:
            columns[key] = np.atleast_1d(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError):
            raise InputError(f"scan values for {key!r} are not numbers",
                             element=str(key)) from None
        if columns[key].ndim != 1 or not np.all(np.isfinite(columns[key])):
            raise InputError(f"scan values for {key!r} must be a 1-d array of finite numbers",
                             element=str(key))
    sizes = {len(v) for v in columns.values() if len(v) != 1}
    if len(sizes) > 1:
        raise InputError(f"scan columns differ in length ({sorted(sizes)})", element="parameters")
    k_sets = sizes.pop() if sizes else 1
    return {k: np.broadcast_to(v, (k_sets,)).copy() for k, v in columns.items()}, index


class _Resolver:
    """Maps scan keys (edges, intakes, excretions, SBML parameters) onto network arrays."""

    def __init__(self, source: ModelSource, imported: ImportResult):
        self.source, self.imported, self.display = source, imported, source.display
        self.net: Network = imported.network  # type: ignore[assignment]
        self.node_of = {sid: node for node, sid in imported.node_species.items()}

    def node(self, name: Any, key: Any) -> int:
        name = str(name)
        node = self.node_of.get(name, name)
        try:
            return self.net.index(node)
        except KeyError:
            raise InputError(f"scan key {key!r}: {name!r} is not a species of the network "
                             f"(species: {', '.join(self.net.nodes[:8])}"
                             f"{'...' if self.net.n_nodes > 8 else ''})",
                             source=self.display, element=str(key)) from None

    def label(self, what: str, pos: int) -> str:
        net = self.net
        if what == "weight":
            return f"edge {net.nodes[net.src[pos]]}->{net.nodes[net.dst[pos]]}"
        return f"{what} of {net.nodes[pos]}"

    def direct_target(self, key: Any) -> tuple[str, int, str] | None:
        """(array, position, label) for an edge/intake/excretion key; None for a parameter."""
        if isinstance(key, tuple):
            if len(key) != 2:
                raise InputError(f"scan key {key!r}: a tuple key is (source, target), "
                                 "('intake', species) or ('excretion', species)",
                                 source=self.display, element=str(key))
            a, b = (str(k) for k in key)
        elif isinstance(key, str) and "->" in key:
            a, b = (part.strip() for part in key.split("->", 1))
        elif isinstance(key, str) and ":" in key:
            a, b = (part.strip() for part in key.split(":", 1))
            if a not in ("intake", "excretion"):
                raise InputError(f"scan key {key!r}: use 'intake:SPECIES' or 'excretion:SPECIES'",
                                 source=self.display, element=key)
        else:
            return None
        if a in ("intake", "excretion") and "->" not in str(key):
            pos = self.node(b, key)
            return a, pos, self.label(a, pos)
        s, t = self.node(a, key), self.node(b, key)
        hit = np.flatnonzero((self.net.src == s) & (self.net.dst == t))
        if not len(hit):
            raise InputError(f"scan key {key!r}: the network has no edge "
                             f"{self.net.nodes[s]}->{self.net.nodes[t]} (a scan keeps the "
                             "topology)", source=self.display, element=str(key))
        return "weight", int(hit[0]), self.label("weight", int(hit[0]))

    # -------------------------------------------------------------- SBML parameters
    def _document(self) -> Any:
        """A fresh copy of the request's document, to change one parameter in."""
        if self.source.network is not None:
            raise InputError("a Network has no SBML parameters: scan its edges ('A->B'), "
                             "'intake:A' or 'excretion:A'", source=self.display)
        return self.source.document.clone()

    def _reimport(self, key: str, value: float) -> Network:
        doc = self._document()
        self._parameter(doc.getModel(), key).setValue(value)
        result = import_document(doc, source_name=self.display)  # doc: our own copy
        if not result.in_class or result.network is None:
            raise InputError(f"scan parameter {key!r} = {value:g} takes the model out of the "
                             f"LIFE class ({'; '.join(map(str, result.reasons[:1]))})",
                             source=self.display, element=key)
        net = result.network
        if (net.nodes != self.net.nodes or not np.array_equal(net.src, self.net.src)
                or not np.array_equal(net.dst, self.net.dst)):
            raise InputError(f"changing scan parameter {key!r} changes the network's topology",
                             source=self.display, element=key)
        return net

    def _parameter(self, model: Any, key: str) -> Any:
        if "." in key:
            rid, pid = key.split(".", 1)
            rxn = model.getReaction(rid)
            law = rxn.getKineticLaw() if rxn is not None else None
            par = None
            if law is not None:
                par = law.getLocalParameter(pid) if model.getLevel() >= 3 else law.getParameter(pid)
        else:
            par = model.getParameter(key)
        if par is None:
            raise InputError(f"unknown scan key {key!r}: give an SBML parameter id, "
                             "'reaction.parameter' for a local parameter, an edge 'A->B', "
                             "'intake:A' or 'excretion:A'", source=self.display, element=key)
        return par

    def parameter_effects(self, key: str) -> tuple[float, list[tuple[str, int, float]]]:
        """The parameter's base value and the (array, position, exponent) of every rate it
        scales. Found by re-importing with the parameter at 2x and 3x its value; a rate that
        does not scale as a power of the parameter is rejected."""
        par = self._parameter(self._document().getModel(), key)
        base = par.getValue() if par.isSetValue() else math.nan
        if not (math.isfinite(base) and base > 0):
            raise InputError(f"scan parameter {key!r} has value {base!r} in the model: scaling "
                             "needs a positive value; scan the edge or intake it sets instead",
                             source=self.display, element=key)
        nets = {f: self._reimport(key, base * f) for f in (2.0, 3.0)}
        effects: list[tuple[str, int, float]] = []
        for what in ("weight", "intake", "excretion"):
            v0 = getattr(self.net, what)
            v2, v3 = getattr(nets[2.0], what), getattr(nets[3.0], what)
            for pos in np.flatnonzero(~np.isclose(v2, v0, rtol=1e-12, atol=0.0)):
                label = self.label(what, int(pos))
                if v0[pos] <= 0 or v2[pos] <= 0:
                    raise InputError(f"scan parameter {key!r} switches {label} on or off: scan "
                                     "it by its edge/intake/excretion key", source=self.display,
                                     element=key)
                a = math.log(v2[pos] / v0[pos]) / math.log(2.0)
                if abs(a - round(a)) < 1e-9:
                    a = float(round(a))
                if not math.isclose(v3[pos], v0[pos] * 3.0 ** a, rel_tol=1e-9):
                    raise InputError(f"scan parameter {key!r} does not scale {label} as a power "
                                     "(e.g. it enters a sum): scan that rate directly",
                                     source=self.display, element=key)
                effects.append((what, int(pos), a))
        if not effects:
            raise InputError(f"scan parameter {key!r} changes no rate of the network (unused, or "
                             "overridden by a rule or initial assignment)",
                             source=self.display, element=key)
        return base, effects


def scan_arrays(source: ModelSource, imported: ImportResult, parameters: Any
                ) -> tuple[dict[str, np.ndarray], dict[Any, np.ndarray], dict[str, str], Any]:
    """``(arrays, columns, mapping, index)``: per-set ``weight`` (K, E), ``intake`` and
    ``excretion`` (K, n); the scanned columns; what each column changes; the DataFrame index."""
    display = source.display
    net = imported.require_in_class()
    columns, index = _columns(parameters)
    k_sets = len(next(iter(columns.values())))
    arrays = {"weight": np.array(np.broadcast_to(net.weight, (k_sets, net.n_edges))),
              "intake": np.array(np.broadcast_to(net.intake, (k_sets, net.n_nodes))),
              "excretion": np.array(np.broadcast_to(net.excretion, (k_sets, net.n_nodes)))}
    mapping: dict[str, str] = {}
    direct: dict[tuple[str, int], str] = {}
    scaled: list[tuple[str, np.ndarray, list[tuple[str, int, float]], float]] = []
    resolver = _Resolver(source, imported)
    for key, values in columns.items():
        target = resolver.direct_target(key)
        if target is not None:
            what, pos, label = target
            if not np.all(values > 0 if what == "weight" else values >= 0):
                raise InputError(f"scan values for {key!r} must be finite and "
                                 f"{'> 0' if what == 'weight' else '>= 0'}",
                                 source=display, element=str(key))
            arrays[what][:, pos] = values
            direct[(what, pos)] = str(key)
            mapping[str(key)] = label
            continue
        if not np.all(values > 0):
            raise InputError(f"scan values for parameter {key!r} must be finite and > 0",
                             source=display, element=str(key))
        base, effects = resolver.parameter_effects(str(key))
        scaled.append((str(key), values, effects, base))
        mapping[str(key)] = "; ".join(
            f"{resolver.label(what, pos)} x ({key}/{base:g}){f'^{a:g}' if a != 1 else ''}"
            for what, pos, a in effects)
    for key, values, effects, base in scaled:
        for what, pos, a in effects:
            if (what, pos) in direct:
                raise InputError(f"{key!r} and {direct[(what, pos)]!r} both set "
                                 f"{resolver.label(what, pos)}: give only one",
                                 source=display, element=key)
            arrays[what][:, pos] *= (values / base) ** a
    return arrays, {str(k): v for k, v in columns.items()}, mapping, index
