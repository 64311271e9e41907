"""What the chapters cost on a GPU: GPU-hours and peak memory per search, per chapter and scale.

Until a GPU has run ``benchmarks/gpu_check.sh``, every figure here is an **estimate**, made as follows (and
labelled "estimated" wherever it is shown):

* **GPU-hours of a search** = a published search time at the paper setting, scaled by the work of the search
  asked for: ``hours = H * (F / F_ref) * (N * E) / (50,000 * 50)``, with ``H`` the published time (first-order
  DARTS on NAS-Bench-201: 3.2 GPU-hours, second order 10.2, DARTS- (Chu et al., 2021), Table 3; first-order
  DARTS in the DARTS space: 0.4 GPU-days, the same paper's Table 2, and second order that times NAS-Bench-201's
  ratio 10.2 / 3.2), ``F`` the floating-point operations of one forward and backward pass per image of the
  configured supernet (counted by ``torch.utils.flop_counter`` on the meta device: no data, no compute),
  ``F_ref`` the same at the paper setting of that space, ``N`` the training images and ``E`` the epochs.
  Single-level search (Single-DARTS) steps once per batch over all ``N`` images instead of twice per batch
  over half of them: the same work. The published times are on the papers' GPUs (a V100 or a 1080 Ti); a
  small network is launch-bound on a GPU, so at ``toy``/``small`` the estimate is a lower bound.
* **Peak GPU memory of a search** = the bytes the autograd graph saves for backward in one forward pass at
  the configured batch (counted on the meta device with ``torch.autograd.graph.saved_tensors_hooks``), twice
  that for a second-order step (the unrolled weights' graph), plus four times the parameters (weights,
  gradients, momentum, a copy); CUDA's own context (about 0.3-0.5 GiB) and the allocator's slack are not in it.

When ``benchmarks/results_gpu_check.json`` exists (written by ``benchmarks/gpu_check.sh`` on a GPU), a search
whose method and space it timed at the paper configuration uses the measured seconds per step and
``torch.cuda.max_memory_allocated`` instead, and is labelled "measured on <GPU>".

The searches of each chapter (:func:`chapter_searches`) mirror what the chapters run; the real-supernet
sweep (:func:`dartslib.book.results.collapse_results`) is shared by chapters 1-7 and counted once.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dartslib.engine.config import SearchConfig, make_config

__all__ = ["PUBLISHED_HOURS", "TRAIN_IMAGES", "SearchCost", "search_work", "estimate_search", "chapter_searches",
           "estimate_chapters", "estimate_commands", "training_memory", "cost_table", "GPU_CHECK", "ESTIMATES",
           "load_gpu_check", "PAPER_COMMANDS"]

REPO = Path(__file__).resolve().parents[2]
GPU_CHECK = REPO / "benchmarks" / "results_gpu_check.json"
ESTIMATES = REPO / "benchmarks" / "cost_estimates.json"

#: (topology, order) -> (GPU-hours of one 50-epoch CIFAR-10 search at the paper setting, where it comes from)
PUBLISHED_HOURS: dict[tuple[str, str], tuple[float, str]] = {
    ("nb201", "first"): (3.2, "DARTS- (Chu et al., 2021), Table 3"),
    ("nb201", "second"): (10.2, "DARTS- (Chu et al., 2021), Table 3"),
    ("darts", "first"): (0.4 * 24, "DARTS- (Chu et al., 2021), Table 2: 0.4 GPU-days"),
    ("darts", "second"): (0.4 * 24 * 10.2 / 3.2, "Table 2's first order times Table 3's second/first ratio"),
}
#: training images of each data set (the digits: the library's fixed 80 % split)
TRAIN_IMAGES = {"cifar10": 50_000, "cifar100": 50_000, "svhn": 73_257, "imagenet16-120": 151_700, "digits": 1_438,
                "digits-hard": 5_748}
GIB = 2 ** 30


def _topology(config: SearchConfig) -> str:
    from dartslib.space.spaces import get_space

    return get_space(config.space).topology


def search_work(config: SearchConfig) -> dict[str, float]:
    """One forward and backward pass of ``config``'s supernet on the meta device, counted: ``flops_per_image``,
    ``saved_bytes`` (what autograd keeps for backward, at ``config.batch_size``) and ``param_bytes``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from dartslib.methods.presets import prepare_supernet
    from dartslib.space.supernet import build_supernet

    classes = {"cifar100": 100, "imagenet16-120": 120}.get(config.dataset, 10)
    size = config.image_size or (16 if config.dataset == "imagenet16-120" else 32)
    with torch.device("meta"):
        model = build_supernet(config.space, C=config.C, layers=config.layers, num_classes=classes,
                               cells_per_stage=config.cells_per_stage, op_weights=config.op_weights)
    prepare_supernet(model, config)
    model.to("meta")
    x = torch.zeros(config.batch_size, 3, size, size, device="meta")
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    with FlopCounterMode(display=False) as counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum().backward()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"flops_per_image": counter.get_total_flops() / config.batch_size, "saved_bytes": float(saved[0]),
            "param_bytes": float(params)}


@dataclass
class SearchCost:
    """The cost of one search: GPU-hours, peak GPU memory (GiB), and how they were obtained."""

    gpu_hours: float
    peak_gib: float
    status: str   # "estimated" or "measured on <GPU>"
    how: str


def load_gpu_check(path: str | Path | None = None) -> dict[str, Any] | None:
    """``benchmarks/results_gpu_check.json`` (or ``path``) if a GPU has written it, else None."""
    path = Path(path) if path is not None else GPU_CHECK
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if not data.get("dry_run") else None


def estimate_search(config: SearchConfig, gpu_check: dict[str, Any] | None = None,
                    _work: dict[tuple, dict[str, float]] | None = None) -> SearchCost:
    """The cost of ``config``'s search (see the module docstring); measured where ``gpu_check`` timed it."""
    order = "second" if config.update == "bilevel-2nd" else "first"
    topology = _topology(config)
    images = TRAIN_IMAGES[config.dataset] * config.epochs
    measured = None
    if gpu_check is not None:
        measured = next((r for r in gpu_check.get("presets", []) if r["method"] == config.method
                         and r["space"] == config.space and config.scale == "paper"), None)
    if measured is not None:
        steps = config.epochs * math.ceil(TRAIN_IMAGES[config.dataset] / 2 / config.batch_size)
        device = gpu_check.get("device", "a GPU")
        return SearchCost(measured["seconds_per_step"] * steps / 3600, measured["max_memory_gib"],
                          f"measured on {device}", "benchmarks/gpu_check.sh: 20 steps at the paper configuration")
    cache = _work if _work is not None else {}

    def work(cfg: SearchConfig) -> dict[str, float]:
        key = (cfg.space, cfg.C, cfg.layers, cfg.cells_per_stage, cfg.image_size, cfg.dataset, cfg.batch_size,
               cfg.op_weights, cfg.method)
        if key not in cache:
            cache[key] = search_work(cfg)
        return cache[key]

    hours, source = PUBLISHED_HOURS[(topology, order)]
    ref_space = "nb201" if topology == "nb201" else "darts"
    mine, ref = work(config), work(make_config("darts", ref_space, "paper"))
    gpu_hours = hours * mine["flops_per_image"] / ref["flops_per_image"] * images / (50_000 * 50)
    peak = (mine["saved_bytes"] * (2 if order == "second" else 1) + 4 * mine["param_bytes"]) / GIB
    return SearchCost(gpu_hours, peak, "estimated",
                      f"{hours:.1f} GPU-hours ({source}) scaled by FLOPs per image and images x epochs; "
                      f"memory: activations saved for backward at batch {config.batch_size} + 4x parameters")


# ------------------------------------------------------------------------------------- the chapters' searches

def _collapse_sweep(scale: str, methods: tuple[str, ...]) -> list[tuple[str, SearchConfig, int]]:
    return [(f"real-supernet sweep: {m}", make_config(m, "nb201", scale), 5) for m in methods]


def chapter_searches(chapter: str, scale: str) -> list[tuple[str, SearchConfig, int]]:
    """``(what, config, how many)`` of the searches chapter ``chapter`` (e.g. ``"01_darts"``) runs at ``scale``,
    without the shared real-supernet sweep (:func:`estimate_chapters` adds it once). Mirrors the chapters'
    own configurations."""
    image = 8 if scale == "toy" else None
    if chapter == "01_darts":
        depth_epochs = 6 if scale == "toy" else None
        long_epochs = 3 * make_config("darts", "nb201", scale).epochs if scale != "paper" else None
        return [("the search", make_config("darts", "nb201", scale), 1),
                *[(f"depth study, {d} cells per stage", make_config("darts", "nb201", scale, cells_per_stage=d,
                                                                     epochs=depth_epochs, image_size=image), 10)
                  for d in (2, 5)],
                ("the long search", make_config("darts", "nb201", scale, cells_per_stage=5, image_size=image,
                                                epochs=long_epochs), 1)]
    if chapter == "02_unfair_advantage":
        epochs = 4 if scale == "toy" else None
        return [(label, make_config(m, "nb201", scale, cells_per_stage=5, image_size=image, epochs=epochs, **extra), 1)
                for label, m, extra in (("DARTS", "darts", {}), ("DARTS with sigmoid", "darts",
                                                                 {"op_weights": "sigmoid"}),
                                        ("DARTS + Gaussian", "darts-gaussian", {}))]
    if chapter == "03_discretization_gap":
        return [(m, make_config(m, "nb201", scale, image_size=image), 1) for m in ("darts", "fairdarts")]
    return []


#: the chapters that show the shared real-supernet sweep (run at small/paper scale, loaded at toy)
SWEEP_CHAPTERS = ("01_darts", "02_unfair_advantage", "03_discretization_gap", "04_auxiliary_skip",
                  "05_information_leakage", "06_gradient_correlation", "07_side_by_side")
CHAPTERS = SWEEP_CHAPTERS + ("08_paper_scale",)


def estimate_chapters(sweep_methods: tuple[str, ...], scales: tuple[str, ...] = ("small", "paper"),
                      gpu_check: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every chapter's searches at each scale, priced, with the shared sweep of ``sweep_methods`` x 5 seeds
    (:data:`dartslib.book.results.REGIME_METHODS`): the JSON that ``benchmarks/cost_estimates.json`` holds."""
    cache: dict[tuple, dict[str, float]] = {}
    rows = []
    for scale in scales:
        sweep = [(what, cfg, n, estimate_search(cfg, gpu_check, cache))
                 for what, cfg, n in _collapse_sweep(scale, sweep_methods)]
        sweep_hours = sum(n * c.gpu_hours for _, _, n, c in sweep)
        sweep_peak = max(c.peak_gib for *_, c in sweep)
        for chapter in CHAPTERS:
            own = [(what, cfg, n, estimate_search(cfg, gpu_check, cache))
                   for what, cfg, n in chapter_searches(chapter, scale)]
            searches = sum(n for _, _, n, _ in own)
            hours = sum(n * c.gpu_hours for *_, n, c in own)
            peak = max([c.peak_gib for *_, c in own], default=0.0)
            statuses = {c.status for *_, c in own} | ({c.status for *_, c in sweep} if chapter in SWEEP_CHAPTERS
                                                     else set())
            rows.append({"chapter": chapter, "scale": scale, "searches": searches, "gpu_hours": hours,
                         "peak_gib": peak, "sweep_searches": 5 * len(sweep_methods) if chapter in SWEEP_CHAPTERS else 0,
                         "sweep_gpu_hours": sweep_hours if chapter in SWEEP_CHAPTERS else 0.0,
                         "sweep_peak_gib": sweep_peak if chapter in SWEEP_CHAPTERS else 0.0,
                         "status": "estimated" if "estimated" in statuses or not statuses else statuses.pop(),
                         "searches_detail": [{"what": w, "count": n, "gpu_hours": c.gpu_hours,
                                              "peak_gib": c.peak_gib, "status": c.status}
                                             for w, _, n, c in own]})
    how = __doc__.split("* **GPU-hours", 1)[1].split("When ``benchmarks", 1)[0]
    return {"how": "* **GPU-hours" + how.strip(), "rows": rows,
            "gpu_check": None if gpu_check is None else gpu_check.get("device")}


def cost_table(path: str | Path | None = None) -> pd.DataFrame:
    """The Preface's table: per chapter and scale, GPU-hours and peak memory of the chapter's own searches and
    of the shared sweep, each labelled estimated or measured; read from ``benchmarks/cost_estimates.json``."""
    data = json.loads((Path(path) if path is not None else ESTIMATES).read_text())
    out = []
    for r in data["rows"]:
        own = f"{r['gpu_hours']:.1f}" if r["searches"] else "-"
        out.append({"chapter": r["chapter"], "scale": r["scale"],
                    "own searches": r["searches"], "their GPU-hours": own,
                    "their peak GiB": f"{r['peak_gib']:.1f}" if r["searches"] else "-",
                    "shared sweep GPU-hours": f"{r['sweep_gpu_hours']:.1f}" if r["sweep_searches"] else "-",
                    "status": r["status"]})
    return pd.DataFrame(out).set_index(["chapter", "scale"])


# ------------------------------------------------------------------------------- chapter 8's paper commands

#: chapter 8's search commands: (method, space, protocol); NB201 searches use NAS-Bench-201's own protocol
PAPER_COMMANDS: tuple[tuple[str, str, str], ...] = tuple(
    [(m, s, "darts") for m, s in (("darts", "darts"), ("darts-2nd", "darts"), ("fairdarts", "darts-nonone"),
                                  ("darts-minus", "darts"), ("sp-darts", "darts-nonone"),
                                  ("single-darts", "darts"))]
    + [(m, "nb201", "nb201") for m in ("darts", "darts-2nd", "fairdarts", "darts-minus", "sp-darts",
                                       "single-darts")])


def training_memory(genotype: str, batch: int, C: int, layers: int, auxiliary: bool) -> float:
    """Estimated peak GiB of training a derived network from scratch (activations saved for backward at
    ``batch``, counted on the meta device, plus 4x the parameters), like a search's (module docstring)."""
    import torch

    from dartslib.arch.architecture import parse_architecture
    from dartslib.arch.nb201 import build_nb201_network
    from dartslib.arch.networks import build_network

    nb201 = parse_architecture(genotype).topology == "nb201"
    with torch.device("meta"):
        net = (build_nb201_network(genotype, C=C, cells_per_stage=layers, num_classes=10) if nb201 else
               build_network(genotype, C=C, layers=layers, num_classes=10, auxiliary=auxiliary))
    net.train()
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(torch.zeros(batch, 3, 32, 32, device="meta")).sum().backward()
    params = sum(p.numel() * p.element_size() for p in net.parameters())
    return (saved[0] + 4 * params) / GIB


def estimate_commands(gpu_check: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Chapter 8's commands priced: each search of :data:`PAPER_COMMANDS` at the paper scale, and the two
    train-from-scratch commands' memory (their time: not priced here)."""
    from dartslib.arch.genotype import published_genotype
    from dartslib.engine.train import make_train_config

    cache: dict[tuple, dict[str, float]] = {}
    rows = []
    for method, space, protocol in PAPER_COMMANDS:
        config = make_config(method, space, "paper", **({"protocol": "nb201"} if protocol == "nb201" else {}))
        cost = estimate_search(config, gpu_check, cache)
        rows.append({"kind": "search", "method": method, "space": space, "protocol": protocol,
                     "batch": config.batch_size, "epochs": config.epochs, "gpu_hours": cost.gpu_hours,
                     "peak_gib": cost.peak_gib, "status": cost.status})
    for space, genotype in (("darts", str(published_genotype("DARTS_V2"))),
                            ("nb201", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
                                      "nor_conv_3x3~1|nor_conv_3x3~2|")):
        cfg = make_train_config(genotype, "paper")
        rows.append({"kind": "train", "method": "any derived cell", "space": space, "protocol": space,
                     "batch": cfg.batch_size, "epochs": cfg.epochs, "gpu_hours": None,
                     "peak_gib": training_memory(genotype, cfg.batch_size, cfg.C, cfg.layers,
                                                 cfg.auxiliary_weight > 0), "status": "estimated"})
    return rows
