"""Many seeds of one search in one model: the seeds become a leading dimension of every weight and alpha.

A grid of small searches (toy-scale supernets on 8x8-32x32 digits) is dominated by per-step overhead
(Python, kernel launches), not arithmetic. :class:`BatchedSearch` runs ``S`` seeds of one configuration as
one search whose tensors carry all of them:

* every weight ``(shape)`` of the ordinary supernet becomes ``(S, shape)``; every alpha ``(E, M)`` becomes
  ``(S, E, M)``; the op weights are formed per seed (softmax/sigmoid act on the last dimension);
* activations stack the seeds' channels: ``(B, S*C, H, W)``. A convolution with ``g`` groups becomes one
  with ``S*g`` groups (so a depthwise conv has ``S*C`` groups), and a BN over ``S*C`` channels is a BN per
  seed (each channel's batch statistics and running statistics belong to one seed); pooling, ReLU and the
  op-weight mixing act per channel; the classifier is a batched matrix product;
* the forward pass is the supernet's own: :class:`SeedBatchedSupernet` walks no topology itself. It is an
  :class:`~dartslib.space.supernet.Executor`, the kernels of the one walk in :mod:`dartslib.space.supernet`
  (stem -> cells -> classifier, node sums and shares, the edges' extensions and weighted sums), which it
  runs on the first seed's modules as a blueprint: the kernels above, plus its own way of summing (an
  edge's weighted sum starts from its node's sum, ``addcmul`` into it) and fused op weights (an op ending in an
  affine-free BN takes its weight as the BN's scale, 3x3 average pooling multiplies its window sums by
  ``w / counts`` at once), each the same maths as the ordinary forward;
* the loss is the sum of the seeds' mean losses, so each seed's weights and alphas get exactly the gradient
  of their own loss; SGD (momentum, weight decay) and Adam are elementwise, so one optimizer over the
  stacked tensors steps every seed as its own optimizer would; gradient-norm clipping is per seed. The steps
  are the library's own: :func:`dartslib.engine.steps.search_step` with the optimizers of
  :func:`~dartslib.engine.steps.make_optimizers`, given the per-seed loss and clipping
  (:meth:`BatchedSearch.take_step`).

Each seed keeps everything of its single-seed run: :class:`BatchedSearch` builds one ordinary
:class:`~dartslib.engine.loop.Search` per seed (its model initialised from its seed, its own batch iterators and
so its own data order, its hooks) and packs their tensors. After every epoch it unpacks them again into
those searches, which evaluate nothing themselves but build their history records, derive their genotypes,
and write ``checkpoint.pt``, ``history.jsonl`` and ``result.json`` with search.py's own code: every run
directory is an ordinary single-seed run directory (``Search.resume`` continues it, alone or batched).

Each seed draws its own random numbers, exactly as its single-seed run does:

* **the method hooks act on their seed's own supernet.** Before every step each seed's hooks run on its
  ordinary model, as in a single-seed search, and the batched forward reads what they set per seed: the
  op-weight form of every seed (SP-DARTS' temperature, drawn per step by each seed's own
  :class:`~dartslib.methods.temperature.TemperatureMixing` generator, Zhang & Ding 2023, Eq. 15), and each
  seed's edges' ``aux_beta`` (DARTS-' auxiliary skip, Chu et al. 2021, Eq. 4) and ``skip_noise_std``
  ("DARTS + Gaussian", Chu et al. 2020, Sec. 6.3).
* **every seed keeps its own global random stream.** A single-seed search draws the skip noise (and the
  ``noise`` op of RobustDARTS' S4) from torch's global generator, and checkpoints it as ``rng``. A batched
  search keeps one :class:`torch.Generator` per seed, started from the global state that seed's search left
  (:meth:`BatchedSearch.start` and :meth:`BatchedSearch.resume` capture it after building each seed), draws
  each seed's numbers from it in the single-seed order and shape (``(B, C, H, W)`` in the supernet's memory
  format), and writes it into the seed's checkpoint as that seed's ``rng``.

Supported: the first-order bi-level update (``bilevel-1st``, DARTS' Eq. 6 with xi = 0, Liu et al. 2019), its
``same-subset`` variant and Single-DARTS' single-level update (Hou et al., 2021, Eq. 16); softmax, sigmoid and
SP-DARTS' sparse-smooth op weights (Zhang & Ding, 2023, Eq. 9-20); FairDARTS' zero-one loss (Chu et al.,
2020, Eq. 7-8, per seed); DARTS-' auxiliary skip (any beta schedule and kind); skip-connection noise; on NB201
and DARTS-topology spaces, S4's noise op included. So every preset the book ranks batches: darts, fairdarts,
darts-minus, sp-darts, single-darts, darts-gaussian and darts-noskip. Refused with a one-line error: the
second-order update, GDAS' Gumbel op weights, NAS-Bench-201's protocol, data-parallel runs and user hooks that
act during a step. Equivalence with the single-seed search is tested in ``tests/test_batched.py`` (per step,
every preset, each against a control that must fail); the speed-up and where it ends are measured by
``benchmarks/bench_batched.py`` (``benchmarks/README.md``).
"""
from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dartslib.engine.config import SearchConfig
from dartslib.space.ops import (
    AvgPool3x3, DilConv, FactorizedReduce, Identity, Noise, PoolBN, ReLUConvBN, ResNetBasicBlock, SepConv, Zero
)
from dartslib.engine.loop import (
    Search, SearchDiverged, SearchHook, SearchInterrupted, SearchResult, run_as_child
)
from dartslib.engine.run import Run
from dartslib.engine.rundir import RunLock
from dartslib.engine.steps import make_optimizers, search_step
from dartslib.hooks import call_hooks
from dartslib.methods.presets import prepare_supernet
from dartslib.space.extensions import EdgeExtension
from dartslib.space.op_weights import SigmoidWeights, SoftmaxWeights, SparseSmoothWeights
from dartslib.space.supernet import DartsSupernet, MixedEdge, NB201Supernet, NodeShare, Supernet, build_supernet

__all__ = ["SeedBatchedSupernet", "BatchedSearch", "check_batchable", "draws_globally", "batched_search",
           "SUPPORTED_UPDATES", "BATCHABLE_FORMS"]

SUPPORTED_UPDATES = ("bilevel-1st", "same-subset", "single-level")
BATCHABLE_FORMS = ("softmax", "sigmoid", "sparse-smooth")
"""Op-weight forms whose weights the batched forward forms per seed (GDAS' Gumbel form samples inside the form)."""
_STEP_HOOK_METHODS = ("on_epoch_start", "before_step", "arch_loss")


# ----------------------------------------------------------------------------------------------- checks
def check_batchable(configs: Sequence[SearchConfig]) -> None:
    """Raise ValueError (one line, naming the option) unless ``configs`` can run as one batched search:
    at least one config, all equal except ``seed``, distinct seeds, and only supported switches."""
    if not configs:
        raise ValueError("batched search needs at least one seed")
    first = configs[0].to_dict()
    for config in configs[1:]:
        other = config.to_dict()
        differ = sorted(k for k in first if k != "seed" and first[k] != other[k])
        if differ:
            raise ValueError(f"batched seeds must share one config except the seed; they differ in: "
                             f"{', '.join(differ)}")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"batched seeds must be distinct, got {seeds}")
    c = configs[0]
    if c.update not in SUPPORTED_UPDATES:
        raise ValueError(f"batched seeds do not support --update {c.update} (method {c.method}); supported: "
                         f"{', '.join(SUPPORTED_UPDATES)}")
    if c.op_weights not in BATCHABLE_FORMS:
        raise ValueError(f"batched seeds do not support --op-weights {c.op_weights} (method {c.method}); "
                         f"supported: {', '.join(BATCHABLE_FORMS)}")
    if c.protocol != "darts" or c.step_order != "arch-first" or c.lr_schedule == "cosine-step" or c.nesterov:
        raise ValueError(f"batched seeds support DARTS' search protocol only (method {c.method}: protocol "
                         f"{c.protocol}, step order {c.step_order}, lr schedule {c.lr_schedule}, "
                         f"nesterov {c.nesterov})")
    unstackable = _unstackable_extensions(c)
    if unstackable:
        raise ValueError(f"batched seeds do not support {', '.join(unstackable)} (method {c.method}): no "
                         f"seed-batched forward")


def _unstackable_extensions(config: SearchConfig) -> list[str]:
    """The extensions (:mod:`dartslib.space.extensions`) the config's switches put into the supernet that the
    batched forward cannot run: edge extensions without ``stackable``, and any architecture parameters beside
    the alphas. Found by preparing the supernet on the 'meta' device (shapes only, nothing allocated)."""
    with torch.device("meta"):
        model = build_supernet(config.space, C=config.C, layers=config.layers, num_classes=10,
                               cells_per_stage=config.cells_per_stage, op_weights=config.op_weights)
        prepare_supernet(model, config)
    names = {f"the edge extension {m.name}" for m in model.modules()
             if isinstance(m, EdgeExtension) and not type(m).stackable}
    names.update(f"the architecture parameters {name}" for name in model.arch_extensions)
    return sorted(names)


def draws_globally(config: SearchConfig) -> bool:
    """Whether a search of ``config`` draws from torch's global random stream during its steps (the skip
    noise, the ``noise`` op of RobustDARTS' S4): then each batched seed needs its own copy of that stream."""
    from dartslib.space.spaces import get_space

    space = get_space(config.space)
    return bool(config.skip_noise) or any("noise" in space.op_names(ct) for ct in space.cell_types)


def _per_seed_hooks() -> tuple[type, ...]:
    """The method hooks that batch: they act only on their own seed's supernet (its op-weight form, its edges'
    ``aux_beta`` / ``skip_noise_std``), which the batched forward reads per seed, or (the zero-one loss) the
    batched search computes per seed itself."""
    from dartslib.methods.aux_skip import AuxiliarySkip
    from dartslib.methods.skip_noise import SkipNoise
    from dartslib.methods.temperature import TemperatureMixing
    from dartslib.methods.zero_one import ZeroOneLoss

    return ZeroOneLoss, AuxiliarySkip, SkipNoise, TemperatureMixing


def _check_hooks(search: Search) -> None:
    known = _per_seed_hooks()
    for hook in search.hooks:
        if type(hook) in known:
            continue
        acting = [m for m in _STEP_HOOK_METHODS if getattr(type(hook), m) is not getattr(SearchHook, m)]
        if acting:
            raise ValueError(f"batched seeds do not support hook {type(hook).__name__}: it acts during the "
                             f"search ({', '.join(acting)}); only epoch-end recorders can run batched")


# -------------------------------------------------------------------------------------- the supernet
class SeedBatchedSupernet:
    """``S`` supernets of one architecture as one computation; ``forward: (B, S*C_in, H, W) -> (S, B, K)``.

    Built from ``S`` ordinary supernets (their values are copied; the modules of the first serve as the
    blueprint). ``weights[name]`` is ``(S, *shape)`` for every weight parameter ``name`` of the ordinary model,
    ``alphas[cell_type]`` is ``(S, E, M)``, ``buffers[name]`` holds the BN running statistics ``(S, C)``. Input
    channel ``s*C_in + c`` is channel ``c`` of seed ``s``.

    :meth:`forward` is the blueprint's :meth:`~dartslib.space.supernet.Supernet.forward_with` with this object
    as its :class:`~dartslib.space.supernet.Executor`: the walk is the ordinary supernet's, the kernels (grouped
    convs, per-seed BN, fused op weights, seed-wise concat, per-seed classifier, each seed's random draws and
    extension settings) are this class's. The same kernels serve the extensions' ``stacked_*`` methods
    (:class:`~dartslib.space.extensions.SeedStack`).
    """

    def __init__(self, models: Sequence[Supernet], channels_last: bool | None = None) -> None:
        if not models:
            raise ValueError("need at least one supernet")
        template = models[0]
        if not isinstance(template, (NB201Supernet, DartsSupernet)):
            raise ValueError(f"batched seeds support NB201 and DARTS-topology supernets, got {type(template).__name__}")
        shapes = {n: p.shape for n, p in template.state_dict().items()}
        for model in models[1:]:
            if type(model) is not type(template) or {n: p.shape for n, p in model.state_dict().items()} != shapes:
                raise ValueError("batched supernets must have one architecture (same space, C, depth, classes)")
        self.template, self.S = template, len(models)
        self.models = list(models)  # each seed's own supernet: its op-weight form and edge settings are read per seed
        self.space = template.space
        per_model_modules = [dict(m.named_modules()) for m in models]
        self._seed_edges: dict[int, list[MixedEdge]] = {  # template edge -> that edge in every seed's supernet
            id(m): [modules[name] for modules in per_model_modules]
            for name, m in template.named_modules() if isinstance(m, MixedEdge)}
        self.streams: list[torch.Generator] | None = None  # each seed's random stream (skip noise); see BatchedSearch
        self.channels_last = template.channels_last if channels_last is None else channels_last
        self.training = True
        self._prefix = {id(m): (name + "." if name else "") for name, m in template.named_modules()}
        with torch.no_grad():
            per_model = [dict(m.named_parameters()) for m in models]
            self.weights: dict[str, Tensor] = {
                name: torch.stack([p[name].detach() for p in per_model]).contiguous().requires_grad_()
                for name, _ in template.named_weight_parameters()}
            self.alphas: dict[str, Tensor] = {
                ct: torch.stack([m.arch_params[ct].detach() for m in models]).contiguous().requires_grad_()
                for ct in self.space.cell_types}
            per_model_buffers = [dict(m.named_buffers()) for m in models]
            self.buffers: dict[str, Tensor] = {
                name: torch.stack([b[name] for b in per_model_buffers]).contiguous()
                for name, _ in template.named_buffers() if not name.endswith("num_batches_tracked")}
        self.fuse = True  # fold op weights into the ops' last BN / the pooling division (same maths)
        self._bn_calls: Counter[str] = Counter()  # num_batches_tracked increments, applied on unpacking
        self._expanded: dict[tuple[str, int], Tensor] = {}

    # --------------------------------------------------------------------------------- parameters
    def weight_parameters(self) -> list[Tensor]:
        """The stacked weights, in the order of the ordinary model's ``weight_parameters()``."""
        return list(self.weights.values())

    def arch_parameters(self) -> list[Tensor]:
        """The stacked alphas ``(S, E, M)``, in ``space.cell_types`` order."""
        return [self.alphas[ct] for ct in self.space.cell_types]

    def op_weights(self) -> dict[str, Tensor]:
        """``{cell_type: (S, E, M)}`` op weights, each seed's formed from its own alphas by its own supernet's
        op-weight form (SP-DARTS: each seed's temperature of this step); one call when the forms agree."""
        forms = [m.op_weight_form for m in self.models]
        first = forms[0]
        if type(first) in (SoftmaxWeights, SparseSmoothWeights, SigmoidWeights) and all(
                type(f) is type(first) and getattr(f, "temperature", None) == getattr(first, "temperature", None)
                for f in forms[1:]):
            return {ct: first(self.alphas[ct]) for ct in self.space.cell_types}  # softmax/sigmoid on the last dim
        return {ct: torch.stack([f(a) for f, a in zip(forms, self.alphas[ct].unbind(0))])
                for ct in self.space.cell_types}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of the stacked weights and alphas (as ``nn.Module.zero_grad``)."""
        for p in self.weight_parameters() + self.arch_parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def train(self, mode: bool = True) -> "SeedBatchedSupernet":
        self.training = mode
        return self

    def eval(self) -> "SeedBatchedSupernet":
        return self.train(False)

    @torch.no_grad()
    def unpack_into(self, models: Sequence[Supernet]) -> None:
        """Copy seed ``s``'s weights, alphas and BN buffers into ``models[s]`` (its ordinary supernet)."""
        for s, model in enumerate(models):
            for name, p in model.named_weight_parameters():
                p.copy_(self.weights[name][s])
            for ct in self.space.cell_types:
                model.arch_params[ct].copy_(self.alphas[ct][s])
            for name, b in model.named_buffers():
                if name.endswith("num_batches_tracked"):
                    prefix = name[: -len("num_batches_tracked")]
                    b.add_(self._bn_calls[prefix])
                else:
                    b.copy_(self.buffers[name][s])
        self._bn_calls.clear()

    # ------------------------------------------------------------------------------------ forward
    def stack_inputs(self, xs: Sequence[Tensor]) -> Tensor:
        """``S`` batches ``(B, C_in, H, W)`` -> ``(B, S*C_in, H, W)`` in the supernet's memory format."""
        x = torch.cat(list(xs), dim=1)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def forward(self, x: Tensor, op_weights: dict[str, Tensor] | None = None) -> Tensor:
        """``(B, S*C_in, H, W) -> (S, B, num_classes)`` logits: the supernet's own forward pass
        (:meth:`~dartslib.space.supernet.Supernet.forward_with` of the blueprint) with this object as its
        executor; ``op_weights`` ``{cell_type: (S, E, M)}`` overrides the alphas' weights."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        weights = self.op_weights() if op_weights is None else op_weights
        self._expanded = {}
        try:
            return self.template.forward_with(x, weights, self)
        finally:
            self._expanded = {}

    # the executor (dartslib.space.supernet.Executor): the kernels of the one forward pass, per seed --------
    def is_training(self, module: nn.Module) -> bool:
        return self.training  # the blueprint's modules hold seed 0's mode; the batched model has its own

    def cell(self, cell: nn.Module, inputs: tuple[Tensor, ...], weights: Tensor) -> Tensor:
        return cell.forward(*inputs, weights, self)

    def edge_weights(self, weights: Tensor, like: Tensor) -> Tensor:
        """``(S, E, M) -> (E, M, S*C, 1, 1)``: the op weights broadcast over each seed's ``C`` channels of
        ``like``, formed once per forward pass for each cell type and width."""
        C = like.shape[1] // self.S
        key = (id(weights), C)  # one tensor per cell type, alive for the pass
        if key not in self._expanded:
            w = weights.permute(1, 2, 0)  # (E, M, S)
            self._expanded[key] = w.repeat_interleave(C, dim=2)[..., None, None]
        return self._expanded[key]

    def edge(self, edge: MixedEdge, x: Tensor, weights: Tensor, share: NodeShare | None,
             node: Tensor | None) -> Tensor:
        """``node + edge(x)`` per seed: the edge's weighted sum starts from the node's sum ``node`` (one addition
        less per op), so a stacked ``forward_edge`` receives ``node`` + the weighted sum and may only add to it
        (as a branch does)."""
        return edge.run(self, x, weights, share, node)

    def extensions(self, edge: MixedEdge) -> list[list[EdgeExtension]]:
        """Per active extension of the edge, that extension in every seed's edge (each seed's own settings:
        DARTS-' ``beta``, the skip-noise ``std``); every seed's edge must hold the same stackable ones."""
        seed_edges = self._seed_edges[id(edge)]
        names = [name for name, e in edge.extensions.items() if e.active]
        for seed_edge in seed_edges[1:]:
            if [name for name, e in seed_edge.extensions.items() if e.active] != names:
                raise ValueError("batched seeds need the same edge extensions on every seed's edge")
        per_seed = [[seed_edge.extensions[name] for seed_edge in seed_edges] for name in names]
        for extensions in per_seed:
            if not type(extensions[0]).stackable:
                raise ValueError(f"batched seeds do not support the edge extension {type(extensions[0]).__name__} "
                                 f"({extensions[0].name})")
        return per_seed

    def forward_edge(self, extensions: Sequence[EdgeExtension], edge: MixedEdge, x: Tensor, weights: Tensor,
                     share: NodeShare | None, inner: Callable[..., Tensor]) -> Tensor:
        return type(extensions[0]).stacked_forward_edge(extensions, edge, x, lambda x2: inner(x2, weights, share),
                                                        self)

    def changes_op(self, extensions: Sequence[EdgeExtension], edge: MixedEdge, index: int) -> bool:
        """Whether the extension changes op ``index`` on any seed's edge."""
        return any(e.changes_op(se, index, self.training) for e, se in zip(extensions, self._seed_edges[id(edge)]))

    def op_output(self, extensions: Sequence[EdgeExtension], edge: MixedEdge, index: int, y: Tensor) -> Tensor:
        return type(extensions[0]).stacked_op_output(extensions, edge, index, y, self)

    def fused_term(self, edge: MixedEdge, index: int, x: Tensor, weights: Tensor, share: NodeShare | None,
                   out: Tensor | None) -> Tensor | None:
        """``out + w_i * op_i(x)`` per seed, fused where the maths allow (``self.fuse``): an op that ends in an
        affine-free BN takes ``w_i`` ``(S*C, 1, 1)`` as that BN's scale (``w * BN(z)`` is BN with gamma = w), and
        3x3 average pooling multiplies its window sums by ``w_i / counts`` at once. None otherwise (a node's
        shared pooling + BN is not fused: one tensor serves every edge leaving the node)."""
        if not self.fuse:
            return None
        op = edge.ops[index]
        if isinstance(op, AvgPool3x3):
            sums, counts = self._pool_sums(op, x)
            scale = weights[index] / counts  # (S*C, H', W'): no batch dimension, cheap
            return sums * scale if out is None else torch.addcmul(out, sums, scale)
        if _ends_in_plain_bn(op) and not (isinstance(op, PoolBN) and share is not None):
            y = edge.op(index, x, share, self, gain=weights[index].view(-1))
            return y if out is None else out + y
        return None

    @torch.no_grad()
    def copy_bn_stats(self, source: nn.BatchNorm2d, target: nn.BatchNorm2d) -> None:
        src, dst = self._prefix[id(source)], self._prefix[id(target)]
        for name in ("running_mean", "running_var"):
            if src + name in self.buffers:
                self.buffers[dst + name].copy_(self.buffers[src + name])
        self._bn_calls[dst] = self._bn_calls[src]

    def cat(self, states: Sequence[Tensor]) -> Tensor:
        """Concatenate along the channels of each seed: ``[(B, S*C_i, H, W)] -> (B, S*sum C_i, H, W)``."""
        B, _, H, W = states[0].shape
        S = self.S
        if self.channels_last:
            parts = [t.permute(0, 2, 3, 1).reshape(B, H, W, S, -1) for t in states]
            return torch.cat(parts, dim=4).view(B, H, W, -1).permute(0, 3, 1, 2)
        parts = [t.reshape(B, S, -1, H, W) for t in states]
        return torch.cat(parts, dim=2).view(B, -1, H, W)

    def classifier(self, linear: nn.Linear, features: Tensor) -> Tensor:
        """``(B, S*F) -> (S, B, K)``: each seed's features times its own classifier."""
        p = self._prefix[id(linear)]
        weight, bias = self.weights[p + "weight"], self.weights[p + "bias"]  # (S, K, F), (S, K)
        per_seed = features.view(features.shape[0], self.S, -1).transpose(0, 1)  # (S, B, F)
        return torch.baddbmm(bias.unsqueeze(1), per_seed, weight.transpose(1, 2))

    # modules (also the seed stack, dartslib.space.extensions.SeedStack, of the extensions' stacked_* methods)
    def module(self, m: nn.Module, x: Tensor, gain: Tensor | None = None) -> Tensor:
        """Module ``m`` of the blueprint on every seed's channels of ``x`` ``(B, S*C, H, W)``, with each seed's
        weights; ``gain`` ``(S*C,)`` only for ops that end in a plain BN."""
        if gain is not None and not _ends_in_plain_bn(m):
            raise ValueError(f"{type(m).__name__} cannot take a gain")
        if isinstance(m, nn.Conv2d):
            return self._conv(m, x)
        if isinstance(m, nn.BatchNorm2d):
            return self._bn(m, x, gain)
        if isinstance(m, (nn.ReLU,)):
            return torch.relu(x)
        if isinstance(m, (ReLUConvBN, DilConv, SepConv, FactorizedReduce)):
            return self.from_relu(m, torch.relu(x), gain)
        if isinstance(m, PoolBN):
            return self._bn(m[1], m[0](x), gain)
        if isinstance(m, ResNetBasicBlock):
            return self.module(m.shortcut, x) + self.module(m.conv_b, self.module(m.conv_a, x))
        if isinstance(m, nn.Sequential):
            for child in m:
                x = self.module(child, x)
            return x
        if isinstance(m, (Identity, nn.Identity)):
            return x
        if isinstance(m, Zero):
            return x.mul(0.0) if m.stride == 1 else x[:, :, :: m.stride, :: m.stride].mul(0.0)
        if isinstance(m, (AvgPool3x3, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):  # per channel: per seed
            return m(x)
        if isinstance(m, Noise):  # RobustDARTS S4's noise op: N(0, 1) of the output's shape, per seed
            if m.stride != 1:
                x = x[:, :, :: m.stride, :: m.stride]
            return torch.cat(self._seed_normals(x), dim=1)
        raise ValueError(f"batched seeds do not support module {type(m).__name__}")

    def from_relu(self, m: nn.Module, relu_x: Tensor, gain: Tensor | None = None) -> Tensor:
        """ReLU-first ops on an input whose ReLU is taken (as the ops' ``forward_from_relu``)."""
        r = relu_x
        if isinstance(m, ReLUConvBN):
            return self._bn(m[2], self._conv(m[1], r), gain)
        if isinstance(m, DilConv):
            depthwise = m[1]
            if m._subsample:  # the stride-2 dilation-2 conv reads only even pixels (see ops.DilConv)
                k = depthwise.kernel_size[0]
                y = self._conv(depthwise, r[:, :, ::2, ::2], stride=1, padding=k // 2, dilation=1)
            else:
                y = self._conv(depthwise, r)
            return self._bn(m[3], self._conv(m[2], y), gain)
        if isinstance(m, SepConv):
            return self.module(m[1], self.from_relu(m[0], r), gain)
        if isinstance(m, FactorizedReduce):
            shifted = F.pad(r[:, :, 1:, 1:], (0, 1, 0, 1))
            return self._bn(m.bn, self.cat([self._conv(m.conv_1, r), self._conv(m.conv_2, shifted)]), gain)
        raise ValueError(f"batched seeds do not support module {type(m).__name__}")

    def per_channel(self, values: Sequence[float], like: Tensor) -> Tensor:
        """``(S*C, 1, 1)``: seed ``s``'s value on each of its ``C`` channels of ``like`` ``(B, S*C, H, W)``."""
        C = like.shape[1] // self.S
        v = torch.tensor(values, dtype=like.dtype, device=like.device)
        return v.repeat_interleave(C)[:, None, None]

    def seed_normals(self, like: Tensor, draw: Sequence[bool] | None = None) -> list[Tensor | None]:
        return self._seed_normals(like, draw)

    def _seed_normals(self, like: Tensor, draw: Sequence[bool] | None = None) -> list[Tensor | None]:
        """``N(0, 1)`` of seed ``s``'s shape ``(B, C, H, W)`` of ``like`` ``(B, S*C, H, W)`` from seed ``s``'s own
        stream (None where ``draw[s]`` is False), drawn as its single-seed run draws it: ``torch.randn_like``
        of its own ``(B, C, H, W)`` tensor, i.e. in the supernet's memory format (the order the numbers fill)."""
        if self.streams is None or len(self.streams) != self.S:
            raise ValueError("random draws in a batched search need one random stream per seed "
                             "(SeedBatchedSupernet.streams; BatchedSearch sets them)")
        B, SC, H, W = like.shape
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        out: list[Tensor | None] = []
        for s, stream in enumerate(self.streams):
            if draw is not None and not draw[s]:
                out.append(None)
                continue
            noise = torch.empty((B, SC // self.S, H, W), dtype=like.dtype, device=like.device, memory_format=layout)
            out.append(noise.normal_(generator=stream))
        return out

    def _pool_sums(self, pool: AvgPool3x3, x: Tensor) -> tuple[Tensor, Tensor]:
        """AvgPool3x3's window sums ``(B, S*C, H', W')`` and real-pixel counts ``(1, 1, H', W')``."""
        channels, height, width = x.shape[1:]
        sums = F.conv2d(x, x.new_ones(channels, 1, 3, 3), stride=pool.stride, padding=1, groups=channels)
        counts = F.conv2d(x.new_ones(1, 1, height, width), x.new_ones(1, 1, 3, 3), stride=pool.stride, padding=1)
        return sums, counts[0]

    def _conv(self, conv: nn.Conv2d, x: Tensor, stride: Any = None, padding: Any = None,
              dilation: Any = None) -> Tensor:
        """A conv with ``g`` groups on each seed = one conv with ``S*g`` groups on the stacked channels."""
        p = self._prefix[id(conv)]
        weight = self.weights[p + "weight"].flatten(0, 1)  # (S*C_out, C_in/g, kh, kw)
        bias = self.weights[p + "bias"].flatten() if conv.bias is not None else None
        return F.conv2d(x, weight, bias, conv.stride if stride is None else stride,
                        conv.padding if padding is None else padding,
                        conv.dilation if dilation is None else dilation, conv.groups * self.S)

    def _bn(self, bn: nn.BatchNorm2d, x: Tensor, gain: Tensor | None = None) -> Tensor:
        """A BN over ``S*C`` channels: each seed's channels with its own statistics and affine; ``gain``
        (``(S*C,)``, affine-free BNs only) scales the normalised output (the op weight, fused)."""
        p = self._prefix[id(bn)]
        mean, var = self.buffers.get(p + "running_mean"), self.buffers.get(p + "running_var")
        weight, bias = self.weights.get(p + "weight"), self.weights.get(p + "bias")
        if gain is not None:
            if weight is not None or bias is not None:
                raise ValueError("a gain fuses only into an affine-free BN")
            weight = gain
        use_batch = self.training or mean is None
        if self.training and bn.track_running_stats and mean is not None:
            self._bn_calls[p] += 1
        if bn.momentum is None:
            raise ValueError("batched seeds need BN with a fixed momentum")
        return F.batch_norm(x, mean.view(-1) if mean is not None else None, var.view(-1) if var is not None else None,
                            weight.flatten() if weight is not None else None,
                            bias.flatten() if bias is not None else None, use_batch, bn.momentum, bn.eps)


def _ends_in_plain_bn(m: nn.Module) -> bool:
    """Whether module ``m``'s output is an affine-free BN's (so an op weight can be its scale)."""
    if isinstance(m, nn.BatchNorm2d):
        return not m.affine
    if isinstance(m, (ReLUConvBN, PoolBN)):
        return _ends_in_plain_bn(m[-1])
    if isinstance(m, DilConv):
        return _ends_in_plain_bn(m[3])
    if isinstance(m, SepConv):
        return _ends_in_plain_bn(m[1])
    if isinstance(m, FactorizedReduce):
        return _ends_in_plain_bn(m.bn)
    return False


# ------------------------------------------------------------------------------------------- losses
def _seed_losses(logits: Tensor, y: Tensor) -> Tensor:
    """``(S, B, K), (S, B) -> (S,)``: each seed's mean cross-entropy."""
    S, B, K = logits.shape
    return F.cross_entropy(logits.reshape(S * B, K), y.reshape(S * B), reduction="none").view(S, B).mean(1)


@torch.no_grad()
def clip_grad_norm_per_seed(params: Sequence[Tensor], max_norm: float) -> Tensor:
    """``clip_grad_norm_`` for each seed on its slice of ``params`` (each ``(S, ...)``); returns the ``(S,)``
    total norms before clipping (the norm over all of a seed's gradients, as ``clip_grad_norm_``)."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads])  # (P, S)
    total = norms.norm(dim=0)  # (S,)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))
    return total


# -------------------------------------------------------------------------------------------- search
def _stack_state(states: list[dict[int, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Optimizer states of the seeds -> the state of the stacked optimizer (tensors stacked, scalars shared)."""
    packed: dict[int, dict[str, Any]] = {}
    for index in states[0]:
        packed[index] = {}
        for key, value in states[0][index].items():
            if isinstance(value, Tensor) and value.dim() > 0:
                packed[index][key] = torch.stack([s[index][key] for s in states]).contiguous()
            else:
                packed[index][key] = value.clone() if isinstance(value, Tensor) else value
    return packed


def _seed_state(optimizer: torch.optim.Optimizer, s: int) -> dict[str, Any]:
    """Seed ``s``'s slice of a stacked optimizer's ``state_dict``."""
    full = optimizer.state_dict()
    state = {index: {key: (value[s].clone() if isinstance(value, Tensor) and value.dim() > 0
                           else value.clone() if isinstance(value, Tensor) else value)
                     for key, value in entry.items()}
             for index, entry in full["state"].items()}
    return {"state": state, "param_groups": full["param_groups"]}


class BatchedSearch(Run[list[SearchResult]]):
    """``S`` seeds of one search configuration, run as one; each seed's run directory is an ordinary one.

    ``BatchedSearch.start(configs, out_dirs).run()`` or ``BatchedSearch.resume(run_dirs).run()``; ``run``
    returns one :class:`~dartslib.engine.loop.SearchResult` per seed. The ``seconds`` a seed's history records
    per epoch are the batched epoch's wall time divided by ``S`` (each seed's share of the cost), so the
    sum over a sweep's runs is still the time spent.

    It is a :class:`~dartslib.engine.run.Run` without a directory of its own: :meth:`run` is the library's one
    epoch loop, holding every seed's directory (:meth:`_take_directories`) and turning Ctrl-C / SIGTERM into a
    stop after the step; the seeds' searches write their records, checkpoints and results.

    ``rng_states``: each seed's random state (:meth:`~dartslib.engine.run.Run.rng_state`) as its single-seed
    search would hold it now; its global stream continues from there, per seed (the skip noise). :meth:`start`
    and :meth:`resume` capture them; without them every seed starts from the current global state, which a
    search that draws from it (``skip_noise``) refuses.
    """

    kind, noun, config_class, lr_flags = "search", "search", SearchConfig, "--lr or --arch-lr"
    Diverged, Interrupted = SearchDiverged, SearchInterrupted

    def __init__(self, searches: Sequence[Search], rng_states: Sequence[dict[str, Any]] | None = None) -> None:
        searches = list(searches)
        check_batchable([s.config for s in searches])
        first = searches[0]
        for search in searches:
            _check_hooks(search)
            if search.dist.active:
                raise ValueError("batched seeds do not run data-parallel (torchrun); run one process")
            if (search.epoch, search.step) != (first.epoch, first.step):
                raise ValueError(f"batched seeds must be at the same point; seed {first.config.seed} is at epoch "
                                 f"{first.epoch} step {first.step}, seed {search.config.seed} at epoch "
                                 f"{search.epoch} step {search.step}")
        super().__init__(first.config, None, progress=False, overwrite=False, resuming=False)  # one process
        self.searches = searches
        self.S = len(searches)
        self.device = first.device
        self.steps_per_epoch = first.steps_per_epoch
        self.net = SeedBatchedSupernet([s.model for s in searches])
        if rng_states is None:
            if draws_globally(self.config):
                raise ValueError("batched seeds that draw random numbers (skip noise, the noise op) need each "
                                 "seed's random state (rng_states); BatchedSearch.start and .resume capture them")
            rng_states = [first.rng_state()] * self.S
        if len(rng_states) != self.S:
            raise ValueError(f"got {len(rng_states)} random states for {self.S} seeds")
        self.streams = [_stream(state, self.device) for state in rng_states]
        self._cpu_rng = [state["torch"].clone() for state in rng_states]  # untouched by the steps on CUDA
        self.net.streams = self.streams
        cfg = self.config
        self.weight_optimizer, self.arch_optimizer = make_optimizers(self.net, cfg)
        eta_min = cfg.lr_min if cfg.lr_schedule == "cosine" else cfg.lr
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.weight_optimizer, max(cfg.epochs, 1),
                                                                    eta_min=eta_min)
        for mine, attr in ((self.weight_optimizer, "weight_optimizer"), (self.arch_optimizer, "arch_optimizer")):
            seed_states = [getattr(s, attr).state_dict() for s in searches]
            mine.load_state_dict({"state": _stack_state([st["state"] for st in seed_states]),
                                  "param_groups": seed_states[0]["param_groups"]})
        self.scheduler.load_state_dict(first.scheduler.state_dict())
        self.epoch, self.step = first.epoch, first.step
        self.partial = {k: torch.stack([s.partial[k] for s in searches]) if first.step else
                        torch.zeros(self.S, dtype=torch.float64, device=self.device)
                        for k in ("loss", "correct", "count")}
        self.epoch_lr: float = cfg.lr  # set by start_epoch: the lr at the epoch's start
        from dartslib.methods.zero_one import ZeroOneLoss

        zero_one = [[h for h in s.hooks if isinstance(h, ZeroOneLoss)] for s in searches]
        self.zero_one: list[Any] | None = [z[0] for z in zero_one] if zero_one[0] else None
        self._last_zero_one: Tensor | None = None

    @classmethod
    def start(cls, configs: Sequence[SearchConfig], out_dirs: Sequence[str | Path | None] | None = None,
              hooks: Sequence[Sequence[SearchHook]] | None = None) -> "BatchedSearch":
        """Build one ordinary search per config (seed), then batch them. ``hooks``: one list per seed."""
        configs = list(configs)
        check_batchable(configs)
        out_dirs = list(out_dirs) if out_dirs is not None else [None] * len(configs)
        hooks = list(hooks) if hooks is not None else [[] for _ in configs]
        if len(out_dirs) != len(configs) or len(hooks) != len(configs):
            raise ValueError(f"got {len(configs)} configs, {len(out_dirs)} output directories, {len(hooks)} hook lists")
        return cls(*_with_streams(lambda c=c, d=d, h=h: Search(c, d, progress=False, hooks=list(h))
                                  for c, d, h in zip(configs, out_dirs, hooks)))

    @classmethod
    def resume(cls, paths: Sequence[str | Path], **config_changes: Any) -> "BatchedSearch":
        """Continue the seeds saved in ``paths`` (run directories or their ``checkpoint.pt``), written by a
        batched or an ordinary search."""
        return cls(*_with_streams(lambda p=p: Search.resume(p, progress=False, **config_changes) for p in paths))

    # ------------------------------------------------------------------------------------- the loop
    def _batches(self, batches: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        return self.net.stack_inputs([x for x, _ in batches]), torch.stack([y for _, y in batches])

    def _arch_extra(self) -> Tensor | float:
        """FairDARTS' zero-one loss per seed (Chu et al., 2020, Eq. 8): ``sum_s w01 * L01(op weights of s)``;
        the architecture-loss term of every step (the seeds' :class:`~dartslib.methods.zero_one.ZeroOneLoss`
        hooks, computed batched)."""
        if self.zero_one is None:
            return 0.0
        from dartslib.methods.zero_one import zero_one_loss

        weights = self.net.op_weights()
        gates = torch.cat([w.flatten(1) for w in weights.values()], dim=1)  # (S, all gates)
        losses = torch.stack([zero_one_loss(g, self.zero_one[0].kind) for g in gates])
        self._last_zero_one = losses.detach()
        return self.zero_one[0].w01 * losses.sum()

    def take_step(self, batch: tuple[Tensor, Tensor],
                  arch_batch: tuple[Tensor, Tensor] | Callable[[], tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """One search step of every seed: the library's :func:`dartslib.engine.steps.search_step` on the stacked
        seeds, with per-seed losses (their sum is minimised), gradients clipped per seed and the seeds' zero-one
        loss as the architecture term. ``batch``, ``arch_batch``: stacked (:meth:`_batches`); ``arch_batch`` may
        be a callable, drawn only when the update uses one. Returns the per-seed losses ``(S,)`` and logits."""
        return search_step(self.net, self.config.update, batch, arch_batch, self.weight_optimizer,
                           self.arch_optimizer, arch_terms=[self._arch_extra], grad_clip=self.config.grad_clip,
                           step_order=self.config.step_order, loss_fn=_seed_losses, clip_fn=clip_grad_norm_per_seed)

    # ------------------------------------------------------------ the parts of Run.run_epoch's step loop
    def hooked_models(self) -> list[tuple[nn.Module, list[SearchHook]]]:
        """Each seed's hooks on its own model."""
        return [(search.model, search.hooks) for search in self.searches]

    def start_epoch(self) -> Iterable[tuple[tuple[Tensor, Tensor], ...]]:
        """Train mode, fresh per-seed sums at step 0, the epoch's learning rate; returns the seeds' training
        batches from step ``self.step`` on, one tuple (a batch per seed) per step."""
        self.net.train()
        if self.step == 0:
            self.partial = {k: torch.zeros(self.S, dtype=torch.float64, device=self.device)
                            for k in ("loss", "correct", "count")}
        self.epoch_lr = self.weight_optimizer.param_groups[0]["lr"]
        return zip(*(search.train_batches.epoch(self.epoch, start=self.step) for search in self.searches))

    def train_step(self, batch: Sequence[tuple[Tensor, Tensor]]) -> dict[str, Tensor | int]:
        """Every seed's step (:meth:`take_step`) on its batch; per-seed stats ``(S,)``."""
        x, y = self._batches(batch)
        losses, logits = self.take_step((x, y), lambda: self._batches([next(s.arch_stream) for s in self.searches]))
        return {"loss": losses * y.shape[1], "correct": (logits.argmax(-1) == y).sum(1), "count": y.shape[1]}

    def epoch_stats(self) -> list[dict[str, float]]:
        """Each seed's mean training loss and accuracy, and the epoch's learning rate."""
        count = self.partial["count"].clamp(min=1)
        loss, acc = (self.partial["loss"] / count).tolist(), (100.0 * self.partial["correct"] / count).tolist()
        return [{"train_loss": loss[s], "train_acc": acc[s], "lr": self.epoch_lr} for s in range(self.S)]

    @torch.no_grad()
    def evaluate(self) -> list[tuple[float, float]]:
        """Each seed's mean cross-entropy and accuracy (%) on the held-out split, in eval mode (one pass
        over the split for all seeds: every seed's held-out split is the same images)."""
        # the state the accuracy is reported in (SP-DARTS: t_sm), per seed
        call_hooks(self.hooked_models(), "eval_mode")
        was_training = self.net.training
        self.net.eval()
        loss_sum = torch.zeros(self.S, dtype=torch.float64, device=self.device)
        correct = torch.zeros(self.S, dtype=torch.float64, device=self.device)
        count = 0
        for x, y in self.searches[0].held_out.epoch(0):
            logits = self.net(self.net.stack_inputs([x] * self.S))
            ys = y.expand(self.S, -1)
            loss_sum += _seed_losses(logits, ys).double() * len(y)
            correct += (logits.argmax(-1) == ys).sum(1)
            count += len(y)
        self.net.train(was_training)
        count = max(count, 1)
        return list(zip((loss_sum / count).tolist(), (100.0 * correct / count).tolist()))

    def unpack(self) -> None:
        """Write the batched state back into the seeds' ordinary searches (models, optimizers, scheduler,
        position, partial sums), so that their records, checkpoints and results are theirs."""
        self.net.unpack_into([s.model for s in self.searches])
        for s, search in enumerate(self.searches):
            search.weight_optimizer.load_state_dict(_seed_state(self.weight_optimizer, s))
            search.arch_optimizer.load_state_dict(_seed_state(self.arch_optimizer, s))
            search.scheduler.load_state_dict(self.scheduler.state_dict())
            search.epoch, search.step = self.epoch, self.step
            search.partial = {k: v[s].clone() for k, v in self.partial.items()}
            if self.zero_one is not None and self._last_zero_one is not None:
                self.zero_one[s]._last = self._last_zero_one[s].item()

    def save(self) -> list[Path | None]:
        """Unpack, then let every seed's search write its ``checkpoint.pt`` and ``history.jsonl``."""
        self.unpack()
        return [self._save_seed(s) for s in range(self.S)]

    def _save_seed(self, s: int) -> Path | None:
        """Seed ``s``'s search writes its checkpoint with its own random stream as the ``rng`` it records."""
        with _global_stream(self._cpu_rng[s], self.streams[s]):
            return self.searches[s].save()

    @property
    def checkpoint_path(self) -> Path | None:
        """The first seed's checkpoint (what an interrupt names; every seed's is saved)."""
        return self.searches[0].checkpoint_path

    def _take_directories(self) -> list[RunLock]:
        """Every seed's directory, as its single-seed search takes it (:mod:`dartslib.engine.rundir`): a
        directory another process holds stops the run before any step, the locks taken so far released."""
        locks: list[RunLock] = []
        try:
            for search in self.searches:
                lock = search._take_directory()
                if lock is not None:
                    locks.append(lock)
        except BaseException:
            for lock in locks:
                lock.release()
            raise
        return locks

    # ------------------------------------------------------------------- the parts of Run.run's epoch loop
    def run(self, progress: bool = False) -> list[SearchResult]:
        """Run the remaining epochs of every seed (:meth:`Run.run <dartslib.engine.run.Run.run>`); returns their
        results (``result.json`` in each out_dir). Ctrl-C or SIGTERM stops after the step, every seed saved."""
        self.progress = progress
        return super().run()

    def progress_bar(self) -> Any:
        """Steps done of all epochs' steps (each step steps every seed)."""
        from dartslib.progress import progress_bar

        cfg = self.config
        return progress_bar(total=cfg.epochs * self.steps_per_epoch,
                            initial=self.epoch * self.steps_per_epoch + self.step,
                            desc=f"{cfg.method} on {cfg.space}, {self.S} seeds", unit="step",
                            disable=not self.progress, leave=False)

    def check_epoch(self, stats: list[dict[str, float]]) -> None:
        """Refuse an epoch in which any seed's training loss is NaN or infinite, naming the seeds."""
        bad = [search.config.seed for search, st in zip(self.searches, stats) if not math.isfinite(st["train_loss"])]
        if bad:
            raise SearchDiverged(f"training loss became non-finite in epoch {self.epoch + 1} for seed(s) "
                                 f"{', '.join(map(str, bad))}; the last good checkpoints are kept. "
                                 f"Try a smaller --lr or --arch-lr.")

    def record_epoch(self, stats: list[dict[str, float]], started: float, bar: Any) -> None:
        """Evaluate every seed in one pass, unpack, and let each seed's search append its record and save
        (with its own random stream); each record's ``seconds`` is the epoch's time divided by ``S``."""
        evaluation = self.evaluate()
        seconds = (time.perf_counter() - started) / self.S
        self.unpack()
        for s, (search, st, ev) in enumerate(zip(self.searches, stats, evaluation)):
            search.history.append(search._epoch_record(st, seconds, evaluation=ev))
            self._save_seed(s)

    def finish(self) -> list[SearchResult]:
        """Unpack; every seed's search returns its result and writes its ``result.json``."""
        self.unpack()
        return [search.finish() for search in self.searches]


def _stream(rng: dict[str, Any], device: torch.device) -> torch.Generator:
    """A generator holding one seed's global random stream on ``device`` (the CPU's, or the CUDA device's)."""
    if device.type == "cuda":
        generator = torch.Generator(device=device)
        generator.set_state(rng["cuda"])
        return generator
    generator = torch.Generator()
    generator.set_state(rng["torch"])
    return generator


class _global_stream:
    """Within the block, torch's global generators hold one seed's stream (so its search checkpoints it);
    the global state is restored after."""

    def __init__(self, cpu: Tensor, stream: torch.Generator) -> None:
        self.cpu, self.stream = cpu, stream

    def __enter__(self) -> None:
        self.saved_cpu = torch.get_rng_state()
        torch.set_rng_state(self.cpu if self.stream.device.type == "cuda" else self.stream.get_state())
        if self.stream.device.type == "cuda":
            self.saved_cuda = torch.cuda.get_rng_state(self.stream.device)
            torch.cuda.set_rng_state(self.stream.get_state(), self.stream.device)

    def __exit__(self, *exc: Any) -> None:
        torch.set_rng_state(self.saved_cpu)
        if self.stream.device.type == "cuda":
            torch.cuda.set_rng_state(self.saved_cuda, self.stream.device)


def _with_streams(factories: Iterable[Callable[[], Search]]) -> tuple[list[Search], list[dict[str, Any]]]:
    """Build the seeds' searches one after another, each one's random state captured right after it is built
    (a search seeds, or restores, torch's global stream; the next seed's build would overwrite it)."""
    searches, states = [], []
    for factory in factories:
        search = factory()
        searches.append(search)
        states.append(search.rng_state())
    return searches, states


def batched_search(configs: Sequence[SearchConfig], out_dirs: Sequence[str | Path | None] | None = None,
                   progress: bool = False) -> list[SearchResult]:
    """Run the seeds of ``configs`` (one config per seed, otherwise equal) as one batched search."""
    return BatchedSearch.start(configs, out_dirs).run(progress)


class SeedGroup:
    """Runs of one (method, space) that ``sweep --batch-seeds`` starts as one batched process. ``name`` is
    the first member's: the sweep writes the group's ``log.txt`` and failure marker into that directory."""

    child_module = "dartslib.engine.batched"

    def __init__(self, members: Sequence[Any]) -> None:
        self.members = list(members)
        self.name = self.members[0].name
        self.method, self.space = self.members[0].method, self.members[0].space


def group_seeds(pending: Sequence[tuple[Any, str]], out: Path, echo: Any = print,
                parts: int = 1) -> list[tuple[Any, str]]:
    """A sweep's pending ``(run, action)`` list with the seeds of each (method, space, action) merged into
    :class:`SeedGroup` s where :func:`check_batchable` allows (else the runs stay single, with the reason).

    ``parts``: split each group into this many near-equal groups (the sweep's ``--jobs``), so that ``jobs``
    single-threaded processes share the seeds: on a shared CPU one process per core beats one process with
    several threads, whose every kernel waits for its slowest, descheduled thread."""
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for run, action in pending:
        groups.setdefault((run.method, run.space, action), []).append(run)
    merged: list[tuple[Any, str]] = []
    for (method, space, action), members in groups.items():
        if len(members) > 1:
            try:
                check_batchable([m.config for m in members])
            except ValueError as exc:
                echo(f"single   {method} on {space}: {exc}")
            else:
                n = min(max(1, parts), len(members))
                for k in range(n):
                    chunk = members[k * len(members) // n: (k + 1) * len(members) // n]
                    if len(chunk) == 1:
                        merged.append((chunk[0], action))
                        continue
                    group = SeedGroup(chunk)
                    echo(f"batched  {method}__{space}: seeds {', '.join(str(m.seed) for m in chunk)} in one "
                         f"process (log: {out / group.name / 'log.txt'})")
                    for m in chunk[1:]:
                        with open(out / m.name / "log.txt", "a") as log:
                            log.write(f"batched with the seeds of {group.name}; see its log.txt\n")
                    merged.append((group, action))
                continue
        merged.extend((m, action) for m in members)
    return merged


def _run_dirs(run_dirs: Sequence[Path]) -> int:
    """The child process of ``sweep --batch-seeds``: start or resume the seeds in ``run_dirs`` together.
    Exit 0 when finished, 130 when interrupted (state saved), 1 with a last line ``error: ...`` otherwise."""
    from dartslib.engine.rundir import die_with_parent

    def work() -> list[str]:
        die_with_parent()
        started = [d for d in run_dirs if (d / "checkpoint.pt").is_file()]
        if started and len(started) != len(run_dirs):
            raise ValueError(f"{len(started)} of {len(run_dirs)} batched runs have checkpoints; run the rest alone")
        if started:
            batch = BatchedSearch.resume(run_dirs)
            print(f"resuming {len(run_dirs)} seeds at epoch {batch.epoch + 1}, step {batch.step}", flush=True)
        else:
            configs = [SearchConfig.from_dict(json.loads((d / "spec.json").read_text())["config"]) for d in run_dirs]
            batch = BatchedSearch.start(configs, run_dirs)
            print(f"starting {len(run_dirs)} seeds batched", flush=True)
        return [json.dumps({"seed": r.config.seed, "genotype": r.genotype, **r.metrics}) for r in batch.run()]

    return run_as_child(work)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m dartslib.engine.batched RUN_DIR... "
                 "(started by `python -m dartslib sweep --batch-seeds`)")
    sys.exit(_run_dirs([Path(a) for a in sys.argv[1:]]))
