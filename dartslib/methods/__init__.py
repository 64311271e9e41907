"""The methods: presets (a paper's settings as config values) and one module per switch that plugs into
the loop through :class:`dartslib.hooks.SearchHook`; the switches are registered in
:data:`dartslib.methods.switches.SWITCHES`.

``dartslib.methods.NAME`` is ``dartslib.methods.presets.NAME``: the package re-exports :mod:`dartslib.methods.presets`.
"""
from dartslib.methods import presets as _presets
from dartslib.methods.presets import *  # noqa: F401,F403
from dartslib.methods.presets import __all__  # noqa: F401


def __getattr__(name: str):
    return getattr(_presets, name)  # the module's other names (e.g. helpers outside __all__)
