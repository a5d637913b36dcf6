"""Export a general-model training checkpoint (.pt) to the NumPy model file (.npz) that loads
and predicts without torch (:mod:`sbmleq.model.general_load`).

    python -m training.export_general runs/general/model.pt sbmleq/checkpoints/general.npz
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sbmleq.model.general_npz import save_general_npz
from sbmleq.model.general_predictor import read_general_checkpoint


def main(argv: Sequence[str] | None = None) -> None:
    """Read and check the checkpoint (torch), write the .npz (weights + config JSON)."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--iters", type=int, default=None,
                    help="default physics iterations of the exported model")
    args = ap.parse_args(argv)
    save_general_npz(args.out, read_general_checkpoint(args.checkpoint), n_iters=args.iters)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
