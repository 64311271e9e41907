"""Seeds batched in one model (dartslib.engine.batched): every seed's steps equal its ordinary single-seed search's
(logits, gradients, alphas, op weights, losses, weights, BN buffers, optimizer state, random streams), for every
preset the book ranks, each against a control that must fail; each run directory is an ordinary one
(history.jsonl, result.json, checkpoints that resume), and what cannot be batched is refused by name.

The ordinary search is chaotic at these learning rates: the same model in another memory format (NCHW
instead of channels_last) drifts from it by ~1e-4 in the alphas within two steps. So the step-by-step tests
restart both from the ordinary search's state before every step (via its checkpoint ``state_dict``) and
compare one step tightly, through both forms' own ``run_epoch`` (hooks, data streams and the update included);
the controls (a seed mismatch, clipping shared over the seeds, a method's mechanism switched off in the batched
run, two seeds' random streams swapped) fail those checks.
"""
import json

import pytest
import torch
from torch import nn

from dartslib.engine import batched as batched_module
from dartslib.engine.batched import BatchedSearch, check_batchable, clip_grad_norm_per_seed
from dartslib.engine.config import make_config
from dartslib.engine.loop import Search, SearchHook, SearchInterrupted
from dartslib.sweep import collect

TINY = {"epochs": 2, "C": 4, "cells_per_stage": 1, "max_steps_per_epoch": 3, "batch_size": 16, "image_size": 8,
        "device": "cpu"}
TINY_DARTS = {**TINY, "layers": 3}
SEEDS = (0, 1, 2)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def configs(method="darts", space="nb201", seeds=SEEDS, **changes):
    values = {**(TINY_DARTS if space != "nb201" else TINY), **changes}
    return [make_config(method, space, "toy", seed=s, **values) for s in seeds]


def restored(search: Search) -> Search:
    """A fresh search of the same config holding ``search``'s current state (its checkpoint contents)."""
    copy = Search(search.config, None, progress=False)
    copy.load_state_dict(search.state_dict())
    return copy


def run_one_step(run, epoch: int, step: int):
    """Step ``step`` of ``epoch`` of a :class:`Search` or :class:`BatchedSearch` through its own ``run_epoch``
    (hooks, batches, update); returns its stats (per seed for the batched one)."""
    run.epoch, run.step, run.steps_per_epoch = epoch, step, step + 1
    return run.run_epoch()


def max_differences(a: Search, b: Search) -> dict[str, float]:
    """Largest absolute differences of alphas, op weights, weights, BN buffers and optimizer state, relative to
    scale where noted."""
    sa, sb = a.model.state_dict(), b.model.state_dict()
    out = {"alphas": max((sa[k] - sb[k]).abs().max().item() for k in sa if k.startswith("arch_params"))}
    with torch.no_grad():
        wa, wb = a.model.op_weights(), b.model.op_weights()
    out["op_weights"] = max((wa[ct] - wb[ct]).abs().max().item() for ct in wa)
    out["weights"] = max((sa[k] - sb[k]).abs().max().item() / (sa[k].abs().max().item() + 1e-3)
                         for k in sa if not k.startswith("arch_params") and sa[k].is_floating_point())
    out["counts"] = max((sa[k] - sb[k]).abs().max().item() for k in sa if not sa[k].is_floating_point())
    states = [(o1.state_dict()["state"], o2.state_dict()["state"]) for o1, o2 in
              ((a.weight_optimizer, b.weight_optimizer), (a.arch_optimizer, b.arch_optimizer))]
    out["optimizer"] = 0.0
    for st1, st2 in states:  # each state tensor kind relative to its largest entry (bias buffers are noise)
        for key in {k for entry in st1.values() for k, v in entry.items() if v.dim() > 0}:
            scale = max(entry[key].abs().max().item() for entry in st1.values()) + 1e-12
            diff = max((st1[i][key] - st2[i][key]).abs().max().item() for i in st1)
            out["optimizer"] = max(out["optimizer"], diff / scale)
    return out


def hook_states_equal(a: Search, b: Search) -> bool:
    """The seeds' method hooks hold the same state (e.g. SP-DARTS' generator of temperature draws)."""
    for ha, hb in zip(a.hooks, b.hooks):
        sa, sb = ha.state_dict(), hb.state_dict()
        if sa.keys() != sb.keys() or not all(torch.equal(sa[k], sb[k]) if isinstance(sa[k], torch.Tensor)
                                              else sa[k] == sb[k] for k in sa):
            return False
    return True


def assert_steps_match(cfgs, steps=3, control=None, tol_alpha=2e-7, tol_weight=2e-5, tol_loss=1e-5):
    """Step both forms ``steps`` times, over the epochs in order (the last step of an epoch is followed by
    its scheduler step); before every step the batched one restarts from the ordinary searches' state and
    random streams. ``control`` (``control(batch)``) changes the batched search before its step. Besides the
    float tolerances, every seed's random stream, hook state and temperature after the step must be exactly
    its ordinary search's."""
    ordinary, rng = [], []
    for c in cfgs:  # each ordinary search keeps its own global stream, as if it ran alone
        ordinary.append(Search(c, None, progress=False))
        rng.append(ordinary[-1].rng_state())
    per_epoch = min(cfgs[0].max_steps_per_epoch or 10**9, ordinary[0].steps_per_epoch)
    worst = {"alphas": 0.0, "op_weights": 0.0, "weights": 0.0, "counts": 0.0, "optimizer": 0.0, "loss": 0.0}
    exact = True
    for k in range(steps):
        epoch, step = divmod(k, per_epoch)
        batch = BatchedSearch([restored(search) for search in ordinary], rng_states=rng)
        if control is not None:
            control(batch)
        own = []
        for s, search in enumerate(ordinary):
            search.load_rng_state(rng[s])
            own.append(run_one_step(search, epoch, step))
            rng[s] = search.rng_state()
        stats = run_one_step(batch, epoch, step)
        batch.unpack()
        for s, search in enumerate(ordinary):
            for key, value in max_differences(search, batch.searches[s]).items():
                worst[key] = max(worst[key], value)
            worst["loss"] = max(worst["loss"], abs(stats[s]["train_loss"] - own[s]["train_loss"]))
            exact &= torch.equal(batch.streams[s].get_state(), rng[s]["torch"])
            exact &= hook_states_equal(search, batch.searches[s])
            exact &= (getattr(search.model.op_weight_form, "temperature", None)
                      == getattr(batch.searches[s].model.op_weight_form, "temperature", None))
        if step + 1 == per_epoch:  # the epoch's end, as Search.run (its record: only what a checkpoint needs)
            for search in ordinary:
                search.scheduler.step()
                search.history.append({"epoch": epoch + 1})
    assert worst["alphas"] < tol_alpha and worst["weights"] < tol_weight, worst
    assert worst["counts"] == 0 and worst["optimizer"] < tol_weight, worst
    assert worst["op_weights"] < tol_alpha * 1e3 and worst["loss"] < tol_loss, worst
    assert exact, "a seed's random stream, hook state or temperature differs from its own search's"
    return worst


def test_first_forward_and_gradients_equal_each_seeds_own():
    ordinary = [Search(c, None, progress=False) for c in configs()]
    batch = BatchedSearch([restored(s) for s in ordinary])
    xs = [next(iter(s.train_batches.epoch(0))) for s in ordinary]
    x, y = batch._batches(xs)
    logits = batch.net(x)  # (S, B, K)
    losses = batched_module._seed_losses(logits, y)
    torch.autograd.backward(losses.sum(), inputs=batch.net.weight_parameters() + batch.net.arch_parameters())
    for s, (search, (xi, yi)) in enumerate(zip(ordinary, xs)):
        search.model.train()
        own = search.model(xi)
        torch.testing.assert_close(logits[s], own, atol=1e-5, rtol=1e-4)
        nn.functional.cross_entropy(own, yi).backward()
        torch.testing.assert_close(batch.net.alphas["cell"].grad[s], search.model.arch_params["cell"].grad,
                                   atol=1e-7, rtol=1e-4)
        # relative to the seed's largest gradient: the conv biases before an affine-free BN have a true
        # gradient of 0, computed as rounding noise by both
        scale = max(p.grad.abs().max().item() for p in search.model.weight_parameters())
        for name, p in search.model.named_weight_parameters():
            assert (batch.net.weights[name].grad[s] - p.grad).abs().max().item() < 1e-5 * scale, name
        assert not torch.equal(logits[s], logits[(s + 1) % len(xs)])  # seeds differ: the check can fail


def test_seeds_with_different_betas_and_noise_stds_each_get_their_own():
    """The per-seed edge settings a hook may set differently per seed: DARTS-' beta (0 for one seed: no branch)
    and the skip-noise std (0 for one seed: nothing drawn); the forward of each seed is its own model's."""
    from dartslib.engine.batched import SeedBatchedSupernet, _stream
    from dartslib.methods.aux_skip import set_aux_beta
    from dartslib.methods.skip_noise import set_skip_noise

    searches = [Search(c, None, progress=False) for c in configs("darts-minus")]
    states = [torch.Generator().manual_seed(100 + s).get_state() for s in range(3)]
    for search, beta, std in zip(searches, (0.0, 0.5, 1.0), (1.0, 0.0, 0.3)):
        set_aux_beta(search.model, beta)
        set_skip_noise(search.model, std)
    net = SeedBatchedSupernet([s.model for s in searches])
    net.streams = [_stream({"torch": state}, torch.device("cpu")) for state in states]
    xs = [next(iter(s.train_batches.epoch(0)))[0] for s in searches]
    with torch.no_grad():
        logits = net(net.stack_inputs(xs))
        for s, (search, x) in enumerate(zip(searches, xs)):
            search.model.train()
            torch.set_rng_state(states[s])
            torch.testing.assert_close(logits[s], search.model(x), atol=1e-5, rtol=1e-4)
            assert torch.equal(net.streams[s].get_state(), torch.get_rng_state())  # as many draws as its own
        assert torch.equal(net.streams[1].get_state(), states[1])  # std 0: nothing drawn


def test_clipping_is_per_seed_and_a_shared_clip_fails(monkeypatch):
    cfgs = configs(grad_clip=0.05)  # small enough that every seed is clipped, by its own norm
    assert_steps_match(cfgs, steps=2)

    def shared_clip(params, max_norm):  # the wrong one: one norm over all seeds
        return nn.utils.clip_grad_norm_(params, max_norm)

    monkeypatch.setattr(batched_module, "clip_grad_norm_per_seed", shared_clip)
    with pytest.raises(AssertionError):
        assert_steps_match(cfgs, steps=1)


def test_clip_grad_norm_per_seed_is_clip_grad_norm_on_each_slice():
    torch.manual_seed(0)
    params = [torch.randn(3, 4, 5, requires_grad=True), torch.randn(3, 7, requires_grad=True)]
    for p in params:
        p.grad = torch.randn_like(p) * torch.tensor([0.1, 1.0, 10.0]).view(-1, *[1] * (p.dim() - 1))
    expected = []
    for s in range(3):
        slices = [p.grad[s].clone().requires_grad_() for p in params]
        leaves = [torch.zeros_like(g, requires_grad=True) for g in slices]
        for leaf, g in zip(leaves, slices):
            leaf.grad = g.detach().clone()
        nn.utils.clip_grad_norm_(leaves, 1.0)
        expected.append([leaf.grad for leaf in leaves])
    clip_grad_norm_per_seed(params, 1.0)
    for s in range(3):
        for p, e in zip(params, expected[s]):
            torch.testing.assert_close(p.grad[s], e)
    assert params[0].grad[0].norm() > 0.01  # the small seed kept its gradient (not scaled by the others)


def swap_seeds_streams(batch):
    """Control: seeds 0 and 1 draw from each other's global random stream (the skip noise)."""
    batch.streams[0], batch.streams[1] = batch.streams[1], batch.streams[0]
    batch.net.streams = batch.streams


def swap_seeds_hooks(batch):
    """Control: seeds 0 and 2 draw from each other's hook generators (SP-DARTS' temperature draws; seeds 0
    and 1 happen to draw the same temperatures in their first five steps at p = 1/2, seeds 0 and 2 not)."""
    a, b = batch.searches[0].hooks, batch.searches[2].hooks
    states = [h.state_dict() for h in a], [h.state_dict() for h in b]
    for hook, state in zip(a, states[1]):
        hook.load_state_dict(state)
    for hook, state in zip(b, states[0]):
        hook.load_state_dict(state)


def aux_skip_off(batch):
    """Control: the batched run's DARTS- hooks set no beta (the auxiliary branch stays out)."""
    from dartslib.methods.aux_skip import AuxiliarySkip, set_aux_beta

    for search in batch.searches:
        for hook in search.hooks:
            if isinstance(hook, AuxiliarySkip):
                hook._apply = lambda model, epoch, epochs: set_aux_beta(model, 0.0)


def zero_one_off(batch):
    """Control: the batched run leaves FairDARTS' zero-one loss out."""
    batch.zero_one = None


def seed_mismatch(batch):
    """Control: seeds 0 and 1 step on each other's batches (training and architecture streams)."""
    a, b = batch.searches[0], batch.searches[1]
    a.train_batches, b.train_batches = b.train_batches, a.train_batches
    a.arch_stream, b.arch_stream = b.arch_stream, a.arch_stream


# the presets the book ranks; SP-DARTS without a warm-up and with p = 1/2, so that its seeds draw different
# temperatures from the first step on (its preset's first epoch is all t_sm)
SP_MIXED = {"p_warmup_epochs": 0, "p_low": 0.5, "p_up": 0.5}
PRESETS = [
    ("darts", {}, seed_mismatch),
    ("fairdarts", {}, zero_one_off),
    ("darts-minus", {}, aux_skip_off),
    ("sp-darts", SP_MIXED, swap_seeds_hooks),
    ("single-darts", {}, seed_mismatch),
    ("darts-gaussian", {}, swap_seeds_streams),
    ("darts-noskip", {}, seed_mismatch),
]


@pytest.mark.parametrize("method, changes, control", PRESETS, ids=[m for m, _, _ in PRESETS])
def test_every_ranked_preset_steps_as_its_single_seed_runs_and_its_control_fails(method, changes, control):
    """Five steps over two epochs (3 + 2: the epoch's hooks, beta / std / p schedules and the scheduler step
    are crossed), seeds 0-2, every step against each seed's own single-seed search; then the control."""
    cfgs = configs(method, **changes)
    check_batchable(cfgs)
    assert_steps_match(cfgs, steps=5)
    with pytest.raises(AssertionError, match="'alphas'"):  # the numbers differ, not only the streams' states
        assert_steps_match(cfgs, steps=3, control=control)


def test_the_presets_batch_what_their_method_needs():
    """The mechanisms are on in the configs the preset test runs (so it tests them)."""
    assert configs("darts-minus")[0].aux_skip == "linear"
    assert configs("sp-darts", **SP_MIXED)[0].op_weights == "sparse-smooth"
    assert configs("darts-gaussian")[0].skip_noise
    assert configs("darts-noskip")[0].space == "nb201-noskip"
    assert configs("single-darts")[0].update == "single-level"
    assert configs("fairdarts")[0].zero_one_loss == "l01"


def test_darts_space_steps_equal_single_seed_runs():
    # deeper, with reduction cells: running means near 0 of pooled BNs differ by ~3e-5 of their size
    assert_steps_match(configs("darts", "darts", seeds=(0, 1)), steps=2, tol_weight=1e-4)


def test_darts_minus_on_the_darts_space_batches_its_stride2_branches():
    """DARTS-' stride-2 auxiliary branch is a FactorizedReduce with weights and BN buffers of its own."""
    cfgs = configs("darts-minus", "darts", seeds=(0, 1))
    assert cfgs[0].aux_skip == "linear"
    # as above: the largest relative difference is a pooled BN's running mean of size ~2e-7 (1e-7 apart)
    assert_steps_match(cfgs, steps=2, tol_weight=2e-4)


@pytest.mark.parametrize("method, space, changes, needle", [
    ("darts-2nd", "nb201", {}, "--update bilevel-2nd"),
    ("darts", "nb201", {"op_weights": "gumbel"}, "--op-weights gumbel"),
    ("darts", "nb201", {"protocol": "nb201"}, "protocol"),
])
def test_unsupported_methods_are_refused_by_name(method, space, changes, needle):
    with pytest.raises(ValueError, match=needle):
        check_batchable(configs(method, space, seeds=(0, 1), **changes))


def test_s4_noise_op_draws_from_each_seeds_own_stream_and_swapped_streams_fail():
    """RobustDARTS' S4: every op but sep_conv_3x3 is N(0, 1) noise of the output's shape, from the global stream
    (stride 1 and 2, in the forward of both steps), so each seed's draws must be its own."""
    cfgs = configs("darts", "s4")
    assert_steps_match(cfgs, steps=2, tol_weight=1e-4)
    with pytest.raises(AssertionError, match="'alphas'"):
        assert_steps_match(cfgs, steps=1, control=swap_seeds_streams)


def test_skip_noise_without_the_seeds_streams_is_refused():
    with pytest.raises(ValueError, match="random state"):
        BatchedSearch([Search(c, None, progress=False) for c in configs("darts-gaussian", seeds=(0, 1))])


def test_configs_that_differ_beyond_the_seed_are_refused():
    a, b = configs(seeds=(0, 1))
    b.lr = 0.1
    with pytest.raises(ValueError, match="differ in: lr"):
        check_batchable([a, b])
    with pytest.raises(ValueError, match="distinct"):
        check_batchable([a, a])


def test_run_directories_are_ordinary_ones(tmp_path):
    cfgs = configs(seeds=(0, 1))
    dirs = [tmp_path / f"darts__nb201__seed{c.seed}" for c in cfgs]
    results = BatchedSearch.start(cfgs, dirs).run()
    single = Search(cfgs[1], tmp_path / "single", progress=False).run()
    for d, result in zip(dirs, results):
        history = [json.loads(line) for line in (d / "history.jsonl").read_text().splitlines()]
        reference = [json.loads(line) for line in (tmp_path / "single" / "history.jsonl").read_text().splitlines()]
        assert len(history) == 2 and [sorted(h) for h in history] == [sorted(h) for h in reference]
        stored = json.loads((d / "result.json").read_text())
        assert sorted(stored) == sorted(json.loads((tmp_path / "single" / "result.json").read_text()))
        assert stored["genotype"] == result.genotype and stored["config"]["seed"] == result.config.seed
    assert results[0].genotype != "" and results[1].config.seed == 1
    # the seed's record is its own run's (the ordinary search is chaotic, so close, not equal, after 6 steps)
    assert abs(results[1].metrics["valid_loss"] - single.metrics["valid_loss"]) < 0.05
    for d in dirs:  # what sweep's collect() reads
        (d / "spec.json").write_text(json.dumps({"method": "darts", "space": "nb201", "seed": int(d.name[-1]),
                                                 "config": None}))
    table = collect(tmp_path)
    assert list(table[table.status == "finished"].seed) == [0, 1]


def _swap_first_two_streams(monkeypatch):
    """Control: the batched run's seeds 0 and 1 start from each other's captured random state."""
    captured = batched_module._with_streams

    def swapped(factories):
        searches, states = captured(factories)
        return searches, [states[1], states[0], *states[2:]]

    monkeypatch.setattr(batched_module, "_with_streams", swapped)


METHOD_RECORDS = ("aux_beta", "skip_noise_std", "sp_p", "sp_sparse_fraction")


@pytest.mark.parametrize("method, space, changes", [("darts-gaussian", "nb201", {}), ("sp-darts", "nb201", SP_MIXED),
                                                   ("darts-minus", "nb201", {}), ("darts", "s4", {"epochs": 1})])
def test_whole_batched_runs_follow_their_single_seed_runs_epoch_by_epoch(tmp_path, monkeypatch, method, space,
                                                                         changes):
    """Two epochs of three steps, run whole (BatchedSearch.run against Search.run): every seed's random
    stream, hook state and method records (beta, noise std, p, the fraction of sparse steps) are exactly its
    single-seed run's, and its alphas stay within the drift of a chaotic run (the single-seed search itself
    drifts ~1e-4 in two steps from a change of memory format); a batched run whose seeds 0 and 1 start from
    each other's random state (the control) has neither. On S4 the noise op draws in evaluation too."""
    from dartslib.engine.checkpoint import load_checkpoint

    cfgs = configs(method, space, **changes)
    singles = [Search(c, tmp_path / f"single{c.seed}", progress=False).run() for c in cfgs]

    def compare(prefix):
        results = BatchedSearch.start(cfgs, [tmp_path / f"{prefix}{c.seed}" for c in cfgs]).run()
        exact, drift = True, 0.0
        for c, result, single in zip(cfgs, results, singles):
            mine = load_checkpoint(tmp_path / f"{prefix}{c.seed}" / "checkpoint.pt")
            own = load_checkpoint(tmp_path / f"single{c.seed}" / "checkpoint.pt")
            exact &= torch.equal(mine["rng"]["torch"], own["rng"]["torch"])
            for hb, hs in zip(mine["hooks"], own["hooks"]):
                exact &= all(torch.equal(hb[k], hs[k]) if isinstance(hb[k], torch.Tensor) else hb[k] == hs[k]
                             for k in hb)
            assert len(result.history) == len(single.history) == cfgs[0].epochs
            for rb, rs in zip(result.history, single.history):
                exact &= all(rb.get(k) == rs.get(k) for k in METHOD_RECORDS)
                drift = max(drift, max(abs(a - b) for ct in rb["alphas"] for row_a, row_b in
                                       zip(rb["alphas"][ct], rs["alphas"][ct]) for a, b in zip(row_a, row_b)))
        return exact, drift

    exact, drift = compare("batched")
    assert exact and drift < 1e-4, (exact, drift)
    if space == "nb201":  # the method records something to compare
        assert any(k in singles[0].history[-1] for k in METHOD_RECORDS)
    if method == "darts-gaussian" or space == "s4":
        _swap_first_two_streams(monkeypatch)
        exact, drift = compare("control")
        assert not exact and drift > 1e-3, (exact, drift)


class StopAfterEpoch(SearchHook):
    """A recorder (epoch-end only, so batchable) that asks the batched search to stop after epoch 1."""

    def __init__(self):
        self.batch = None

    def on_epoch_end(self, search, record):
        if self.batch is not None and search.epoch == 1:
            self.batch.request_stop()


@pytest.mark.parametrize("method, changes", [("darts", {}), ("darts-gaussian", {}), ("sp-darts", SP_MIXED)])
def test_interrupted_batched_run_resumes_identically_batched_or_alone(tmp_path, method, changes):
    """Bit-identical resume: every seed's checkpoint holds its own random stream (skip noise) and hook state
    (SP-DARTS' temperature draws)."""
    cfgs = configs(method, seeds=(0, 1), **changes)
    whole = BatchedSearch.start(cfgs).run()
    dirs = [tmp_path / f"seed{c.seed}" for c in cfgs]
    stoppers = [StopAfterEpoch(), StopAfterEpoch()]
    batch = BatchedSearch.start(cfgs, dirs, hooks=[[s] for s in stoppers])
    stoppers[0].batch = batch
    with pytest.raises(SearchInterrupted):
        batch.run()
    assert not (dirs[0] / "result.json").exists() and (dirs[0] / "checkpoint.pt").is_file()
    resumed = BatchedSearch.resume(dirs).run()
    for a, b in zip(whole, resumed):
        assert a.genotype == b.genotype and a.arch_weights == b.arch_weights  # bit-identical
    alone = Search.resume(dirs[1], progress=False)  # an ordinary search continues a batched checkpoint
    assert alone.epoch == 2 and alone.history[-1]["genotype"] == resumed[1].genotype


def test_sweep_batch_seeds_writes_every_seeds_own_run_directory(tmp_path, capsys):
    from dartslib.cli import main

    sets = [a for k, v in {**TINY, "max_steps_per_epoch": 2}.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    status = main(["sweep", "--methods", "darts,darts-2nd", "--spaces", "nb201", "--seeds", "0,1", "--batch-seeds",
                   "--out", str(tmp_path), *sets])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "batched  darts__nb201: seeds 0, 1 in one process" in err
    assert "single   darts-2nd on nb201: batched seeds do not support --update bilevel-2nd" in err
    table = collect(tmp_path)
    assert list(table.status) == ["finished"] * 4
    for seed in (0, 1):
        run = tmp_path / f"darts__nb201__seed{seed}"
        assert len((run / "history.jsonl").read_text().splitlines()) == 2
        assert json.loads((run / "result.json").read_text())["config"]["seed"] == seed
    assert "starting 2 seeds batched" in (tmp_path / "darts__nb201__seed0" / "log.txt").read_text()
    assert "batched with the seeds of darts__nb201__seed0" in (tmp_path / "darts__nb201__seed1" / "log.txt").read_text()


def test_a_batched_run_holds_every_seeds_lock_and_refuses_a_held_one(tmp_path):
    """As a single-seed search, each seed's run owns its directory for the whole run: a directory whose lock
    another live process holds stops the batched run before any step, and no lock is left behind after."""
    import socket

    from dartslib.engine.rundir import RunDirectoryError

    cfgs = configs(seeds=(0, 1))
    dirs = [tmp_path / f"darts__nb201__seed{c.seed}" for c in cfgs]
    dirs[1].mkdir(parents=True)
    # another live process (init, pid 1) holds seed 1's directory
    (dirs[1] / ".lock").write_text(json.dumps({"pid": 1, "host": socket.gethostname()}) + "\n")
    with pytest.raises(RunDirectoryError, match="in use by process 1"):
        BatchedSearch.start(cfgs, dirs).run()
    assert not (dirs[0] / "history.jsonl").exists() and not (dirs[0] / ".lock").exists()
    results = BatchedSearch.start(cfgs, [tmp_path / "a", tmp_path / "b"]).run()
    assert len(results) == 2 and not (tmp_path / "a" / ".lock").exists() and not (tmp_path / "b" / ".lock").exists()
