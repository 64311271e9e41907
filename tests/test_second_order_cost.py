"""Why a second-order DARTS architecture step costs about five first-order ones (issue 15), without timing.

The cost is asserted in counted work, not seconds (no timing asserts in unit tests; the seconds are in
``benchmarks/bench_second_order.py`` and ``benchmarks/README.md``):

* the second-order step (Liu et al., 2019, Eq. 6-8) runs four forward passes where the first-order one runs one;
* two of its backward passes produce the weights' gradients (the virtual step and ``grad_w' L_val``), two only
  the alphas' (the finite differences of Eq. 8); dartslib's first-order step produces only the alphas';
* so in FLOPs ``arch_2nd = 2 * pass_full + 2 * pass_alpha`` and ``arch_1st = pass_alpha``: the ratio is
  ``2 + 2 * pass_full / pass_alpha``, about 5, not the 4 that counting passes gives, and about 3.3 against a
  first-order step that calls ``loss.backward()`` over every parameter, as DARTS' code does.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
from bench_second_order import operations  # noqa: E402

from dartslib import build_supernet  # noqa: E402

TINY = ["--C", "4", "--cells-per-stage", "1", "--image-size", "8", "--batch", "8", "--reps", "2", "--warmup", "1"]


@pytest.fixture(scope="module")
def tiny_ops():
    torch.manual_seed(0)
    model = build_supernet("nb201", C=4, cells_per_stage=1, num_classes=10)
    gen = torch.Generator().manual_seed(1)
    x, x_val = (torch.randn(8, 3, 8, 8, generator=gen) for _ in range(2))
    y, y_val = (torch.randint(0, 10, (8,), generator=gen) for _ in range(2))
    ops = operations(model, x, y, x_val, y_val, lr=0.025)
    ops["search_1st"]()  # the weights' momentum buffers exist, as in a running search
    return model, ops


def flops(op) -> int:
    with FlopCounterMode(display=False) as counter:
        op()
    return counter.get_total_flops()


def test_second_order_step_runs_four_forward_passes_first_order_one(tiny_ops):
    model, ops = tiny_ops
    calls = []
    handle = model.register_forward_hook(lambda *_: calls.append(1))  # functional_call runs it too
    try:
        counts = {}
        for name in ("arch_1st", "arch_1st_full", "arch_2nd", "pass_functional"):
            calls.clear()
            ops[name]()
            counts[name] = len(calls)
    finally:
        handle.remove()
    assert counts == {"arch_1st": 1, "arch_1st_full": 1, "arch_2nd": 4, "pass_functional": 1}


def test_flops_follow_the_pass_model(tiny_ops):
    _, ops = tiny_ops
    f = {name: flops(ops[name]) for name in ("arch_1st", "arch_1st_full", "arch_2nd", "search_1st",
                                             "search_2nd", "pass_alpha", "pass_full", "pass_functional")}
    # the first-order step is one alphas-only pass (no weight-gradient kernels) ...
    assert f["arch_1st"] == f["pass_alpha"]
    # ... which a full backward would not be (control: DARTS' loss.backward() costs a third more and up)
    assert f["arch_1st_full"] == f["pass_full"] > 1.3 * f["pass_alpha"]
    assert f["pass_functional"] == f["pass_full"]  # functional_call does no extra arithmetic
    # the second-order step: two full passes and two alphas-only passes, nothing else of note
    predicted = 2 * f["pass_full"] + 2 * f["pass_alpha"]
    assert f["arch_2nd"] == pytest.approx(predicted, rel=0.02)
    ratio = f["arch_2nd"] / f["arch_1st"]
    assert 4.5 < ratio < 5.5, ratio  # not the 4 of counting passes, nor the 18.5 once reported
    assert 3.0 < f["arch_2nd"] / f["arch_1st_full"] < 3.6
    # a whole search step adds one full weight pass to each: about 2.6x
    assert f["search_2nd"] - f["arch_2nd"] == pytest.approx(f["search_1st"] - f["arch_1st"], rel=0.02)
    assert 2.3 < f["search_2nd"] / f["search_1st"] < 2.9


def run(*args):
    return subprocess.run([sys.executable, str(BENCH / "bench_second_order.py"), *args], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_benchmark_runs_tiny_and_reports_consistent_ratios(tmp_path):
    out = tmp_path / "so.json"
    done = run(*TINY, "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert "bench_second_order.py" in report["command"] and report["config"]["reps"] == 2
    (result,) = report["runs"]
    assert result["threads"] == 1
    m = result["ops"]
    for op in m.values():
        assert len(op["walls"]) == 2 and all(t > 0 for t in op["walls"]) and op["cold_wall_s"] > 0
    assert result["ratio_arch_wall_s"] == pytest.approx(m["arch_2nd"]["wall_s"] / m["arch_1st"]["wall_s"])
    assert result["predicted_arch_cpu_s"] == pytest.approx(2 * m["pass_full"]["cpu_s"] + 2 * m["pass_alpha"]["cpu_s"])
    assert "arch step 1st" in done.stdout


def test_benchmark_rejects_bad_arguments():
    done = run("--reps", "0")
    assert done.returncode == 2 and "--reps must be positive" in done.stderr
