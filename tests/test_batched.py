"""Seeds batched in one model (dartslib.engine.batched): every seed's steps equal its ordinary single-seed search's
(logits, gradients, alphas, weights, BN buffers, optimizer state), each run directory is an ordinary one
(history.jsonl, result.json, checkpoints that resume), and what cannot be batched is refused by name.

The ordinary search is chaotic at these learning rates: the same model in another memory format (NCHW
instead of channels_last) drifts from it by ~1e-4 in the alphas within two steps. So the step-by-step tests
restart both from the ordinary search's state before every step (via its checkpoint ``state_dict``) and
compare one step tightly; the controls (a seed mismatch, clipping shared over the seeds) fail those checks.
"""
import json

import pytest
import torch
from torch import nn

from dartslib.engine import batched as batched_module
from dartslib.engine.batched import BatchedSearch, check_batchable, clip_grad_norm_per_seed
from dartslib.engine.config import make_config
from dartslib.engine.loop import Search, SearchHook, SearchInterrupted
from dartslib.engine.steps import arch_step_first_order, single_level_step, weight_step
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


def ordinary_step(search: Search, arch_batch, batch) -> None:
    cfg, model = search.config, search.model
    model.train()
    terms = [lambda h=h: h.arch_loss(model) for h in search.hooks if type(h).arch_loss is not SearchHook.arch_loss]
    if cfg.update == "single-level":
        single_level_step(model, *batch, search.weight_optimizer, search.arch_optimizer, cfg.grad_clip, terms)
    else:
        arch_step_first_order(model, *arch_batch, search.arch_optimizer, terms)
        weight_step(model, *batch, search.weight_optimizer, cfg.grad_clip)


def batched_step(batch: BatchedSearch, arch_batches, batches) -> None:
    batch.net.train()
    if batch.config.update == "single-level":
        batch._single_level_step(*batch._batches(batches))
    else:
        batch._arch_step(*batch._batches(arch_batches))
        batch._weight_step(*batch._batches(batches))
    batch.unpack()


def max_differences(a: Search, b: Search) -> dict[str, float]:
    """Largest absolute differences of alphas, weights, BN buffers and optimizer state, relative to scale."""
    sa, sb = a.model.state_dict(), b.model.state_dict()
    out = {"alphas": max((sa[k] - sb[k]).abs().max().item() for k in sa if k.startswith("arch_params"))}
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


def assert_steps_match(cfgs, steps=3, order=None, tol_alpha=2e-7, tol_weight=2e-5):
    """Step both forms ``steps`` times; before every step the batched one restarts from the ordinary
    searches' state. ``order`` permutes which ordinary search each batched seed is compared with."""
    ordinary = [Search(c, None, progress=False) for c in cfgs]
    streams = [s.train_batches.epoch(0) for s in ordinary]
    order = list(order or range(len(cfgs)))
    worst = {"alphas": 0.0, "weights": 0.0, "counts": 0.0, "optimizer": 0.0}
    for step in range(steps):
        batch = BatchedSearch([restored(s) for s in ordinary])
        arch_batches = [next(s.arch_stream) for s in ordinary] if cfgs[0].update != "single-level" else None
        batches = [next(stream) for stream in streams]
        for s, a, b in zip(ordinary, arch_batches or [None] * len(ordinary), batches):
            ordinary_step(s, a, b)
        batched_step(batch, [arch_batches[i] for i in order] if arch_batches else None, [batches[i] for i in order])
        for s, i in zip(batch.searches, order):
            for key, value in max_differences(ordinary[i], s).items():
                worst[key] = max(worst[key], value)
    assert worst["alphas"] < tol_alpha and worst["weights"] < tol_weight, worst
    assert worst["counts"] == 0 and worst["optimizer"] < tol_weight, worst
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


def test_darts_steps_equal_single_seed_runs_and_a_seed_mismatch_fails():
    assert_steps_match(configs())
    with pytest.raises(AssertionError):
        assert_steps_match(configs(), steps=1, order=[1, 0, 2])


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


def test_fairdarts_steps_with_the_zero_one_loss_per_seed():
    cfgs = configs("fairdarts")
    assert cfgs[0].op_weights == "sigmoid" and cfgs[0].zero_one_loss == "l01"
    assert_steps_match(cfgs)


def test_single_darts_steps_equal_single_seed_runs():
    assert_steps_match(configs("single-darts"))


def test_darts_space_steps_equal_single_seed_runs():
    # deeper, with reduction cells: running means near 0 of pooled BNs differ by ~3e-5 of their size
    assert_steps_match(configs("darts", "darts", seeds=(0, 1)), steps=2, tol_weight=1e-4)


@pytest.mark.parametrize("method, space, changes, needle", [
    ("darts-2nd", "nb201", {}, "--update bilevel-2nd"),
    ("sp-darts", "nb201", {}, "--op-weights sparse-smooth"),
    ("darts-minus", "nb201", {}, "--aux-skip"),
    ("darts-gaussian", "nb201", {}, "--skip-noise"),
    ("darts", "s4", {}, "noise op"),
])
def test_unsupported_methods_are_refused_by_name(method, space, changes, needle):
    with pytest.raises(ValueError, match=needle):
        check_batchable(configs(method, space, seeds=(0, 1), **changes))


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


class StopAfterEpoch(SearchHook):
    """A recorder (epoch-end only, so batchable) that asks the batched search to stop after epoch 1."""

    def __init__(self):
        self.batch = None

    def on_epoch_end(self, search, record):
        if self.batch is not None and search.epoch == 1:
            self.batch.request_stop()


def test_interrupted_batched_run_resumes_identically_batched_or_alone(tmp_path):
    cfgs = configs(seeds=(0, 1))
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
