"""The search-step benchmark runs CI-sized on CPU and writes sane numbers (no timing assertions)."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_search_step.py"
TINY = ["--batch", "4", "--image-size", "16", "--C", "4", "--layers", "3", "--cells-per-stage", "1",
        "--reps", "2", "--warmup", "1", "--epoch-steps", "2", "--train-size", "64", "--threads", "1"]


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_benchmark_runs_tiny_on_cpu_and_writes_sane_numbers(tmp_path):
    out = tmp_path / "bench.json"
    done = run(*TINY, "--devices", "cpu", "cuda", "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    assert {(r["space"], r["device"]) for r in results} >= {("darts", "cpu"), ("nb201", "cpu")}
    if not torch.cuda.is_available():
        assert "cuda: not measured" in done.stdout
        assert all(r["device"] == "cpu" for r in results)
    for r in results:
        for name in ("baseline", "dartslib"):
            m = r[name]
            assert len(m["walls"]) == 2 and all(t > 0 for t in m["walls"])
            assert m["step_s"] > 0 and m["step_cpu_s"] >= 0
            assert m["images_per_s"] == pytest.approx(4 / m["step_s"])
            assert m["epoch_s_projected"] > 0 and math.isfinite(m["epoch_s_projected"])
            assert m["gflop_per_step"] > 0 and m["gflop_counted"] > 0
            assert m["peak_memory_mb"] >= 0
            assert (m["mfu"] is None) == (r["device"] == "cpu")
        assert r["ratio_step"] == pytest.approx(r["dartslib"]["step_s"] / r["baseline"]["step_s"])
        assert 0 < r["ratio_step"] < 100 and 0 < r["ratio_epoch"] < 100
        # the same model: dartslib counts the baseline's convolution work plus its average pooling (a
        # convolution), minus what it leaves out: `none`, and the weights' gradients in the architecture
        # step (it differentiates for the alphas only), about a third of a step's FLOPs
        ratio = r["dartslib"]["gflop_counted"] / r["baseline"]["gflop_counted"]
        assert 0.45 < ratio < 1.0, ratio
    assert "| darts | cpu | **ratio dartslib/baseline** |" in done.stdout
    assert report["machine"]["torch_threads"] == 1 and "bench_search_step.py" in report["machine"]["command"]


def test_benchmark_rejects_bad_sizes():
    done = run("--batch", "0")
    assert done.returncode == 2 and "--batch must be positive" in done.stderr
