"""Command line: ``python -m dartslib search|train|count ...``.

Bad input ends with one line on stderr naming the problem and exit status 2; missing data and runtime
failures (divergence, corrupt checkpoint) exit with status 1; Ctrl-C saves and exits with 130.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main", "build_parser"]

EPILOG_SEARCH = """examples:
  python -m dartslib search --space nb201 --dataset digits --scale toy
  python -m dartslib search --method darts-2nd --space s3 --scale toy --seed 1 --out runs/s3
  python -m dartslib search --resume runs/s3
  python -m dartslib search --space darts --dataset cifar10 --scale paper --data-dir ~/data --out runs/darts
"""


class UsageError(Exception):
    """Bad input from the user: exit status 2."""


def _positive_or_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _positive(text: str) -> int:
    value = _positive_or_zero(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be positive, got 0")
    return value


def _add_common(p: argparse.ArgumentParser) -> None:
    from .config import SCALES
    from .data import DATASETS

    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="data set (default: digits at toy/small scale, cifar10 at paper scale)")
    p.add_argument("--scale", choices=SCALES, default="toy",
                   help="toy = CPU seconds on embedded digits; small = CPU minutes; paper = the paper's setting")
    p.add_argument("--epochs", type=_positive_or_zero, default=None, help="override the number of epochs")
    p.add_argument("--batch-size", type=_positive, default=None, help="override the batch size")
    p.add_argument("--lr", type=float, default=None, help="override the weights' learning rate")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    p.add_argument("--data-dir", default=None, help="where the data sets live (default: $DARTSLIB_DATA)")
    p.add_argument("--out", default=None, help="output directory (checkpoints, history, result)")
    p.add_argument("--resume", default=None, metavar="DIR_OR_CHECKPOINT", help="continue an interrupted run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    from .methods import METHODS
    from .spaces import SPACES

    parser = argparse.ArgumentParser(prog="python -m dartslib",
                                     description="DARTS and its fixes: search, train from scratch, count.")
    sub = parser.add_subparsers(dest="command", metavar="{search,train,count}")
    sub.required = True

    s = sub.add_parser("search", help="run an architecture search", epilog=EPILOG_SEARCH,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Search a cell with a DARTS-family method. Writes OUT/checkpoint.pt every "
                                   "epoch, OUT/history.jsonl and OUT/result.json.")
    s.add_argument("--method", choices=list(METHODS), default="darts",
                   help="; ".join(f"{m.name}: {m.description}" for m in METHODS.values()))
    s.add_argument("--space", choices=list(SPACES), default="nb201", help="search space (default nb201)")
    s.add_argument("--arch-lr", type=float, default=None, help="override the alphas' learning rate")
    s.add_argument("--C", type=_positive, default=None, help="override the supernet's initial channels")
    s.add_argument("--layers", type=_positive, default=None, help="override the cells of a DARTS supernet")
    s.add_argument("--cells-per-stage", type=_positive, default=None, help="override N of the NB201 supernet")
    _add_common(s)

    t = sub.add_parser("train", help="train a genotype from scratch",
                       description="Train the evaluation network of a genotype (DARTS text, a published name "
                                   "such as DARTS_V2, or an NB201 architecture string).")
    t.add_argument("--genotype", required=True, help="genotype text, published name, or NB201 string")
    t.add_argument("--C", type=_positive, default=None, help="override initial channels")
    t.add_argument("--layers", type=_positive, default=None, help="override the number of cells")
    _add_common(t)

    c = sub.add_parser("count", help="print parameters and multiply-accumulates of a genotype's network")
    c.add_argument("--genotype", required=True, help="genotype text, published name, or NB201 string")
    c.add_argument("--C", type=_positive, default=None, help="initial channels (default 36; NB201: 16)")
    c.add_argument("--layers", type=_positive, default=20, help="cells (default 20; NB201: N=5 per stage)")
    c.add_argument("--num-classes", type=_positive, default=10)
    c.add_argument("--image-size", type=_positive, default=32)
    return parser


def _is_nb201(text: str) -> bool:
    return text.strip().startswith("|")


def _run_count(args: argparse.Namespace) -> int:
    from .counting import count_macs, count_parameters
    from .nb201 import build_nb201_network
    from .networks import build_network

    if _is_nb201(args.genotype):
        model = build_nb201_network(args.genotype, C=args.C or 16, N=5, num_classes=args.num_classes)
    else:
        model = build_network(args.genotype, C=args.C or 36, layers=args.layers, num_classes=args.num_classes)
    params = count_parameters(model)
    macs = count_macs(model, (3, args.image_size, args.image_size))
    print(f"parameters: {params:,} ({params / 1e6:.2f} M, auxiliary head excluded)")
    print(f"MACs: {macs:,} ({macs / 1e6:.1f} M at {args.image_size}x{args.image_size})")
    return 0


def _run_search(args: argparse.Namespace) -> int:
    from .config import make_config
    from .search import Search

    if args.resume:
        run = Search.resume(args.resume, progress=not args.quiet, device=args.device)
        print(f"resuming {args.resume} at epoch {run.epoch + 1}/{run.config.epochs}", file=sys.stderr)
    else:
        config = make_config(args.method, args.space, args.scale, dataset=args.dataset, epochs=args.epochs,
                             batch_size=args.batch_size, lr=args.lr, arch_lr=args.arch_lr, seed=args.seed,
                             device=args.device, data_dir=args.data_dir, C=args.C, layers=args.layers,
                             cells_per_stage=args.cells_per_stage)
        run = Search(config, args.out, progress=not args.quiet)
    result = run.run()
    print(json.dumps({"genotype": result.genotype, **result.metrics}, indent=2))
    if result.out_dir:
        print(f"wrote {result.out_dir / 'result.json'}", file=sys.stderr)
    return 0


def _run_train(args: argparse.Namespace) -> int:
    from .train import Training, make_train_config

    if args.resume:
        run = Training.resume(args.resume, progress=not args.quiet, device=args.device)
    else:
        config = make_train_config(args.genotype, args.scale, dataset=args.dataset, epochs=args.epochs,
                                   batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                                   data_dir=args.data_dir, C=args.C, layers=args.layers)
        run = Training(config, args.out, progress=not args.quiet)
    result = run.run()
    print(json.dumps(result, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from .checkpoint import CheckpointError
    from .data import DatasetNotFoundError
    from .search import SearchDiverged, SearchInterrupted

    parser = build_parser()
    args = parser.parse_args(argv)
    runners = {"search": _run_search, "train": _run_train, "count": _run_count}
    try:
        return runners[args.command](args)
    except SearchInterrupted as exc:
        where = f"; resume with: python -m dartslib {args.command} --resume {exc.checkpoint.parent}" \
            if exc.checkpoint else ""
        print(f"interrupted{where}", file=sys.stderr)
        return 130
    except (DatasetNotFoundError, CheckpointError, SearchDiverged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
