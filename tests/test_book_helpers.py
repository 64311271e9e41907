"""dartslib.book: the one import line of every chapter, and the helpers it brings."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import dartslib.book as book


def test_star_import_gives_the_names_chapters_use():
    namespace: dict = {}
    exec("from dartslib.book import *", namespace)
    for name in book.__all__:
        assert name in namespace, f"`from dartslib.book import *` does not give {name}"
    assert namespace["np"] is np and namespace["torch"] is torch
    assert "tempfile" not in namespace and "Path" not in namespace, "only the names of __all__ are exported"


def test_band_plots_the_mean_and_one_sample_standard_deviation():
    values = np.array([[0.0, 2.0], [1.0, 5.0], [3.0, 3.0]])  # (x, seeds)
    fig = book.new_figure(3, 2)
    ax = fig.add_subplot()
    book.band(ax, [0, 1, 2], values, "#000000", "m")
    assert np.allclose(ax.lines[0].get_ydata(), [1.0, 3.0, 3.0])
    (band,) = ax.collections
    ys = band.get_paths()[0].vertices[:, 1]
    sd = values.std(1, ddof=1)  # ddof=0 would give 1, 2, 0 and a band half as wide as this one's top
    assert ys.max() == pytest.approx((values.mean(1) + sd).max())
    assert ys.min() == pytest.approx((values.mean(1) - sd).min())
    assert tuple(fig.get_size_inches()) == (3, 2)


def test_start_chapter_sets_threads_empties_its_runs_and_rejects_a_bad_scale(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DARTSLIB_RUNS", str(tmp_path))
    base = tmp_path / "toy" / "09_test"
    old_run = base / f"run-{os.getpid()}" / "darts-seed0" / "result.json"   # this kernel's previous execution
    dead_run = base / "run-999999999" / "result.json"                      # an execution whose process ended
    live_run = base / f"run-{os.getppid()}" / "result.json"                # another live execution: kept
    for path in (old_run, dead_run, live_run):
        path.parent.mkdir(parents=True)
        path.write_text("{}")  # a search would refuse these directories
    before = torch.get_num_threads()
    try:
        chapter = book.start_chapter("09_test", "toy", threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert chapter.runs == base / f"run-{os.getpid()}" and chapter.runs.is_dir()
    assert not any(chapter.runs.iterdir()), "start_chapter must give an empty runs directory"
    assert not dead_run.exists(), "the runs of an execution whose process ended must be removed"
    assert live_run.exists(), "the runs of another live execution must not be touched"
    assert chapter.device in ("cpu", "cuda") and chapter.scale == "toy"
    assert "scale 'toy'" in capsys.readouterr().out
    with pytest.raises(ValueError, match="DARTSLIB_SCALE='huge' is not a scale"):
        book.start_chapter("09_test", "huge")


def test_finish_glues_the_running_time(monkeypatch, capsys):
    glued = {}
    monkeypatch.setattr(book, "glue", lambda name, value, display=True: glued.update({name: value}))
    chapter = book.Chapter(name="x", scale="toy", device="cpu", runs=book.Path("/tmp"), started=0.0)
    monkeypatch.setattr(book.time, "perf_counter", lambda: 90.0)
    assert chapter.finish() == pytest.approx(1.5)
    assert glued == {"total_minutes": pytest.approx(1.5)}
    assert "ran for 1.5 minutes" in capsys.readouterr().out


@pytest.mark.slow
def test_search_many_in_two_workers_equals_the_searches_one_after_the_other(tmp_path):
    configs = {seed: book.make_config("darts", "nb201", "toy", seed=seed, cells_per_stage=1, image_size=8,
                                      epochs=1, max_steps_per_epoch=2) for seed in (0, 1)}
    alone = book.search_many(configs, workers=1)
    together = book.search_many(configs, {seed: tmp_path / f"seed{seed}" for seed in configs}, workers=2)
    assert list(together) == [0, 1]
    for seed in configs:
        assert together[seed].genotype == alone[seed].genotype
        assert np.array_equal(np.array(together[seed].arch_weights["cell"]), np.array(alone[seed].arch_weights["cell"]))
        assert together[seed].history[-1]["valid_loss"] == alone[seed].history[-1]["valid_loss"]
        assert (tmp_path / f"seed{seed}" / "result.json").is_file() and together[seed].model is not None
    # the two seeds are different searches (a worker that ran one config twice would pass the checks above)
    assert not np.array_equal(np.array(alone[0].arch_weights["cell"]), np.array(alone[1].arch_weights["cell"]))


@pytest.mark.slow
def test_a_search_in_the_background_equals_the_search_here_and_reports_its_error(tmp_path):
    config = book.make_config("darts", "nb201", "toy", seed=3, cells_per_stage=1, image_size=8, epochs=1,
                              max_steps_per_epoch=2)
    future = book.search_in_background(config, tmp_path / "bg")
    here = book.search_many({0: config}, workers=1)[0]
    there = future.result(timeout=600)
    assert there.genotype == here.genotype and there.model is not None
    assert np.array_equal(np.array(there.arch_weights["cell"]), np.array(here.arch_weights["cell"]))
    assert (tmp_path / "bg" / "result.json").is_file()
    # control: another seed is another search, so the comparison above can fail
    other = book.search_many({0: book.make_config("darts", "nb201", "toy", seed=4, cells_per_stage=1, image_size=8,
                                                  epochs=1, max_steps_per_epoch=2)}, workers=1)[0]
    assert not np.array_equal(np.array(other.arch_weights["cell"]), np.array(here.arch_weights["cell"]))
    # a search that fails in its process raises in the caller's .result()
    broken = book.search_in_background(config, tmp_path / "bg" / "result.json")  # a file, not a folder
    with pytest.raises(Exception):
        broken.result(timeout=600)


@pytest.mark.slow
def test_search_many_hands_results_back_without_a_file_descriptor_per_tensor(tmp_path):
    """Chapter 7 runs 45 searches through the workers. Handing each result's model back through torch's
    multiprocessing passes one file descriptor per tensor, and the build failed with "received 0 items of
    ancdata" once they ran out. Under a limit of 64 open files (fewer than one supernet's tensors) the
    results must still come back."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        import dartslib.book as book
        cfgs = {s: book.make_config("darts", "nb201", "toy", seed=s, cells_per_stage=1, image_size=8,
                                    epochs=1, max_steps_per_epoch=1) for s in (0, 1)}
        out = book.search_many(cfgs, workers=2)
        n = sum(1 for _ in out[0].model.state_dict())
        assert n > 64, n
        print("ok", n)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_show_table_formats_numbers_and_never_shows_nan():
    import numpy as np
    import pandas as pd

    from dartslib.book import show_table

    df = pd.DataFrame({"method": ["darts", "sp-darts"], "acc": [93.123, np.nan], "seeds": [3, 4]})
    html = show_table(df, {"acc": "{:.1f}"}, rename={"acc": "accuracy (%)"}).to_html()
    assert "93.1" in html and "93.123" not in html and "accuracy (%)" in html
    assert "nan" not in html.lower()


def test_progress_bars_are_widgets_only_in_an_interactive_session(monkeypatch):
    import sys
    import types

    from tqdm.std import tqdm as text_tqdm

    import dartslib.book as book

    for name in ("JPY_SESSION_NAME", "COLAB_RELEASE_TAG", "VSCODE_PID", book.PROGRESS_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert book.progress_mode() == "text"                      # a terminal or a script: a text bar
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert book.progress_mode() == "off"                       # a kernel of a build: no bar reaches the page
    bar = book.tqdm(range(3))
    assert bar.disable and list(bar) == [0, 1, 2]
    monkeypatch.setenv("JPY_SESSION_NAME", "x.ipynb")
    assert book.progress_mode() == "widget"
    monkeypatch.setenv(book.PROGRESS_ENV, "text")
    assert book.progress_mode() == "text" and isinstance(book.tqdm(range(1)), text_tqdm)


def test_the_search_draws_no_bar_in_a_build_kernel(monkeypatch, capsys):
    """The engine's own bar follows dartslib.progress: nothing on a build's page (a kernel outside an interactive
    front end), a text bar when asked (the control: the same search does draw one)."""
    import sys
    import types

    from dartslib import make_config, search
    from dartslib.progress import PROGRESS_ENV

    for name in ("JPY_SESSION_NAME", "COLAB_RELEASE_TAG", "VSCODE_PID", PROGRESS_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    config = make_config("darts", "nb201", "toy", epochs=1, C=4, cells_per_stage=1, max_steps_per_epoch=2,
                         batch_size=32, image_size=8, device="cpu")
    search(config, progress=True)
    assert "step" not in capsys.readouterr().err
    monkeypatch.setenv(PROGRESS_ENV, "text")
    search(config, progress=True)
    assert "darts on nb201" in capsys.readouterr().err
