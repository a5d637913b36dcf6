"""What an import returns: one report entry per reaction and the network (or the reasons why not).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sbmleq.core.network import Network
from sbmleq.errors import OutOfClassError
from sbmleq.io.reasons import Reason

if TYPE_CHECKING:
    import pandas


SBMLEQ_NS = "https://sbmleq.invalid/ns/network/1"  # same as sbml_export.SBMLEQ_NS


@dataclass(frozen=True)
class ReactionReport:
    """What one reaction became: ``as_`` when mapped, else ``reason`` (prefixed by its id)."""

    reaction_id: str
    mapped: bool
    as_: str = ""
    reason: str | None = None
    law: str = ""
    code: str | None = None  # a ReasonCode value when not mapped
    species: tuple[str, ...] = ()  # the species the reason names (see Reason.species)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as"] = data.pop("as_")
        data.pop("species")  # in ImportResult.reasons (Reason.species)
        return data


@dataclass
class ImportResult:
    """An imported model: the network (None when out of class), one report entry per reaction,
    every out-of-class reason, warnings, and each species' declared units (by node id)."""

    network: Network | None
    report: list[ReactionReport]
    in_class: bool
    species_units: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)  # str(reason) is the sentence
    source_name: str = ""
    model_id: str = ""
    node_species: dict[str, str] = field(default_factory=dict)  # node id -> SBML species id

    def to_frame(self) -> "pandas.DataFrame":
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.report],
                            columns=["reaction_id", "mapped", "as", "reason", "law"])

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source_name, "model_id": self.model_id, "in_class": self.in_class,
                "reasons": [str(r) for r in self.reasons],
                "reason_codes": [r.to_dict() for r in self.reasons],
                "warnings": list(self.warnings),
                "species_units": dict(self.species_units), "node_species": dict(self.node_species),
                "report": [r.to_dict() for r in self.report],
                "network": None if self.network is None else self.network.to_dict()}

    def require_in_class(self) -> Network:
        """The network, or :class:`OutOfClassError` with the first reasons."""
        if self.in_class and self.network is not None:
            return self.network
        shown = "; ".join(map(str, self.reasons[:3])) or "not a LIFE network"
        more = f" (and {len(self.reasons) - 3} more)" if len(self.reasons) > 3 else ""
        raise OutOfClassError(f"outside the LIFE class: {shown}{more}", source=self.source_name)


Flux = tuple[str, str, str, float]  # (edge/intake/excretion, node, target node or "", value)


def _strip_prefix(reason: str, rid: str) -> str:
    prefix = f"{rid}: "
    return reason[len(prefix):] if rid and reason.startswith(prefix) else reason


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def result_from_network(net: Network, source_name: str | None = None) -> ImportResult:
    """An in-class :class:`ImportResult` that describes a network directly (no SBML involved)."""
    name = source_name or net.name or "network"
    report = [ReactionReport(f"intake_{net.nodes[k]}", True,
                             f"intake into {net.nodes[k]} ({_fmt(float(net.intake[k]))})")
              for k in net.intake_nodes]
    report += [ReactionReport(f"edge_{net.nodes[s]}_{net.nodes[t]}", True,
                              f"edge {net.nodes[s]}->{net.nodes[t]} k={_fmt(float(w))}")
               for s, t, w in zip(net.src, net.dst, net.weight)]
    report += [ReactionReport(f"excretion_{net.nodes[k]}", True,
                              f"excretion of {net.nodes[k]} (rate {_fmt(float(net.excretion[k]))})")
               for k in net.excreting_nodes]
    units = {n: "concentration (network units)" for n in net.nodes}
    return ImportResult(net, report, True, units, [], [], name, net.name, {n: n for n in net.nodes})
