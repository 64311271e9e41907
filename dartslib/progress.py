"""Progress bars that suit where the code runs: a widget in a notebook front end, text in a terminal, none in a
book build.

``tqdm.auto`` draws a Jupyter widget whenever it runs inside a kernel, also in a headless build (``jupyter-book
build``, ``nbconvert --execute``), where nobody sees it: the page then shows widget JSON or a blank, and the
widget's comm messages are the traffic under which headless builds have stalled (kernel idle, nbclient waiting).
:func:`progress_bar` therefore decides by :func:`progress_mode`; the search, the training, the batched search and
the book's helpers all draw their bars through it.
"""
from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["PROGRESS_ENV", "progress_mode", "progress_bar"]

PROGRESS_ENV = "DARTSLIB_PROGRESS"
"""``widget``, ``text`` or ``off``: how progress shows (unset: :func:`progress_mode` decides)."""

# set in the kernels of an interactive front end: Jupyter Server (Lab, Notebook 7), Colab, VS Code
_INTERACTIVE_ENV = ("JPY_SESSION_NAME", "COLAB_RELEASE_TAG", "VSCODE_PID")


def progress_mode() -> str:
    """``$DARTSLIB_PROGRESS`` if set; else ``"widget"`` in an interactive front end (Jupyter Lab or Notebook 7,
    Colab, VS Code), ``"off"`` in any other Jupyter kernel (the book's build above all, where a widget bar would
    reach the page as widget JSON and a text bar as a trail of updates), and ``"text"`` elsewhere (a terminal,
    the command line, a script)."""
    mode = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if mode in ("widget", "text", "off"):
        return mode
    if any(v in os.environ for v in _INTERACTIVE_ENV):
        return "widget"
    return "off" if "ipykernel" in sys.modules else "text"


def progress_bar(*args: Any, **kwargs: Any) -> Any:
    """A ``tqdm`` bar as :func:`progress_mode` says: ``tqdm.auto.tqdm`` (widget), ``tqdm.std.tqdm`` (text), or
    a disabled text bar (off). Takes ``tqdm``'s arguments; an explicit ``disable=True`` always wins."""
    mode = progress_mode()
    if mode == "widget":
        from tqdm.auto import tqdm
        return tqdm(*args, **kwargs)
    from tqdm.std import tqdm
    if mode == "off":
        kwargs["disable"] = True
    return tqdm(*args, **kwargs)
