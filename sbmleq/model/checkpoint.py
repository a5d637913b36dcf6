"""Saving and safely loading model checkpoints (config dataclass stored inside)."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from sbmleq.errors import CheckpointError
from sbmleq.model.tokens import KIND_NAMES, NUM_NAMES, TOKEN_FORMAT_VERSION

CHECKPOINT_FORMAT = "sbmleq.model.checkpoint/1"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "default.pt"


def save_checkpoint(path: str | os.PathLike, model, cfg, extra: dict[str, Any] | None = None) -> None:
    """Write atomically (tmp file + rename) so a crash never leaves a half-written checkpoint."""
    import torch

    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "token_format_version": TOKEN_FORMAT_VERSION,
        "vocabulary": {"kinds": list(KIND_NAMES), "numbers": list(NUM_NAMES)},
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load the raw payload with ``weights_only=True`` (no pickled code runs)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint file not found", source=str(path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError,
            OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"not a readable sbmleq checkpoint ({first[:160]})",
                              source=str(path)) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"not an sbmleq checkpoint (expected format {CHECKPOINT_FORMAT})",
                              source=str(path))
    if payload.get("token_format_version") != TOKEN_FORMAT_VERSION:
        raise CheckpointError(f"checkpoint uses token format {payload.get('token_format_version')}, "
                              f"this sbmleq reads {TOKEN_FORMAT_VERSION}", source=str(path))
    return payload
