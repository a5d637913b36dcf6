"""BioModels: the curated models shipped with sbmleq, their manifest, and fetching more by id.

The shipped set (``sbmleq/data/biomodels/<ID>.xml``, exact copies of curated BioModels files,
CC0) holds every curated model that is in the LIFE class and has a stable roadrunner steady
state, plus a few out-of-class models that show typical reasons. ``manifest.csv`` beside them
(copied to ``biomodels/manifest.csv`` in the repository) lists id, name, species, reactions,
in_class, reason_if_not and roadrunner_status. :func:`sbmleq.validation.shipped.build_shipped`
regenerates both from a validation results file (``sbmleq biomodels build``).

:func:`fetch` downloads models by id with the ``biomodels`` package (``pip install
'sbmleq[fetch]'``) into the cache the loader reads (``$SBMLEQ_CACHE/biomodels`` or
``~/.cache/sbmleq/biomodels``). Without a network it fails with one line
(:class:`FetchError`, an :class:`~sbmleq.errors.InputError`: exit code 2).
``$SBMLEQ_BIOMODELS_URL`` overrides the BioModels base URL. The ``sbmleq biomodels`` commands
are in :mod:`sbmleq.cli.biomodels`.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sbmleq.errors import InputError, SbmleqError
from sbmleq.io.sources import BIOMODELS_ID, biomodels_cache_dir, shipped_biomodels_dir

__all__ = ["MANIFEST_COLUMNS", "REPO_MANIFEST", "FetchError", "fetch", "manifest_path",
           "normalize_id", "read_manifest", "shipped_ids", "write_manifest"]

MANIFEST_COLUMNS = ["id", "name", "species", "reactions", "in_class", "reason_if_not",
                    "roadrunner_status", "bytes", "sha256"]
BASE_URL_ENV = "SBMLEQ_BIOMODELS_URL"
REPO_MANIFEST = Path("biomodels") / "manifest.csv"


class FetchError(InputError):
    """A BioModels download that could not be done (offline, unknown id, HTTP error, not SBML,
    the ``biomodels`` package missing): exit code 2, like other input that cannot be had."""


# ------------------------------------------------------------------------------ shipped set
def manifest_path() -> Path:
    return shipped_biomodels_dir() / "manifest.csv"


def read_manifest(path: str | os.PathLike | None = None) -> list[dict[str, str]]:
    """The manifest rows (an empty list when there is none)."""
    path = Path(path) if path is not None else manifest_path()
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def shipped_ids() -> list[str]:
    """The BioModels ids shipped with the package (sorted)."""
    folder = shipped_biomodels_dir()
    return sorted(p.stem for p in folder.glob("*.xml")) if folder.is_dir() else []


def write_manifest(rows: Iterable[dict[str, Any]], path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in sorted(rows, key=lambda r: r["id"]):
            writer.writerow({k: row.get(k, "") for k in MANIFEST_COLUMNS})
    return path


# ------------------------------------------------------------------------------ fetch
def normalize_id(text: str) -> str:
    """``BIOMD12`` / ``biomd0000000012`` -> ``BIOMD0000000012``; InputError if not an id."""
    m = re.fullmatch(r"\s*(BIOMD|MODEL)(\d{1,10})\s*", text, flags=re.I)
    if not m:
        raise InputError("not a BioModels id (expected e.g. BIOMD0000000012)", source=text)
    model_id = f"{m.group(1).upper()}{int(m.group(2)):010d}"
    assert BIOMODELS_ID.match(model_id)
    return model_id


def _is_network_error(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout", "NewConnectionError",
                "MaxRetryError", "ProtocolError", "SSLError", "URLError", "gaierror"}:
        return True
    return isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError)


def _http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _download(model_id: str) -> bytes:
    """The main file of a BioModels entry (the ``biomodels`` package, cached by pooch)."""
    try:
        import biomodels
        import biomodels.metadata as bm_metadata
    except ImportError:
        raise FetchError("fetching needs the `biomodels` package: pip install 'sbmleq[fetch]'",
                         source=model_id) from None
    try:
        import pooch

        pooch.get_logger().setLevel("WARNING")  # no "Downloading data from ..." lines
    except Exception:  # noqa: BLE001
        pass
    base = os.environ.get(BASE_URL_ENV)
    if base:
        bm_metadata.base_url = base.rstrip("/")
    metadata = biomodels.get_metadata(model_id)
    if not len(metadata):
        raise FetchError("BioModels lists no files for this model", source=model_id)
    return Path(biomodels.get_file(metadata[0])).read_bytes()


def _looks_like_sbml(data: bytes) -> bool:
    head = data[:4096].decode("utf-8", errors="replace")
    head = re.sub(r"<\?.*?\?>|<!--.*?-->", "", head, flags=re.S)
    m = re.search(r"<\s*([A-Za-z_][\w.:-]*)", head)
    return bool(m and m.group(1).split(":")[-1] == "sbml")


def fetch(ids: Iterable[str], *, cache_dir: str | os.PathLike | None = None,
          force: bool = False) -> list[Path]:
    """Download BioModels entries by id into the cache; returns their paths. Models already in
    the cache (or shipped) are not downloaded again unless ``force``. Raises
    :class:`FetchError` (offline, unknown id, not SBML) or InputError (not an id)."""
    folder = Path(cache_dir) if cache_dir is not None else biomodels_cache_dir()
    wanted = [normalize_id(i) for i in ids]
    paths: list[Path] = []
    for model_id in wanted:
        target = folder / f"{model_id}.xml"
        shipped = shipped_biomodels_dir() / f"{model_id}.xml"
        if not force and target.is_file():
            paths.append(target)
            continue
        if not force and shipped.is_file():
            paths.append(shipped)
            continue
        try:
            data = _download(model_id)
        except SbmleqError:
            raise
        except Exception as exc:  # noqa: BLE001 - classify for one clear line
            status = _http_status(exc)
            if status == 404:
                raise FetchError("BioModels has no such model (HTTP 404)", source=model_id) from None
            if status is not None:
                raise FetchError(f"BioModels answered HTTP {status}", source=model_id) from None
            if _is_network_error(exc):
                host = os.environ.get(BASE_URL_ENV) or "https://www.ebi.ac.uk/biomodels"
                raise FetchError(f"cannot reach BioModels ({host}): no network? "
                                 f"({type(exc).__name__}); copy the SBML file into {folder} "
                                 f"as {model_id}.xml instead", source=model_id) from None
            raise FetchError(f"download failed: {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]}", source=model_id) from None
        if not _looks_like_sbml(data):
            raise FetchError("the model's main file is not SBML", source=model_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        paths.append(target)
    return paths
