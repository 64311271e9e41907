"""benchmarks/bench_book_build.py executes notebooks and records seconds per chapter and per cell (no timing asserts)."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_book_build.py"


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), *(nbformat.v4.new_code_cell(s) for s in sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_records_each_chapter_and_cell_and_a_failing_chapter(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", "x = sum(range(10**6))", "import os\nprint(os.environ['DARTSLIB_SCALE'])")
    bad = _notebook(tmp_path / "bad.ipynb", "raise ValueError('broken chapter')")
    out = tmp_path / "times.json"
    done = subprocess.run([sys.executable, str(SCRIPT), str(good), str(bad), "--json", str(out), "--scale", "small",
                           "--save-dir", str(tmp_path / "executed")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, "a failing chapter must make the benchmark exit non-zero"
    report = json.loads(out.read_text())
    assert report["scale"] == "small"
    first, second = report["chapters"]
    assert first["error"] is None and first["wall_s"] > 0 and first["cpu_s"] >= 0
    assert [c["index"] for c in first["cells"]] == [1, 2]
    assert all(c["wall_s"] >= 0 for c in first["cells"])
    assert "ValueError" in second["error"]
    executed = nbformat.read(tmp_path / "executed" / "good.ipynb", as_version=4)
    assert executed.cells[2].outputs[0]["text"].strip() == "small"  # the kernel saw --scale
    assert report["total_wall_s"] == pytest.approx(first["wall_s"] + second["wall_s"], abs=0.05)
