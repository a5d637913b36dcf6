"""Run the Python code blocks of docs/workflow.md, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "workflow.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer(text)]


def test_doc_has_code():
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 5
    assert any("sbmleq.predict(" in b for b in blocks) and any("sbmleq.scan(" in b for b in blocks)


def test_workflow_doc_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("antimony")
    pytest.importorskip("roadrunner")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "workflow_doc"}
    for k, block in enumerate(python_blocks(DOC.read_text())):
        try:
            exec(compile(block, f"{DOC.name}[block {k + 1}]", "exec"), namespace)
        except Exception as exc:  # point at the block that failed
            raise AssertionError(f"docs/workflow.md block {k + 1} failed: {exc!r}\n"
                                 f"{block}") from exc
    out = capsys.readouterr().out
    assert "converged_stable" in out
