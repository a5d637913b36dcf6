"""One loader for every source type (no network access: BioModels ids come from local files)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import libsbml
import pytest

from sbmleq.errors import InputError
from sbmleq.io.sources import (
    biomodels_cache_dir,
    find_biomodel,
    load_sbml_text,
    shipped_biomodels_dir,
)
from sbmleq.core.network import Network
from sbmleq.io.loader import load
import sbmleq.api as sbmleq_api
from sbmleq.io.sbml_export import network_to_sbml

DATA = Path(__file__).parent / "data"
FEATURES = DATA / "features.xml"
CHAIN = Network.from_edges([("S1", "S2", 0.3), ("S2", "S3", 0.2)], {"S1": 1.0}, {"S3": 0.5},
                           name="chain")
ANTIMONY = """
model chain
  compartment c = 1;
  species S1 in c, S2 in c, S3 in c;
  J0: -> S1; c * phi;
  J1: S1 -> S2; c * k1 * S1;
  J2: S2 -> S3; c * k2 * S2;
  J3: S3 -> ; c * e3 * S3;
  phi = 1.0; k1 = 0.3; k2 = 0.2; e3 = 0.5;
  S1 = 0; S2 = 0; S3 = 0;
end
"""


def expected_features() -> Network:
    return load(FEATURES).network


def test_path_str_and_pathlib() -> None:
    by_path = load(FEATURES)
    by_str = load(str(FEATURES))
    assert by_path.in_class and by_path.network == by_str.network
    assert by_path.source_name == str(FEATURES)
    assert load(FEATURES, name="features").source_name == "features"


def test_sbml_string() -> None:
    result = load(FEATURES.read_text())
    assert result.network == expected_features() and result.source_name == "<SBML string>"


def test_antimony_string() -> None:
    result = load(ANTIMONY)
    assert result.in_class, result.reasons
    assert result.network == CHAIN
    assert result.source_name == "<antimony chain>"


def test_bad_antimony() -> None:
    with pytest.raises(InputError, match="invalid Antimony"):
        load("model broken\n  J0: S1 -> ; k *\nend\n")


def test_roadrunner_object() -> None:
    import roadrunner

    rr = roadrunner.RoadRunner(str(FEATURES))
    result = load(rr)
    assert result.network == expected_features()
    assert result.source_name == "<RoadRunner features>"
    text, name = load_sbml_text(rr)
    assert text.lstrip().startswith("<") and name == "<RoadRunner features>"


def test_roadrunner_keeps_exported_node_ids() -> None:
    import roadrunner

    net = Network.from_edges([("glucose 6-P", "2pg", 0.3)], {"glucose 6-P": 1.0}, {"2pg": 0.5})
    result = load(roadrunner.RoadRunner(network_to_sbml(net)))
    assert result.network == net
    assert result.node_species == {"glucose 6-P": "glucose_6_P", "2pg": "_2pg"}


def test_sbml_document_is_not_modified() -> None:
    doc = libsbml.readSBMLFromFile(str(FEATURES))
    before = libsbml.writeSBMLToString(doc)
    result = load(doc)
    assert result.network == expected_features()
    assert result.source_name == "<SBMLDocument features>"
    assert libsbml.writeSBMLToString(doc) == before  # function definitions not expanded in place


def test_network_source() -> None:
    result = load(CHAIN)
    assert result.in_class and result.network is CHAIN
    assert [r.as_ for r in result.report] == ["intake into S1 (1)", "edge S1->S2 k=0.3",
                                              "edge S2->S3 k=0.2", "excretion of S3 (rate 0.5)"]
    text, name = load_sbml_text(CHAIN)
    assert name == "chain" and load(text).network == CHAIN


def test_biomodels_id_from_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path))
    assert biomodels_cache_dir() == tmp_path / "biomodels"
    model_id = "BIOMD0000099999"  # not a real id: cannot be shadowed by a shipped file
    assert find_biomodel(model_id) is None
    (tmp_path / "biomodels").mkdir()
    shutil.copy(FEATURES, tmp_path / "biomodels" / f"{model_id}.xml")
    result = load(model_id)
    assert result.network == expected_features() and result.source_name == model_id
    text, name = load_sbml_text(model_id)
    assert name == model_id and "<sbml" in text


def test_biomodels_id_not_available(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SBMLEQ_CACHE", str(tmp_path))
    with pytest.raises(InputError, match="not available offline") as info:
        load("BIOMD0000099998")
    assert "sbmleq biomodels fetch BIOMD0000099998" in str(info.value)


def test_shipped_biomodel_if_present() -> None:
    folder = shipped_biomodels_dir()
    files = sorted(folder.glob("*.xml")) if folder.is_dir() else []
    if not files:
        pytest.skip("no BioModels files are shipped in this checkout")
    result = load(files[0].stem)
    assert result.source_name == files[0].stem


def test_curated_copy_in_class() -> None:
    # BIOMD0000000057 (CC0, copied from the curated BioModels set): a first-order network.
    result = load(DATA / "BIOMD0000000057.xml")
    assert result.in_class, result.reasons
    assert result.network.n_nodes == 6


def test_missing_path_and_unknown_type() -> None:
    with pytest.raises(InputError, match="file not found"):
        load("no/such/model.xml")
    with pytest.raises(InputError, match="file not found"):
        load_sbml_text(Path("no/such/model.xml"))
    with pytest.raises(InputError, match="file not found"):
        load("x" * 400)  # too long to be a path: no OSError leaks out
    with pytest.raises(InputError, match="cannot load a int"):
        load(42)


def test_import_is_lazy() -> None:
    code = ("import sys, sbmleq.io.sources, sbmleq.io.sbml_import, sbmleq.io.sbml_export; "
            "print(sorted(m for m in ('roadrunner', 'antimony', 'libsbml', 'sympy', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_exported_text_round_trips_through_loader() -> None:
    assert load(network_to_sbml(CHAIN)).network == CHAIN


def test_antimony_file_by_path_and_non_xml_sbml_file(tmp_path):
    ant = tmp_path / "model.ant"
    ant.write_text("J0: -> A; 1\nJ1: A -> ; 2*A\nA = 0\n")
    result = load(str(ant))
    assert result.in_class and result.network.intake.tolist() == [1.0]
    bad = tmp_path / "model.xml"
    bad.write_text("J0: -> A; 1\n")
    with pytest.raises(InputError, match="model.xml: line .*: malformed XML"):
        sbmleq_api.load(bad)
