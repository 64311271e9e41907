"""Data-parallel search over several processes with ``torch.distributed`` (one process per GPU, or
several CPU processes), launched by ``torchrun``::

    torchrun --nproc_per_node=2 -m dartslib search --method darts --space nb201 --out runs/ddp

What a step computes. ``batch_size`` stays the *global* batch: every rank draws the same global batch
(the batch iterators are pure functions of the seed) and keeps its contiguous shard
``x.tensor_split(world)[rank]``, so changing the number of processes changes neither the batches, nor
the learning rates, nor the number of steps per epoch. Every gradient of a parameter (weights and alphas)
is replaced, inside the backward pass, by ``sum_r (n_r / N) g_r``: the gradient of the global mean loss
(``n_r`` images on rank ``r``, ``N`` in the global batch). Gradient clipping, SGD and Adam then see the same
gradient on every rank and take the same step, so weights and alphas stay bit-identical across ranks.

BatchNorm (the one difference from one process). ``SyncBatchNorm`` only runs on GPUs (torch 2.14 refuses CPU
tensors), so each rank normalises its shard with the shard's own statistics ("ghost batch norm"). A
distributed step therefore equals, exactly, a single-process step on the same global batch whose forward
pass runs the ``world`` shards separately through the network and concatenates the logits (the loss is
still the mean over the global batch). The running statistics that evaluation uses are averaged over the
ranks after every step (with equal shards, the running mean is then the global batch's).
``tests/test_distributed.py`` checks a 2-process gloo run against that single-process reference.

What every rank does. All ranks run the same loop; only the shards differ. Every rank evaluates the
whole held-out set (identical results, no communication); only rank 0 writes checkpoints, history and
result. Noise ops (``darts-gaussian``, S4's ``noise``) draw from a per-rank random stream, so shards get
independent noise; checkpoints keep every rank's stream. The second-order (unrolled) architecture step
is refused: its virtual step, its finite-difference radius and its Hessian-vector direction would each
need a global gradient inside :func:`dartslib.engine.steps.arch_step_second_order`.

Cost: one all-reduce per parameter tensor per backward pass (no bucketing), one per forward pass for the
shard sizes, and per step one for the BN running statistics and one for stop requests.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

if TYPE_CHECKING:
    from dartslib.engine.config import SearchConfig

__all__ = ["Distributed", "current", "init", "close", "launched_by_torchrun", "GradientSync"]

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun() -> bool:
    """True inside a process that ``torchrun`` started (its environment variables are set)."""
    return all(name in os.environ for name in _TORCHRUN_VARS)


def init(device: str = "auto") -> "Distributed":
    """Join the process group described by torchrun's environment variables: nccl when the search runs
    on CUDA, gloo on the CPU. Returns :func:`current`; a no-op when already initialised."""
    if not dist.is_initialized():
        if not launched_by_torchrun():
            missing = ", ".join(v for v in _TORCHRUN_VARS if v not in os.environ)
            raise ValueError(f"--distributed needs the environment torchrun sets ({missing} missing); "
                             f"launch with: torchrun --nproc_per_node=N -m dartslib search ...")
        cuda = device != "cpu" and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl" if cuda else "gloo")
    return current()


def close() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def current() -> "Distributed":
    """The process group as a search sees it: world 1 (nothing to do) unless one is initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        return Distributed()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return Distributed(dist.get_rank(), dist.get_world_size(), local, dist.get_backend())


@dataclass(frozen=True)
class Distributed:
    """Rank, world size and the few collectives the search loop needs; every method is a no-op (and
    communicates nothing) when ``world == 1``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def comm_device(self) -> torch.device:
        """Where collective tensors live: CUDA for nccl, else CPU."""
        return torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")

    def device(self, device: torch.device) -> torch.device:
        """``cuda`` -> this rank's GPU (``cuda:LOCAL_RANK``); checks the backend fits the device."""
        if not self.active:
            return device
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", self.local_rank)
        if self.backend == "nccl" and device.type != "cuda":
            raise ValueError(f"the process group uses nccl, which needs CUDA, but the search runs on {device}; "
                             f"use --device cuda, or a gloo group for CPU processes")
        return device

    def check(self, config: SearchConfig, dataset_sizes: Iterable[int]) -> None:
        """Refuse what a distributed search cannot do exactly (clear ValueError); ``dataset_sizes``: the
        images of the data sets batches are drawn from (their last batch may be smaller)."""
        if not self.active:
            return
        batch_sizes = [size for n in dataset_sizes for size in (min(config.batch_size, n), n % config.batch_size)
                       if size > 0]
        if config.update == "bilevel-2nd":
            raise ValueError(f"update 'bilevel-2nd' (method {config.method!r}) does not run on {self.world} "
                             f"processes: the unrolled step needs global gradients inside "
                             f"dartslib.engine.steps.arch_step_second_order; run it on one process or use a "
                             f"first-order method")
        smallest = min(batch_sizes)
        if smallest < self.world:
            raise ValueError(f"a batch of {smallest} images cannot be split over {self.world} processes "
                             f"(batch_size {config.batch_size}, or the last batch of an epoch); "
                             f"use a larger --batch-size or fewer processes")

    def shard(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's contiguous part of a global batch: ``(B, ...) -> (B_r, ...)``, ``B_r`` within 1 of
        ``B / world``."""
        if not self.active:
            return x, y
        return x.tensor_split(self.world)[self.rank], y.tensor_split(self.world)[self.rank]

    def barrier(self) -> None:
        """Wait until every rank gets here (e.g. until rank 0 has written a checkpoint)."""
        if self.active:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any (keeps ranks stopping at the same step)."""
        if not self.active:
            return flag
        t = torch.tensor([float(flag)], device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def sum(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Elementwise sum over ranks of a dict of scalar tensors (returned on their own device)."""
        if not self.active:
            return values
        keys = list(values)
        flat = torch.stack([values[k].detach().double().reshape(()) for k in keys]).to(self.comm_device)
        dist.all_reduce(flat)
        return {k: flat[i].to(values[k].device, values[k].dtype) for i, k in enumerate(keys)}

    def average_buffers(self, model: nn.Module) -> None:
        """Average the floating-point buffers (BatchNorm running statistics) over the ranks, in place."""
        if not self.active:  # called every step: nothing to walk on one process
            return
        buffers = [b for b in model.buffers() if b.is_floating_point()]
        if not buffers:
            return
        flat = torch.cat([b.detach().reshape(-1).double() for b in buffers]).to(self.comm_device)
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        with torch.no_grad():
            for b in buffers:
                b.copy_(flat[offset:offset + b.numel()].view_as(b))
                offset += b.numel()

    def broadcast_model(self, model: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank (they should already agree: same seed)."""
        if not self.active:
            return
        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                buffer = t.detach().to(self.comm_device)
                dist.broadcast(buffer, 0)
                t.copy_(buffer)

    def seed_rank_stream(self, seed: int, *position: int) -> None:
        """Give this rank its own global random stream (noise ops), derived from ``(seed, rank, *position)``."""
        if self.active:
            state = np.random.SeedSequence([seed, self.rank, *position]).generate_state(1, dtype=np.uint64)[0]
            torch.manual_seed(int(state) >> 1)

    def gather_rng_states(self) -> list[torch.Tensor] | None:
        """Every rank's CPU random state (rank order), for the checkpoint; None on one process."""
        if not self.active:
            return None
        states: list[Any] = [None] * self.world
        dist.all_gather_object(states, torch.get_rng_state())
        return states


class GradientSync:
    """While active (``with sync:``), every gradient of a ``model`` parameter computed by ``backward()`` or
    ``torch.autograd.grad`` is replaced by ``sum_r (n_r / N) g_r`` over the ranks, where ``n_r`` is the
    size of the batch of the latest forward pass with gradients on rank ``r``: the gradient of the mean
    loss over the global batch. Inactive (evaluation, diagnostics), gradients stay local."""

    def __init__(self, model: nn.Module, group: Distributed) -> None:
        self.group = group
        self.active = False
        self.weight = 1.0
        if group.active:
            model.register_forward_pre_hook(self._note_batch)
            for p in model.parameters():
                if p.requires_grad:
                    p.register_hook(self._all_reduce)

    def _note_batch(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if self.active and torch.is_grad_enabled():
            n = torch.tensor([float(len(args[0]))], device=self.group.comm_device)
            dist.all_reduce(n)
            self.weight = len(args[0]) / n.item()

    def _all_reduce(self, grad: torch.Tensor) -> torch.Tensor | None:
        if not self.active:
            return None
        grad = grad * self.weight
        dist.all_reduce(grad)
        return grad

    def __enter__(self) -> "GradientSync":
        self.active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False
