"""`python -m build` makes an sdist and a wheel that install and run outside the repository.

This is how a reader runs a chapter on Colab or a lab GPU (see the Preface): build the wheel, install it
there. The test builds from a copy of the package's files (so nothing is written into the working tree),
without build isolation (the build backend comes from this environment, so no network is needed), the
wheel from the sdist as `python -m build` does by default. It then installs the wheel with ``--no-deps``
into a fresh directory (torch and the rest are already here; installing them again would be gigabytes)
and runs ``python -m dartslib --help`` from a directory outside the repository with only that directory
added to the path, checking that the ``dartslib`` imported is the installed one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "dartslib"]

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="`pip install build` (requirements.txt) to test the wheel")
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.is_file():
            shutil.copy2(path, src / name)
    dist = work / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)], cwd=work)
    return dist


def test_build_makes_an_sdist_and_a_wheel_with_the_package_data(built):
    wheels, sdists = list(built.glob("dartslib-*.whl")), list(built.glob("dartslib-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"expected one wheel and one sdist in {sorted(built.iterdir())}"
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for needed in ("dartslib/__init__.py", "dartslib/__main__.py", "dartslib/cli.py", "dartslib/book/__init__.py",
                   "dartslib/resources/published_genotypes.json"):
        assert needed in names, f"the wheel lacks {needed}"
    assert not any(n.startswith(("tests/", "nbs/", "benchmarks/")) for n in names), "the wheel ships non-package files"


def test_wheel_installs_and_runs_the_cli_outside_the_repository(built, tmp_path):
    wheel = next(built.glob("dartslib-*.whl"))
    target = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile", "--quiet",
          "--target", str(target), str(wheel)], cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    where = _run([sys.executable, "-c", "import dartslib, dartslib.book; print(dartslib.__file__)"],
                 cwd=elsewhere, env=env).stdout.strip()
    assert Path(where).resolve().is_relative_to(target.resolve()), \
        f"imported dartslib from {where}, not from the installed wheel in {target}"
    helped = _run([sys.executable, "-m", "dartslib", "--help"], cwd=elsewhere, env=env)
    assert "usage:" in helped.stdout and "search" in helped.stdout, helped.stdout[:1000]
