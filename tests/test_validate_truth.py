"""``sbmleq validate --truth``: the three-way comparison (sbmleq's solver, roadrunner, the
simulation truth) on real shipped models, with real solvers in real child processes, and the
command's handling of truth files and of rows of the previous version.

The truth records are the shipped ones (sbmleq/data/biomodels/truth.jsonl, written by
benchmarks/corpus_truth.py). The models are chosen where sbmleq's verdict is clear-cut (its
solver is still being tuned; tests/test_report.py checks the counting on given answers).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os

import pytest
from typer.testing import CliRunner

from sbmleq.cli.main import app
from sbmleq.errors import InputError
from sbmleq.io.sources import shipped_biomodels_dir
from sbmleq.validation.batch import needs_retry
from sbmleq.validation.command import validate_command
from sbmleq.validation.store import ResultsStore, read_results
from sbmleq.validation.truth import attach_truth, read_truth, shipped_truth_path

MODEL = os.environ.get("SBMLEQ_TEST_MODEL") or None
TRUTH_CASES = {  # shipped model -> (truth kind, sbmleq, roadrunner, plain steadyState())
    "BIOMD0000000233": ("settled", "right", "wrong", "different"),  # rr lands elsewhere
    "BIOMD0000000455": ("settled", "right", "right", "failed"),  # plain: singular Jacobian
    "BIOMD0000000319": ("oscillating", "right", "right", None),
    "BIOMD0000000231": ("growing", "right", "right", None),
}


def validate(**kwargs) -> tuple[int, str]:
    """``validate_command`` in this process: (exit code, what it printed on stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = validate_command(**{"progress": False, "model": MODEL, **kwargs})
    return code, err.getvalue()


@pytest.fixture(scope="module")
def truth_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    models = root / "models"
    models.mkdir()
    for mid in TRUTH_CASES:
        (models / f"{mid}.xml").write_bytes((shipped_biomodels_dir() / f"{mid}.xml").read_bytes())
    report = root / "report.html"
    code, output = validate(sources=[str(models)], report=report, jobs=2, timeout=60,
                            truth=shipped_truth_path())
    return {"root": root, "models": models, "report": report, "code": code, "output": output}


def test_truth_join_counts_who_is_right(truth_batch):
    report, output = truth_batch["report"], truth_batch["output"]
    assert truth_batch["code"] == 0, output
    rows = attach_truth(read_results(report.with_suffix(".sqlite")), read_truth(shipped_truth_path()))
    got = {r["id"]: tuple(r["truth"][k] for k in ("kind", "sbmleq", "roadrunner", "plain"))
           for r in rows}
    assert got == TRUTH_CASES
    assert "vs simulation truth (4 models with a record): settled 2: sbmleq right 2, roadrunner " \
           "right 1, both 1, neither 0; roadrunner wrong or failed on 1 (sbmleq right on 1); plain " \
           "steadyState() wrong or failed on 2 (sbmleq right on 2)" in output
    for kind, what in (("oscillating", "oscillation"), ("growing", "unbounded growth")):
        assert f"{kind} 1: sbmleq recognises {what} in 1, roadrunner reports no stable steady " \
               "state in 1" in output
    text = report.read_text()
    assert "id='truth'" in text and f"truth <code>{shipped_truth_path()}</code>" in text
    assert "--truth" in text  # the command that reruns it
    with open(report.with_suffix(".csv"), newline="") as fh:
        table = {r["id"]: r for r in csv.DictReader(fh)}
    assert [table[m]["truth_roadrunner"] for m in TRUTH_CASES] == ["wrong", "right", "right",
                                                                   "right"]
    assert [table[m]["sbmleq_status"] for m in TRUTH_CASES] == ["stable", "stable", "oscillation",
                                                                "unbounded"]


def test_the_store_holds_no_truth_and_resumes(truth_batch):
    """The truth is joined when the report is written: the same rows report without it, and
    the batch run again skips every model."""
    report = truth_batch["report"]
    code, output = validate(report=report, report_only=True)
    assert code == 0 and "vs simulation truth" not in output
    assert all("truth" not in r for r in read_results(report.with_suffix(".sqlite")))
    code, output = validate(sources=[str(truth_batch["models"])], report=report,
                            truth=shipped_truth_path())
    assert code == 0, output
    assert "0 model(s) validated, 4 already in" in output
    assert "vs simulation truth (4 models with a record)" in output


def test_truth_file_missing_or_corrupt_is_one_line_exit_2(tmp_path):
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text('{"model": "BIOMD0000000233"}\nnot json at all\n{"model": "x"}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    source = "BIOMD0000000233"  # shipped: found offline
    for path, message in ((tmp_path / "missing.jsonl", "truth file not found"),
                          (corrupt, "line 2 is not JSON"), (empty, "holds no record")):
        with pytest.raises(InputError, match=message) as info:
            validate(sources=[source], report=tmp_path / "r.html", truth=path)
        assert info.value.exit_code == 2 and info.value.one_line().startswith(f"{path}: ")
        result = CliRunner().invoke(app, ["validate", source, "--report", str(tmp_path / "r.html"),
                                          "--truth", str(path), "--no-progress"])
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.jsonl", "empty.jsonl"]
    cut = tmp_path / "cut.jsonl"  # a run still appending: its last line is cut short
    cut.write_text('{"model": "BIOMD0000000233"}\n{"model": "BIOMD00')
    assert list(read_truth(cut)) == ["BIOMD0000000233"]


def test_rows_of_version_1_are_reported_and_retried(tmp_path, truth_batch):
    """A results store of the previous version (no ``general``, no roadrunner concentrations):
    the report counts it as not run, judges roadrunner by status only, and --retry would run
    it again."""
    (new,) = [r for r in read_results(truth_batch["report"].with_suffix(".sqlite"))
              if r["id"] == "BIOMD0000000319"]
    old = {k: v for k, v in new.items() if k != "general"}
    old["v"] = 1
    old["roadrunner"] = {k: v for k, v in old["roadrunner"].items() if k != "concentrations"}
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.open()
        store.put(old)
    code, output = validate(report=tmp_path / "r.html", out=tmp_path / "r.sqlite",
                            report_only=True, truth=shipped_truth_path())
    assert code == 0, output
    assert "general networks: not analysed (1 row(s) of an earlier version" in output
    assert "No row carries the general analysis" in (tmp_path / "r.html").read_text()
    (row,) = attach_truth([old], read_truth(shipped_truth_path()))
    assert (row["truth"]["sbmleq"], row["truth"]["roadrunner"]) == ("not_run", "right")
    assert needs_retry(old) and not needs_retry(new)
    killed = {**new, "general": {"outcome": "failure", "error_code": "ChildTimeout"}}
    assert needs_retry(killed)  # the retry itself: test_validate's timeout test
