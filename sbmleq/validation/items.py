"""The models of a batch: SBML files, directories of them and BioModels ids, as :class:`BatchItem`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sbmleq.errors import InputError
from sbmleq.io.sources import BIOMODELS_ID, biomodels_cache_dir, find_biomodel, shipped_biomodels_dir

__all__ = ["SBML_SUFFIXES", "BatchItem", "collect_items", "default_jobs"]

SBML_SUFFIXES = (".xml", ".sbml")


@dataclass(frozen=True)
class BatchItem:
    """One model of a batch: ``key`` identifies it in the results store (resume)."""

    key: str  # the BioModels id for an id argument, else the absolute path of the file
    id: str  # display id: the BioModels id or the file stem
    path: Path


def default_jobs() -> int:
    """Models solved in parallel when ``--jobs`` is not given: min(4, CPUs)."""
    return max(1, min(4, os.cpu_count() or 1))


def collect_items(sources: Sequence[str | os.PathLike], *, shipped: bool = False) -> list[BatchItem]:
    """The models named by ``sources``: SBML files, directories of them (``*.xml``, ``*.sbml``,
    recursively, sorted) and BioModels ids (shipped set or cache). ``shipped`` adds every shipped
    BioModels file. Duplicates are dropped. A path that does not exist or an id that is not
    available offline raises :class:`InputError` before anything runs."""

    items: dict[str, BatchItem] = {}
    missing: list[str] = []
    unavailable: list[str] = []

    def add_file(path: Path, key: str | None = None, model_id: str | None = None) -> None:
        resolved = path.resolve()
        key = key or str(resolved)
        items.setdefault(key, BatchItem(key, model_id or path.stem, resolved))

    def add_dir(folder: Path) -> None:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SBML_SUFFIXES)
        for path in files:
            add_file(path)

    if shipped:
        folder = shipped_biomodels_dir()
        for path in sorted(folder.glob("*.xml")) if folder.is_dir() else []:
            add_file(path, key=path.stem, model_id=path.stem)
    for source in sources:
        text = os.fspath(source)
        path = Path(text).expanduser()
        if path.is_dir():
            add_dir(path)
        elif path.is_file():
            add_file(path)
        elif BIOMODELS_ID.match(text.strip()):
            model_id = text.strip()
            found = find_biomodel(model_id)
            if found is None:
                unavailable.append(model_id)
            else:
                add_file(found, key=model_id, model_id=model_id)
        else:
            missing.append(text)
    if missing:
        raise InputError(f"no such file or directory: {', '.join(missing[:5])}"
                         + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""),
                         source="sbmleq validate")
    if unavailable:
        shown = " ".join(unavailable[:5]) + (" ..." if len(unavailable) > 5 else "")
        raise InputError(f"BioModels model(s) not available offline (not shipped, not in the "
                         f"cache {biomodels_cache_dir()}): {shown}; run `sbmleq biomodels fetch "
                         f"{shown}` first", source="sbmleq validate")
    return list(items.values())
