"""Interactive explorers for the book: a slider over one knob when a kernel runs, every setting at once when none does.

A chapter computes a result for each value of a knob (``w01``, ``beta0``, ``t_sp``, ``p``, a learning rate) and
draws one panel per value. In Jupyter, :meth:`Explorer.widget` is a slider that redraws the panel of the chosen
value (the results are computed up front, so moving the slider is instant). The built HTML book has no kernel,
so a slider there cannot redraw anything; :meth:`Explorer.static_figure` draws the panels of every value side by
side, which is what a reader of the HTML sees. Displaying an :class:`Explorer` shows both::

    explorer = Explorer("w01", [0, 1, 10, 100], compute=lambda w01: run_toy(w01=w01),
                        draw=lambda ax, w01, run: ax.hist(run.gates), value_format="w01 = {:g}")
    explorer            # the small multiples, then the slider
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dartslib.viz.plots import style
from dartslib.viz.style import MAX_FIGURE_WIDTH_IN

__all__ = ["Explorer"]

Draw = Callable[[Axes, Any, Any], None]


class Explorer:
    """Results of ``compute(value)`` for every value of a knob, drawn by ``draw(ax, value, result)``.

    Args:
        knob: the knob's name, shown on the slider and in the figure title.
        values: the settings to compute, in slider order (at least one; hashable).
        compute: ``value -> result``; called once per value, here in ``__init__``.
        draw: ``(ax, value, result) -> None``; draws one panel. It should set its own labels; the panel
            title is ``value_format.format(value)`` unless ``draw`` sets one.
        value_format: how a value is written on the slider and in panel titles.
        progress: show a (text) progress bar over the values while computing.
        sharey: panels of the static figure share their y axis (the usual case: compare the settings).
        panel_size: ``(width, height)`` of one panel in inches; the static figure puts as many panels in a row
            as fit in :data:`~dartslib.viz.style.MAX_FIGURE_WIDTH_IN` (so that its text stays legible on the page).
    """

    def __init__(self, knob: str, values: Sequence[Any], compute: Callable[[Any], Any], draw: Draw, *,
                 value_format: str = "{}", progress: bool = False, sharey: bool = True,
                 panel_size: tuple[float, float] = (2.6, 2.2)) -> None:
        values = list(values)
        if not values:
            raise ValueError(f"Explorer({knob!r}): give at least one value of the knob")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"Explorer({knob!r}): the values {values} repeat")
        if not callable(compute) or not callable(draw):
            raise TypeError(f"Explorer({knob!r}): compute and draw must be callables")
        self.knob, self.values, self.draw = knob, values, draw
        self.value_format, self.sharey, self.panel_size = value_format, sharey, panel_size
        iterator = values
        if progress:
            from tqdm.std import tqdm  # text, not a widget: see the module docstring
            iterator = tqdm(values, desc=knob, leave=False)
        self.results: list[Any] = [compute(v) for v in iterator]

    def label(self, value: Any) -> str:
        return self.value_format.format(value)

    def _draw_panel(self, ax: Axes, i: int) -> None:
        self.draw(ax, self.values[i], self.results[i])
        if not ax.get_title():
            ax.set_title(self.label(self.values[i]))

    def figure(self, value: Any) -> Figure:
        """One panel: the result for ``value`` (one of ``values``)."""
        matches = [i for i, v in enumerate(self.values) if repr(v) == repr(value)]
        if not matches:
            raise ValueError(f"{self.knob} = {value!r} was not computed; the explorer has {self.values}")
        width, height = self.panel_size
        with style():
            fig = Figure(figsize=(1.6 * width, 1.4 * height), layout="constrained")
            self._draw_panel(fig.add_subplot(), matches[0])
        return fig

    def static_figure(self, ncols: int | None = None) -> Figure:
        """Every value's panel, in rows of ``ncols`` (default: as few rows as the panels that fit in
        :data:`~dartslib.viz.style.MAX_FIGURE_WIDTH_IN`, at most 5 a row, allow, and the panels spread evenly
        over them: 4 panels that fit 3 a row are 2 + 2)."""
        n = len(self.values)
        width, height = self.panel_size
        fit = min(5, max(1, int(MAX_FIGURE_WIDTH_IN // width)))
        ncols = -(-n // -(-n // fit)) if ncols is None else max(1, min(ncols, n))
        nrows = -(-n // ncols)
        with style():
            fig = Figure(figsize=(min(width * ncols, MAX_FIGURE_WIDTH_IN), height * nrows + 0.3),
                         layout="constrained")
            axes = fig.subplots(nrows, ncols, sharey=self.sharey, squeeze=False).ravel()
            for i in range(n):
                self._draw_panel(axes[i], i)
            for ax in axes[n:]:
                ax.set_visible(False)
            fig.suptitle(f"every setting of {self.knob}")
        return fig

    def widget(self) -> Any:
        """A slider over the values and the panel of the chosen one (needs ``ipywidgets`` and a kernel)."""
        import ipywidgets as widgets
        from IPython.display import display

        options = [(self.label(v), i) for i, v in enumerate(self.values)]
        slider = widgets.SelectionSlider(options=options, value=0, description=self.knob,
                                         continuous_update=False, layout=widgets.Layout(width="420px"))
        out = widgets.Output()

        def show(change: Any = None) -> None:
            out.clear_output(wait=True)
            with out:
                display(self.figure(self.values[slider.value]))

        slider.observe(show, names="value")
        show()
        return widgets.VBox([slider, out])

    def _ipython_display_(self) -> None:
        # The small multiples: all a reader of the HTML book (no kernel, maybe no network for the widgets'
        # JavaScript) can see. The slider is on request (widget()), see the module docstring.
        from IPython.display import Markdown, display
        display(self.static_figure())
        display(Markdown(f"*With a running kernel (Jupyter, Colab), `.widget()` of this explorer gives a slider that "
                         f"shows one setting of {self.knob} at a time, larger.*"))

    def __repr__(self) -> str:
        return f"Explorer({self.knob!r}, values={self.values})"
