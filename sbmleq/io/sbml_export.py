"""Write a LIFE :class:`~sbmleq.core.network.Network` as SBML Level 3 Version 2.

The model has one compartment and one species per node, all concentrations
(``hasOnlySubstanceUnits="false"``, initial concentration 0). Every flux is a reaction whose
kinetic law is in substance per time, as SBML requires, so each law carries the compartment:

- intake into ``S``: ``-> S`` with law ``phi_S * compartment``;
- edge ``S -> T``: ``S -> T`` with law ``k_S_T * S * compartment``;
- excretion of ``S``: ``S ->`` with law ``e_S * S * compartment``.

Rate constants are global parameters with predictable ids (``k_<src>_<dst>``, ``phi_<node>``,
``e_<node>``), so a roadrunner parameter scan can set them by name. Node ids that are not valid
SBML SIds are mapped deterministically (invalid characters become ``_``, a leading digit gets a
``_`` prefix, clashes get a ``_2``, ``_3``... suffix); every species keeps the node id in its
``name`` and the model carries an ``sbmleq:network`` annotation, which tells
:func:`sbmleq.io.sbml_import.import_sbml` to map species back to node ids through their names.
Parameter values and the compartment size are written with full double precision (``repr``),
so that export then import reproduces the network exactly.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sbmleq.errors import InputError
from sbmleq.core.network import Network

if TYPE_CHECKING:
    import libsbml

#: Namespace of the model annotation that marks files written by sbmleq.
SBMLEQ_NS = "https://sbmleq.invalid/ns/network/1"
SBMLEQ_ANNOTATION = (f'<annotation><sbmleq:network xmlns:sbmleq="{SBMLEQ_NS}" '
                     f'version="1" node_ids="species-names"/></annotation>')

_SID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMPARTMENT = "compartment"


def is_valid_sid(text: str) -> bool:
    """True if ``text`` is a valid SBML SId (letters, digits, ``_``; not starting with a digit)."""
    return bool(_SID_RE.match(text))


def to_sid(text: str) -> str:
    """Map any string to a valid SId (without uniqueness: see :func:`unique_sid`)."""
    sid = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not sid or sid[0].isdigit():
        sid = "_" + sid
    return sid


def unique_sid(text: str, used: set[str]) -> str:
    """``to_sid(text)``, with a ``_2``, ``_3``... suffix if already in ``used``; adds it to ``used``."""
    base = to_sid(text)
    sid, k = base, 1
    while sid in used:
        k += 1
        sid = f"{base}_{k}"
    used.add(sid)
    return sid


def _check(rc: int, what: str) -> None:
    import libsbml

    if rc != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise InputError(f"libsbml refused to set {what}: {libsbml.OperationReturnValue_toString(rc)}",
                         source="sbml export")


def _product_of_names(*names: str) -> "libsbml.ASTNode":
    import libsbml

    node = libsbml.ASTNode(libsbml.AST_TIMES)
    for name in names:
        child = libsbml.ASTNode(libsbml.AST_NAME)
        child.setName(name)
        node.addChild(child)
    return node


def _unit_definition(model: "libsbml.Model", uid: str, units: list[tuple[int, int]]) -> None:
    ud = model.createUnitDefinition()
    ud.setId(uid)
    for kind, exponent in units:
        unit = ud.createUnit()
        unit.setKind(kind)
        unit.setExponent(exponent)
        unit.setScale(0)
        unit.setMultiplier(1.0)


def _add_reaction(model: "libsbml.Model", rid: str, reactant: str | None, product: str | None,
                  law: "libsbml.ASTNode") -> None:
    rxn = model.createReaction()
    rxn.setId(rid)
    rxn.setReversible(False)
    for sid, make in ((reactant, rxn.createReactant), (product, rxn.createProduct)):
        if sid is not None:
            ref = make()
            ref.setSpecies(sid)
            ref.setStoichiometry(1.0)
            ref.setConstant(True)
    _check(rxn.createKineticLaw().setMath(law), f"the kinetic law of {rid}")


def network_to_document(
    net: Network, *, model_id: str | None = None, compartment_volume: float = 1.0,
) -> tuple["libsbml.SBMLDocument", dict[str, float]]:
    """Build the libsbml document; also return the exact values of parameters and compartment."""
    import libsbml

    if not (sys.float_info.min <= compartment_volume < float("inf")):
        raise InputError(f"compartment volume must be finite and > 0, got {compartment_volume!r}",
                         source=net.name or "network", element="compartment")
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    _check(model.setId(to_sid(model_id or net.name or "sbmleq_network")), "the model id")
    model.setName(net.name or model.getId())
    for attr in ("Substance", "Extent"):
        getattr(model, f"set{attr}Units")("mole")
    model.setTimeUnits("second")
    model.setVolumeUnits("litre")
    _unit_definition(model, "per_second", [(libsbml.UNIT_KIND_SECOND, -1)])
    _unit_definition(model, "mole_per_litre_per_second",
                     [(libsbml.UNIT_KIND_MOLE, 1), (libsbml.UNIT_KIND_LITRE, -1),
                      (libsbml.UNIT_KIND_SECOND, -1)])
    _check(model.setAnnotation(SBMLEQ_ANNOTATION), "the model annotation")

    used: set[str] = set()
    sids = [unique_sid(node, used) for node in net.nodes]
    comp_id = unique_sid(_COMPARTMENT, used)
    values: dict[str, float] = {comp_id: float(compartment_volume)}
    comp = model.createCompartment()
    comp.setId(comp_id)
    comp.setSpatialDimensions(3)
    comp.setSize(float(compartment_volume))
    comp.setConstant(True)
    for node, sid in zip(net.nodes, sids):
        sp = model.createSpecies()
        _check(sp.setId(sid), f"species id {sid!r}")
        sp.setName(node)
        sp.setCompartment(comp_id)
        sp.setInitialConcentration(0.0)
        sp.setHasOnlySubstanceUnits(False)
        sp.setBoundaryCondition(False)
        sp.setConstant(False)

    def parameter(stem: str, value: float, units: str, element: str) -> str:
        if 0 < abs(value) < sys.float_info.min:  # libsbml reads subnormal doubles as errors
            raise InputError(f"value {float(value)!r} is subnormal: SBML readers (libsbml) cannot read it",
                             source=net.name or "network", element=element)
        pid = unique_sid(stem, used)
        par = model.createParameter()
        par.setId(pid)
        par.setValue(float(value))
        par.setUnits(units)
        par.setConstant(True)
        values[pid] = float(value)
        return pid

    for k in net.intake_nodes:
        sid = sids[k]
        pid = parameter(f"phi_{sid}", net.intake[k], "mole_per_litre_per_second",
                        f"intake of {net.nodes[k]}")
        _add_reaction(model, unique_sid(f"intake_{sid}", used), None, sid,
                      _product_of_names(pid, comp_id))
    for s, t, w in zip(net.src, net.dst, net.weight):
        a, b = sids[int(s)], sids[int(t)]
        pid = parameter(f"k_{a}_{b}", w, "per_second",
                        f"edge {net.nodes[int(s)]}->{net.nodes[int(t)]}")
        _add_reaction(model, unique_sid(f"edge_{a}_{b}", used), a, b,
                      _product_of_names(pid, a, comp_id))
    for k in net.excreting_nodes:
        sid = sids[k]
        pid = parameter(f"e_{sid}", net.excretion[k], "per_second", f"excretion of {net.nodes[k]}")
        _add_reaction(model, unique_sid(f"excretion_{sid}", used), sid, None,
                      _product_of_names(pid, sid, comp_id))
    return doc, values


_VALUE_ATTR = re.compile(r'<(parameter|compartment)\b([^>]*?)\bid="([^"]+)"([^>]*?)>')


def _full_precision(text: str, values: dict[str, float]) -> str:
    """libsbml writes doubles with 15 significant digits: rewrite ours with ``repr``."""

    def fix(match: re.Match[str]) -> str:
        tag, sid = match.group(1), match.group(3)
        if sid not in values:
            return match.group(0)
        attr = "value" if tag == "parameter" else "size"
        return re.sub(rf'\b{attr}="[^"]*"', f'{attr}="{values[sid]!r}"', match.group(0), count=1)

    return _VALUE_ATTR.sub(fix, text)


def network_to_sbml(net: Network, *, model_id: str | None = None,
                    compartment_volume: float = 1.0) -> str:
    """The network as SBML L3V2 text (see the module docstring for the mapping)."""
    import libsbml

    doc, values = network_to_document(net, model_id=model_id, compartment_volume=compartment_volume)
    return _full_precision(libsbml.writeSBMLToString(doc), values)


def write_sbml(net: Network, path: str | Path, *, model_id: str | None = None,
               compartment_volume: float = 1.0) -> Path:
    """Write :func:`network_to_sbml` to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(network_to_sbml(net, model_id=model_id, compartment_volume=compartment_volume),
                    encoding="utf-8")
    return path
