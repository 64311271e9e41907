"""myst-nb's :func:`glue` for the book's helpers: it pastes a computed value into the prose of the built book.

Where myst-nb is not installed (plain Jupyter, Colab) :func:`glue` prints ``name = value`` instead. It lives in
its own module so that the helpers of :mod:`dartslib.book.summaries` can glue without importing the package
``dartslib.book`` (which imports them: a cycle); ``from dartslib.book import glue`` is the same function.
"""
from __future__ import annotations

from typing import Any

__all__ = ["glue"]

try:  # the book build pastes computed numbers into its prose with myst-nb's glue
    from myst_nb import glue
except ImportError:  # elsewhere (plain Jupyter, Colab): show the value instead
    def glue(name: str, value: Any, display: bool = True) -> None:
        """Print ``name = value`` (myst-nb's ``glue`` is not installed, so there is no book to paste into)."""
        if display:
            print(f"{name} = {getattr(value, 'data', value)}")
