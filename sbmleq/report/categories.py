"""Report categories of result rows, counted from codes (never from the reasons' wording).

Out-of-class reasons: each row's ``reason_codes`` (``Reason.to_dict()``: code, element,
reaction, species, message) gives one :class:`ReasonEntry` per reason; its category is the
code's :attr:`~sbmleq.io.reasons.ReasonCode.label`, refined for ``not_first_order`` and
``modifier`` by the row's ``kinetics`` label of the reason's ``reaction`` (Michaelis-Menten, Hill,
mass action, ...). A row of an earlier version without ``reason_codes`` gives one ``other``
entry per sentence in ``reasons``; an unknown code is ``other`` too.

Errors (rows that are input_error / import_failure): the row's ``error_code`` (the exception
class name, see :mod:`sbmleq.validation.worker`), else its ``error_type``, else ``other``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sbmleq.io.reasons import ReasonCode

__all__ = ["OTHER", "ReasonEntry", "code_label", "error_code", "error_label", "model_categories", "model_codes",
           "reason_entries"]

OTHER = "other"

_NOT_FIRST_ORDER = {
    "michaelis-menten": "kinetic law not first-order (Michaelis-Menten, saturating)",
    "hill": "kinetic law not first-order (Hill, cooperative)",
    "mass-action-order-2+": "kinetic law not first-order (mass action of order >= 2)",
    "power-law": "kinetic law not first-order (power law)",
    "other": "kinetic law not first-order (other nonlinear law)",
}
_MODIFIER = {
    "linear": "rate depends on a modifier: linear (k*M, e.g. synthesis driven by M)",
    "mass-action-order-2+": "rate depends on a modifier: mass action (k*E*S, catalysis)",
    "michaelis-menten": "rate depends on a modifier: Michaelis-Menten (enzyme, saturating)",
    "hill": "rate depends on a modifier: Hill (cooperative regulation)",
    "power-law": "rate depends on a modifier: power law",
    "other": "rate depends on a modifier: other law",
}
_ERRORS = {
    "InputError": "unreadable or invalid input (malformed XML, not SBML, invalid SBML, no species)",
    "NetworkError": "invalid parameter value (negative or not finite)",
    "OutOfClassError": "outside the LIFE class",
    "ChildTimeout": "import timed out",
    "ChildCrashed": "import crashed",
}


@dataclass(frozen=True)
class ReasonEntry:
    """One out-of-class reason of a row: its code, kind (the code's own label), category (the
    kind refined by the kinetics label) and text (for people: examples, tooltips)."""

    code: str
    kind: str
    category: str
    text: str


def code_label(code: str) -> str:
    """The report category of a reason code (``other`` for a code this version does not know)."""
    try:
        return ReasonCode(code).label
    except ValueError:
        return OTHER


_label = code_label


def _text(data: dict[str, Any]) -> str:
    message = str(data.get("message") or "")
    reaction = data.get("reaction")
    return f"{reaction}: {message}" if reaction else message


def reason_entries(row: dict[str, Any]) -> list[ReasonEntry]:
    """The reasons of one row (see the module docstring)."""
    codes = row.get("reason_codes")
    if not isinstance(codes, list):
        return [ReasonEntry(OTHER, OTHER, OTHER, str(text)) for text in row.get("reasons") or []]
    kinetics = row.get("kinetics") if isinstance(row.get("kinetics"), dict) else {}
    entries = []
    for data in codes:
        if not isinstance(data, dict):
            continue
        code = str(data.get("code") or OTHER)
        kind = _label(code)
        if kind == OTHER:
            code = OTHER
        category = kind
        label = str(kinetics.get(data.get("reaction") or "", "") or "")
        if code == ReasonCode.NOT_FIRST_ORDER.value and label in _NOT_FIRST_ORDER:
            category = _NOT_FIRST_ORDER[label]
        elif code == ReasonCode.MODIFIER.value and label.startswith("modifier:"):
            category = _MODIFIER.get(label[len("modifier:"):], kind)
        entries.append(ReasonEntry(code, kind, category, _text(data)))
    return entries


def model_categories(row: dict[str, Any]) -> list[str]:
    """The distinct reason categories of one row, most frequent in the model first."""
    counts = Counter(e.category for e in reason_entries(row))
    return [c for c, _ in counts.most_common()]


def model_codes(row: dict[str, Any]) -> list[str]:
    """The distinct reason codes of one row, most frequent in the model first."""
    counts = Counter(e.code for e in reason_entries(row))
    return [c for c, _ in counts.most_common()]


def error_code(row: dict[str, Any]) -> str:
    """The error code of a row that is not a result (see the module docstring)."""
    for key in ("error_code", "error_type"):
        value = row.get(key)
        if isinstance(value, str) and value:
            return value
    return OTHER


def error_label(code: str) -> str:
    """What an error code means, for the report."""
    if code in _ERRORS:
        return _ERRORS[code]
    return OTHER if code == OTHER else f"internal error ({code})"
