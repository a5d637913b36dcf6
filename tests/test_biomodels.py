"""The shipped BioModels set, its manifest, and `sbmleq biomodels fetch` (never the network)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sbmleq.io import biomodels as bm
from sbmleq.errors import InputError
from sbmleq.io.loader import load
from sbmleq.io.sources import find_biomodel, shipped_biomodels_dir

REPO = Path(__file__).resolve().parents[1]
SBML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
        b'version1/core" level="3" version="1"><model id="m"/></sbml>\n')


@pytest.fixture()
def cli():
    app = typer.Typer()
    bm.register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "biomodels"


# ------------------------------------------------------------------------------ shipped set
def test_manifest_describes_the_shipped_files():
    rows = bm.read_manifest()
    assert rows, "the shipped set has a manifest"
    assert list(rows[0]) == bm.MANIFEST_COLUMNS
    assert [r["id"] for r in rows] == bm.shipped_ids()
    for r in rows:
        data = (shipped_biomodels_dir() / f"{r['id']}.xml").read_bytes()
        assert int(r["bytes"]) == len(data)
        assert r["sha256"] == hashlib.sha256(data).hexdigest()
        if r["in_class"] == "true":
            assert r["roadrunner_status"] == "converged_stable" and r["reason_if_not"] == ""
        else:
            assert r["reason_if_not"]
    out = [r for r in rows if r["in_class"] == "false"]
    assert 3 <= len(out) <= 8
    assert len({r["reason_if_not"].split(" (e.g.")[0].split(";")[0] for r in out}) == len(out)
    total = sum(int(r["bytes"]) for r in rows)
    assert total < 20e6


def test_repo_manifest_is_the_packaged_one():
    assert (REPO / "biomodels" / "manifest.csv").read_bytes() == bm.manifest_path().read_bytes()
    assert (REPO / "biomodels" / "README.md").is_file()


def test_shipped_models_load_as_the_manifest_says():
    rows = bm.read_manifest()
    sample = [r for r in rows if r["in_class"] == "true"][:2] + \
             [r for r in rows if r["in_class"] == "false"][:2]
    for r in sample:
        assert find_biomodel(r["id"]) == shipped_biomodels_dir() / f"{r['id']}.xml"
        assert load(r["id"]).in_class is (r["in_class"] == "true")


def test_select_and_build_shipped(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rows = []
    for k, (outcome, status, reasons) in enumerate([
        ("in_class", "converged_stable", []),
        ("in_class", "no_steady_state", []),
        ("out_of_class", "converged_stable", ["R1: has 2 reactants (A, B): ..."]),
        ("out_of_class", "converged_stable", ["R1: has 2 reactants (A, B): ...",
                                              "R2: uses delay()"]),
        ("out_of_class", "converged_unstable", ["the model has 1 event(s) (E)"]),
        ("input_error", None, []),
    ]):
        mid = f"BIOMD{k + 1:010d}"
        (src / f"{mid}.xml").write_bytes(SBML + b"<!--" + b"x" * k + b"-->")
        rows.append({"key": mid, "id": mid, "name": f"m{k}", "outcome": outcome, "n_species": 2,
                     "n_reactions": 1, "reasons": reasons,
                     "roadrunner": {"status": status} if status else None})
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dest, manifest = tmp_path / "dest", tmp_path / "repo" / "manifest.csv"
    (dest).mkdir()
    (dest / "BIOMD0000000999.xml").write_bytes(SBML)  # no longer selected: removed
    info = bm.build_shipped(results, src, dest_dir=dest, repo_manifest=manifest,
                            n_out_of_class=2)
    assert (info["in_class"], info["out_of_class"]) == (1, 2)
    assert sorted(p.stem for p in dest.glob("*.xml")) == ["BIOMD0000000001", "BIOMD0000000003",
                                                          "BIOMD0000000005"]
    assert (dest / "BIOMD0000000003.xml").read_bytes() == (src / "BIOMD0000000003.xml").read_bytes()
    listed = bm.read_manifest(manifest)
    assert manifest.read_bytes() == (dest / "manifest.csv").read_bytes()
    assert [r["in_class"] for r in listed] == ["true", "false", "false"]
    assert listed[1]["reason_if_not"].startswith("multi-reactant reaction")
    assert listed[2]["roadrunner_status"] == "converged_unstable"


# ------------------------------------------------------------------------------ fetch
def test_normalize_id():
    assert bm.normalize_id("biomd12") == "BIOMD0000000012"
    assert bm.normalize_id("BIOMD0000000012") == "BIOMD0000000012"
    with pytest.raises(InputError):
        bm.normalize_id("12")


def test_fetch_offline_is_one_clear_line(cache, monkeypatch, cli):
    def offline(model_id):
        raise ConnectionError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(bm, "_download", offline)
    with pytest.raises(bm.FetchError, match="cannot reach BioModels"):
        bm.fetch(["BIOMD0000009999"])
    result = CliRunner().invoke(cli, ["biomodels", "fetch", "BIOMD0000009999"])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: BIOMD0000009999: cannot reach BioModels")


def test_fetch_offline_through_the_biomodels_package(cache, monkeypatch):
    pytest.importorskip("biomodels.metadata")  # the PyPI package (the repo has a biomodels/ folder)
    monkeypatch.setenv(bm.BASE_URL_ENV, "http://127.0.0.1:9")  # nothing listens: refused at once
    with pytest.raises(bm.FetchError, match=r"cannot reach BioModels \(http://127.0.0.1:9\)"):
        bm.fetch(["BIOMD0000009998"])
    assert not (cache / "BIOMD0000009998.xml").exists()


def test_fetch_writes_into_the_cache_the_loader_reads(cache, monkeypatch, cli):
    calls = []

    def download(model_id):
        calls.append(model_id)
        return SBML

    monkeypatch.setattr(bm, "_download", download)
    result = CliRunner().invoke(cli, ["biomodels", "fetch", "BIOMD9999"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(cache / "BIOMD0000009999.xml")
    assert find_biomodel("BIOMD0000009999") == cache / "BIOMD0000009999.xml"
    bm.fetch(["BIOMD0000009999"])  # cached: no second download
    assert calls == ["BIOMD0000009999"]
    shipped = bm.shipped_ids()[0]
    assert bm.fetch([shipped]) == [shipped_biomodels_dir() / f"{shipped}.xml"]
    assert calls == ["BIOMD0000009999"]


def test_fetch_refuses_what_is_not_sbml(cache, monkeypatch):
    monkeypatch.setattr(bm, "_download", lambda model_id: b"PK\x03\x04 an archive")
    with pytest.raises(bm.FetchError, match="not SBML"):
        bm.fetch(["BIOMD0000009997"])
    assert not cache.exists() or not any(cache.iterdir())
