"""Data-parallel search (dartslib.engine.distributed): 2 CPU processes with gloo against one process.

"The same global batch" (see dartslib.engine.distributed): every rank takes its contiguous shard of the global
batch and BatchNorm normalises each shard with its own statistics (SyncBatchNorm refuses CPU tensors).
The single-process reference therefore runs the same shards separately through the network in one
process (:func:`ghost_batch`), concatenates the logits and takes the mean loss over the global batch;
its BN running statistics are the mean of the shards' updates. A batch of 31 images gives unequal
shards (16 + 15), which checks the size weighting of the gradient average.
"""
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from dartslib import make_config
from dartslib.engine.distributed import Distributed, GradientSync
from dartslib.engine.loop import Search, SearchHook, SearchInterrupted

WORLD = 2
METHODS = ("darts", "fairdarts", "single-darts")  # first-order bi-level (+ zero-one loss), single-level


def tiny_config(method="darts", **overrides):
    values = dict(epochs=2, C=4, cells_per_stage=1, max_steps_per_epoch=3, batch_size=31, image_size=8,
                  device="cpu")
    values.update(overrides)
    return make_config(method, "nb201", "toy", **values)


def fingerprint(model):
    """SHA-1 of every parameter's bytes (weights and alphas): equal iff bit-identical."""
    digest = hashlib.sha1()
    for name, p in model.named_parameters():
        digest.update(name.encode())
        digest.update(p.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


class Fingerprints(SearchHook):
    """The parameters' fingerprint before every step and after the last one."""

    def __init__(self):
        self.values = []

    def before_step(self, model, ctx):
        self.values.append(fingerprint(model))

    def on_epoch_end(self, ctx, record):
        if record["epoch"] == ctx.epochs:
            self.values.append(fingerprint(ctx.model))


class StopOnRank(SearchHook):
    """Requests a stop before step ``step`` of epoch ``epoch`` on one rank only (the others must follow)."""

    def __init__(self, search_ref, epoch, step, rank):
        self.ref, self.epoch, self.step, self.rank = search_ref, epoch, step, rank

    def before_step(self, model, ctx):
        if (ctx.epoch, ctx.step) == (self.epoch, self.step) and dist.get_rank() == self.rank:
            self.ref[0].request_stop()


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank, port, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        results = {}
        for method in METHODS:
            prints = Fingerprints()
            run = Search(tiny_config(method), Path(out) / method, progress=False, hooks=[prints])
            result = run.run()
            results[method] = {"state": _state(run.model), "fingerprints": prints.values,
                               "genotype": result.genotype, "history": result.history}
        ref = [None]
        run = Search(tiny_config(), Path(out) / "interrupted", progress=False, hooks=[StopOnRank(ref, 1, 1, 1)])
        ref[0] = run
        try:
            run.run()
            results["stopped"] = False
        except SearchInterrupted:
            results["stopped"] = True
        resumed = Search.resume(Path(out) / "interrupted", progress=False).run()
        results["resumed"] = {"state": _state(resumed.model), "history": resumed.history}
        try:
            Search(make_config("darts-2nd", "nb201", "toy", C=4, cells_per_stage=1, image_size=8, device="cpu"),
                   None, progress=False)
            results["refusal"] = None
        except ValueError as exc:
            results["refusal"] = str(exc)
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def ghost_batch(model, world):
    """Make ``model``'s training forward pass compute what ``world`` ranks compute together: each shard of
    the batch on its own (its own BN statistics), logits concatenated; BN running statistics become the
    mean of the shards' updates (as the ranks' averaged buffers)."""
    forward = model.forward
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def sharded_forward(x, *args, **kwargs):
        if not model.training:
            return forward(x, *args, **kwargs)
        start = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in bns]
        logits, ends = [], []
        for chunk in x.tensor_split(world):
            for m, (mean, var, tracked) in zip(bns, start):  # fresh tensors: autograd saved the old ones
                m.running_mean, m.running_var, m.num_batches_tracked = mean.clone(), var.clone(), tracked.clone()
            logits.append(forward(chunk, *args, **kwargs))
            ends.append([(m.running_mean, m.running_var) for m in bns])
        for i, m in enumerate(bns):
            m.running_mean = torch.stack([e[i][0] for e in ends]).mean(0)
            m.running_var = torch.stack([e[i][1] for e in ends]).mean(0)
        return torch.cat(logits)

    model.forward = sharded_forward


def test_every_step_leaves_weights_and_alphas_identical_on_every_rank(two_ranks):
    _, ranks = two_ranks
    for method in METHODS:
        prints = [r[method]["fingerprints"] for r in ranks]
        assert len(prints[0]) == 2 * 3 + 1  # before each of 6 steps, and after the last
        assert prints[0] == prints[1], method
        assert len(set(prints[0])) == len(prints[0])  # and the parameters did move every step
        for name, value in ranks[0][method]["state"].items():  # buffers too (after the averaging)
            assert torch.equal(value, ranks[1][method]["state"][name]), (method, name)


@pytest.mark.parametrize("method", METHODS)
def test_two_processes_equal_one_process_with_the_same_global_batch(two_ranks, method, one_thread):
    _, ranks = two_ranks
    reference = Search(tiny_config(method), None, progress=False)
    ghost_batch(reference.model, WORLD)
    result = reference.run()
    distributed = ranks[0][method]["state"]
    for name, value in reference.model.state_dict().items():
        assert torch.allclose(distributed[name].double(), value.double(), rtol=1e-4, atol=1e-6), name
    assert ranks[0][method]["genotype"] == result.genotype
    for mine, theirs in zip(ranks[0][method]["history"], result.history):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert mine["train_acc"] == pytest.approx(theirs["train_acc"])
        held_out = f"{result.metrics['eval_split']}_loss"  # valid, or test for single-level
        assert mine[held_out] == pytest.approx(theirs[held_out], rel=1e-4)
    # without the sharded forward, one process differs (BN statistics over 31 images, not 16 + 15)
    plain = Search(tiny_config(method), None, progress=False).run()
    assert not torch.allclose(plain.model.arch_parameters()[0], reference.model.arch_parameters()[0],
                              rtol=1e-4, atol=1e-6)


def test_a_stop_on_one_rank_stops_all_and_the_run_resumes_bit_identically(two_ranks):
    out, ranks = two_ranks
    assert all(r["stopped"] for r in ranks)
    for r in ranks:
        for name, value in ranks[0]["darts"]["state"].items():
            assert torch.equal(r["resumed"]["state"][name], value), name
        strip = [{k: v for k, v in h.items() if k != "seconds"} for h in r["resumed"]["history"]]
        assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in ranks[0]["darts"]["history"]]
    # only rank 0 wrote, atomically: no stray temporary or per-rank files
    assert sorted(p.name for p in (out / "interrupted").iterdir()) == ["checkpoint.pt", "history.jsonl",
                                                                      "result.json"]


def test_second_order_is_refused_with_a_clear_message(two_ranks):
    _, ranks = two_ranks
    for r in ranks:
        assert r["refusal"] is not None and "bilevel-2nd" in r["refusal"] and "one process" in r["refusal"]


def test_one_process_is_untouched():
    group = Distributed()
    x, y = torch.randn(5, 3), torch.arange(5)
    assert group.shard(x, y)[0] is x and group.any(True) and not group.any(False)
    partial = {"loss": torch.tensor(2.0)}
    assert group.sum(partial) is partial
    model = nn.Linear(3, 2)
    sync = GradientSync(model, group)
    with sync:
        model(x).sum().backward()
    assert torch.allclose(model.weight.grad, x.sum(0).expand(2, 3))


def test_torchrun_launches_the_cli_and_only_rank_0_writes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}",
         "-m", "dartslib", "search", "--space", "nb201", "--cells-per-stage", "1", "--C", "4", "--epochs", "1",
         "--batch-size", "32", "--device", "cpu", "--quiet", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count('"genotype"') == 1  # rank 0 prints the result, rank 1 does not
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "history.jsonl", "result.json"]
