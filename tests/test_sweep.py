"""Sweeps (dartslib.sweep): a tiny grid runs, a second invocation skips it, interrupted runs resume,
refused pairs are listed with the reason."""
import json

import pytest

from dartslib.cli import main
from dartslib.engine.loop import Search, SearchHook, SearchInterrupted
from dartslib.sweep import COLUMNS, collect, plan

TINY = {"epochs": 2, "C": 4, "cells_per_stage": 1, "max_steps_per_epoch": 2, "batch_size": 16, "image_size": 8,
        "device": "cpu"}
ARGV = ["sweep", "--methods", "darts,fairdarts,darts-m2", "--spaces", "nb201", "--seeds", "0,1", "--jobs", "2",
        *[a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v)}")]]


class StopBefore(SearchHook):
    def __init__(self, epoch, step):
        self.epoch, self.step, self.search = epoch, step, None

    def before_step(self, model, ctx):
        if (ctx.epoch, ctx.step) == (self.epoch, self.step):
            self.search.request_stop()


def run_main(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_plan_lists_refused_pairs_with_the_reason_and_rejects_unknown_names():
    runs = plan(["darts", "fairdarts"], ["nb201", "darts"], [0], "toy", TINY)
    refused = {(r.method, r.space): r.reason for r in runs if r.config is None}
    assert list(refused) == [("fairdarts", "darts")] and "none" in refused[("fairdarts", "darts")]
    with pytest.raises(ValueError, match="unknown method 'dart'"):
        plan(["dart"], ["nb201"], [0])


def test_sweep_runs_skips_finished_runs_and_resumes_interrupted_ones(capsys, tmp_path):
    # an interrupted run of the grid, as Ctrl-C leaves it: checkpoint mid-epoch, no result
    interrupted = tmp_path / "darts__nb201__seed1"
    (run,) = [r for r in plan(["darts"], ["nb201"], [1], "toy", TINY)]
    interrupted.mkdir()
    (interrupted / "spec.json").write_text(json.dumps(run.spec()))
    stopper = StopBefore(1, 0)
    search = Search(run.config, interrupted, progress=False, hooks=[stopper])
    stopper.search = search
    with pytest.raises(SearchInterrupted):
        search.run()
    first_epoch = json.loads((interrupted / "history.jsonl").read_text().splitlines()[0])

    status, out, err = run_main(capsys, *ARGV, "--out", str(tmp_path))
    assert status == 0, err
    assert "resume   darts__nb201__seed1" in err and "start    darts__nb201__seed0" in err
    assert err.count("refused  darts-m2__nb201") == 2 and "does not run on space 'nb201'" in err
    resumed = json.loads((interrupted / "history.jsonl").read_text().splitlines()[0])
    assert resumed == first_epoch  # continued, not restarted (the first epoch's record, seconds included)
    assert "resuming at epoch 2, step 1" in (interrupted / "log.txt").read_text()

    table = collect(tmp_path)
    assert list(table.columns) == COLUMNS and len(table) == 6
    finished = table[table.status == "finished"]
    assert sorted(zip(finished.method, finished.seed)) == [("darts", 0), ("darts", 1), ("fairdarts", 0),
                                                          ("fairdarts", 1)]
    assert (finished.epochs == 2).all() and finished.supernet_acc.between(0, 100).all()
    assert (finished.skip_count <= 6).all() and finished.genotype.str.startswith("|").all()
    refused = table[table.status == "refused"]
    assert list(refused.method) == ["darts-m2"] * 2 and refused.reason.str.contains("does not run").all()
    assert (tmp_path / "results.csv").is_file() and "| darts | nb201 | 0 | finished |" in (
        tmp_path / "results.md").read_text()

    # a second invocation starts nothing: results and logs untouched
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/result.json")} | {
        p: p.stat().st_mtime_ns for p in tmp_path.glob("*/log.txt")}
    status, out, err = run_main(capsys, *ARGV, "--out", str(tmp_path))
    assert status == 0 and err.count("(skipped)") == 4 and "start" not in err and "resume" not in err
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


def test_sweep_refuses_a_directory_made_with_another_config(capsys, tmp_path):
    (run,) = plan(["darts"], ["nb201"], [0], "toy", TINY)
    (tmp_path / run.name).mkdir()
    spec = run.spec()
    spec["config"]["epochs"] = 5
    (tmp_path / run.name / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--methods", "darts", "--spaces", "nb201", "--out", str(tmp_path),
              *[a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v)}")]])
    assert info.value.code == 2 and "differs in: epochs" in capsys.readouterr().err
