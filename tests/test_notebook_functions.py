"""A chapter defines a function only when that function is the point of its cell (issue 21).

Bookkeeping, formatting, plot panels, glue and summary statistics live in :mod:`dartslib.book`
(:mod:`~dartslib.book.summaries`, :mod:`~dartslib.book.figures`, :mod:`~dartslib.book.prose`,
:mod:`~dartslib.book.toys`), and what the library already has is called, not re-implemented. Every
``def`` left in a chapter's code cells is listed in :data:`ALLOWED` with the one-line reason the reader should
see it; a new one fails :func:`test_chapters_define_only_the_functions_that_are_the_point_of_their_cell` until it
moves into the library or is listed here with its reason.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Mapping

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("nbs/*.ipynb"))

#: notebook -> {function: why the reader should see it in the cell}
ALLOWED: dict[str, dict[str, str]] = {
    "01_darts": {
        "arch_gradient": "one architecture step of first or second order, timed or counted: Eq. (7) against Eq. (8)",
        "depth_sweep": "the depth experiment itself, the sweep command it stands for in its comment",
        "relu_pattern": "which ReLUs switch between w0 ± r: why the finite difference of Eq. (8) fails at small r",
    },
    "02_unfair_advantage": {
        "fixed_weight_fit": "the experiment of the cell: the toy trained with its op weights held fixed",
        "by_strength": "what the explorer runs for each residual strength c",
        "skip_margin": "defines the figure's measure, the skip's lead over the best other op",
        "cell_output_scale": "the measurement of the cell: how each search cell scales its input",
    },
    "03_discretization_gap": {
        "follows_init": "the measurement of the cell: do the gates end on the side their initial alpha chose",
        "by_w01": "what the explorer runs for each zero-one weight w01",
    },
    "04_auxiliary_skip": {
        "input_gradient": "the gradient through a stack with a skip of weight beta, by autograd",
        "eq3_gradient": "the same gradient by the paper's Eq. (3), to compare with autograd",
        "toy_with_beta0": "what the explorer runs for each beta0",
        "recorders": "what each search records: the Hessian's eigenvalue every epoch, the landscape at the end",
    },
    "05_information_leakage": {
        "r2_at_temperature": "reading the trained supernet at another temperature, the chapter's central probe",
        "subordinate_share": "the weight that leaks past the winner at temperature t",
        "temperature_sweep": "the sweep of both measures over the temperatures",
        "jacobian_norm": "the closed form of the softmax Jacobian's norm against the temperature",
        "sp_search": "what the explorer runs for each t_sp",
    },
    "06_gradient_correlation": {
        "theorem_4_2_failures": "the counterexample search to Theorem 4.2, the point of the cell",
        "correlations": "the measurement of the cell: Eq. (6) for three pairings of batches",
        "lr_runs": "what the explorer runs for each learning rate",
    },
    "07_side_by_side": {},
    "08_paper_scale": {
        "search_command": "the command line a reader runs for each paper-scale search",
        "time_step": "the timing of one paper-sized search step, from which the table's days come",
    },
}


def _code(source: str) -> str:
    """A cell's source with IPython magics and shell escapes blanked (so that ``ast`` parses it)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def defined_functions(notebook: Mapping[str, Any]) -> dict[str, int]:
    """``{name: cell index}`` of every function (``def``, ``async def``, at any depth) in the code cells of
    ``notebook`` (nbformat 4 JSON)."""
    names: dict[str, int] = {}
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for node in ast.walk(ast.parse(_code(source))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.setdefault(node.name, i)
    return names


def unlisted_functions(name: str, notebook: Mapping[str, Any],
                       allowed: Mapping[str, Mapping[str, str]] = ALLOWED) -> list[str]:
    """The functions ``notebook`` (named ``name``) defines that ``allowed[name]`` does not list, each as
    ``"name (cell i)"``; a notebook missing from ``allowed`` may define none."""
    listed = allowed.get(name, {})
    return [f"{f} (cell {i})" for f, i in defined_functions(notebook).items() if f not in listed]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_there_are_chapters_and_each_is_in_the_list():
    assert len(NOTEBOOKS) >= 8
    assert {p.stem for p in NOTEBOOKS} == set(ALLOWED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapters_define_only_the_functions_that_are_the_point_of_their_cell(path):
    unlisted = unlisted_functions(path.stem, _load(path))
    assert not unlisted, (f"{path.name} defines {', '.join(unlisted)}: move bookkeeping, formatting, plot panels "
                          f"and glue into dartslib.book, or list the function in ALLOWED with the reason it is "
                          f"the point of its cell")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_listed_function_still_exists(path):
    """The list stays honest: a function that left the chapter leaves the list too."""
    gone = set(ALLOWED[path.stem]) - set(defined_functions(_load(path)))
    assert not gone, f"{path.name} no longer defines {sorted(gone)}: remove them from ALLOWED"


def test_every_reason_is_one_line():
    for name, functions in ALLOWED.items():
        for function, reason in functions.items():
            assert reason.strip() and "\n" not in reason, (name, function)


def _notebook(*sources: str) -> dict[str, Any]:
    return {"cells": [{"cell_type": "markdown", "source": "def not_code(): ..."}]
            + [{"cell_type": "code", "metadata": {}, "source": s.splitlines(keepends=True)} for s in sources],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_control_a_helper_not_in_the_list_fails_the_checker():
    notebook = _notebook("%matplotlib inline\nimport numpy as np\n",
                         "def arch_gradient(model):\n    return model\n",
                         "def mean_sd(values):\n    return f'{np.mean(values)} ± {np.std(values)}'\n")
    assert defined_functions(notebook) == {"arch_gradient": 2, "mean_sd": 3}
    assert unlisted_functions("01_darts", notebook) == ["mean_sd (cell 3)"]
    assert unlisted_functions("99_new", notebook) == ["arch_gradient (cell 2)", "mean_sd (cell 3)"]


def test_control_a_nested_or_async_def_is_found_and_a_listed_one_passes():
    notebook = _notebook("with open('x') as f:\n    async def pm(v):\n        def inner():\n            pass\n")
    assert set(defined_functions(notebook)) == {"pm", "inner"}
    assert unlisted_functions("x", notebook, {"x": {"pm": "why", "inner": "why"}}) == []
