"""Paper scale in the chapters is opt-in, persistent and priced (issue 20): at small/paper scale a chapter's runs
live in ``$DARTSLIB_RUNS/SCALE/NAME`` and are kept; a cell's searches are loaded when finished, resumed when
interrupted, and started only with ``DARTSLIB_RUN_SWEEPS=1``; otherwise the cell stops with the command and
its cost."""
from __future__ import annotations

import json

import pytest

from dartslib import make_config
from dartslib import book
from dartslib.book.runs import OptInRequired


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DARTSLIB_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("DARTSLIB_RUN_SWEEPS", raising=False)
    return tmp_path / "runs"


def _small(**kw):
    return make_config("darts", "nb201", "small", seed=0, C=4, cells_per_stage=1, image_size=8, epochs=1,
                       max_steps_per_epoch=2, device="cpu", **kw)


def test_the_small_scale_runs_folder_is_persistent(runs, capsys):
    chapter = book.start_chapter("09_test", "small", quiet=True)
    assert chapter.runs == runs / "small" / "09_test" and chapter.runs.is_dir()
    kept = chapter.runs / "darts" / "result.json"
    kept.parent.mkdir()
    kept.write_text("{}")
    again = book.start_chapter("09_test", "small", quiet=True)
    assert again.runs == chapter.runs and kept.is_file(), "a second execution must keep the first one's runs"
    toy = book.start_chapter("09_test", "toy", quiet=True)
    assert toy.runs.parent == runs / "toy" / "09_test"  # control: toy runs are rebuilt per execution


def test_a_small_scale_search_starts_only_when_asked(runs, one_thread, monkeypatch):
    book.start_chapter("09_test", "small", quiet=True)
    out = runs / "small" / "09_test" / "darts"
    with pytest.raises(OptInRequired) as caught:
        book.search_many({"darts": _small()}, {"darts": out})
    message = str(caught.value)
    assert "DARTSLIB_SCALE=small DARTSLIB_RUN_SWEEPS=1 jupyter execute nbs/09_test.ipynb" in message
    assert "GPU-hours" in message and "GiB" in message and "estimated" in message
    assert not out.exists(), "nothing may run without the reader's request"

    monkeypatch.setenv("DARTSLIB_RUN_SWEEPS", "1")
    first = book.search_many({"darts": _small()}, {"darts": out})["darts"]
    assert (out / "result.json").is_file()

    monkeypatch.delenv("DARTSLIB_RUN_SWEEPS")  # finished: loaded without the flag, and not run again
    monkeypatch.setattr(book, "search", lambda *a, **k: pytest.fail("a finished search was run again"))
    loaded = book.search_many({"darts": _small()}, {"darts": out})["darts"]
    assert loaded.genotype == first.genotype and loaded.history == first.history and loaded.model is not None

    (out / "result.json").unlink()  # a run cut off after its last checkpoint: resumed (it needs the flag)
    monkeypatch.setenv("DARTSLIB_RUN_SWEEPS", "1")
    resumed = book.search_many({"darts": _small()}, {"darts": out})["darts"]
    assert resumed.history == first.history and (out / "result.json").is_file()

    with pytest.raises(ValueError, match="holds a search with other settings \\(lr\\)"):
        book.search_many({"darts": _small(lr=0.5)}, {"darts": out})


def test_the_real_supernet_sweep_at_paper_scale_needs_the_flag_and_names_its_command(runs):
    from dartslib.book.results import collapse_results

    with pytest.raises(OptInRequired) as caught:
        collapse_results("paper", methods=("darts",), seeds=(0, 1))
    message = str(caught.value)
    assert "2 search(es), about 6.4 GPU-hours" in message  # 2 x 3.2 h, DARTS- Table 3
    assert (f"python -m dartslib sweep --methods darts --spaces nb201 --seeds 0,1 --scale paper --out "
            f"{runs / 'paper' / 'collapse' / 'regime'}") in message
    assert not (runs / "paper").exists()


def test_the_cost_table_reads_the_committed_estimates():
    from dartslib.book.costs import ESTIMATES, cost_table

    data = json.loads(ESTIMATES.read_text())
    table = cost_table()
    assert set(table.index.get_level_values("scale")) == {"small", "paper"}
    assert (table["status"] == "estimated").all() if data["gpu_check"] is None else True
    paper = table.xs("paper", level="scale")
    assert paper.loc["01_darts", "own searches"] == 22 and paper.loc["04_auxiliary_skip", "own searches"] == 0


def test_a_gpu_check_measurement_replaces_the_estimate(tmp_path):
    """A search that ``benchmarks/gpu_check.sh`` timed is priced from its seconds per step (391 steps per epoch on
    CIFAR-10's half split at batch 64, 50 epochs) and its measured peak; a dry run's JSON is ignored."""
    from dartslib.book.costs import estimate_search, load_gpu_check

    check = {"device": "NVIDIA H100", "presets": [{"method": "darts", "space": "nb201", "batch": 64,
                                                    "seconds_per_step": 0.1, "max_memory_gib": 1.5}]}
    cost = estimate_search(make_config("darts", "nb201", "paper"), check)
    assert cost.status == "measured on NVIDIA H100"
    assert cost.gpu_hours == pytest.approx(0.1 * 391 * 50 / 3600) and cost.peak_gib == 1.5
    other = estimate_search(make_config("darts-minus", "nb201", "paper"), check)
    assert other.status == "estimated"  # control: not timed, still estimated
    dry = tmp_path / "dry.json"
    dry.write_text(json.dumps({**check, "dry_run": True}))
    assert load_gpu_check(dry) is None and load_gpu_check(tmp_path / "absent.json") is None


def test_start_chapter_glues_its_gpu_price(monkeypatch):
    glued = {}
    monkeypatch.setattr(book, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    book._glue_costs("01_darts")
    assert glued["cost_paper_status"] in ("estimated",) or glued["cost_paper_status"].startswith("measured")
    assert glued["cost_paper_gpu_hours"] > glued["cost_small_gpu_hours"] > 0
    assert glued["cost_paper_sweep_gpu_hours"] > 0
