"""Every result.json records the machine that wrote it (dartslib.engine.machine), and the tables show it."""
from __future__ import annotations

import json

import torch

from dartslib.engine.config import make_config
from dartslib.engine.machine import arithmetic_fingerprint, machine_info, machine_label
from dartslib.engine.train import Training, make_train_config
from dartslib.sweep import collect, run_sweep

TINY = dict(epochs=1, C=4, cells_per_stage=1, max_steps_per_epoch=2, batch_size=32, image_size=8, device="cpu")


def assert_records_this_machine(result_json) -> None:
    machine = json.loads(result_json.read_text())["machine"]
    # the writing process's thread count: a sweep's child sets its own, so it is checked for what it is
    here = machine_info("cpu")
    assert {k: v for k, v in machine.items() if k != "threads"} == {k: v for k, v in here.items() if k != "threads"}
    assert isinstance(machine["threads"], int) and machine["threads"] >= 1
    assert machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert machine["torch"] == torch.__version__ and machine["cuda_device"] is None
    assert machine["arithmetic"] == arithmetic_fingerprint()


def test_search_train_and_sweep_record_the_machine(tmp_path):
    from dartslib import search

    search(make_config("darts", "nb201", "toy", **TINY), tmp_path / "search", progress=False)
    assert_records_this_machine(tmp_path / "search" / "result.json")

    Training(make_train_config("DARTS_V2", "toy", epochs=1, C=4, layers=3, image_size=8, batch_size=128),
             tmp_path / "train", progress=False).run()
    assert_records_this_machine(tmp_path / "train" / "result.json")

    run_sweep(tmp_path / "sweep", ["darts"], ["nb201"], [0], overrides={k: v for k, v in TINY.items()},
              echo=lambda _: None)
    (run,) = (tmp_path / "sweep").glob("*/result.json")
    assert_records_this_machine(run)
    assert collect(tmp_path / "sweep")["machine"].tolist() == [machine_label(machine_info("cpu"))]


def test_machine_label_says_when_nothing_was_recorded():
    assert machine_label(None) == "not recorded"
    label = machine_label({"cpu": "X", "cpu_capability": "AVX2", "arithmetic": "0123456789abcdef",
                           "cuda_device": "NVIDIA H100"})
    assert label == "X, AVX2, 01234567, cuda: NVIDIA H100"


def test_results_loader_names_the_machine_of_committed_runs():
    """Runs written before result.json recorded its machine: the loader takes it from machines.json per folder
    and method (the baselines in regime/ ran on the AMD EPYC, the rest of regime/ on the Intel Xeon)."""
    from dartslib.book.results import collapse_results

    results = collapse_results("toy")
    machines = {run.method: run.machine for run in results.runs}
    assert machines["darts"].startswith("2-core Intel Xeon") and machines["darts-gaussian"].startswith("2-core AMD")
    assert all(m.endswith("(from machines.json)") for m in machines.values())
    assert {run.machine for run in results.replication} == {"2-core AMD EPYC (from machines.json)"}
    assert "machine" in results.runs[0].row()
