"""Fast smoke tests of the training code: every compared architecture learns on a fixed tiny batch,
the paper's output tokens round-trip, training/train.py resumes from its checkpoint and refuses a
corrupt one."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sbmleq.errors import CheckpointError
from sbmleq.core.generators import GeneratorConfig
from sbmleq.model.torch_model import ModelConfig
from training.compare import RegressionArm, score
from training.data import fixed_set, label
from training.paper_seq2seq import (PaperSeq2SeqArm, Seq2SeqConfig, exact_concentrations,
                                    input_tokens, output_tokens, parse_output)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_batch():
    cfg = GeneratorConfig(family="gnm", weights="loguniform", intakes=(1, 2), excretions=(1, 2),
                          n_min=3, n_max=6)
    return label(fixed_set(cfg, 8, seed=7))


def tiny_arm(key: str):
    torch.manual_seed(0)
    if key == "a":
        cfg = Seq2SeqConfig(d_model=32, n_heads=2, enc_layers=1, dec_layers=1, d_ff=64,
                            max_nodes=8, max_in=256, max_out=96)
        return PaperSeq2SeqArm(cfg, lr=3e-3, warmup=1)
    common = dict(d_model=24, n_heads=6, d_ff=48, n_layers=1, n_iters=4, max_nodes=8)
    cfg = {"b": ModelConfig(arch="seq", **common),
           "c1": ModelConfig(arch="graph", physics=False, **common),
           "c2": ModelConfig(arch="graph", physics=True, **common)}[key]
    return RegressionArm(cfg, n_iters=4, lr=3e-3, warmup=1)


def test_paper_output_tokens_round_trip(tiny_batch):
    x = exact_concentrations(tiny_batch)
    for k, n in enumerate(tiny_batch.batch.n_nodes):
        exists = bool(tiny_batch.exists[k])
        toks = output_tokens(exists, x[k, :n])
        lab, vals = parse_output(toks, int(n))
        assert lab == exists
        if exists:
            assert toks[0] == "N1" and toks.count("|") == n
            assert np.abs(vals - x[k, :n]).sum() <= 1e-2 * np.abs(x[k, :n]).sum()
        else:
            assert toks == ["N0"] and vals is None
    assert parse_output(["N1", "|", "+", "1", "10^"], 1) == (True, None)  # malformed number
    assert parse_output(["N1", "|", "+", "1", "0", "0", "10^", "+", "0"], 2) == (True, None)
    assert parse_output(["|"], 1) == (None, None)
    assert input_tokens(tiny_batch.networks[0])[0] == f"N{tiny_batch.networks[0].n_nodes}"


@pytest.mark.parametrize("key", ["a", "b", "c1", "c2"])
def test_architecture_learns_on_a_fixed_batch(tiny_batch, key):
    torch.set_num_threads(1)
    arm = tiny_arm(key)
    prepared = arm.prepare(tiny_batch)
    losses = [arm.train_step(tiny_batch, prepared) for _ in range(30)]
    assert all(math.isfinite(v) for v in losses), losses
    assert np.mean(losses[-5:]) < 0.8 * losses[0], losses
    row = score(arm, [tiny_batch])  # greedy decoding / regression read-out run end to end
    assert row["networks"] == 8 and 0.0 <= row["exists_acc"] <= 1.0


def _train(out: Path) -> str:
    cmd = [sys.executable, "-m", "training.train", "--out", str(out), "--minutes", "0.1",
           "--n-max", "8", "--eval-every", "100000", "--val-size", "8"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_train_resumes_and_rejects_corrupt_checkpoint(tmp_path):
    from training.train import main as train_main

    out = tmp_path / "run"
    first = _train(out)
    assert "resumed" not in first
    n1 = int(re.search(r"done: (\d+) examples", first).group(1))
    assert n1 > 0 and (out / "ckpt.pt").is_file() and (out / "model.pt").is_file()
    second = _train(out)
    assert re.search(rf"resumed from .*: {n1} examples", second), second
    n2 = int(re.search(r"done: (\d+) examples", second).group(1))
    assert n2 > n1

    bad = tmp_path / "bad"
    bad.mkdir()
    data = (out / "ckpt.pt").read_bytes()
    (bad / "ckpt.pt").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(CheckpointError):
        train_main(["--out", str(bad), "--minutes", "0.01", "--n-max", "8", "--val-size", "8"])
    (bad / "ckpt.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        train_main(["--out", str(bad), "--minutes", "0.01", "--n-max", "8", "--val-size", "8"])
    shutil.rmtree(bad)
