"""dartslib.book.explorer: results computed once per knob value, one panel per value, clear errors."""
import pytest

from dartslib.book.explorer import Explorer


def _draw(ax, value, result):
    ax.plot([0, 1], [0, result])


def test_computes_each_value_once_in_order():
    calls = []
    explorer = Explorer("w01", [0, 1, 10], compute=lambda v: calls.append(v) or v * 2, draw=_draw,
                        progress=False)
    assert calls == [0, 1, 10]
    assert explorer.results == [0, 2, 20]


def test_static_figure_has_a_panel_per_value_titled_by_value():
    explorer = Explorer("beta0", [0.0, 0.5, 1.0, 2.0], compute=float, draw=_draw, progress=False,
                        value_format="beta0 = {:g}")
    fig = explorer.static_figure(ncols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["beta0 = 0", "beta0 = 0.5", "beta0 = 1", "beta0 = 2"]
    assert len(fig.axes) == 6          # 2 rows of 3, the last two hidden
    assert visible[3].lines[0].get_ydata()[1] == 2.0


def test_single_panel_and_unknown_value():
    explorer = Explorer("p", [0.1, 0.9], compute=lambda v: v, draw=_draw, progress=False)
    assert explorer.figure(0.9).axes[0].lines[0].get_ydata()[1] == 0.9
    with pytest.raises(ValueError, match="p = 0.5 was not computed"):
        explorer.figure(0.5)


def test_widget_redraws_on_slider_move():
    pytest.importorskip("ipywidgets")
    explorer = Explorer("lr", [1e-3, 1e-2], compute=lambda v: v, draw=_draw, progress=False)
    box = explorer.widget()
    slider, out = box.children
    assert [label for label, _ in slider.options] == ["0.001", "0.01"]
    slider.value = 1                   # must not raise; the panel is redrawn into `out`


@pytest.mark.parametrize("values, error", [([], "at least one value"), ([1, 1], "repeat")])
def test_bad_values(values, error):
    with pytest.raises(ValueError, match=error):
        Explorer("k", values, compute=lambda v: v, draw=_draw, progress=False)


def test_displaying_an_explorer_shows_the_small_multiples_and_no_live_widget(monkeypatch):
    """The built book (executed headless) gets the static figure and a note; the slider is on request, because
    a headless execution sometimes never returns from a cell that displays an ipywidgets.Output."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    explorer = Explorer("p", [0.1, 0.9], compute=lambda v: v, draw=_draw)
    explorer._ipython_display_()
    kinds = [type(o).__name__ for o in shown]
    assert kinds == ["Figure", "Markdown"] and ".widget()" in shown[1].data
    assert type(explorer.widget()).__name__ == "VBox"   # control: the slider is still there, on request
