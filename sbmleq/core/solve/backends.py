"""Where the batched solver's heavy arithmetic runs: NumPy, or torch on a device.

A backend evaluates the right-hand side and the Jacobian of a compiled network for a batch of
states and parameter sets, and solves batched linear systems; everything crosses as NumPy
float64 arrays, so the batched algorithms (:mod:`sbmleq.core.solve.batched`) are written once.
:class:`TorchBackend` runs rates, Jacobians (autograd) and solves in torch on its device (a GPU
for large batches); transfers cost ``B n^2`` numbers per Jacobian.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sbmleq.core.compile import CompiledNetwork

__all__ = ["NumpyBackend", "TorchBackend", "make_backend"]


class NumpyBackend:
    """Rates, Jacobians and batched solves in NumPy."""

    def __init__(self, compiled: CompiledNetwork) -> None:
        self.compiled = compiled

    def rhs(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.compiled.rhs(x, p)

    def jacobian(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.compiled.jacobian(x, p, sparse=False)

    def inverse(self, a: np.ndarray) -> Any:
        """A factorisation of ``a`` for :meth:`apply` (here the inverse: small systems)."""
        try:
            return np.linalg.inv(a)
        except np.linalg.LinAlgError:
            return np.full_like(a, np.nan)

    def apply(self, inv: Any, b: np.ndarray) -> np.ndarray:
        return np.einsum("bij,bj->bi", inv, b)

    def solve(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            out = np.linalg.solve(a, b[..., None])[..., 0]
            if np.all(np.isfinite(out)):
                return out
        except np.linalg.LinAlgError:
            pass
        out = np.empty_like(b)
        for i in range(len(b)):  # singular items: least squares one by one
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                out[i] = np.linalg.lstsq(a[i], b[i], rcond=None)[0]
        return out


class TorchBackend(NumpyBackend):
    """The same in torch on ``device`` (float64); arrays cross as NumPy."""

    def __init__(self, compiled: CompiledNetwork, device: str) -> None:
        import torch  # opt-in: the GPU path

        super().__init__(compiled)
        self.torch, self.device = torch, torch.device(device)

    def _t(self, a: np.ndarray) -> Any:
        return self.torch.as_tensor(np.ascontiguousarray(a), dtype=self.torch.float64,
                                    device=self.device)

    def rhs(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.compiled.torch_rhs(self._t(x), self._t(p)).cpu().numpy()

    def jacobian(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.compiled.torch_jacobian(self._t(x), self._t(p)).detach().cpu().numpy()

    def inverse(self, a: np.ndarray) -> Any:
        lu, piv, _ = self.torch.linalg.lu_factor_ex(self._t(a))
        return lu, piv

    def apply(self, inv: Any, b: np.ndarray) -> np.ndarray:
        lu, piv = inv
        return self.torch.linalg.lu_solve(lu, piv, self._t(b)[..., None])[..., 0].cpu().numpy()

    def solve(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ta, tb = self._t(a), self._t(b)[..., None]
        out, info = self.torch.linalg.solve_ex(ta, tb)
        bad = (info != 0) | ~self.torch.isfinite(out).all(dim=(-2, -1))
        if bool(bad.any()):
            out[bad] = self.torch.linalg.pinv(ta[bad]) @ tb[bad]
        return out[..., 0].cpu().numpy()


def make_backend(compiled: CompiledNetwork, device: str | None) -> NumpyBackend:
    """NumPy for ``device`` None; ``"auto"``: torch on CUDA when there is a GPU, else NumPy;
    any other string: torch on that device."""
    if device is None:
        return NumpyBackend(compiled)
    if device == "auto":
        try:
            import torch  # only to ask whether a GPU is there
        except ImportError:
            return NumpyBackend(compiled)
        return TorchBackend(compiled, "cuda") if torch.cuda.is_available() \
            else NumpyBackend(compiled)
    return TorchBackend(compiled, device)
