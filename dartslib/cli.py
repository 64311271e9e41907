"""Command line: ``python -m dartslib search|train|count|plot ...``.

Bad input ends with one line on stderr naming the flag or file and the problem, and exit status 2; missing
or malformed data, unwritable outputs and runtime failures (divergence, corrupt checkpoint, a run directory
in use) exit with status 1; Ctrl-C saves and exits with 130. No input prints a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from dartslib.engine.config import SearchConfig

__all__ = ["main", "build_parser", "search_config"]

EPILOG_SEARCH = """examples:
  python -m dartslib search --space nb201 --dataset digits --scale toy
  python -m dartslib search --method darts-2nd --space s3 --scale toy --seed 1 --out runs/s3
  python -m dartslib search --resume runs/s3
  python -m dartslib search --space darts --dataset cifar10 --scale paper --data-dir ~/data --out runs/darts
  torchrun --nproc_per_node=2 -m dartslib search --space nb201 --out runs/ddp   # data-parallel, global batch
"""


class UsageError(Exception):
    """Bad input from the user: exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (no usage block): ``prog: error: ... (see prog --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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


MAX_CLASSES = 100_000
"""``count --num-classes``: at most this many (ImageNet-21k has 21,841)."""


def _bounded(maximum: int) -> Any:
    def parse(text: str) -> int:
        value = _positive(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _device(text: str) -> str:
    from dartslib.engine.loop import resolve_device

    try:
        resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace(f"--device {text!r}", repr(text))) from None
    return text


def _field(name: str, train: bool = False) -> Any:
    """The flag's ``type`` from the declaration of config field ``name`` (:data:`dartslib.engine.config.FIELDS`,
    :data:`dartslib.engine.train.TRAIN_FIELDS`): the same type, range and upper bound as the config checks."""
    return _knob_parser(_field_knob(name, train))


def _field_knob(name: str, train: bool = False) -> Any:
    """The :class:`~dartslib.hooks.Knob` that declares config field ``name`` (of a training's config: ``train``)."""
    from dartslib.engine.config import FIELDS, field_knob

    knobs = FIELDS
    if train:
        from dartslib.engine.train import TRAIN_FIELDS

        knobs = TRAIN_FIELDS
    knob = field_knob(name, knobs)
    if knob is None:
        raise KeyError(f"no declaration of config field {name!r}")
    return knob


def _out_dir(text: str) -> str:
    """``--out``: a path; an empty one would write into the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory, got an empty path (it would write into the "
                                         "current directory; give --out . for that)")
    return text


def _shown(text: str, limit: int = 60) -> str:
    """``repr`` of a user value, shortened for an error line."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _add_common(p: argparse.ArgumentParser, train: bool = False) -> None:
    from dartslib.engine.config import SCALES
    from dartslib.data import DATASETS

    p.add_argument("--dataset", choices=DATASETS, default=None,
                   help="data set (default: digits at toy/small scale, cifar10 at paper scale)")
    p.add_argument("--scale", choices=SCALES, default=None,
                   help="toy (default) = CPU seconds on embedded digits; small = CPU minutes; paper = the paper's "
                        "setting")
    # at least one epoch from the command line (a config may have 0: an empty run), at most the field's bound
    p.add_argument("--epochs", type=_bounded(int(_field_knob("epochs", train).maximum)), default=None,
                   help="override the number of epochs")
    p.add_argument("--batch-size", type=_field("batch_size", train), default=None, help="override the batch size")
    p.add_argument("--lr", type=_field("lr", train), default=None, help="override the weights' learning rate")
    p.add_argument("--seed", type=_field("seed", train), default=None, help="random seed (default 0)")
    p.add_argument("--device", type=_device, default="auto",
                   help="auto, cpu, cuda, cuda:1, mps (default: cuda when available)")
    p.add_argument("--data-dir", default=None, help="where the data sets live (default: $DARTSLIB_DATA)")
    p.add_argument("--download", action="store_true",
                   help="fetch a missing CIFAR-10/100 through torchvision into the data root, checked against its "
                        "MD5 sums (off by default: nothing is downloaded without it)")
    p.add_argument("--out", type=_out_dir, default=None,
                   help="output directory (checkpoints, history, result); one run per directory: an existing "
                        "run is refused unless --resume or --overwrite, and OUT/.lock is held while running")
    p.add_argument("--resume", type=_out_dir, default=None, metavar="DIR_OR_CHECKPOINT",
                   help="continue an interrupted run with the config in its checkpoint (only --device, --data-dir, "
                        "--quiet and, for a search, --diagnostics may be given with it)")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in an --out that holds one, deleting its checkpoint, history and result")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _knob_parser(knob: Any) -> Any:
    """The flag's ``type``: the knob's own parsing and checks, as a one-line usage error."""

    def parse(text: str) -> Any:
        try:
            return knob.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = knob.name
    return parse


def _add_method_switches(p: argparse.ArgumentParser) -> None:
    """One flag per knob of the switches of dartslib.methods.switches.SWITCHES, generated from the knob (flag,
    type, choices, help); each overrides what the --method preset sets (default None: the preset's value)."""
    from dartslib.methods import switches

    g = p.add_argument_group("method switches (override the preset; see dartslib.methods.switches)")
    for knob in switches.knobs():
        if knob.type is bool:
            g.add_argument(knob.flag_name, dest=knob.name, action="store_true", default=None, help=knob.help)
        else:
            g.add_argument(knob.flag_name, dest=knob.name, type=_knob_parser(knob), choices=knob.cli_choices(),
                           default=None, help=knob.help,
                           metavar=knob.metavar or (None if knob.choices is not None else
                                                    knob.flag_name.lstrip("-").replace("-", "_").upper()))


def build_parser() -> argparse.ArgumentParser:
    from dartslib.engine.config import SCALES
    from dartslib.methods.presets import METHODS
    from dartslib.space.spaces import SPACES

    parser = _Parser(prog="python -m dartslib",
                                     description="DARTS and its fixes: search, train from scratch, count.")
    sub = parser.add_subparsers(dest="command", metavar="{search,train,count,plot,sweep}")
    sub.required = True

    s = sub.add_parser("search", help="run an architecture search", epilog=EPILOG_SEARCH,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Search a cell with a DARTS-family method. Writes OUT/checkpoint.pt every "
                                   "epoch, OUT/history.jsonl and OUT/result.json.")
    s.add_argument("--method", choices=list(METHODS), default=None,
                   help="(default darts) " + "; ".join(f"{m.name}: {m.description}" for m in METHODS.values()))
    s.add_argument("--space", choices=list(SPACES), default=None, help="search space (default nb201)")
    s.add_argument("--arch-lr", type=_field("arch_lr"), default=None, help="override the alphas' learning rate")
    s.add_argument("--C", type=_field("C"), default=None, help="override the supernet's initial channels")
    s.add_argument("--layers", type=_field("layers"), default=None, help="override the cells of a DARTS supernet")
    s.add_argument("--cells-per-stage", type=_field("cells_per_stage"), default=None,
                   help="override N of the NB201 supernet")
    s.add_argument("--diagnostics", default=None, metavar="SPEC",
                   help="record diagnostics into the history, e.g. 'every=1' (discretization gap, gradient "
                        "correlation), 'every=2,hessian,landscape,points=7' (see dartslib.diagnostics.recording)")
    _add_method_switches(s)
    _add_common(s)

    t = sub.add_parser("train", help="train a genotype from scratch",
                       description="Train the evaluation network of a genotype (DARTS text, a published name "
                                   "such as DARTS_V2, or an NB201 architecture string).")
    t.add_argument("--genotype", default=None,
                   help="genotype text, published name, or NB201 string (required unless --resume)")
    t.add_argument("--C", type=_field("C"), default=None, help="override initial channels")
    t.add_argument("--layers", type=_field("layers"), default=None,
                   help="override the number of cells of a DARTS network; of an NB201 string: N, cells per stage")
    t.add_argument("--drop-path-mode", choices=("auto", "edge", "node"), default=None,
                   help="where drop-path acts: edge (DARTS: each non-identity op), node (FairDARTS: each node's "
                        "sum); default auto: node for FairDARTS (op, to, from) triples, else edge")
    _add_common(t, train=True)

    c = sub.add_parser("count", help="print parameters and multiply-accumulates of a genotype's network")
    c.add_argument("--genotype", required=True, help="genotype text, published name, or NB201 string")
    c.add_argument("--C", type=_field("C"), default=None, help="initial channels (default 36; NB201: 16)")
    c.add_argument("--layers", type=_field("layers"), default=None, help="cells of a DARTS network (default 20)")
    c.add_argument("--cells-per-stage", type=_field("cells_per_stage"), default=None,
                   help="N, cells per stage of an NB201 network (default 5)")
    c.add_argument("--num-classes", type=_bounded(MAX_CLASSES), default=10,
                   help=f"classes of the classifier (default 10, at most {MAX_CLASSES})")
    c.add_argument("--image-size", type=_field("image_size"), default=32, help="images' side (default 32)")

    p = sub.add_parser("plot", help="draw the standard figures of search runs",
                       description="Write every standard figure a run's history supports as PNG and SVG into "
                                   "RUN_DIR/figures; with several runs also overlay them (runs with the same "
                                   "label, by default the method, become mean and spread).")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (with history.jsonl)")
    p.add_argument("--out", type=_out_dir, default=None,
                   help="where comparison figures go (default: RUN_DIR/../comparison)")
    p.add_argument("--labels", default=None, help="comma-separated labels, one per run (default: the method)")
    p.add_argument("--formats", default="png,svg", help="comma-separated file formats (default png,svg)")
    p.add_argument("--spread", choices=("std", "minmax"), default="std", help="band around the mean of a label")
    p.add_argument("--no-per-run", action="store_true", help="with several runs, only the comparison figures")

    w = sub.add_parser("sweep", help="run a method x space x seed grid of searches and tabulate them",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="One search per (method, space, seed), each in its own process, in "
                                   "OUT/METHOD__SPACE__seedSEED. Finished runs are skipped, interrupted ones "
                                   "resumed, pairs a method refuses listed with the reason. Writes "
                                   "OUT/results.csv and OUT/results.md (dartslib.sweep.collect reads them back).",
                       epilog="example:\n  python -m dartslib sweep --methods darts,fairdarts --spaces nb201,s1 "
                              "--seeds 0,1,2 --scale toy --out runs/sweep --jobs 2")
    w.add_argument("--methods", required=True, help="comma-separated method names")
    w.add_argument("--spaces", required=True, help="comma-separated search spaces")
    w.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    w.add_argument("--scale", choices=SCALES, default="toy", help="scale of every run (default toy)")
    w.add_argument("--out", type=_out_dir, required=True, help="sweep directory")
    w.add_argument("--jobs", type=_positive, default=1, help="runs at a time (default 1)")
    w.add_argument("--gpus", default=None, help="comma-separated GPU ids: one run per GPU at a time")
    w.add_argument("--batch-seeds", action="store_true",
                   help="run the seeds of each method and space in one process as one batched search "
                        "(dartslib.engine.batched), split over --jobs processes; every preset the book ranks "
                        "batches (darts, fairdarts, darts-minus, sp-darts, single-darts, darts-gaussian, "
                        "darts-noskip), each seed with its own random streams; what cannot (the second-order "
                        "update, GDAS' gumbel weights, protocol nb201) runs one seed per process. --jobs 1 "
                        "spends the least CPU (one process of all seeds); --jobs 2 splits them over two processes")
    w.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field of every run (value read as JSON, else text), e.g. "
                        "--set epochs=20 --set image_size=8; repeatable")
    return parser


def _run_count(args: argparse.Namespace) -> int:
    from dartslib.arch.counting import count_macs, count_parameters

    import torch

    try:  # built on the 'meta' device: shapes only, nothing allocated, whatever the size asked for
        with torch.device("meta"):
            model = _count_model(args)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(message if message.startswith("--") else f"--genotype: {message}") from None
    params = count_parameters(model)
    macs = count_macs(model, (3, args.image_size, args.image_size))
    print(f"parameters: {params:,} ({params / 1e6:.2f} M, auxiliary head excluded)")
    print(f"MACs: {macs:,} ({macs / 1e6:.1f} M at {args.image_size}x{args.image_size})")
    return 0


def _count_model(args: argparse.Namespace) -> Any:
    """The network ``count`` measures (ValueError naming the flag for a flag that does not fit it; a malformed
    ``--genotype`` is the parser's ValueError)."""
    from dartslib.arch.architecture import parse_architecture
    from dartslib.arch.nb201 import build_nb201_network
    from dartslib.arch.networks import build_network

    arch = parse_architecture(args.genotype, allow_empty=True)  # an empty cell has a size too
    if arch.topology == "nb201":
        if args.layers is not None:
            raise ValueError("--layers: an NB201 network has 3 stages of N cells; use --cells-per-stage N")
        return build_nb201_network(arch, C=args.C or 16, cells_per_stage=args.cells_per_stage or 5,
                                   num_classes=args.num_classes)
    if args.cells_per_stage is not None:
        raise ValueError("--cells-per-stage is N of an NB201 network; a DARTS network takes --layers")
    return build_network(arch, C=args.C or 36, layers=args.layers or 20, num_classes=args.num_classes)


def _run_search(args: argparse.Namespace) -> int:
    from dartslib.engine import distributed

    if distributed.launched_by_torchrun() and int(os.environ["WORLD_SIZE"]) > 1:
        group = distributed.init(args.device)  # nccl on CUDA, gloo on the CPU; see dartslib.engine.distributed
        try:
            return _search(args, rank=group.rank)
        finally:
            distributed.close()
    return _search(args, rank=0)


def search_config(args: argparse.Namespace) -> SearchConfig:
    """The config of ``search``'s parsed flags: :func:`dartslib.engine.config.make_config` of the method, space
    and scale (default darts, nb201, toy) with every flag that sets a config field or a switch's knob as an
    override (an unset flag is None: the preset's value), as Python and ``sweep --set`` resolve it. A
    ValueError names the flag."""
    from dartslib.engine.config import make_config, override_names

    names = set(override_names())
    flags = {name: value for name, value in vars(args).items() if name in names}
    return _with_flag_names(make_config, args.method or "darts", args.space or "nb201", args.scale or "toy",
                            **flags)


def _search(args: argparse.Namespace, rank: int) -> int:
    from dartslib.engine.loop import Search

    hooks = []
    if args.diagnostics is not None:
        from dartslib.diagnostics.recording import parse_diagnostics_spec

        try:
            hooks.append(parse_diagnostics_spec(args.diagnostics))
        except ValueError as exc:
            raise ValueError(f"--diagnostics {_shown(args.diagnostics)}: {exc}") from None
    if args.resume:
        _refuse_with_resume(args, "search")
        run = Search.resume(args.resume, progress=not args.quiet, hooks=hooks, **_resume_changes(args))
        if rank == 0:
            print(_resume_line(args.resume, run.epoch, run.config.epochs), file=sys.stderr)
    else:
        run = Search(search_config(args), args.out, progress=not args.quiet, hooks=hooks, overwrite=args.overwrite)
    result = run.run()
    if rank == 0:  # in a torchrun launch, every rank computed the same result
        print(json.dumps({"genotype": result.genotype, **result.metrics}, indent=2))
        if result.out_dir:
            print(f"wrote {result.out_dir / 'result.json'}", file=sys.stderr)
    return 0


def _flag_of(field: str) -> str | None:
    """The flag of ``search`` that sets config ``field`` (a general flag or a switch's knob; several joined by
    ``/``: ``--max-skip`` sets part of ``derive_options``), or None."""
    from dartslib.methods import switches

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["search"]
    flags = [max(a.option_strings, key=len) for a in sub._actions if a.dest == field and a.option_strings]
    flags += [k.flag_name for k in switches.knobs() if k.into == field]
    return "/".join(flags) or None


def _with_flag_names(build: Any, *args: Any, **kwargs: Any) -> Any:
    """``build(*args, **kwargs)``, with a config ValueError's leading field named as its flag."""
    try:
        return build(*args, **kwargs)
    except ValueError as exc:
        message = str(exc)
        words = message.split(" ", 2)
        field = words[1] if words[0] == "unknown" and len(words) > 1 else words[0]  # "unknown op_weights 'x'"
        flag = _flag_of(field)
        if flag is not None:
            message = f"{flag}: {message}"
        raise ValueError(message) from None


RESUME_FLAGS = ("resume", "device", "data_dir", "quiet", "diagnostics")
"""The flags that may come with ``--resume``: where the run computes and what it prints, never its maths
(:data:`dartslib.engine.run.RESUME_CHANGES`; ``--diagnostics`` only records more)."""


def _refuse_with_resume(args: argparse.Namespace, command: str) -> None:
    """ValueError naming the first flag given with ``--resume`` that would change the run (or is pointless)."""
    if args.overwrite:
        raise ValueError("--resume continues a run and --overwrite starts a new one: give one of them")
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    for action in sub._actions:
        if action.dest in RESUME_FLAGS or not action.option_strings or action.dest == "help":
            continue
        if getattr(args, action.dest, None) != action.default:
            flag = max(action.option_strings, key=len)
            if action.dest == "out":
                raise ValueError(f"--out does not apply with --resume: the run continues in its own directory "
                                 f"({args.resume})")
            raise ValueError(f"{flag} does not apply with --resume: a resumed run continues with the config in "
                             f"its checkpoint (only --device, --data-dir and --quiet may change; start a new run "
                             f"with --out to change {flag})")


def _resume_changes(args: argparse.Namespace) -> dict[str, Any]:
    """What ``--resume`` may change: the device (``--device``, default: auto) and the data's folder."""
    return {"device": args.device, **({"data_dir": args.data_dir} if args.data_dir is not None else {})}


def _resume_line(path: str, epoch: int, epochs: int) -> str:
    if epoch >= epochs:
        return f"{path} is complete ({epoch}/{epochs} epochs): rewriting its history and result"
    return f"resuming {path} at epoch {epoch + 1}/{epochs}"


def _run_train(args: argparse.Namespace) -> int:
    from dartslib.engine.train import Training, make_train_config

    if args.resume:
        _refuse_with_resume(args, "train")
        run = Training.resume(args.resume, progress=not args.quiet, **_resume_changes(args))
        print(_resume_line(args.resume, run.epoch, run.config.epochs), file=sys.stderr)
    else:
        from dartslib.arch.architecture import parse_architecture

        if args.genotype is None:
            raise ValueError("--genotype is required (or --resume DIR to continue a training)")
        try:
            parse_architecture(args.genotype, allow_empty=True)
        except ValueError as exc:
            raise ValueError(f"--genotype: {exc}") from None
        config = _with_flag_names(make_train_config, args.genotype, args.scale or "toy", dataset=args.dataset,
                                  epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                  device=args.device, data_dir=args.data_dir, C=args.C, layers=args.layers,
                                  drop_path_mode=args.drop_path_mode)
        run = Training(config, args.out, progress=not args.quiet, overwrite=args.overwrite)
    result = run.run()
    print(json.dumps(result, indent=2))
    return 0


def _run_plot(args: argparse.Namespace) -> int:
    from dartslib.viz.inputs import load_run_checked
    from dartslib.viz.plots import write_comparison_figures, write_standard_figures

    formats = [f.strip().lstrip(".") for f in args.formats.split(",") if f.strip()]
    if not formats:
        raise ValueError("--formats needs at least one format, e.g. png")
    labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
    if labels is not None and len(labels) != len(args.runs):
        raise ValueError(f"--labels has {len(labels)} labels for {len(args.runs)} runs")
    runs = []
    for i, path in enumerate(args.runs):
        runs.append(load_run_checked(path, labels[i] if labels else None))  # one line naming file and line
        if not runs[-1].history:
            raise ValueError(f"{path} has an empty history: nothing to plot")
    if len(runs) == 1 or not args.no_per_run:
        for run in runs:
            written = _drawn(lambda: write_standard_figures(run, formats=formats), run.path)
            print(f"wrote {len(written)} files to {run.path / 'figures'}", file=sys.stderr)
    if len(runs) > 1:
        out = Path(args.out) if args.out else Path(args.runs[0]).resolve().parent / "comparison"
        written = _drawn(lambda: write_comparison_figures(runs, out, formats=formats, spread=args.spread), None)
        print(f"wrote {len(written)} comparison files to {out}", file=sys.stderr)
    return 0


def _drawn(draw: Any, path: Path | None) -> Any:
    """``draw()``; a record the checks let through but a figure cannot use is one line naming the history."""
    try:
        return draw()
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        where = f"{path / 'history.jsonl'}" if path is not None else "the runs' history.jsonl"
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise ValueError(f"{where}: a record the figures cannot use ({detail})") from None


def _split(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError(f"--{what} needs at least one name")
    return items


def _run_sweep(args: argparse.Namespace) -> int:
    from dartslib.sweep import parse_settings, plan, run_sweep

    try:
        seeds = [int(s) for s in _split(args.seeds, "seeds")]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    overrides = parse_settings(args.set)
    gpus = _split(args.gpus, "gpus") if args.gpus is not None else None

    methods, spaces = _split(args.methods, "methods"), _split(args.spaces, "spaces")
    try:
        plan(methods, spaces, seeds, args.scale, overrides)  # bad --set values stop here, before any run
    except ValueError as exc:
        message = str(exc)
        raise ValueError(f"--set: {message}" if message.startswith("invalid override") else message) from None
    try:
        table = run_sweep(args.out, methods, spaces, seeds, args.scale, overrides, jobs=args.jobs, gpus=gpus,
                          echo=lambda line: print(line, file=sys.stderr, flush=True), batch_seeds=args.batch_seeds)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(table.drop(columns=["genotype", "reason"]).to_string(index=False))
    print(f"wrote {Path(args.out) / 'results.csv'} and results.md", file=sys.stderr)
    if table["status"].isin(["failed", "not started"]).any():
        return 1
    return 130 if (table["status"] == "interrupted").any() else 0


def main(argv: Sequence[str] | None = None) -> int:
    from dartslib.engine.checkpoint import CheckpointError, WriteError
    from dartslib.data import DataFileError, DatasetNotFoundError
    from dartslib.engine.rundir import RunDirectoryBusy
    from dartslib.engine.run import RunDiverged, RunInterrupted

    parser = build_parser()
    args = parser.parse_args(argv)
    runners = {"search": _run_search, "train": _run_train, "count": _run_count, "plot": _run_plot,
               "sweep": _run_sweep}
    try:
        if getattr(args, "download", False):  # --download: fetch a missing data set before the run reads it
            from dartslib.data import ensure_downloaded

            ensure_downloaded(args.dataset or ("cifar10" if args.scale == "paper" else "digits"), args.data_dir)
        return runners[args.command](args)
    except RunInterrupted as exc:
        where = f"; resume with: python -m dartslib {args.command} --resume {exc.checkpoint.parent}" \
            if exc.checkpoint else ""
        print(f"interrupted{where}", file=sys.stderr)
        return 130
    except (DatasetNotFoundError, DataFileError, CheckpointError, RunDiverged, WriteError, RunDirectoryBusy) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except ValueError as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {_one_line(exc)}\n")
    except OSError as exc:  # e.g. a data folder that cannot be read
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    """The message of ``exc``; a multi-line one (missing data: where to get it) is kept whole."""
    return str(exc) if not isinstance(exc, OSError) or exc.filename is None else (
        f"{exc.filename}: {exc.strerror or exc}")


if __name__ == "__main__":
    sys.exit(main())
