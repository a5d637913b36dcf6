"""The ``.npz`` file of the general model: weights plus config as JSON, read with
``allow_pickle=False`` (loading runs no code from the file) and without torch.

Layout: one float32 array ``w:<name>`` per entry of the torch state dict, and ``meta``: the UTF-8
bytes of ``{"format": GENERAL_NPZ_FORMAT, "source_format", "config" (GeneralModelConfig as a
dict), "meta" (the training recipe), "train_state"}``. :func:`save_general_npz` writes one from a
checked ``.pt`` payload (:func:`sbmleq.model.general_predictor.read_general_checkpoint`);
:func:`read_general_npz` checks everything (format, config, every weight's presence, shape and
finiteness) and raises :class:`~sbmleq.errors.CheckpointError` naming the file otherwise.
:func:`npz_payload` turns a read file back into such a payload (to rewrite it, e.g. with a
calibrated ``config.extra["outcome_temperature"]``: training/calibrate_general.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sbmleq.errors import CheckpointError
from sbmleq.model.checkpoint import checked_weights, read_npz_archive
from sbmleq.model.general_config import GENERAL_NPZ_FORMAT, GeneralModelConfig
from sbmleq.model.general_numpy import general_weight_shapes

__all__ = ["save_general_npz", "read_general_npz", "npz_payload"]


def _as_array(value: Any) -> np.ndarray:
    """A float32 array from a torch tensor (without importing torch) or an array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.asarray(value, dtype=np.float32)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def save_general_npz(path: str | os.PathLike, payload: dict[str, Any],
                     n_iters: int | None = None) -> None:
    """Write ``payload`` (a ``.pt`` payload: ``config`` dict, ``model`` state dict, ``meta``,
    ``train_state``) as a NumPy model file, atomically (tmp file + rename). ``n_iters``
    overrides the physics iterations the exported model runs by default."""
    config = dict(payload["config"])
    if n_iters is not None:
        config["n_iters"] = int(n_iters)
    GeneralModelConfig.from_dict(config).validate()
    arrays = {f"w:{k}": _as_array(v) for k, v in payload["model"].items()}
    meta = {"format": GENERAL_NPZ_FORMAT, "source_format": payload.get("format"),
            "config": config, "meta": payload.get("meta") or {},
            "train_state": payload.get("train_state") or {}}
    arrays["meta"] = np.frombuffer(json.dumps(meta, default=_jsonable).encode(), dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)  # uncompressed: float weights barely compress; loads ~2x faster
    os.replace(tmp, path)


def _read_raw(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return read_npz_archive(path, "sbmleq general model")


def _config(meta: dict[str, Any], source: str) -> GeneralModelConfig:
    if meta.get("format") != GENERAL_NPZ_FORMAT:
        raise CheckpointError(f"not a general-model file (expected format {GENERAL_NPZ_FORMAT})",
                              source=source, element="meta.format")
    if not isinstance(meta.get("config"), dict):
        raise CheckpointError("missing or invalid key config", source=source,
                              element="meta.config")
    try:
        cfg = GeneralModelConfig.from_dict(meta["config"])
        cfg.validate()
        for key in ("train_max_species", "train_max_reactions"):
            if not isinstance(getattr(cfg, key), int) or isinstance(getattr(cfg, key), bool):
                raise ValueError(f"{key} must be an integer")
        if not isinstance(cfg.train_decades, (int, float)):
            raise ValueError("train_decades must be a number")
        if not all(isinstance(v, str) for v in cfg.outcomes + cfg.train_families):
            raise ValueError("outcomes and train_families must be strings")
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid model config: {exc}", source=source,
                              element="meta.config") from None
    return cfg


def _weights(raw: dict[str, np.ndarray], cfg: GeneralModelConfig,
             source: str) -> dict[str, np.ndarray]:
    """``w:<name>`` arrays -> float64 weights by name, each checked against the config."""
    return checked_weights(raw, general_weight_shapes(cfg), source)


def read_general_npz(path: str | os.PathLike
                     ) -> tuple[dict[str, np.ndarray], GeneralModelConfig, dict[str, Any]]:
    """(float64 weights by name, config, the file's metadata), all checked."""
    path = Path(path)
    meta, raw = _read_raw(path)
    cfg = _config(meta, str(path))
    return _weights(raw, cfg, str(path)), cfg, meta


def npz_payload(path: str | os.PathLike) -> dict[str, Any]:
    """The checked ``.npz`` at ``path`` as a ``.pt``-style payload (``format`` the file's
    ``source_format``, ``config`` its config dict, ``model`` float32 weights by name, ``meta``,
    ``train_state``) that :func:`save_general_npz` writes back unchanged (the weights were
    float32, so the float64 round trip is exact)."""
    weights, _, meta = read_general_npz(path)
    return {"format": meta.get("source_format"), "config": dict(meta["config"]),
            "model": {k: v.astype(np.float32) for k, v in weights.items()},
            "meta": dict(meta.get("meta") or {}),
            "train_state": dict(meta.get("train_state") or {})}
