"""Export a training checkpoint to the NumPy model file the package ships.

    python -m training.export runs/default/model.pt sbmleq/checkpoints/default.npz --iters 32
"""

from __future__ import annotations

import argparse

from sbmleq.model.numpy_model import export_npz


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--iters", type=int, default=None, help="default refinement iterations")
    args = ap.parse_args(argv)
    export_npz(args.checkpoint, args.out, n_iters=args.iters)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
