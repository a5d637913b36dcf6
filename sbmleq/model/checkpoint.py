"""Saving and safely loading model checkpoints (config dataclass stored inside).

:func:`check_config` and :func:`graph_weight_shapes` validate what a checkpoint declares before
anything is built from it; both the ``.pt`` (PyTorch) and the ``.npz`` (NumPy) loaders use them,
so a malformed file is a :class:`CheckpointError` naming the file and the key, never a
``KeyError`` or a shape error at prediction time. Nothing here imports torch or numpy at
import time; :func:`read_npz_archive` reads both NumPy exports.
"""

from __future__ import annotations

import math
import numbers
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

from sbmleq.errors import CheckpointError
from sbmleq.model.tokens import KIND_NAMES, NUM_NAMES, TOKEN_FORMAT_VERSION

CHECKPOINT_FORMAT = "sbmleq.model.checkpoint/1"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "default.pt"


# Required config keys: (type, smallest, largest). The upper bounds only refuse absurd files before
# a model of that size is allocated (the shipped model: d_model 96, 6 heads, d_ff 256).
_CONFIG_INTS = {"d_model": (1, 4096), "n_heads": (1, 256), "n_layers": (1, 64),
                "n_iters": (1, 4096), "d_ff": (1, 65536)}
_OPTIONAL_INTS = {"max_nodes": (1, 1_000_000), "train_n_max": (1, 1_000_000)}
ARCHITECTURE_NAMES = ("graph", "seq")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def check_config(config: Any, source: str, archs: tuple[str, ...] = ARCHITECTURE_NAMES) -> dict:
    """The checkpoint's config, validated: every required key present with its type and range,
    heads dividing the width, an architecture in ``archs``. Raises :class:`CheckpointError`
    (``source`` = the checkpoint, ``element`` = ``config.<key>``) otherwise."""

    def bad(key: str, why: str) -> CheckpointError:
        return CheckpointError(f"invalid model config: {why}", source=source,
                               element=f"config.{key}" if key else "config")

    if not isinstance(config, dict):
        raise bad("", f"expected a mapping, got {type(config).__name__}")
    arch = config.get("arch")
    if "arch" not in config:
        raise bad("arch", "missing key arch")
    if arch not in archs:
        raise bad("arch", f"architecture {arch!r} is not one of {', '.join(archs)}")
    for key, (low, high) in _CONFIG_INTS.items():
        if key not in config:
            raise bad(key, f"missing key {key}")
        if not _is_int(config[key]) or not low <= config[key] <= high:
            raise bad(key, f"{key} must be an integer in [{low}, {high}], got {config[key]!r}")
    for key, (low, high) in _OPTIONAL_INTS.items():
        if key in config and (not _is_int(config[key]) or not low <= config[key] <= high):
            raise bad(key, f"{key} must be an integer in [{low}, {high}], got {config[key]!r}")
    if arch == "seq" and "max_nodes" not in config:
        raise bad("max_nodes", "missing key max_nodes (the seq architecture needs it)")
    if "physics" not in config:
        raise bad("physics", "missing key physics")
    if not isinstance(config["physics"], bool):
        raise bad("physics", f"physics must be true or false, got {config['physics']!r}")
    if config["d_model"] % config["n_heads"]:
        raise bad("n_heads", f"n_heads ({config['n_heads']}) does not divide d_model "
                  f"({config['d_model']})")
    if "train_log_range" in config:
        rng = config["train_log_range"]
        if (not isinstance(rng, (list, tuple)) or len(rng) != 2
                or not all(_is_number(v) for v in rng)):
            raise bad("train_log_range", f"expected two numbers, got {rng!r}")
    extra = config.get("extra", {})
    if not isinstance(extra, dict):
        raise bad("extra", f"expected a mapping, got {type(extra).__name__}")
    _check_recipe(extra.get("recipe", []), bad)
    return config


def _check_recipe(recipe: Any, bad) -> None:
    """The training recipe the out-of-distribution flag reads (``Predictor.ood_reasons``)."""
    if not isinstance(recipe, (list, tuple)):
        raise bad("extra.recipe", f"expected a list, got {type(recipe).__name__}")
    for k, item in enumerate(recipe):
        key = f"extra.recipe[{k}]"
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[1], dict):
            raise bad(key, "expected [weight, {generator config}]")
        part = item[1]
        if not _is_number(part.get("decades")):
            raise bad(f"{key}.decades", f"expected a number, got {part.get('decades')!r}")
        for name in ("intakes", "excretions"):
            pair = part.get(name)
            if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                    or not all(_is_int(v) for v in pair)):
                raise bad(f"{key}.{name}", f"expected two integers, got {pair!r}")
        if not isinstance(part.get("weights"), str):
            raise bad(f"{key}.weights", f"expected a string, got {part.get('weights')!r}")


def graph_weight_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every weight of the ``graph`` architecture and its shape, for a validated config (the
    parameter names of :class:`sbmleq.model.torch_model.GraphEquilibriumModel`)."""
    d, ff, h = config["d_model"], config["d_ff"], config["n_heads"]
    g2 = 2 * (h // 3)
    shapes: dict[str, tuple[int, ...]] = {}

    def linear(name: str, n_in: int, n_out: int) -> None:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (n_out, n_in), (n_out,)

    def norm(name: str) -> None:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (d,), (d,)

    linear("embed.fc1", 6, d)
    linear("embed.fc2", d, d)
    for i in range(config["n_layers"]):
        p = f"blocks.{i}"
        norm(f"{p}.ln1")
        norm(f"{p}.ln2")
        linear(f"{p}.qkv", d, 3 * d)
        linear(f"{p}.proj", d, d)
        linear(f"{p}.edge_bias", 2, g2)
        linear(f"{p}.mlp.fc1", d, ff)
        linear(f"{p}.mlp.fc2", ff, d)
    if config["physics"]:
        linear("inject", 3, d)
    norm("ln_f")
    linear("y_head", d, 2 if config["physics"] else 1)
    linear("drain_head", d, 1)
    return shapes


def save_checkpoint(path: str | os.PathLike, model, cfg, extra: dict[str, Any] | None = None) -> None:
    """Write atomically (tmp file + rename) so a crash never leaves a half-written checkpoint."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "token_format_version": TOKEN_FORMAT_VERSION,
        "vocabulary": {"kinds": list(KIND_NAMES), "numbers": list(NUM_NAMES)},
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }
    save_torch_atomic(path, payload)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load the raw payload with ``weights_only=True`` (no pickled code runs)."""
    path = Path(path)
    payload = load_torch_safe(path)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"not an sbmleq checkpoint (expected format {CHECKPOINT_FORMAT})",
                              source=str(path))
    if payload.get("token_format_version") != TOKEN_FORMAT_VERSION:
        raise CheckpointError(f"checkpoint uses token format {payload.get('token_format_version')}, "
                              f"this sbmleq reads {TOKEN_FORMAT_VERSION}", source=str(path),
                              element="token_format_version")
    if "config" not in payload:
        raise CheckpointError("missing key config", source=str(path), element="config")
    check_config(payload["config"], str(path))
    if not isinstance(payload.get("model"), dict):
        raise CheckpointError("missing or invalid key model (the weights)", source=str(path),
                              element="model")
    return payload


# ------------------------------------------------------------------ shared by both models' files
def save_torch_atomic(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """``torch.save`` to a tmp file, then rename: a crash never leaves a half-written file."""
    import torch  # the torch path is opt-in

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_torch_safe(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` (no pickled code runs); a missing or unreadable file is
    a one-line :class:`CheckpointError` naming it."""
    import torch  # the torch path is opt-in

    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint file not found", source=str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError,
            OSError, AttributeError, TypeError, KeyError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"not a readable sbmleq checkpoint ({first[:160]})",
                              source=str(path)) from None


def read_npz_archive(path: Path, what: str = "sbmleq model") -> tuple[dict[str, Any], dict]:
    """``(meta, arrays)`` of a NumPy model export: the JSON ``meta`` entry (a mapping) and every
    other array by name, read without pickle. A missing, truncated or foreign file, or
    unreadable metadata, is a :class:`CheckpointError` naming the file (``what``: how the
    message names the expected kind)."""
    import json

    import numpy as np  # light, but only the NumPy exports need it

    source = str(path)
    if not path.is_file():
        raise CheckpointError("checkpoint file not found", source=source)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):  # a plain .npy array, not an archive
                raise ValueError("not an .npz archive")
            if "meta" not in data.files:
                raise CheckpointError(f"not an {what}: no meta entry", source=source,
                                      element="meta")
            meta = json.loads(bytes(np.asarray(data["meta"], dtype=np.uint8)).decode())
            raw = {k: data[k] for k in data.files if k != "meta"}
    except CheckpointError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"unreadable model metadata ({str(exc)[:120]})", source=source,
                              element="meta") from None
    except Exception as exc:  # noqa: BLE001 - numpy/zipfile raise many kinds on bad files
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise CheckpointError(f"not a readable sbmleq model ({detail})", source=source) from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"model metadata must be a mapping, got {type(meta).__name__}",
                              source=source, element="meta")
    return meta, raw


def checked_weights(raw: dict[str, Any], shapes: dict[str, tuple[int, ...]],
                    source: str) -> dict[str, Any]:
    """``w:<name>`` arrays of an ``.npz`` export -> float64 weights by name, each checked
    against the shapes its config implies (missing, extra, non-numeric, misshapen, non-finite:
    a :class:`CheckpointError` naming the entry)."""
    import numpy as np  # light, but only the NumPy exports need it

    extra = sorted(k for k in raw if not (k.startswith("w:") and k[2:] in shapes))
    if extra:
        raise CheckpointError(f"unexpected entry {extra[0]} for this config"
                              + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""),
                              source=source, element=extra[0])
    weights = {}
    for name, shape in shapes.items():
        key = f"w:{name}"
        if key not in raw:
            raise CheckpointError(f"missing weight {key}", source=source, element=key)
        array = raw[key]
        if array.dtype.kind not in "fiu":
            raise CheckpointError(f"weight {key} is not numeric (dtype {array.dtype})",
                                  source=source, element=key)
        if array.shape != shape:
            raise CheckpointError(f"weight {key} has shape {array.shape}, the config implies "
                                  f"{shape}", source=source, element=key)
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise CheckpointError(f"weight {key} has {bad} non-finite value(s) (NaN or Inf)",
                                  source=source, element=key)
        weights[name] = array
    return weights
