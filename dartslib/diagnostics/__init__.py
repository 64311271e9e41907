"""Measuring a search: the papers' measures (entropy, dominance, gaps, ...), Hessian eigenvalues, the
accuracy landscape, the gradient correlation, and the recorder that logs them (and reads run folders).

``dartslib.diagnostics.NAME`` is ``dartslib.diagnostics.measures.NAME``: the package re-exports :mod:`dartslib.diagnostics.measures`.
"""
from dartslib.diagnostics import measures as _measures
from dartslib.diagnostics.measures import *  # noqa: F401,F403
from dartslib.diagnostics.measures import __all__  # noqa: F401


def __getattr__(name: str):
    return getattr(_measures, name)  # the module's other names (e.g. helpers outside __all__)
