"""The book's home: one field of ``_config.yml``, ``book_home``, turns on what needs a public repository.

``book_home: ""`` (the book has no public home yet): no launch buttons (Colab, Binder), no repository, issues
or edit buttons, and the Preface tells the reader to install from a clone or from the wheel. ``book_home:
"https://github.com/OWNER/dartslib"``: the Colab and Binder launch buttons and the repository and issues
buttons are on, and the Preface shows ``pip install "dartslib[book] @ git+URL"``.

Jupyter Book 1.x passes ``_config.yml`` to Sphinx as settings; this extension reads ``book_home`` from it when
Sphinx starts (``config-inited``) and sets the theme's options and the pages' substitutions from it, so
nothing else in ``_config.yml`` has to change when the book gets a home.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

NO_HOME_INSTALL = ("the book has no public repository yet, so install from a clone (`pip install -e \".[book]\"` "
                   "in its folder) or from the wheel above")


def home_of(config_yml: Path) -> str:
    """``book_home`` of a ``_config.yml`` (empty: the book has no home)."""
    data = yaml.safe_load(config_yml.read_text()) or {}
    return str(data.get("book_home") or "").strip().rstrip("/")


def settings(home: str) -> dict[str, Any]:
    """What ``book_home`` turns on: theme options and the Preface's substitutions."""
    if not home:
        return {"theme": {"repository_url": "", "use_repository_button": False, "use_issues_button": False,
                          "use_edit_page_button": False,
                          "launch_buttons": {"colab_url": "", "binderhub_url": "", "jupyterhub_url": "",
                                             "deepnote_url": "", "thebe": False}},
                "substitutions": {"repository_url": "(none yet)", "install_from_repository": NO_HOME_INSTALL,
                                  "repository_citation": ""}}
    return {"theme": {"repository_url": home, "use_repository_button": True, "use_issues_button": True,
                      "launch_buttons": {"colab_url": "https://colab.research.google.com",
                                         "binderhub_url": "https://mybinder.org", "notebook_interface": "classic"}},
            "substitutions": {"repository_url": home,
                              "install_from_repository": f'`pip install "dartslib[book] @ git+{home}"`',
                              "repository_citation": f" (with `url = {{{home}}}`)"}}


def _apply(app: Any, config: Any) -> None:
    chosen = settings(home_of(Path(app.srcdir) / "_config.yml"))
    options = dict(config.html_theme_options or {})
    launch = dict(options.get("launch_buttons") or {})
    launch.update(chosen["theme"].pop("launch_buttons"))
    options.update(chosen["theme"], launch_buttons=launch)
    config.html_theme_options = options
    substitutions = dict(getattr(config, "myst_substitutions", None) or {})
    substitutions.update(chosen["substitutions"])
    config.myst_substitutions = substitutions


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _apply)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
