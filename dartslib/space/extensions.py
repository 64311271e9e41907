"""The edge extension point: how a method changes a mixed edge's forward pass, or adds architecture parameters
to the supernet, without the edge or the supernet knowing the method.

A method that adds a branch to an edge, perturbs an op's output or samples the edge's channels does not
subclass :class:`~dartslib.space.supernet.MixedEdge`; it *injects* an :class:`EdgeExtension` into the edges
(``edge.extensions``, a ``ModuleDict`` keyed by :attr:`EdgeExtension.name`), as confopt
(``automl/ConfigurableOptimizer``) injects its partial connector, dropout and weight entangler into its
``OperationBlock``. The edge offers two hook points, both no-ops by default:

* :meth:`EdgeExtension.op_output` changes one op's output before it is weighted (``"DARTS + Gaussian"``' noise
  on ``skip_connect``, :mod:`dartslib.methods.skip_noise`);
* :meth:`EdgeExtension.forward_edge` wraps the whole edge: it receives ``mix``, the weighted sum of the edge's
  ops, and may call it on another input (PC-DARTS' partial channels, :mod:`dartslib.methods.pc_darts`), add
  a branch to it (DARTS-' auxiliary skip, :mod:`dartslib.methods.aux_skip`) or scale it.

Several extensions on one edge nest in the order they were attached: the first one's ``forward_edge`` is the
outermost, and every ``op_output`` applies, in that order, to the ops it changes. An extension's own modules
(an auxiliary branch's weights) are submodules of the edge, so they train with the network's weights and are
saved in its ``state_dict``; its plain attributes (a coefficient, a noise std) are set by the method's hook.

Architecture parameters beyond the alphas (PC-DARTS' edge-normalisation betas) live in an
:class:`ArchExtension` of the supernet (``supernet.arch_extensions``): its parameters are architecture
parameters (:meth:`~dartslib.space.supernet.Supernet.arch_parameters`, stepped by the architecture optimizer,
never by the weights'), and it may change the weights a discrete cell is derived from
(:meth:`ArchExtension.derivation_weights`).

Seed-batched searches (:mod:`dartslib.engine.batched`) run the extensions of all seeds' edges at once through the
``stacked_*`` class methods; an extension whose class leaves :attr:`EdgeExtension.stackable` False is refused
there with a one-line error.

This module imports only torch, so that :mod:`dartslib.space.supernet` and the method modules both import it and
the imports point one way.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol, Sequence

import torch
from torch import nn

__all__ = ["EdgeExtension", "ArchExtension", "Mix", "SeedStack", "attach_extension", "edge_extension",
           "supernet_only_off"]

Mix = Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]
"""``mix(x, weights, share) -> out``: the weighted sum ``sum_i w_i op_i(x)`` of an edge's ops, ``(B, C_ops, H, W),
(num_ops,) -> (B, C_ops, H', W')`` (``share``: the node's shared ReLU/pooling, or None)."""


class SeedStack(Protocol):
    """What a seed-batched forward (:class:`dartslib.engine.batched.SeedBatchedSupernet`) offers the
    ``stacked_*`` methods: activations are ``(B, S*C, H, W)``, seed ``s`` owning channels ``s*C .. (s+1)*C - 1``.

    The seed stack is also the executor of the supernet's one forward pass
    (:class:`dartslib.space.supernet.Executor`), which calls the ``stacked_*`` methods where the ordinary
    supernet calls :meth:`EdgeExtension.forward_edge` and :meth:`EdgeExtension.op_output`."""

    S: int
    training: bool

    def module(self, m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Module ``m`` of the blueprint supernet (seed 0's) run on every seed, with each seed's weights."""
        ...

    def per_channel(self, values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
        """``(S*C, 1, 1)``: seed ``s``'s value on each of its channels of ``like``."""
        ...

    def seed_normals(self, like: torch.Tensor, draw: Sequence[bool] | None = None) -> list[torch.Tensor | None]:
        """``N(0, 1)`` of one seed's shape ``(B, C, H, W)`` from each seed's own random stream (None where
        ``draw[s]`` is False)."""
        ...


class EdgeExtension(nn.Module):
    """A method's change to one mixed edge's forward pass (see the module docstring).

    Attributes:
        name: its key in ``edge.extensions``; an edge holds at most one extension of a name.
        supernet_only: the derived architecture has none of it (DARTS-' auxiliary skip): a discretised
            supernet is measured without it (:func:`supernet_only_off`).
        stackable: the class implements the ``stacked_*`` methods, so seed-batched searches can run it.
        active: False switches it off (the edge computes as if it were absent); :func:`supernet_only_off` uses it.
    """

    name = "extension"
    supernet_only = False
    stackable = False

    def __init__(self) -> None:
        super().__init__()
        self.active = True

    # ------------------------------------------------------------------------------ the hook points
    def changes_op(self, edge: nn.Module, index: int, training: bool) -> bool:
        """Whether :meth:`op_output` changes op ``index``'s output in this forward pass (``training``: the
        edge's mode). Only those ops are passed to it; the others may be computed fused."""
        return False

    def op_output(self, edge: nn.Module, index: int, y: torch.Tensor) -> torch.Tensor:
        """Op ``index``'s output ``y`` ``(B, C_ops, H', W')``, changed before it is weighted."""
        return y

    def forward_edge(self, edge: nn.Module, x: torch.Tensor, weights: torch.Tensor, share: Any,
                     mix: Mix) -> torch.Tensor:
        """The edge's output ``(B, C, H', W')`` from its input ``x`` ``(B, C, H, W)`` and op weights ``(num_ops,)``;
        ``mix(x, weights, share)`` is the weighted sum of its ops (and of the extensions inside this one)."""
        return mix(x, weights, share)

    # ----------------------------------------------------------------- seed-batched (engine.batched)
    @classmethod
    def stacked_op_output(cls, extensions: Sequence["EdgeExtension"], edge: nn.Module, index: int,
                          y: torch.Tensor, stack: SeedStack) -> torch.Tensor:
        """:meth:`op_output` for all seeds at once: ``extensions[s]`` is seed ``s``'s, ``y`` is ``(B, S*C, H', W')``
        (by default ``y`` itself, for a class that changes no op's output)."""
        if cls.op_output is EdgeExtension.op_output:
            return y
        raise NotImplementedError(f"{cls.__name__} has no seed-batched op_output")

    @classmethod
    def stacked_forward_edge(cls, extensions: Sequence["EdgeExtension"], edge: nn.Module, x: torch.Tensor,
                             mix: Callable[[torch.Tensor], torch.Tensor], stack: SeedStack) -> torch.Tensor:
        """:meth:`forward_edge` for all seeds at once (``x``: ``(B, S*C, H, W)``). ``mix(x)`` is the stacked weighted
        sum with the node's sum so far already added (the batched forward accumulates in place), so a stacked
        ``forward_edge`` may only add to it, as a branch does; by default it returns ``mix(x)``, for a class
        that does not wrap the edge."""
        if cls.forward_edge is EdgeExtension.forward_edge:
            return mix(x)
        raise NotImplementedError(f"{cls.__name__} has no seed-batched forward_edge")


class ArchExtension(nn.Module):
    """Architecture parameters a method adds to the supernet beside the alphas (``supernet.arch_extensions``,
    keyed by :attr:`name`). Its parameters are architecture parameters: the supernet's
    :meth:`~dartslib.space.supernet.Supernet.arch_parameters` lists them after the alphas, and
    ``weight_parameters`` leaves them out."""

    name = "arch_extension"

    def derivation_weights(self, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{cell_type: (num_edges, num_ops)}`` derivation weights, changed (default: unchanged)."""
        return weights

    def describe(self) -> dict[str, Any]:
        """Values to record in the search history each epoch (e.g. the edge weights)."""
        return {}


def edge_extension(edge: nn.Module, name: str) -> EdgeExtension | None:
    """The extension ``name`` of ``edge``, or None (also for a module that takes no extensions)."""
    extensions = getattr(edge, "extensions", None)
    return extensions[name] if extensions is not None and name in extensions else None


def attach_extension(edge: nn.Module, extension: EdgeExtension) -> EdgeExtension:
    """Inject ``extension`` into ``edge`` (replacing one of the same name in place), in the supernet's memory
    format; returns it. Attach before the optimizers are built when it has weights."""
    if not isinstance(extension, EdgeExtension):
        raise TypeError(f"an edge takes EdgeExtension instances, got {type(extension).__name__}")
    extension.train(edge.training)
    edge.extensions[extension.name] = extension
    return extension


@contextmanager
def supernet_only_off(model: nn.Module) -> Iterator[nn.Module]:
    """Switch off, for the block, every edge extension the derived architecture does not have
    (:attr:`EdgeExtension.supernet_only`): the supernet then computes what its discretised cells compute."""
    switched = [m for m in model.modules() if isinstance(m, EdgeExtension) and m.supernet_only and m.active]
    try:
        for m in switched:
            m.active = False
        yield model
    finally:
        for m in switched:
            m.active = True
