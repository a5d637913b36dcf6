"""BioModels: the curated models shipped with sbmleq, their manifest, and fetching more by id.

The shipped set (``sbmleq/data/biomodels/<ID>.xml``, exact copies of curated BioModels files,
CC0) holds every curated model that is in the LIFE class and has a stable roadrunner steady
state, plus a few out-of-class models that show typical reasons. ``manifest.csv`` beside them
(copied to ``biomodels/manifest.csv`` in the repository) lists id, name, species, reactions,
in_class, reason_if_not and roadrunner_status. :func:`build_shipped` regenerates both from a
validation results file (``sbmleq biomodels build``).

:func:`fetch` downloads models by id with the ``biomodels`` package (``pip install
'sbmleq[fetch]'``) into the cache the loader reads (``$SBMLEQ_CACHE/biomodels`` or
``~/.cache/sbmleq/biomodels``). Without a network it fails with one line
(:class:`FetchError`). ``$SBMLEQ_BIOMODELS_URL`` overrides the BioModels base URL.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sbmleq.errors import InputError, SbmleqError
from sbmleq.io.sources import BIOMODELS_ID, biomodels_cache_dir, shipped_biomodels_dir
from sbmleq.report.html import model_categories
from sbmleq.report.html import model_categories, summarize
from sbmleq.validation.batch import read_results

__all__ = ["MANIFEST_COLUMNS", "FetchError", "build_shipped", "fetch", "normalize_id",
           "read_manifest", "register", "select_shipped", "shipped_ids", "write_manifest"]

MANIFEST_COLUMNS = ["id", "name", "species", "reactions", "in_class", "reason_if_not",
                    "roadrunner_status", "bytes", "sha256"]
BASE_URL_ENV = "SBMLEQ_BIOMODELS_URL"
REPO_MANIFEST = Path("biomodels") / "manifest.csv"


class FetchError(SbmleqError):
    """A BioModels download that could not be done (offline, unknown id, not SBML)."""

    exit_code = 1


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


def _status(row: dict[str, Any]) -> str:
    return (row.get("roadrunner") or {}).get("status") or ""


def select_shipped(rows: Sequence[dict[str, Any]], *, n_out_of_class: int = 6,
                   sizes: dict[str, int] | None = None) -> tuple[list[dict], list[dict]]:
    """(in-class rows with a stable roadrunner steady state, a few out-of-class examples).

    The examples show the most common kinds of blocking reasons, one each (one "rate depends on
    a modifier", one "kinetic law not first-order", ...): for each, the smallest model whose
    only category it is (else whose main one it is), preferring models roadrunner solves
    (converged stable)."""

    sizes = sizes or {}
    inside = [r for r in rows if r.get("outcome") == "in_class" and _status(r) == "converged_stable"]
    outside = [r for r in rows if r.get("outcome") == "out_of_class" and r.get("reasons")]
    chosen: list[dict] = []
    used: set[str] = set()
    families: set[str] = set()
    for entry in summarize(rows)["reasons"]:
        if len(chosen) >= n_out_of_class:
            break
        cat = entry["category"]
        family = cat.split(":")[0].split(" (")[0]  # one example per kind of reason
        if family in families:
            continue
        pool = [r for r in outside if r["id"] not in used and model_categories(r)[:1] == [cat]]
        if not pool:
            continue
        pool.sort(key=lambda r: (len(model_categories(r)) > 1, _status(r) != "converged_stable",
                                 sizes.get(r["id"], 1 << 40), r["id"]))
        chosen.append(pool[0])
        used.add(pool[0]["id"])
        families.add(family)
    return inside, chosen


def _manifest_row(row: dict[str, Any], data: bytes) -> dict[str, Any]:

    reason = ""
    if row.get("outcome") != "in_class":
        cats = model_categories(row)
        first = (row.get("reasons") or [row.get("error") or ""])[0]
        reason = "; ".join(cats) + (f" (e.g. {first})" if first else "")
    return {"id": row["id"], "name": row.get("name", ""), "species": row.get("n_species", ""),
            "reactions": row.get("n_reactions", ""),
            "in_class": str(row.get("outcome") == "in_class").lower(),
            "reason_if_not": reason, "roadrunner_status": _status(row),
            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def build_shipped(results: str | os.PathLike, source_dir: str | os.PathLike, *,
                  dest_dir: str | os.PathLike | None = None,
                  repo_manifest: str | os.PathLike | None = REPO_MANIFEST,
                  n_out_of_class: int = 6) -> dict[str, Any]:
    """Rebuild the shipped set from a validation results file over ``source_dir`` (files named
    ``<ID>.xml``): copy the selected files (byte for byte) into ``dest_dir`` (the package's
    ``data/biomodels``), remove the ones no longer selected, write the manifest there and to
    ``repo_manifest``. Returns counts and the total size."""

    source_dir = Path(source_dir)
    dest = Path(dest_dir) if dest_dir is not None else shipped_biomodels_dir()
    rows = [r for r in read_results(results) if BIOMODELS_ID.match(r.get("id", ""))]
    sizes = {r["id"]: (source_dir / f"{r['id']}.xml").stat().st_size for r in rows
             if (source_dir / f"{r['id']}.xml").is_file()}
    rows = [r for r in rows if r["id"] in sizes]
    inside, examples = select_shipped(rows, n_out_of_class=n_out_of_class, sizes=sizes)
    dest.mkdir(parents=True, exist_ok=True)
    keep = {r["id"] for r in inside + examples}
    for old in dest.glob("*.xml"):
        if old.stem not in keep:
            old.unlink()
    manifest = []
    for row in inside + examples:
        data = (source_dir / f"{row['id']}.xml").read_bytes()
        (dest / f"{row['id']}.xml").write_bytes(data)
        manifest.append(_manifest_row(row, data))
    write_manifest(manifest, dest / "manifest.csv")
    if repo_manifest is not None:
        write_manifest(manifest, repo_manifest)
    total = sum(int(m["bytes"]) for m in manifest)
    return {"in_class": len(inside), "out_of_class": len(examples), "files": len(manifest),
            "bytes": total, "dest": str(dest)}


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


# ------------------------------------------------------------------------------ command line
def register(app: Any) -> None:
    """Add the ``biomodels`` command group (fetch, list, build) to a typer app."""
    import typer

    group = typer.Typer(help="BioModels: the shipped set and downloads by id.",
                        no_args_is_help=True)

    def fail(exc: SbmleqError) -> None:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(exc.exit_code)

    @group.command("fetch")
    def fetch_command(
        ids: list[str] = typer.Argument(..., metavar="ID...", help="BioModels ids"),
        force: bool = typer.Option(False, "--force", help="download again even if cached"),
    ) -> None:
        """Download models by id into the cache (needs a network and sbmleq[fetch])."""
        try:
            for path in fetch(ids, force=force):
                typer.echo(str(path))
        except SbmleqError as exc:
            fail(exc)

    @group.command("list")
    def list_command() -> None:
        """The shipped models (manifest) and the cached ones."""
        rows = read_manifest()
        for r in rows:
            mark = "in class" if r["in_class"] == "true" else "out of class"
            typer.echo(f"{r['id']}  {mark:12}  {r['roadrunner_status']:18}  {r['name']}")
        cached = sorted(p.stem for p in biomodels_cache_dir().glob("*.xml")) \
            if biomodels_cache_dir().is_dir() else []
        typer.echo(f"{len(rows)} shipped in {shipped_biomodels_dir()}; {len(cached)} cached in "
                   f"{biomodels_cache_dir()}")

    @group.command("build", hidden=True)
    def build_command(
        results: Path = typer.Argument(..., help="validation results (.jsonl) over source"),
        source: Path = typer.Argument(..., help="folder of <ID>.xml files (curated BioModels)"),
        out_of_class: int = typer.Option(6, help="out-of-class examples to ship"),
    ) -> None:
        """Maintainers: rebuild sbmleq/data/biomodels and biomodels/manifest.csv."""
        try:
            info = build_shipped(results, source, n_out_of_class=out_of_class)
        except SbmleqError as exc:
            fail(exc)
        typer.echo(f"{info['files']} files ({info['in_class']} in class, {info['out_of_class']} "
                   f"out of class), {info['bytes'] / 1e6:.2f} MB in {info['dest']}")

    app.add_typer(group, name="biomodels")


def main() -> None:  # ``python -m sbmleq.io.biomodels ...`` without the rest of the CLI
    import typer

    app = typer.Typer(add_completion=False)
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    import sys

    app(args=["biomodels", *sys.argv[1:]], prog_name="sbmleq")


if __name__ == "__main__":
    main()
