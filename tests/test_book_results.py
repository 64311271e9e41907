"""The loader of the committed real-supernet runs (dartslib.book.results) and the measures made on them."""
import json
import math
import shutil

import numpy as np
import pytest

from dartslib import make_config, search
from dartslib.book.results import (CONTROL_CELLS, MEASURE_COLUMNS, cell_name, cell_ops, find_results,
                                   load_collapse_results, measure_run, measure_sweep, param_free_count,
                                   read_measures)


def test_committed_darts_runs_read_back_as_their_files_say():
    res = load_collapse_results()
    darts = res.of("darts")
    assert [r.seed for r in darts] == [0, 1, 2, 3, 4]
    for run in darts:
        result = json.loads((run.path / "result.json").read_text())
        assert run.genotype == result["genotype"]
        assert run.op_weights.shape == (30, 6, 5)
        assert np.allclose(run.op_weights.sum(-1), 1.0, atol=1e-5)  # softmax shares
        assert run.param_free_per_epoch[-1] == param_free_count(result["genotype"])
    table = res.table()
    rows = table[table.method == "darts"]
    assert list(rows.param_free) == [param_free_count(r.genotype) for r in darts]
    summary = res.summary()
    assert summary.loc["darts", "n"] == 5
    assert summary.loc["darts", "collapsed"] == int((rows.param_free >= 4).sum())
    assert summary.loc["darts", "param_free_mean"] == pytest.approx(rows.param_free.mean())


def test_retrained_accuracy_is_joined_by_genotype():
    res = load_collapse_results()
    hard = res.retrained("train_hard")
    control = hard[hard.cell == "ctrl-conv3x3"]
    assert len(control) >= 3 and (control.param_free == 0).all()
    table = res.table()
    run = table.iloc[0]
    own = hard[hard.genotype == run.genotype].test_acc.mean()
    assert run.retrained_acc_hard == pytest.approx(own)
    assert cell_name(CONTROL_CELLS["ctrl-skip"]) == "ctrl-skip"
    assert cell_ops(CONTROL_CELLS["ctrl-skip"]) == ["skip_connect"] * 6


def test_a_missing_results_folder_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no committed collapse runs.*python -m dartslib sweep"):
        find_results(tmp_path)


def test_measures_of_a_tiny_search(tmp_path):
    cfg = make_config("darts", space="nb201", scale="toy", seed=0, epochs=1, C=4, cells_per_stage=1,
                      image_size=8, batch_size=64)
    sweep = tmp_path / "sweep"
    search(cfg, sweep / "darts__nb201__seed0", progress=False)
    (sweep / "sweep.json").write_text("{}")
    values = measure_run(sweep / "darts__nb201__seed0", finetune_steps=4, pairs=2, calibration_batches=2)
    assert set(values) == set(MEASURE_COLUMNS)
    assert all(math.isfinite(v) for v in values.values())
    assert -1.0 <= values["gc_bilevel"] <= 1.0
    # the drop is supernet minus discrete accuracy; the recalibrated and fine-tuned ones are other numbers
    assert values["drop_recal"] == pytest.approx(values["supernet_acc_recal"] - values["discrete_acc_recal"])
    assert values["drop_finetuned"] == pytest.approx(values["supernet_acc_recal"] - values["discrete_acc_finetuned"])
    measure_sweep(sweep, log=None)
    measured = read_measures(sweep)["darts__nb201__seed0"]
    res = load_collapse_results(tmp_path, scale="small")
    assert res.table().iloc[0]["drop_recal"] == pytest.approx(measured["drop_recal"])
    # a run without its checkpoint is left alone (control: it would be measured if it had one)
    shutil.copytree(sweep / "darts__nb201__seed0", sweep / "darts__nb201__seed1")
    (sweep / "darts__nb201__seed1" / "checkpoint.pt").unlink()
    measure_sweep(sweep, log=None)
    assert "darts__nb201__seed1" not in read_measures(sweep)
