"""The system one solve works on, its reduced coordinates, and the verification of an answer.

A network's state ``x`` (declared units) keeps the conserved totals ``T = L (x_s * V_s)`` of its
initial state (``x_s`` the state species, ``V`` their compartment sizes, ``L`` the integer
conservation laws of :mod:`sbmleq.core.conservation`). Each law has a dependent species that no
other law reads, so the states of one conservation class are the affine family

    x = offset + Z y,      y = x[keep]  (the independent species, then the rate-rule variables)

with ``x_dep = (T_j - sum_i L_ji V_i y_i) / (L_j,dep V_dep)``. Newton works on ``y``; the reduced
Jacobian ``J[keep] @ Z`` has the eigenvalues of the dynamics inside the class (the zero
eigenvalues that the conservation laws give the full Jacobian are gone).

The residual scale (what "relative residual" means everywhere) is :mod:`.scale`. Everything
here broadcasts over leading batch dimensions (the batched solver uses the same functions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sbmleq.core.compile import CompiledNetwork, compile_network
from sbmleq.core.reactions import ReactionNetwork
from sbmleq.core.solve.fast import ScalarRates
from sbmleq.core.solve.outcome import SolveSettings
from sbmleq.core.solve.scale import ResidualScale
from sbmleq.errors import InputError

__all__ = ["Reduction", "ReducedSystem", "Check", "state_volumes", "verify", "distance",
           "classify", "as_compiled", "resolve_inputs"]


def as_compiled(net: ReactionNetwork | CompiledNetwork) -> CompiledNetwork:
    return net if isinstance(net, CompiledNetwork) else compile_network(net)


def resolve_inputs(compiled: CompiledNetwork, x0: Mapping[str, float] | Sequence[float] |
                   np.ndarray | None, p: Mapping[str, float] | Sequence[float] | np.ndarray |
                   None) -> tuple[np.ndarray, np.ndarray]:
    """``x0`` and ``p`` as float arrays (``x0`` by state id or a vector; ``p`` overrides by
    parameter id or a full vector); leading batch dimensions are kept."""
    net = compiled.network
    where = net.name or "network"
    if isinstance(p, Mapping):
        p = net.parameter_vector(p)
    p_arr = compiled.p0 if p is None else np.asarray(p, dtype=np.float64)
    if isinstance(x0, Mapping):
        unknown = sorted(set(x0) - set(net.state_ids))
        if unknown:
            raise InputError(f"unknown state variable(s) {', '.join(unknown[:5])}", source=where)
        base = compiled.x0
        x0 = np.array([float(x0.get(s, base[i])) for i, s in enumerate(net.state_ids)])
    x_arr = compiled.x0 if x0 is None else np.asarray(x0, dtype=np.float64)
    if x_arr.shape[-1:] != (net.n_state,):
        raise InputError(f"the initial state needs {net.n_state} values, got shape "
                         f"{x_arr.shape}", source=where)
    if p_arr.shape[-1:] != (len(compiled.parameter_ids),):
        raise InputError(f"the parameter vector needs {len(compiled.parameter_ids)} values, "
                         f"got shape {p_arr.shape}", source=where)
    if not (np.all(np.isfinite(x_arr)) and np.all(np.isfinite(p_arr))):
        raise InputError("initial state and parameters must be finite", source=where)
    return x_arr, p_arr


def state_volumes(compiled: CompiledNetwork, p: np.ndarray) -> np.ndarray:
    """Per state variable the size its rate is divided by, read from ``p`` ``(..., n_state)``."""
    index = {c: i for i, c in enumerate(compiled.parameter_ids)}
    p = np.asarray(p, dtype=np.float64)
    out = np.ones(p.shape[:-1] + (compiled.n_state,))
    for i, c in enumerate(compiled.network.volume_ids):
        if c is not None:
            out[..., i] = p[..., index[c]]
    return out


@dataclass(frozen=True)
class Reduction:
    """The split of the state into independent (``keep``) and dependent (``dep``) variables."""

    keep: np.ndarray
    dep: np.ndarray
    laws: np.ndarray  # (n_laws, n_species) float
    n_species: int
    n_state: int
    # per state variable: must stay >= 0 (species not ``signed``; rate-rule variables never)
    nonneg: np.ndarray

    @classmethod
    def of(cls, compiled: CompiledNetwork) -> "Reduction":
        net = compiled.network
        cons = net.conservation
        dep = np.array(cons.dependent, dtype=np.int64)
        keep = np.array([i for i in range(net.n_state) if i not in set(cons.dependent)],
                        dtype=np.int64)
        return cls(keep, dep, np.asarray(cons.matrix, dtype=np.float64),
                   len(net.state_species), net.n_state, np.asarray(net.nonnegative))

    @property
    def m(self) -> int:
        return len(self.keep)

    @property
    def keep_nonneg(self) -> np.ndarray:
        """Per independent coordinate ``y``: must stay >= 0."""
        return self.nonneg[self.keep]

    def totals(self, x: np.ndarray, vol: np.ndarray) -> np.ndarray:
        k = self.n_species
        return (x[..., :k] * vol[..., :k]) @ self.laws.T

    def affine(self, vol: np.ndarray, totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``offset (..., n)`` and ``Z (..., n, m)`` with ``x = offset + Z y`` in the class."""
        shape = np.broadcast_shapes(vol.shape[:-1], np.shape(totals)[:-1])
        offset = np.zeros(shape + (self.n_state,))
        z = np.zeros(shape + (self.n_state, self.m))
        z[..., self.keep, np.arange(self.m)] = 1.0
        if len(self.dep):
            ks = self.keep[self.keep < self.n_species]
            rows = np.arange(len(self.dep))
            pivot = self.laws[rows, self.dep] * vol[..., self.dep]  # (..., n_laws)
            z[..., self.dep, :len(ks)] = -(self.laws[:, ks] * vol[..., None, ks]) \
                / pivot[..., :, None]
            offset[..., self.dep] = totals / pivot
        return offset, z

    def conservation_error(self, x: np.ndarray, vol: np.ndarray,
                           totals: np.ndarray) -> np.ndarray:
        """Per item the largest relative violation ``|L a - T| / max(sum |L||a|, |T|)``."""
        if not len(self.dep):
            return np.zeros(np.shape(x)[:-1])
        k = self.n_species
        a = x[..., :k] * vol[..., :k]
        size = np.maximum(np.abs(a) @ np.abs(self.laws).T, np.abs(totals))
        err = np.abs(a @ self.laws.T - totals) / (size + 1e-300)
        return err.max(axis=-1)


@dataclass(eq=False)
class ReducedSystem:
    """One parameter set and one conservation class of one compiled network."""

    compiled: CompiledNetwork
    p: np.ndarray
    x0: np.ndarray
    reduction: Reduction
    scaler: ResidualScale

    @classmethod
    def build(cls, compiled: CompiledNetwork, x0: np.ndarray | None = None,
              p: np.ndarray | None = None, scaler: ResidualScale | None = None) -> "ReducedSystem":
        x0 = compiled.x0 if x0 is None else np.asarray(x0, dtype=np.float64)
        p = compiled.p0 if p is None else np.asarray(p, dtype=np.float64)
        return cls(compiled, p, x0, Reduction.of(compiled), scaler or ResidualScale(compiled))

    @cached_property
    def volumes(self) -> np.ndarray:
        return state_volumes(self.compiled, self.p)

    @cached_property
    def totals(self) -> np.ndarray:
        return self.reduction.totals(self.x0, self.volumes)

    @cached_property
    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        return self.reduction.affine(self.volumes, self.totals)

    @property
    def n_species(self) -> int:
        return self.reduction.n_species

    @property
    def nonneg(self) -> np.ndarray:
        """Per state variable: must stay >= 0 (see :attr:`Reduction.nonneg`)."""
        return self.reduction.nonneg

    @cached_property
    def x0_size(self) -> float:
        """The largest |x0| (0 when the network starts empty)."""
        return float(np.max(np.abs(self.x0), initial=0.0))

    @property
    def x_scale(self) -> float:
        """A magnitude for the state (integrator tolerance, growth limit): ``x0_size``, 1 when
        the network starts empty."""
        return self.x0_size if self.x0_size > 0 else 1.0

    def full(self, y: np.ndarray) -> np.ndarray:
        offset, z = self._affine
        return offset + z @ y

    def project(self, x: np.ndarray) -> np.ndarray:
        """The state of the class with the same independent values as ``x``."""
        return self.full(np.asarray(x, dtype=np.float64)[self.reduction.keep])

    @cached_property
    def _combine(self) -> np.ndarray:
        """``(n_reactions + n_rules, n_state)``: rates times this matrix is the rhs."""
        net = self.compiled.network
        n = np.asarray(net.stoichiometry)
        r, k = n.shape[1], self.n_species
        out = np.zeros((r + len(net.rate_rules), self.compiled.n_state))
        out[:r, :k] = n.T / self.volumes[:k]
        out[r:, k:] = np.eye(len(net.rate_rules))
        return out

    @cached_property
    def _scalar(self) -> ScalarRates | None:
        if self.p.ndim != 1:
            return None
        return ScalarRates(self.compiled, self.p, self.volumes)

    def rhs(self, x: np.ndarray) -> np.ndarray:
        """``compiled.rhs(x, p)`` with the stoichiometry and volumes folded into one matrix
        (a third of the per-call cost, which the integrator pays at every step); one state is
        evaluated with Python floats (:mod:`.fast`, 5-10x faster), NumPy where floats raise."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and self._scalar is not None:
            v = self._scalar.rates(x)
            if v is not None:
                return v @ self._combine
        return self.compiled.rates(x, self.p) @ self._combine

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """The dense Jacobian (one state: with Python floats, :mod:`.fast`)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and self._scalar is not None:
            j = self._scalar.jacobian(x)
            if j is not None:
                return j
        return self.compiled.jacobian(x, self.p, sparse=False)

    def reduced_jacobian(self, x: np.ndarray, jac: np.ndarray | None = None) -> np.ndarray:
        j = self.jacobian(x) if jac is None else jac
        return j[self.reduction.keep] @ self._affine[1]

    @cached_property
    def ref_scale(self) -> float:
        """The largest throughput at the initial state (part of the residual floor)."""
        s = self.scaler.scale(self.x0, self.p, self.volumes)
        top = float(np.max(s, initial=0.0))
        return top if np.isfinite(top) else 0.0

    def scale(self, x: np.ndarray) -> np.ndarray:
        """The residual scale at ``x`` (one state: with Python floats, :mod:`.fast`)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and self._scalar is not None:
            s = self._scalar.scale(self.scaler, x)
            if s is not None:
                return s
        return self.scaler.scale(x, self.p, self.volumes)

    def residual(self, x: np.ndarray, f: np.ndarray | None = None) -> float:
        f = self.rhs(x) if f is None else f
        return float(ResidualScale.relative(f, self.scale(x), self.ref_scale))

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Scaled max-norm distance of ``a`` from ``b``: ``max_i |a_i - b_i| / (|b_i| + floor)``,
        ``floor = 1e-6 max(max |b|, max |x0|)`` (the sizes of the two states the solve knows)."""
        return float(distance(a, b, self.x0_size))


def distance(a: np.ndarray, b: np.ndarray, size: np.ndarray | float) -> np.ndarray:
    """:meth:`ReducedSystem.distance` for arrays with leading batch axes (``size``: max |x0|)."""
    top = np.maximum(np.max(np.abs(b), axis=-1, initial=0.0), size)
    floor = (1e-6 * top + 1e-300)[..., None]
    return np.max(np.abs(a - b) / (np.abs(b) + floor), axis=-1, initial=0.0)


@dataclass(frozen=True)
class Check:
    """The verification of one candidate state (see :func:`verify`)."""

    state: np.ndarray
    ok: bool
    residual: float
    conservation: float
    max_real: float | None
    stable: bool | None
    reason: str = ""


def max_real_eigenvalue(jr: np.ndarray) -> float:
    if jr.shape[-1] == 0:
        return -np.inf
    return float(np.max(np.linalg.eigvals(jr).real))


def classify(max_real: float, jr: np.ndarray, settings: SolveSettings) -> bool | None:
    """True: stable, False: unstable, None: marginal (|max Re| within the tolerance)."""
    norm = float(np.max(np.sum(np.abs(jr), axis=-1), initial=0.0)) if jr.size else 0.0
    tol = settings.eig_tol * max(norm, 1e-300)
    if max_real < -tol:
        return True
    return False if max_real > tol else None


def verify(system: ReducedSystem, x: np.ndarray, settings: SolveSettings) -> Check:
    """Accept ``x`` as a steady state of ``system`` only when it is finite, non-negative (tiny
    round-off negatives clipped; signed species and rate-rule variables may be negative), in
    the initial state's conservation class, and its relative residual is within tolerance;
    then classify its stability from the reduced Jacobian."""
    x = np.array(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        return Check(x, False, np.inf, np.inf, None, None, "not finite")
    pos = system.nonneg
    if pos.any():
        low = -settings.negative_tol * max(float(np.max(np.abs(x[pos]))), 1e-300)
        if np.min(x[pos]) < low:
            return Check(x, False, np.inf, np.inf, None, None, "negative species")
        x[pos] = np.maximum(x[pos], 0.0)
    res = system.residual(x)
    cons = float(system.reduction.conservation_error(x, system.volumes, system.totals))
    if not res <= settings.residual_tol:
        return Check(x, False, res, cons, None, None, f"residual {res:.2e}")
    if not cons <= settings.conservation_tol:
        return Check(x, False, res, cons, None, None, f"conservation error {cons:.2e}")
    jr = system.reduced_jacobian(x)
    if not np.all(np.isfinite(jr)):
        return Check(x, True, res, cons, None, None, "jacobian not finite")
    mr = max_real_eigenvalue(jr)
    return Check(x, True, res, cons, mr, classify(mr, jr, settings))
