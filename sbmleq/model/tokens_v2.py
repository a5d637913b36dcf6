"""The token format, version 2: a reversible ReactionNetwork <-> list of string tokens.

Version 1 (:mod:`sbmleq.model.tokens`) covers LIFE networks only; version 2 covers every
:class:`~sbmleq.core.reactions.ReactionNetwork`: compartments, species, parameters, reactions with
their rate laws, and rate rules. Version 2.1 (marker ``<v2.1>``, the default) writes a law that a
template of :mod:`sbmleq.core.law_templates` rebuilds exactly as ``LAW T:<template> arg*`` (the
family and its numbers), any other law as a prefix expression; version 2.0 (``<v2>``,
``templates=False``) writes every law as a prefix expression. Grammar (docs/token-format.md,
"Format v2")::

    sequence    := (<v2> | <v2.1>) compartment* species* parameter* reaction* rule* <eos> <pad>*
    compartment := COMP number                                  (the k-th is C<k>)
    species     := SPEC C<k> number (AMT | CONC) [BND] [CST]    (the k-th is S<k>)
    parameter   := PAR number                                   (the k-th is P<k>)
    reaction    := RXN [REV] [F:<family>] LHS ref* RHS ref* [MOD S<k>+] LAW law
    ref         := S<k> [number]                                (stoichiometry, when not 1)
    law         := expr | T:<template> arg*                     (T: only after <v2.1>)
    arg         := P<k> | C<k> | S<k> | number                  (the template's refs)
    rule        := RULE (S<k> | P<k>) expr
    expr        := number | S<k> | P<k> | C<k> | op1 expr | op2 expr expr | opn A<n> expr{n}

Numbers are :class:`~sbmleq.model.numbers.DecimalFloat` tokens (sign, digits, ``E<e>``); ops are
:data:`sbmleq.core.expr.ARITY` names, the n-ary ones (``add mul min max piecewise and or xor``)
followed by an arity token ``A<n>``. Names never appear in the tokens, so the vocabulary is finite
(:func:`vocabulary`); the ids live in a :class:`SideTable`, and ``decode_v2(encode_v2(rn),
side_table(rn))`` rebuilds ``rn`` exactly: the same ids, names, flags, expression trees node for
node, and every float bit for bit in the default exact number mode. Without a side table, ids are
``c0.. s0.. p0.. r0..``. :func:`decode_v2` also reads a version-1 :class:`TokenSequence` (a LIFE
network), through :func:`sbmleq.core.life_bridge.reaction_network_from_life`; both markers decode.
A template law decodes to ``build(reaction, refs)``, which is the encoded tree node for node
(``match`` only accepts refs that rebuild it exactly), so the round trip stays exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sbmleq.core.expr import ARITY, Expr, Num, Op, Sym, walk_preorder
from sbmleq.core.families import FAMILIES
from sbmleq.core.law_templates import build_law, match_law, template_names
from sbmleq.core.life_bridge import reaction_network_from_life
from sbmleq.core.reactions import RateRule, Reaction, ReactionNetwork, Species
from sbmleq.model import tokens as tokens_v1
from sbmleq.model.numbers import DecimalFloat, IndexToken, TokenError, token_at

__all__ = ["TOKEN_FORMAT_V2", "TOKEN_FORMAT_V2_MINOR", "SideTable", "encode_v2", "decode_v2",
           "side_table", "vocabulary", "expr_tokens", "law_tokens", "parse_expr", "TokenError"]

TOKEN_FORMAT_V2 = 2
TOKEN_FORMAT_V2_MINOR = 1  # 2.1: template laws (LAW T:<template> arg*)
VERSION, VERSION_21, EOS, PAD = "<v2>", "<v2.1>", "<eos>", "<pad>"
KEYWORDS = ("COMP", "SPEC", "PAR", "RXN", "RULE", "AMT", "CONC", "BND", "CST", "REV", "LHS",
            "RHS", "MOD", "LAW")
FAMILY_PREFIX = "F:"
TEMPLATE_PREFIX = "T:"
COMP_REF = IndexToken("C", "compartment")
SPEC_REF = IndexToken("S", "species")
PAR_REF = IndexToken("P", "parameter")
ARITY_TOK = IndexToken("A", "arity")
EXACT = DecimalFloat()


@dataclass(frozen=True)
class SideTable:
    """What the tokens leave out: ids and names, in declaration order (empty names may be
    omitted: ``species_names=()`` means every name is empty)."""

    name: str = ""
    compartments: tuple[str, ...] = ()
    species: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    reactions: tuple[str, ...] = ()
    species_names: tuple[str, ...] = ()
    reaction_names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"version": TOKEN_FORMAT_V2, "name": self.name,
                **{k: list(getattr(self, k)) for k in ("compartments", "species", "parameters",
                                                       "reactions", "species_names",
                                                       "reaction_names")}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SideTable":
        return cls(str(data.get("name", "")),
                   *(tuple(map(str, data.get(k, ()))) for k in (
                       "compartments", "species", "parameters", "reactions", "species_names",
                       "reaction_names")))


def side_table(rn: ReactionNetwork) -> SideTable:
    species_names = tuple(s.name for s in rn.species)
    reaction_names = tuple(r.name for r in rn.reactions)
    return SideTable(rn.name, tuple(rn.compartments), tuple(s.id for s in rn.species),
                     tuple(rn.parameters), tuple(r.id for r in rn.reactions),
                     species_names if any(species_names) else (),
                     reaction_names if any(reaction_names) else ())


# ------------------------------------------------------------------ encoding
def expr_tokens(e: Expr, refs: Mapping[str, str], numbers: DecimalFloat = EXACT) -> list[str]:
    """``e`` in prefix order; ``refs`` maps each name to its position token."""
    out: list[str] = []
    for node in walk_preorder(e):
        if isinstance(node, Num):
            out += numbers.encode(node.value)
        elif isinstance(node, Sym):
            try:
                out.append(refs[node.name])
            except KeyError:
                raise ValueError(f"expression reads {node.name!r}, which is not declared") from None
        else:
            out.append(node.op)
            if ARITY[node.op] < 0:
                out += ARITY_TOK.encode(len(node.args))
    return out


def law_tokens(r: Reaction, refs: Mapping[str, str], numbers: DecimalFloat = EXACT,
               templates: bool = True) -> list[str]:
    """The tokens after ``LAW``: ``T:<template>`` and its refs when a template rebuilds the law
    exactly (and ``templates``), else the prefix expression."""
    found = match_law(r) if templates else None
    if found is None:
        return expr_tokens(r.rate, refs, numbers)
    name, args = found
    out = [TEMPLATE_PREFIX + name]
    for a in args:
        out += expr_tokens(a, refs, numbers)
    return out


def encode_v2(rn: ReactionNetwork, numbers: DecimalFloat = EXACT,
              templates: bool = True) -> list[str]:
    """``rn`` as tokens (the ids go to :func:`side_table`). ``numbers``: the default is exact;
    ``DecimalFloat(3)`` gives the paper's three significant digits (lossy). ``templates``: version
    2.1 (``<v2.1>``, template laws); False writes version 2.0 (``<v2>``, every law an
    expression), token for token what earlier releases wrote."""
    refs: dict[str, str] = {}
    for k, p in enumerate(rn.parameters):
        refs[p] = f"P{k}"
    for k, c in enumerate(rn.compartments):
        refs[c] = f"C{k}"
    for k, s in enumerate(rn.species):
        refs[s.id] = f"S{k}"
    comp_index = {c: k for k, c in enumerate(rn.compartments)}
    out = [VERSION_21 if templates else VERSION]
    for size in rn.compartments.values():
        out += ["COMP", *numbers.encode(size)]
    for s in rn.species:
        out += ["SPEC", f"C{comp_index[s.compartment]}", *numbers.encode(s.initial),
                "AMT" if s.amount else "CONC"]
        out += ["BND"] * s.boundary + ["CST"] * s.constant
    for value in rn.parameters.values():
        out += ["PAR", *numbers.encode(value)]
    for r in rn.reactions:
        out += ["RXN"] + ["REV"] * r.reversible + ([FAMILY_PREFIX + r.family] if r.family else [])
        for label, side in (("LHS", r.reactants), ("RHS", r.products)):
            out.append(label)
            for sid, st in side:
                out.append(refs[sid])
                if st != 1.0:
                    out += numbers.encode(st)
        if r.modifiers:
            out += ["MOD", *(refs[m] for m in r.modifiers)]
        out += ["LAW", *law_tokens(r, refs, numbers, templates)]
    for rule in rn.rate_rules:
        var = f"P{list(rn.parameters).index(rule.variable)}" if rule.variable in rn.parameters \
            else refs[rule.variable]
        out += ["RULE", var, *expr_tokens(rule.rate, refs, numbers)]
    out.append(EOS)
    return out


# ------------------------------------------------------------------ decoding
class _Reader:
    """A cursor over the tokens; every error names the position."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return token_at(self.tokens, self.pos)

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            self.fail(f"expected {expected!r}" if expected else "unexpected end of the tokens")
        self.pos += 1
        return tok  # type: ignore[return-value]

    def accept(self, tok: str) -> bool:
        if self.peek() == tok:
            self.pos += 1
            return True
        return False

    def fail(self, message: str, pos: int | None = None) -> None:
        at = self.pos if pos is None else pos
        raise TokenError(message, at, token_at(self.tokens, at))

    def number(self) -> float:
        value, n = EXACT.parse(self.tokens, self.pos)
        self.pos += n
        return value

    def index(self, ref: IndexToken, limit: int) -> int:
        k, n = ref.parse(self.tokens, self.pos, limit)
        self.pos += n
        return k


def parse_expr(tokens: Sequence[str], start: int, names: Mapping[str, Sequence[str]]
               ) -> tuple[Expr, int]:
    """Read one prefix expression from ``tokens[start]``; ``names`` maps ``"S"``, ``"P"``,
    ``"C"`` to the ids of each kind. Returns the tree (built node for node, not simplified) and
    the number of tokens read. Iterative: any depth."""
    refs = {"S": SPEC_REF, "P": PAR_REF, "C": COMP_REF}
    stack: list[tuple[str, int, list[Expr]]] = []  # (op, arguments still to read, read so far)
    pos = start
    while True:
        tok = token_at(tokens, pos)
        node: Expr | None = None
        if tok is None:
            raise TokenError("the expression is cut short", pos, None)
        if tok in ARITY:
            pos += 1
            arity = ARITY[tok]
            if arity < 0:
                arity, _ = ARITY_TOK.parse(tokens, pos)
                if arity < 1:
                    raise TokenError(f"{tok} needs at least one argument", pos, tokens[pos])
                pos += 1
            stack.append((tok, arity, []))
            continue
        if tok[:1] in refs and refs[tok[0]].match(tok) is not None:
            kind = tok[0]
            k, _ = refs[kind].parse(tokens, pos, len(names[kind]))
            node = Sym(names[kind][k])
            pos += 1
        else:
            try:
                value, n = EXACT.parse(tokens, pos)
            except TokenError:
                raise TokenError("expected an expression (an operator, S<k>, P<k>, C<k> or a "
                                 "number)", pos, tok) from None
            node = Num(value)
            pos += n
        while True:  # hand the finished node to its parent, closing parents that are complete
            if not stack:
                return node, pos - start
            op, need, args = stack[-1]
            args.append(node)
            if len(args) < need:
                break
            stack.pop()
            node = Op(op, tuple(args))


_KINDS = {"c": "compartment", "s": "species", "p": "parameter", "r": "reaction"}


def _names(kind: str, count: int, given: tuple[str, ...], reader: _Reader) -> tuple[str, ...]:
    if not given:
        return tuple(f"{kind}{k}" for k in range(count))
    if len(given) != count:
        reader.fail(f"the side table has {len(given)} {_KINDS[kind]} ids but the tokens declare "
                    f"{count}", 0)
    return given


def decode_v2(tokens: Sequence[str] | tokens_v1.TokenSequence, side: SideTable | None = None
              ) -> ReactionNetwork:
    """Tokens (or a version-1 :class:`~sbmleq.model.tokens.TokenSequence`) -> ReactionNetwork.
    Raises :class:`TokenError` (an ``InputError`` and a ``ValueError``) naming the position of a
    malformed token, and ``NetworkError`` for well-formed tokens describing an invalid network."""
    if isinstance(tokens, tokens_v1.TokenSequence):
        net = tokens_v1.decode(tokens, name=side.name if side else "")
        return reaction_network_from_life(net)
    side = side or SideTable()
    rd = _Reader(list(tokens))
    if not (rd.accept(VERSION) or rd.accept(VERSION_21)):
        rd.fail(f"expected {VERSION!r} or {VERSION_21!r}")
    minor = 1 if rd.tokens[0] == VERSION_21 else 0
    sizes = []
    while rd.accept("COMP"):
        sizes.append(rd.number())
    comps = _names("c", len(sizes), side.compartments, rd)
    raw_species = []
    while rd.accept("SPEC"):
        c = rd.index(COMP_REF, len(comps))
        initial = rd.number()
        unit = rd.take()
        if unit not in ("AMT", "CONC"):
            rd.fail("expected 'AMT' or 'CONC'", rd.pos - 1)
        raw_species.append((comps[c], initial, unit == "AMT", rd.accept("BND"), rd.accept("CST")))
    sids = _names("s", len(raw_species), side.species, rd)
    snames = side.species_names or ("",) * len(sids)
    if len(snames) != len(sids):
        rd.fail(f"the side table has {len(snames)} species names for {len(sids)} species", 0)
    species = [Species(sid, *raw, name=nm) for sid, raw, nm in zip(sids, raw_species, snames)]
    values = []
    while rd.accept("PAR"):
        values.append(rd.number())
    pids = _names("p", len(values), side.parameters, rd)
    names = {"S": sids, "P": pids, "C": comps}

    def law() -> Expr:
        e, n = parse_expr(rd.tokens, rd.pos, names)
        rd.pos += n
        return e

    def template_law(sides: list[tuple[tuple[str, float], ...]], modifiers: list[str],
                     reversible: bool) -> Expr:
        at = rd.pos
        name = rd.take()[len(TEMPLATE_PREFIX):]
        if not minor:
            rd.fail(f"a template law needs the {VERSION_21!r} marker", at)
        args = []
        while _starts_arg(rd.peek()):
            args.append(law())
        reaction = Reaction("", sides[0], sides[1], Num(0.0), tuple(modifiers), reversible)
        try:
            return build_law(name, reaction, args)
        except ValueError as exc:
            raise TokenError(str(exc), at, rd.tokens[at]) from None

    raw_reactions = []
    while rd.accept("RXN"):
        reversible = rd.accept("REV")
        family = ""
        if (rd.peek() or "").startswith(FAMILY_PREFIX):
            family = rd.take()[len(FAMILY_PREFIX):]
        sides = []
        for label in ("LHS", "RHS"):
            rd.take(label)
            refs = []
            while SPEC_REF.match(rd.peek()) is not None:
                sid = sids[rd.index(SPEC_REF, len(sids))]
                st = rd.number() if rd.peek() in ("+", "-", "NaN") else 1.0
                refs.append((sid, st))
            sides.append(tuple(refs))
        modifiers = []
        if rd.accept("MOD"):
            modifiers.append(sids[rd.index(SPEC_REF, len(sids))])
            while SPEC_REF.match(rd.peek()) is not None:
                modifiers.append(sids[rd.index(SPEC_REF, len(sids))])
        rd.take("LAW")
        rate = template_law(sides, modifiers, reversible) if (rd.peek() or "").startswith(
            TEMPLATE_PREFIX) else law()
        raw_reactions.append((sides[0], sides[1], rate, tuple(modifiers), reversible, family))
    rids = _names("r", len(raw_reactions), side.reactions, rd)
    rnames = side.reaction_names or ("",) * len(rids)
    if len(rnames) != len(rids):
        rd.fail(f"the side table has {len(rnames)} reaction names for {len(rids)} reactions", 0)
    reactions = [Reaction(rid, *raw, name=nm) for rid, raw, nm in zip(rids, raw_reactions, rnames)]
    rules = []
    while rd.accept("RULE"):
        tok = rd.peek()
        if PAR_REF.match(tok) is not None:
            var = pids[rd.index(PAR_REF, len(pids))]
        elif SPEC_REF.match(tok) is not None:
            var = sids[rd.index(SPEC_REF, len(sids))]
        else:
            rd.fail("a rate rule's variable is S<k> or P<k>")
        rules.append(RateRule(var, law()))
    if rd.peek() != EOS:
        rd.fail("expected the next entry (COMP, SPEC, PAR, RXN, RULE, in that order) or <eos>")
    rd.take(EOS)
    while rd.accept(PAD):
        pass
    if rd.peek() is not None:
        rd.fail("nothing but <pad> may follow <eos>")
    return ReactionNetwork(tuple(species), tuple(reactions), dict(zip(pids, values)),
                           dict(zip(comps, sizes)), tuple(rules), name=side.name)


def _starts_arg(tok: str | None) -> bool:
    """Whether ``tok`` opens a template argument: a reference or a number."""
    if tok is None:
        return False
    return any(ref.match(tok) is not None for ref in (SPEC_REF, PAR_REF, COMP_REF)) or \
        tok in ("+", "-", "NaN")


def vocabulary(max_species: int = 256, max_parameters: int = 1024, max_compartments: int = 16,
               max_arity: int = 64, families: Sequence[str] = FAMILIES,
               templates: Sequence[str] | None = None) -> list[str]:
    """Every token a network within these sizes can produce (for an embedding table); family
    tags are those of :data:`sbmleq.core.families.FAMILIES` and template tags those of
    :data:`sbmleq.core.law_templates.TEMPLATES` unless told otherwise."""
    names = template_names() if templates is None else tuple(templates)
    return [PAD, VERSION, VERSION_21, EOS, *KEYWORDS, *(FAMILY_PREFIX + f for f in families),
            *(TEMPLATE_PREFIX + t for t in names),
            *COMP_REF.vocabulary(max_compartments), *SPEC_REF.vocabulary(max_species),
            *PAR_REF.vocabulary(max_parameters), *ARITY_TOK.vocabulary(max_arity + 1)[1:],
            *ARITY, *DecimalFloat.vocabulary()]
