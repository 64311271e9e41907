"""The build executes the stale chapter notebooks side by side (_ext/parallel_execution.py), into the same
execution cache MyST-NB reads, in each notebook's own folder, and stops with the notebook's traceback when one
raises; with one job it leaves execution to MyST-NB (the control)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("jupyter_cache")
pytest.importorskip("ipykernel")


@pytest.fixture(scope="module")
def ext():
    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import parallel_execution
    finally:
        sys.path.pop(0)
    return parallel_execution


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def _app(tmp_path: Path) -> tuple[SimpleNamespace, SimpleNamespace]:
    """What the extension reads of Sphinx: MyST-NB's resolved settings (``env.mystnb_config``) and doc2path."""
    config = SimpleNamespace(execution_mode="cache", execution_in_temp=False, execution_excludepatterns=(),
                             execution_cache_path=str(tmp_path / "cache"), execution_timeout=60,
                             execution_allow_errors=False, execution_raise_on_error=True)
    env = SimpleNamespace(mystnb_config=config, doc2path=lambda docname: str(tmp_path / "nbs" / f"{docname}.ipynb"))
    return SimpleNamespace(config=SimpleNamespace()), env


TIMED = ("import os, time\nstart = time.time()\ntime.sleep(4)\n"
         "open(f'{NAME}.times', 'w').write(f'{start} {time.time()}')\n"
         "print(os.path.basename(os.getcwd()))")


def test_the_extension_is_loaded_by_the_book():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert (config["sphinx"].get("local_extensions") or {}).get("parallel_execution") == "_ext"
    assert config["execute"]["execute_notebooks"] == "cache"  # the only mode the extension acts in


def test_jobs_come_from_the_environment_or_the_cpus(ext, monkeypatch):
    monkeypatch.setenv("DARTSLIB_BUILD_JOBS", "3")
    assert ext.build_jobs() == 3
    monkeypatch.delenv("DARTSLIB_BUILD_JOBS")
    assert 1 <= ext.build_jobs() <= ext.MAX_DEFAULT_JOBS
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("DARTSLIB_BUILD_JOBS", bad)
        with pytest.raises(ext.ExtensionError, match="DARTSLIB_BUILD_JOBS"):
            ext.build_jobs()


def test_stale_notebooks_execute_side_by_side_into_the_cache(ext, tmp_path, monkeypatch):
    from jupyter_cache import get_cache

    names = ("a", "b")
    for name in names:
        _notebook(tmp_path / "nbs" / f"{name}.ipynb", f"NAME = {name!r}", TIMED)
    app, env = _app(tmp_path)
    cache = get_cache(env.mystnb_config.execution_cache_path)
    notebooks = [nbformat.read(str(tmp_path / "nbs" / f"{n}.ipynb"), as_version=4) for n in names]

    # the control: one job leaves every notebook to MyST-NB, so nothing is cached here
    monkeypatch.setenv("DARTSLIB_BUILD_JOBS", "1")
    ext._execute_stale(app, env, list(names))
    for nb in notebooks:
        with pytest.raises(KeyError):
            cache.match_cache_notebook(nb)
    assert ext.stale_notebooks(cache, [tmp_path / "nbs" / f"{n}.ipynb" for n in names]) == \
        [tmp_path / "nbs" / f"{n}.ipynb" for n in names]

    monkeypatch.setenv("DARTSLIB_BUILD_JOBS", "2")
    ext._execute_stale(app, env, list(names))
    for nb in notebooks:  # MyST-NB finds each one's outputs, executed in the notebook's folder
        _, merged = cache.merge_match_into_notebook(nb)
        assert merged.cells[1].outputs[0]["text"].strip() == "nbs"
    assert ext.stale_notebooks(cache, [tmp_path / "nbs" / f"{n}.ipynb" for n in names]) == []
    (s1, e1), (s2, e2) = ([float(v) for v in (tmp_path / "nbs" / f"{n}.times").read_text().split()] for n in names)
    assert s1 < e2 and s2 < e1, "the two notebooks did not run at the same time"


def test_a_notebook_that_raises_stops_the_build_with_its_traceback(ext, tmp_path, monkeypatch):
    from jupyter_cache import get_cache

    _notebook(tmp_path / "nbs" / "good.ipynb", "x = 1")
    _notebook(tmp_path / "nbs" / "bad.ipynb", "raise ValueError('chapter broke here')")
    monkeypatch.setenv("DARTSLIB_BUILD_JOBS", "2")
    app, env = _app(tmp_path)
    with pytest.raises(ext.ExtensionError, match=r"(?s)bad\.ipynb.*chapter broke here"):
        ext._execute_stale(app, env, ["good", "bad"])
    cache = get_cache(env.mystnb_config.execution_cache_path)
    cache.match_cache_notebook(nbformat.read(str(tmp_path / "nbs" / "good.ipynb"), as_version=4))
    with pytest.raises(KeyError):  # not cached: MyST-NB would execute it again and report it
        cache.match_cache_notebook(nbformat.read(str(tmp_path / "nbs" / "bad.ipynb"), as_version=4))


def test_a_chapter_that_times_for_the_reader_is_left_to_execute_alone(ext, tmp_path, monkeypatch):
    """A notebook marked ``dartslib.execute_alone`` is not executed beside the others (MyST-NB executes it
    later, alone); the unmarked ones are (the control). Chapter 8, which prices a search from a timed step,
    is marked."""
    from jupyter_cache import get_cache

    for name in ("a", "b", "clock"):
        _notebook(tmp_path / "nbs" / f"{name}.ipynb", f"x = {name!r}")  # distinct code: distinct cache entries
    clock = tmp_path / "nbs" / "clock.ipynb"
    nb = nbformat.read(str(clock), as_version=4)
    nb.metadata["dartslib"] = {"execute_alone": True}
    nbformat.write(nb, str(clock))
    monkeypatch.setenv("DARTSLIB_BUILD_JOBS", "2")
    app, env = _app(tmp_path)
    ext._execute_stale(app, env, ["a", "b", "clock"])
    cache = get_cache(env.mystnb_config.execution_cache_path)
    for name in ("a", "b"):
        cache.match_cache_notebook(nbformat.read(str(tmp_path / "nbs" / f"{name}.ipynb"), as_version=4))
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(str(clock), as_version=4))
    chapter8 = nbformat.read(str(ROOT / "nbs" / "08_paper_scale.ipynb"), as_version=4)
    assert chapter8.metadata["dartslib"]["execute_alone"] is True


def test_without_a_process_pool_the_chapters_are_left_to_run_one_at_a_time(ext, tmp_path, monkeypatch):
    """Where no pool can start, a warning, no error, and nothing cached (MyST-NB executes them); with a pool of
    the 'spawn' start method (macOS, Windows) the notebooks execute and are cached (the control)."""
    import multiprocessing

    from jupyter_cache import get_cache

    for name in ("a", "b"):
        _notebook(tmp_path / "nbs" / f"{name}.ipynb", f"x = {name!r}")
    notebooks = [nbformat.read(str(tmp_path / "nbs" / f"{n}.ipynb"), as_version=4) for n in ("a", "b")]
    monkeypatch.setenv("DARTSLIB_BUILD_JOBS", "2")
    app, env = _app(tmp_path)
    cache = get_cache(env.mystnb_config.execution_cache_path)

    def no_pool(*args, **kwargs):
        raise OSError("no semaphores here")

    monkeypatch.setattr(multiprocessing, "Pool", no_pool)
    ext._execute_stale(app, env, ["a", "b"])
    for nb in notebooks:
        with pytest.raises(KeyError):
            cache.match_cache_notebook(nb)

    monkeypatch.setattr(multiprocessing, "Pool", multiprocessing.get_context("spawn").Pool)
    ext._execute_stale(app, env, ["a", "b"])
    for nb in notebooks:
        cache.match_cache_notebook(nb)
