"""Toy searches where each mechanism of the collapse and its fixes shows in seconds on a CPU.

The book's chapters start from these; ``tests/test_mechanisms.py`` asserts the papers' claims on them, each
against the same toy with the mechanism switched off.

**The residual-stack toy.** A regression task whose true function is a residual network, and a one-path
supernet that must find it:

* Teacher: ``x ~ N(0, I_16)``, ``h_0 = x``, ``h_{l+1} = h_l + c * BN(relu(h_l) A_l^T)`` for ``depth`` layers
  with fixed random ``A_l`` and ``c = strength = 1.5``; the target is ``y = h_depth``, scaled to unit
  variance. Every block is "identity + a residual branch 1.5 times as strong", so the best student keeps
  *both* branches (the ResNet block that FairDARTS says a skip connection lives in, Chu et al., 2020,
  Sec. 3.2).
* Student (the supernet, :class:`ToySupernet`): a chain of ``depth`` mixed edges
  ``h_{l+1} = sum_m w_{l,m} o_m(h_l)`` with ops ``skip`` (identity), ``conv`` (ReLU -> linear -> affine-free
  BN: DARTS' ReLU-Conv-BN on vectors) and ``none``; its output ``h_depth`` is the prediction, with no
  readout, so the sizes of the branches are part of the fit.
* Search: DARTS' loop on a training and a validation set of 4096 samples each (weights: SGD lr 0.1,
  momentum 0.9, weight decay 3e-4, on training batches; alphas: Adam betas (0.5, 0.999), weight decay 1e-3,
  on validation batches; or momentum SGD on the alphas, ``arch_optimizer="sgd"``), or single-level /
  same-subset updates; 400 steps, ``epochs = 10`` blocks of steps for the schedules.

**Two teachers, two questions.** :func:`residual_teacher` (above) needs both ops on every edge, so no
discrete cell fits it: it shows the softmax's budget (one share per edge cannot keep identity and branch at
full strength, Chu et al., 2020, Sec. 3.2) and the collapse's dynamics, but "discretized R^2" on it rewards
sharpness, not choosing well. :func:`discrete_teacher` *is* a cell of the space (``answer``, default
``skip, conv, skip, conv``): the right cell fits it and every other is clearly worse, so a method is scored
by the cell it derives -- its regret against the best of all ``2^4`` cells trained stand-alone
(:func:`standalone_scores`, :func:`regret`, :func:`regret_experiment`). On a chain a skip is the identity,
so cells with the same number of convs are the same net (:func:`cell_function`): that teacher identifies
how many edges should be conv, not which.

**The same machinery as the image supernets.** The toy is one more search space of the library, not a
second implementation of the methods. A search is a :class:`~dartslib.engine.config.SearchConfig` (one per seed);
the op weights come from that config's form in :mod:`dartslib.space.op_weights`; every step is a step of
:mod:`dartslib.engine.steps`, dispatched by the one :func:`~dartslib.engine.steps.search_step` of every search
(``weight_step``, ``arch_step_first_order``, ``arch_step_second_order``, ``single_level_step``) with the
optimizers of :func:`~dartslib.engine.steps.make_optimizers`, given the toy's mean-squared error as
``loss_fn``; and the methods act through the hooks that :func:`dartslib.methods.presets.build_hooks` builds from
the config, called by the library's one step loop, :meth:`dartslib.engine.run.Run.run_epoch`, as for every
search (:func:`dartslib.hooks.call_hooks`, :func:`dartslib.hooks.arch_loss_terms`): DARTS-'
:class:`~dartslib.methods.aux_skip.AuxiliarySkip` sets ``beta`` on the edges, SP-DARTS'
:class:`~dartslib.methods.temperature.TemperatureMixing` draws each step's temperature, FairDARTS'
:class:`~dartslib.methods.zero_one.ZeroOneLoss` adds its term to the architecture loss. A bug in any
of them shows in the mechanism tests (``tests/test_mechanisms.py`` breaks each on purpose).

**Seeds in one tensor.** ``S`` seeds are ``S`` independent searches batched along a leading dimension:
the loss is the sum of the per-seed losses, and SGD and Adam act elementwise, so seed ``s`` follows the
trajectory it would follow alone, up to float rounding (its own data, batches, initialisation and, for
SP-DARTS, its own temperature draws). Each seed is also a supernet of its own for the hooks
(:class:`ToySeed`: its op-weight form, its op weights, its edges), with its own hooks built from its own
config (``seed = s``).

Toy choices (not from the papers): vectors instead of images, and a larger architecture lr (1.5e-2, 3e-3
in the leakage toy) so that 400 steps do what 50 epochs do. The SGD on the weights matters: an edge's
weight gradient is scaled by its op weight, which is how a losing op also learns more slowly (Adam would
undo that). No gradient clipping.

**The pure-softmax toy** (Hou et al., 2021, Theorems 4.2, 4.3): ``L = sum_i p_i s_i`` with ``p =
softmax(alpha)`` and fixed scores ``s_i = dL/dx_bar . x_i`` (a linear ``g``), run by plain gradient descent;
see :func:`softmax_race`.
**The modules.** The toy space: :mod:`~dartslib.book.toys.teachers` (the two teachers),
:mod:`~dartslib.book.toys.supernet` (:func:`toy_forward`, :class:`ToySupernet` and its per-seed views) and
:mod:`~dartslib.book.toys.search` (:func:`toy_config`, :func:`residual_stack_search`, :class:`ToyRun`). The
chapters' measurements and experiments on it: :mod:`~dartslib.book.toys.measures` (discretization scores,
entropies, gates near the extremes, the R^2 with op weights of a chapter's choosing),
:mod:`~dartslib.book.toys.regret` (stand-alone scores, derived cells, regret and its table columns),
:mod:`~dartslib.book.toys.experiments` (one ``*_experiment`` per mechanism chapter) and
:mod:`~dartslib.book.toys.race` (the pure-softmax toy and its theorems). Every public name is re-exported here:
``from dartslib.book.toys import X`` and ``toys.X``.
"""
from __future__ import annotations

from dartslib.book.toys.teachers import (DISCRETE_ANSWER, WIDTH, _check_cell, _discrete_scale,  # noqa: F401
                                         _teacher_blocks, _teacher_data, discrete_teacher, residual_teacher)
from dartslib.book.toys.supernet import TOY_OPS, ToyEdge, ToySeed, ToySupernet, _toy_loss, toy_forward  # noqa: F401
from dartslib.book.toys.search import TOY_FORMS, TOY_UPDATES, ToyRun, residual_stack_search, toy_config
from dartslib.book.toys.measures import (argmax_one_hot, discretization_scores, last_crossing_steps,
                                         near_extremes_fraction, run_entropies, threshold_r2, toy_r2)
from dartslib.book.toys.regret import (DERIVE_RULES, Cell, candidate_cells, cell_function, convs_r2, derived_cells,
                                       pooled_scores, regret, regret_columns, regret_experiment, regret_summary,
                                       standalone_r2, standalone_scores)
from dartslib.book.toys.experiments import (aux_skip_experiment, gradient_correlation_experiment,
                                            leakage_experiment, unfair_advantage_experiment, zero_one_experiment)
from dartslib.book.toys.race import (corrected_race_bound, softmax_race, theorem_4_2_counterexample,
                                     theorem_4_3_bound)

__all__ = [
    "WIDTH", "TOY_OPS", "TOY_UPDATES", "TOY_FORMS", "residual_teacher", "toy_forward", "ToyEdge", "ToySeed",
    "ToySupernet",
    "toy_config", "ToyRun", "residual_stack_search", "DISCRETE_ANSWER", "discrete_teacher",
    "candidate_cells", "cell_function", "standalone_r2", "standalone_scores", "pooled_scores", "DERIVE_RULES",
    "derived_cells",
    "regret", "regret_experiment", "regret_summary", "convs_r2", "regret_columns",
    "discretization_scores", "run_entropies", "near_extremes_fraction", "last_crossing_steps", "toy_r2",
    "argmax_one_hot", "threshold_r2",
    "unfair_advantage_experiment", "zero_one_experiment", "aux_skip_experiment", "leakage_experiment",
    "gradient_correlation_experiment", "softmax_race", "theorem_4_3_bound", "corrected_race_bound",
    "theorem_4_2_counterexample",
]
