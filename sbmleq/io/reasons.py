"""Why a model (or one of its reactions) is outside the class: a stable code, the element, a message.

Codes are part of the JSON output and of the batch results; their values never change between
versions (a new kind of reason gets a new code). Reports and batch summaries count codes; the
message is for people only and may be reworded at any time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ReasonCode(str, enum.Enum):
    """One kind of out-of-class reason. ``.label`` is the category a report shows."""

    EVENTS = "events"
    RATE_RULE = "rate_rule"
    ALGEBRAIC_RULE = "algebraic_rule"
    DELAY = "delay"
    TIME_DEPENDENCE = "time_dependence"
    STOICHIOMETRY_NOT_ONE = "stoichiometry_not_one"
    VARIABLE_STOICHIOMETRY = "variable_stoichiometry"
    MULTI_REACTANT = "multi_reactant"
    MULTI_PRODUCT = "multi_product"
    MODIFIER = "modifier"
    NOT_FIRST_ORDER = "not_first_order"
    ZERO_ORDER_TRANSFER = "zero_order_transfer"
    NEGATIVE_RATE = "negative_rate"
    VOLUME_MISMATCH = "volume_mismatch"
    VARIABLE_COMPARTMENT = "variable_compartment"
    CONVERSION_FACTOR = "conversion_factor"
    NON_CONSTANT_ASSIGNMENT = "non_constant_assignment"
    TIME_VARYING_PARAMETER = "time_varying_parameter"
    NO_KINETIC_LAW = "no_kinetic_law"
    NO_FLOATING_SPECIES = "no_floating_species"
    MISSING_VALUE = "missing_value"
    UNSUPPORTED_MATH = "unsupported_math"
    RATE_OF = "rate_of"
    INVALID_VALUE = "invalid_value"
    FAST_REACTION = "fast_reaction"
    NEEDS_GENERAL_MODEL = "needs_general_model"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ReasonCode.EVENTS: "events (discrete changes)",
    ReasonCode.RATE_RULE: "rate rules (ODEs outside reactions)",
    ReasonCode.ALGEBRAIC_RULE: "algebraic rules",
    ReasonCode.DELAY: "delays",
    ReasonCode.TIME_DEPENDENCE: "explicit time dependence",
    ReasonCode.STOICHIOMETRY_NOT_ONE: "stoichiometry != 1",
    ReasonCode.VARIABLE_STOICHIOMETRY: "variable stoichiometry",
    ReasonCode.MULTI_REACTANT: "multi-reactant reaction (A + B -> ...)",
    ReasonCode.MULTI_PRODUCT: "multi-product reaction (A -> B + C)",
    ReasonCode.MODIFIER: "rate depends on a modifier (enzyme, catalyst, regulator)",
    ReasonCode.NOT_FIRST_ORDER: "kinetic law not first-order",
    ReasonCode.ZERO_ORDER_TRANSFER: "zero-order flux between two species",
    ReasonCode.NEGATIVE_RATE: "autocatalysis or zero-order drain (negative rate)",
    ReasonCode.VOLUME_MISMATCH: "compartment volumes differ across a reaction",
    ReasonCode.VARIABLE_COMPARTMENT: "variable compartment size",
    ReasonCode.CONVERSION_FACTOR: "conversion factors",
    ReasonCode.NON_CONSTANT_ASSIGNMENT: "non-constant assigned value",
    ReasonCode.TIME_VARYING_PARAMETER: "time-varying parameter",
    ReasonCode.NO_KINETIC_LAW: "reaction without kinetic law",
    ReasonCode.NO_FLOATING_SPECIES: "no species changed by reactions",
    ReasonCode.MISSING_VALUE: "missing values",
    ReasonCode.UNSUPPORTED_MATH: "unsupported math",
    ReasonCode.RATE_OF: "rateOf (a rate of change used as a value)",
    ReasonCode.INVALID_VALUE: "value a reaction network cannot hold (negative, NaN, size <= 0)",
    ReasonCode.FAST_REACTION: "fast reactions (roadrunner 2.10 refuses them)",
    ReasonCode.NEEDS_GENERAL_MODEL: "a general reaction network: needs the general learned model",
}


@dataclass(frozen=True)
class Reason:
    """One reason. ``element``: the id it concerns (reaction, species, compartment), None for the
    model as a whole; ``reaction``: the reaction id when the reason is about one reaction.

    ``str(reason)`` is the sentence for people (prefixed by the reaction id for reaction reasons).
    """

    code: ReasonCode
    message: str
    element: str | None = None
    reaction: str | None = None
    species: tuple[str, ...] = ()  # the species it names: offending movers, modifiers

    def __str__(self) -> str:
        return f"{self.reaction}: {self.message}" if self.reaction else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "element": self.element, "reaction": self.reaction,
                "species": list(self.species), "message": self.message}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Reason":
        return cls(ReasonCode(data["code"]), str(data.get("message") or ""), data.get("element"),
                   data.get("reaction"), tuple(data.get("species") or ()))


class NotInClass(Exception):
    """Raised inside the importer for a construct outside the class; caught per reaction."""

    def __init__(self, code: ReasonCode, message: str, species: tuple[str, ...] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.species = tuple(species)
