"""The shipped BioModels set, its manifest, and `sbmleq biomodels fetch` (never the network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sbmleq.cli.main import app as sbmleq_app
from sbmleq.io import biomodels as bm
from sbmleq.errors import InputError
from sbmleq.io.loader import load
from sbmleq.io.sources import find_biomodel, shipped_biomodels_dir
from sbmleq.io.reasons import ReasonCode
from sbmleq.io.sources import antimony_to_sbml
from sbmleq.validation.items import BatchItem
from sbmleq.validation.shipped import GENERAL_MODELS, build_shipped, select_shipped
from sbmleq.validation.truth import read_truth, shipped_truth_path, truth_kind
from sbmleq.validation.store import ResultsStore
from sbmleq.validation.worker import analyse_model, make_row

REPO = Path(__file__).resolve().parents[1]
SBML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
        b'version1/core" level="3" version="1"><model id="m"/></sbml>\n')


@pytest.fixture()
def cli():
    return sbmleq_app  # the `sbmleq` command line (sbmleq.cli.biomodels)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "biomodels"


# ------------------------------------------------------------------------------ shipped set
def test_manifest_describes_the_shipped_files():
    rows = bm.read_manifest()
    assert (len(rows), sum(r["in_class"] == "false" for r in rows)) == (37, 17)
    assert set(GENERAL_MODELS) <= {r["id"] for r in rows}  # the nonlinear general networks
    assert list(rows[0]) == bm.MANIFEST_COLUMNS
    assert [r["id"] for r in rows] == bm.shipped_ids()
    for r in rows:
        data = (shipped_biomodels_dir() / f"{r['id']}.xml").read_bytes()
        assert int(r["bytes"]) == len(data)
        assert r["sha256"] == hashlib.sha256(data).hexdigest()
        if r["in_class"] == "true":
            assert r["roadrunner_status"] == "converged_stable" and r["reason_if_not"] == ""
        else:
            assert r["reason_if_not"] != "" and r["roadrunner_status"] != ""
    examples = [r for r in rows if r["in_class"] == "false" and r["id"] not in GENERAL_MODELS]
    assert len(examples) == 6  # one out-of-class example per kind of reason
    assert len({r["reason_if_not"].split(" (e.g.")[0].split(";")[0] for r in examples}) == 6
    total = sum(int(r["bytes"]) for r in rows)
    assert total < 20e6
    assert max(int(r["bytes"]) for r in rows if r["id"] in GENERAL_MODELS) < 30_000


def test_shipped_truth_holds_the_shipped_models_records():
    """truth.jsonl: records of benchmarks/corpus_truth.py for shipped models only, one per line,
    and every nonlinear general model has one that decides (settled, oscillating, growing)."""
    records = read_truth(shipped_truth_path())
    assert set(records) <= set(bm.shipped_ids())
    kinds = {mid: truth_kind(records[mid]) for mid in GENERAL_MODELS}
    assert set(kinds.values()) == {"settled", "oscillating", "growing"}
    settled = [records[mid] for mid, kind in kinds.items() if kind == "settled"]
    assert all(r["truth"]["concentrations"] for r in settled)
    plain = {r["compare"]["plain"]["class"] for r in settled}
    assert {"failed", "different"} <= plain  # roadrunner's plain steadyState() fails or lands elsewhere
    assert shipped_truth_path().stat().st_size < 100_000


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


SHIPPED_CASES = [  # (Antimony model or None for a broken file, roadrunner status)
    ("model m0\n J0: -> A; 1\n J1: A -> B; 2*A\n J2: B -> ; B\n A = 0; B = 0\nend", "converged_stable"),
    ("model m1\n J0: -> A; 1\n J1: A -> ; A\n A = 0\nend", "no_steady_state"),
    ("model m2\n R1: A + B -> C; k*A*B\n J1: C -> ; k*C\n k = 1; A = 1; B = 1; C = 0\nend",
     "converged_stable"),
    ("model m3\n R1: A + B -> C; k*A*B\n R2: C -> ; k*delay(C, 1)\n k = 1; A = 1; B = 1; C = 0\nend",
     "converged_stable"),
    ("model m4\n J0: -> S; 1\n J1: S -> ; k*S\n k = 1; S = 0\n E1: at time > 5: k = 2\nend",
     "converged_unstable"),
    (None, None),
]


def test_select_and_build_shipped(tmp_path):
    """Rows from the worker (real importer reasons and codes) through the results store."""
    src = tmp_path / "src"
    src.mkdir()
    store = ResultsStore(tmp_path / "r.sqlite")
    store.open()
    rows = {}
    for k, (model, status) in enumerate(SHIPPED_CASES):
        mid = f"BIOMD{k + 1:010d}"
        path = src / f"{mid}.xml"
        path.write_bytes(antimony_to_sbml(model)[0].encode() if model else SBML[:-20])
        analysis = analyse_model(str(path), mid, None)
        rr = {"status": status} if status else None
        rows[mid] = make_row(BatchItem(mid, mid, path), analysis, rr)
        store.put(rows[mid])
    store.export()
    store.close()
    assert [rows[f"BIOMD{k:010d}"]["outcome"] for k in range(1, 7)] == \
        ["in_class", "in_class", "out_of_class", "out_of_class", "out_of_class", "input_error"]
    dest, manifest = tmp_path / "dest", tmp_path / "repo" / "manifest.csv"
    dest.mkdir()
    (dest / "BIOMD0000000999.xml").write_bytes(SBML)  # no longer selected: removed
    inside, chosen = select_shipped(list(rows.values()), n_out_of_class=2)
    assert [r["id"] for r in inside] == ["BIOMD0000000001"]
    assert [r["id"] for r in chosen] == ["BIOMD0000000003", "BIOMD0000000005"]
    truth = tmp_path / "truth.jsonl"  # records of the simulation truth (shipped ones only kept)
    truth.write_text("".join(f'{{"model": "BIOMD000000000{k}", "truth_class": "settled_stable"}}\n'
                             for k in (1, 2, 3)))
    # BIOMD4 (a delay) stands for a hand-picked general model: shipped besides the selection
    info = build_shipped(tmp_path / "r.jsonl", src, dest_dir=dest, repo_manifest=manifest,
                         n_out_of_class=2, general=["BIOMD0000000004"], truth=truth)
    assert info == {"in_class": 1, "out_of_class": 2, "general": 1, "files": 4, "dest": str(dest),
                    "bytes": sum((src / f"BIOMD000000000{k}.xml").stat().st_size
                                 for k in (1, 3, 4, 5)), "truth_records": 2}
    assert sorted(read_truth(dest / "truth.jsonl")) == ["BIOMD0000000001", "BIOMD0000000003"]
    assert sorted(p.stem for p in dest.glob("*.xml")) == ["BIOMD0000000001", "BIOMD0000000003",
                                                          "BIOMD0000000004", "BIOMD0000000005"]
    assert (dest / "BIOMD0000000003.xml").read_bytes() == (src / "BIOMD0000000003.xml").read_bytes()
    listed = bm.read_manifest(manifest)
    assert manifest.read_bytes() == (dest / "manifest.csv").read_bytes()
    assert [r["in_class"] for r in listed] == ["true", "false", "false", "false"]
    assert [r["reason_if_not"] for r in listed if r["id"] != "BIOMD0000000004"] == [
        "",
        f"{ReasonCode.MULTI_REACTANT.label} (e.g. {rows['BIOMD0000000003']['reasons'][0]})",
        f"{ReasonCode.EVENTS.label}; {ReasonCode.TIME_VARYING_PARAMETER.label} "
        f"(e.g. {rows['BIOMD0000000005']['reasons'][0]})"]
    assert ReasonCode.DELAY.label in listed[2]["reason_if_not"]
    assert [r["roadrunner_status"] for r in listed] == ["converged_stable", "converged_stable",
                                                        "converged_stable", "converged_unstable"]


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
    with pytest.raises(bm.FetchError, match="cannot reach BioModels") as info:
        bm.fetch(["BIOMD0000009999"])
    assert isinstance(info.value, InputError) and info.value.exit_code == 2
    result = CliRunner().invoke(cli, ["biomodels", "fetch", "BIOMD0000009999"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
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
    assert result.stdout.strip() == str(cache / "BIOMD0000009999.xml")
    assert find_biomodel("BIOMD0000009999") == cache / "BIOMD0000009999.xml"
    bm.fetch(["BIOMD0000009999"])  # cached: no second download
    assert calls == ["BIOMD0000009999"]
    shipped = bm.shipped_ids()[0]
    assert bm.fetch([shipped]) == [shipped_biomodels_dir() / f"{shipped}.xml"]
    assert calls == ["BIOMD0000009999"]


def test_fetch_refuses_what_is_not_sbml(cache, monkeypatch):
    monkeypatch.setattr(bm, "_download", lambda model_id: b"PK\x03\x04 an archive")
    with pytest.raises(bm.FetchError, match="not SBML") as info:
        bm.fetch(["BIOMD0000009997"])
    assert info.value.exit_code == 2
    assert not cache.exists() or not any(cache.iterdir())
