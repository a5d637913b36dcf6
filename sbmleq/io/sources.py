"""One loader for every kind of model input.

``load`` accepts a path (``str`` or ``pathlib.Path``) to an SBML file, SBML text (it starts with
``<``), Antimony text, a ``roadrunner.RoadRunner``, a ``libsbml.SBMLDocument``, a BioModels id
(``BIOMD0000000012``: looked up offline, in the shipped set ``sbmleq/data/biomodels`` and then in
the cache ``$SBMLEQ_CACHE/biomodels`` or ``~/.cache/sbmleq/biomodels``), or a
:class:`~sbmleq.core.network.Network`. ``load_sbml_text`` brings any of them to SBML text in this one
place, for other consumers (the roadrunner solver). roadrunner, antimony and libsbml are imported
only when needed, so ``import sbmleq.io.sources`` is fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbmleq.errors import InputError
from sbmleq.core.network import Network
from sbmleq.io.sbml_export import network_to_sbml

if TYPE_CHECKING:
    import libsbml

_IGNORABLE_XML = {1002}  # missing encoding attribute in the XML declaration
BIOMODELS_ID = re.compile(r"^(BIOMD|MODEL)\d{10}$")
_ANTIMONY_HINT = re.compile(r"->|=|;|\n")
_PATH_SUFFIX = re.compile(r"\.(xml|sbml|ant|antimony)$", re.I)


def biomodels_cache_dir() -> Path:
    """Where fetched BioModels files live: ``$SBMLEQ_CACHE/biomodels`` or ``~/.cache/sbmleq/biomodels``."""
    root = os.environ.get("SBMLEQ_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "sbmleq"
    return base / "biomodels"


def shipped_biomodels_dir() -> Path:
    """The BioModels files that ship with the package (may not exist)."""
    return Path(__file__).resolve().parents[1] / "data" / "biomodels"


def find_biomodel(model_id: str) -> Path | None:
    """The local file of a BioModels id (shipped set first, then the cache), or None."""
    for folder in (shipped_biomodels_dir(), biomodels_cache_dir()):
        path = folder / f"{model_id}.xml"
        if path.is_file():
            return path
    return None


def _exists(path: Path | str) -> bool:
    """``Path.exists`` that answers False for strings that cannot be paths (too long, NUL...)."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def _missing(path: Path, display: str, element: str | None = None) -> InputError:
    return InputError("not a file" if _exists(path) else "file not found", source=display,
                      element=element)


def _is_sbml_document(obj: Any) -> bool:
    if type(obj).__name__ != "SBMLDocument":
        return False
    import libsbml

    return isinstance(obj, libsbml.SBMLDocument)


def antimony_to_sbml(text: str, name: str = "<antimony>") -> tuple[str, str]:
    """SBML text of the main module of an Antimony model, and the module name."""
    import antimony

    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        error = " ".join((antimony.getLastError() or "unknown error").split())
        raise InputError(f"invalid Antimony: {error}", source=name, element="antimony")
    module = antimony.getMainModuleName()
    sbml = antimony.getSBMLString(module) if module else ""
    if not sbml:
        error = " ".join((antimony.getLastError() or "no model was produced").split())
        raise InputError(f"Antimony gave no SBML: {error}", source=name,
                         element=f"module {module}" if module else "antimony")
    return sbml, module


def _read_path(path: Path, display: str) -> str:
    if not (_exists(path) and path.is_file()):
        raise _missing(path, display)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


ANTIMONY_SUFFIXES = (".ant", ".antimony")


def _read_model_file(path: Path, display: str) -> str:
    """SBML text of a model file: an SBML file as it is, an Antimony file (``.ant``) converted."""
    text = _read_path(path, display)
    if path.suffix.lower() in ANTIMONY_SUFFIXES and not text.lstrip().startswith("<"):
        return antimony_to_sbml(text, display)[0]
    return text


def _biomodel_path(model_id: str) -> Path:
    path = find_biomodel(model_id)
    if path is None:
        raise InputError(f"BioModels model {model_id} is not available offline (not shipped, not in "
                         f"the cache {biomodels_cache_dir()}): run `sbmleq biomodels fetch {model_id}` "
                         "first", source=model_id, element=model_id)
    return path


def _classify_string(text: str) -> str:
    """One of 'sbml', 'path', 'biomodels', 'antimony' for a string source; InputError when it
    is empty or blank (which would otherwise name the working directory)."""
    stripped = text.strip()
    if not stripped:
        raise InputError("empty model source: give a path, SBML or Antimony text, or a "
                         "BioModels id")
    if stripped.startswith("<"):
        return "sbml"
    if BIOMODELS_ID.match(stripped) and not _exists(text):
        return "biomodels"
    if "\n" not in text and (_exists(text) or _PATH_SUFFIX.search(stripped)):
        return "path"
    return "antimony" if _ANTIMONY_HINT.search(text) else "path"


def load_sbml_text(source: Any, *, name: str | None = None) -> tuple[str, str]:
    """Any supported source as ``(sbml_text, display_name)`` (a Network is exported to SBML)."""
    if isinstance(source, Network):
        return network_to_sbml(source), name or source.name or "network"
    if isinstance(source, Path):
        return _read_model_file(source, name or str(source)), name or str(source)
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    if isinstance(source, str):
        kind = _classify_string(source)
        if kind == "sbml":
            return source, name or "<SBML string>"
        if kind == "biomodels":
            model_id = source.strip()
            return _read_path(_biomodel_path(model_id), model_id), name or model_id
        if kind == "antimony":
            sbml, module = antimony_to_sbml(source, name or "<antimony>")
            return sbml, name or f"<antimony {module}>"
        return _read_model_file(Path(source), name or source), name or source
    if hasattr(source, "getCurrentSBML"):  # a roadrunner.RoadRunner, without importing roadrunner
        try:
            sbml = source.getCurrentSBML()
        except Exception as exc:  # noqa: BLE001 - roadrunner raises plain RuntimeErrors
            raise InputError(f"could not get SBML from the RoadRunner object: {exc}",
                             source=name or "<RoadRunner>") from None
        return sbml, name or f"<RoadRunner {_model_id(sbml) or 'model'}>"
    if _is_sbml_document(source):
        import libsbml

        model = source.getModel()
        label = model.getId() if model is not None and model.getId() else "document"
        return libsbml.writeSBMLToString(source), name or f"<SBMLDocument {label}>"
    raise InputError(f"cannot load a {type(source).__name__}: give a path, SBML or Antimony text, "
                     "a BioModels id, a RoadRunner, a libsbml.SBMLDocument or a Network",
                     source=name or "<input>", element=type(source).__name__)


def _root_tag(head: str) -> str:
    head = re.sub(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", "", head, flags=re.S)
    match = re.search(r"<\s*([A-Za-z_][\w.:-]*)", head)
    return match.group(1) if match else ""


def parse_sbml_text(text: str, source_name: str) -> "libsbml.SBMLDocument":
    """Parse SBML text (never taken for a path), or :class:`InputError` naming the problem."""
    import libsbml

    return _check_read_errors(libsbml.readSBMLFromString(text), text[:65536], source_name)


def read_document(source: Any, source_name: str) -> "libsbml.SBMLDocument":
    """An SBMLDocument of our own (a clone, a string or a file), or :class:`InputError`."""
    import libsbml

    if isinstance(source, libsbml.SBMLDocument):
        doc, head = source.clone(), ""
    else:
        if isinstance(source, bytes):
            source = source.decode("utf-8", errors="replace")
        if isinstance(source, str) and source.lstrip().startswith("<"):
            doc, head = libsbml.readSBMLFromString(source), source[:65536]
        else:
            path = Path(source)
            if not (_exists(path) and path.is_file()):
                where = str(path.absolute()) if str(path) != source_name else None
                raise _missing(path, source_name, where)
            with path.open("rb") as fh:
                head = fh.read(65536).decode("latin-1")
            doc = libsbml.readSBMLFromFile(str(path))
    return _check_read_errors(doc, head, source_name)


def _check_read_errors(doc: "libsbml.SBMLDocument", head: str,
                       source_name: str) -> "libsbml.SBMLDocument":
    import libsbml

    errors = [doc.getError(i) for i in range(doc.getNumErrors())]
    serious = [e for e in errors if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR
               and e.getErrorId() not in _IGNORABLE_XML]
    xml = [e for e in serious if e.getErrorId() < 10000]
    if xml:
        e = xml[0]
        raise InputError(f"malformed XML: {e.getShortMessage()} ({e.getMessage().strip()})",
                         source=source_name, element=f"line {e.getLine()}")
    root = _root_tag(head) if head else "sbml"
    if root.split(":")[-1] != "sbml":
        raise InputError(f"not an SBML document: the XML root element is <{root}>, not <sbml>",
                         source=source_name, element=f"<{root}>")
    ignorable = {id(e) for e in ignorable_read_errors(doc, serious)}
    fatal = [e for e in serious if id(e) not in ignorable]
    if fatal:
        e = fatal[0]
        more = f" (and {len(fatal) - 1} more errors)" if len(fatal) > 1 else ""
        raise InputError(f"invalid SBML: {error_detail(e)}{more}",
                         source=source_name, element=f"line {e.getLine()}")
    if doc.getModel() is None:
        raise InputError("the SBML document has no model", source=source_name, element="model")
    return doc


def error_detail(error: Any) -> str:
    """The specific last line of a libsbml error message (the rest is the rule's generic text)."""
    lines = [" ".join(x.split()) for x in error.getMessage().splitlines() if x.strip()]
    return (lines[-1] if lines else error.getShortMessage())[:300]


def ignorable_read_errors(doc: "libsbml.SBMLDocument",
                          errors: list[Any] | None = None) -> list[Any]:
    """Read errors that do not touch the math: unknown layout/render package content (seen in
    curated BioModels files) in a document whose model was read."""
    import libsbml

    if errors is None:
        errors = [doc.getError(i) for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    return [e for e in errors if e.getErrorId() in (10102, 10103) and doc.getModel() is not None
            and "package" in e.getMessage().lower()]


def check_references(source: "str | libsbml.SBMLDocument", name: str) -> None:
    """Raise :class:`InputError` when the document refers to something it does not define: a
    reaction's species, an identifier in a kinetic law or rule, a rule's or assignment's target,
    a species' compartment, or an id defined twice (libsbml's identifier, component and MathML
    consistency rules; other rules, units and modelling practice are not checked). ``source`` is
    SBML text or a document (not modified). Cheap next to a roadrunner compile."""
    import libsbml

    wanted = {libsbml.LIBSBML_CAT_IDENTIFIER_CONSISTENCY, libsbml.LIBSBML_CAT_GENERAL_CONSISTENCY,
              libsbml.LIBSBML_CAT_MATHML_CONSISTENCY}
    reference_rules = {10214, 10215,  # a <ci> that names no function / no model component
                       10301, 10302, 10303,  # duplicate id (component, unit, local parameter)
                       20504, 20601,  # undefined outside compartment / species compartment
                       20801, 20901, 20902,  # undefined initialAssignment / rule target
                       21111, 21131, 21211}  # undefined (modifier) species reference, event target
    doc = source.clone() if _is_sbml_document(source) else libsbml.readSBMLFromString(source)
    if doc.getModel() is None:
        return
    for category in (libsbml.LIBSBML_CAT_GENERAL_CONSISTENCY,
                     libsbml.LIBSBML_CAT_IDENTIFIER_CONSISTENCY,
                     libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, libsbml.LIBSBML_CAT_MATHML_CONSISTENCY,
                     libsbml.LIBSBML_CAT_SBO_CONSISTENCY, libsbml.LIBSBML_CAT_OVERDETERMINED_MODEL,
                     libsbml.LIBSBML_CAT_MODELING_PRACTICE):
        doc.setConsistencyChecks(category, category in wanted)
    doc.getErrorLog().clearLog()
    doc.checkConsistency()
    bad = [doc.getError(i) for i in range(doc.getNumErrors())
           if doc.getError(i).getErrorId() in reference_rules
           and doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if not bad:
        return
    line, element, start = bad[0].getLine(), f"line {bad[0].getLine()}", 0
    for item in doc.getListOfAllElements():  # the named element starting last before the error
        sid = item.getId() if item.isSetId() else ""
        if sid and start <= item.getLine() <= line and item.getTypeCode() != libsbml.SBML_MODEL:
            element, start = f"{item.getElementName()} {sid}", item.getLine()
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    raise InputError(f"invalid SBML: {error_detail(bad[0])}{more}", source=name,
                     element=element)


def _model_id(sbml: str) -> str:
    match = re.search(r"<model\b[^>]*\bid=\"([^\"]*)\"", sbml[:20000])
    return match.group(1) if match else ""
