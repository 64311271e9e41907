"""The committed collapse runs (book/results/collapse/) are evidence, not decoration: re-running the first
epochs of one of them on CPU reproduces its committed history.

The run re-created here is ``regime/darts__nb201__seed0`` (first-order DARTS on NB201, C=8, N=5, 8x8 digits,
30 epochs, arch lr 3e-3), written by ``python -m dartslib sweep`` (see the folder's README). Its config comes
from its own ``result.json``; only ``device`` is pinned to the CPU. The search is stopped after
:data:`EPOCHS` epochs with ``Search.request_stop`` -- the cosine schedule still spans the run's 30 epochs,
so those epochs are the committed run's first epochs, not a shorter run's.

Tolerance: on one thread the search is deterministic, and on the machine that wrote the run the re-run is
bit-identical (every loss, accuracy, alpha and op weight of both epochs equal to the last bit; measured
with PyTorch 2.14.1 on the 2-core Xeon of the folder's README). Another CPU or
PyTorch build may round float32 reductions differently (vector width, kernel choice), so the assertions allow
:data:`ATOL` on op weights and alphas and a relative :data:`RTOL` on losses, and require the derived genotypes
to match exactly. The tolerance is far below what one epoch changes: the control test checks that the
committed epoch 1 and epoch 2 differ by more than 100 times it, so a run that drifted by even one
architecture step would fail.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dartslib.engine.config import SearchConfig
from dartslib.engine.loop import Search, SearchHook, SearchInterrupted

RUN = Path(__file__).resolve().parents[1] / "book" / "results" / "collapse" / "regime" / "darts__nb201__seed0"
EPOCHS = 2
ATOL = 1e-6        # op weights and alphas (float32 values of order 0.2 and 1e-2)
RTOL = 1e-5        # losses and accuracies
LOSS_KEYS = ("train_loss", "train_acc", "valid_loss", "valid_acc")


def committed_history() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (RUN / "history.jsonl").read_text().splitlines()]


class StopAfter(SearchHook):
    """Ask the search to stop (and so to return) once ``epochs`` epochs are recorded."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, search: Search, record: dict[str, Any]) -> None:
        if record["epoch"] >= self.epochs:
            search.request_stop()


def rerun(epochs: int) -> list[dict[str, Any]]:
    config = json.loads((RUN / "result.json").read_text())["config"]
    search = Search(SearchConfig.from_dict({**config, "device": "cpu"}), out_dir=None, progress=False,
                    hooks=[StopAfter(epochs)])
    with pytest.raises(SearchInterrupted):  # stopped before the run's last epoch
        search.run()
    return search.history


def assert_close_records(new: dict[str, Any], old: dict[str, Any]) -> None:
    assert new["epoch"] == old["epoch"]
    assert new["genotype"] == old["genotype"], f"epoch {old['epoch']}: derived cell differs"
    for key in LOSS_KEYS:
        assert new[key] == pytest.approx(old[key], rel=RTOL), f"epoch {old['epoch']}: {key}"
    for field in ("op_weights", "alphas"):
        for cell, values in old[field].items():
            np.testing.assert_allclose(np.asarray(new[field][cell]), np.asarray(values), rtol=0, atol=ATOL,
                                       err_msg=f"epoch {old['epoch']}: {field}[{cell}]")


def test_committed_run_is_complete() -> None:
    history = committed_history()
    result = json.loads((RUN / "result.json").read_text())
    assert len(history) == result["config"]["epochs"] == result["metrics"]["epochs"]
    assert history[-1]["genotype"] == result["genotype"]


def test_tolerance_is_far_below_one_epoch_of_change() -> None:
    """Control: the committed epochs 1 and 2 fail :func:`assert_close_records` against each other, by a
    margin of 100x the tolerance, so the reproduction test can fail."""
    first, second = committed_history()[:2]
    moved = max(np.abs(np.asarray(first["alphas"][c]) - np.asarray(second["alphas"][c])).max() for c in first["alphas"])
    assert moved > 100 * ATOL
    with pytest.raises(AssertionError):
        assert_close_records({**first, "epoch": second["epoch"]}, second)


@pytest.mark.slow
def test_first_epochs_reproduce(one_thread: None) -> None:
    new = rerun(EPOCHS)
    old = committed_history()[:EPOCHS]
    assert len(new) == EPOCHS
    for new_record, old_record in zip(new, old):
        assert_close_records(new_record, old_record)
