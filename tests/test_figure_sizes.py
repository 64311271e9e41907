"""Every text of the book's figures is displayed at 9 pt or more on the built page.

The page (Jupyter Book 1.x, sphinx-book-theme) embeds a chapter's figure at ``figure.dpi`` CSS px per inch and
shrinks a wider one to its 790-px text column; :func:`dartslib.viz.style.displayed_font_pt` says at which size a
text then shows. Here: the formula, the style's sizes, every figure-producing function of :mod:`dartslib.viz` (and
the book's :class:`~dartslib.book.explorer.Explorer`, :func:`~dartslib.book.new_figure` and the landing page's story
figure) measured text by text, and control figures that the check must flag. The chapters' own figures are checked
on their sources and on the built pages (``tests/page_checks.py``: ``figure_source_findings``,
``check_figure_widths``).
"""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from dartslib.arch.genotype import published_genotype
from dartslib.viz import plots
from dartslib.viz import style as st
from test_plots import synthetic_run

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ the formula

def test_displayed_size_is_the_font_size_scaled_to_the_column():
    # not shrunk: a 6-in figure at 100 CSS px per inch is 600 px < 790; 1 pt = 1/72 in, 1 CSS pt = 96/72 px
    assert st.displayed_font_pt(6.2, 9) == pytest.approx(9 * 100 / 96)
    # shrunk to the column: the dpi cancels out
    assert st.displayed_font_pt(10.2, 9) == pytest.approx(9 * 790 / 10.2 / 96)
    assert st.displayed_font_pt(10.2, 9, dpi=200) == pytest.approx(st.displayed_font_pt(10.2, 9))
    # a {figure} at width 100%: scaled to its column, up or down
    assert st.displayed_font_pt(8.0, 9, dpi=None, column_px=774) == pytest.approx(9 * 774 / 8.0 / 96)
    assert st.displayed_font_pt(4.0, 9, dpi=None) == pytest.approx(9 * 790 / 4.0 / 96)
    with pytest.raises(ValueError):
        st.displayed_font_pt(0, 9)


def test_the_widest_figure_keeps_the_smallest_text_of_the_style_at_9_pt():
    sizes = {k: v for k, v in st.BOOK_RC.items() if k.endswith("size")}
    assert all(isinstance(v, (int, float)) for v in sizes.values()), "named sizes ('small') are relative: use points"
    smallest = min(sizes.values())
    assert smallest >= st.MIN_DISPLAY_PT
    assert st.max_figure_width_in(smallest) >= st.MAX_FIGURE_WIDTH_IN
    saved = st.MAX_FIGURE_WIDTH_IN + 2 * st.SAVE_PAD_IN
    assert st.displayed_font_pt(saved, smallest) >= st.MIN_DISPLAY_PT
    assert st.BOOK_RC["figure.dpi"] == st.FIGURE_DPI


# ------------------------------------------------------------------------------------------ controls

def _figure(width: float, text_pt: float | None = None) -> Figure:
    with st.style():
        fig = Figure(figsize=(width, 3), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot([0, 1], [0, 1], label="a line")
        ax1.legend()
        ax1.set(title="a title", xlabel="x", ylabel="y")
        if text_pt is not None:
            ax2.text(0.5, 0.5, "a note", fontsize=text_pt)
        hidden = ax2.text(0.1, 0.1, "hidden", fontsize=4)
        hidden.set_visible(False)
    return fig


def test_a_legible_figure_passes():
    assert not st.small_texts(_figure(6.0))
    assert not st.small_texts(_figure(st.MAX_FIGURE_WIDTH_IN, text_pt=9))


def test_the_check_flags_a_figure_too_wide_for_the_column():
    small = st.small_texts(_figure(10.5))
    assert small, "a 10.5-in figure is shrunk to 790 px: its 9-pt ticks display at 7 pt"
    assert {text for text, _, _ in small} >= {"a title", "a line", "0.0"}
    assert all(shown == pytest.approx(st.displayed_font_pt(st.saved_width_in(_figure(10.5)), pt))
               for _, pt, shown in small)


def test_the_check_flags_a_font_set_too_small():
    small = st.small_texts(_figure(6.0, text_pt=7))
    assert [text for text, _, _ in small] == ["a note"]
    assert "hidden" not in [t for t, _, _ in st.text_sizes(_figure(6.0))]


def test_the_overlap_check_flags_texts_on_top_of_each_other_and_outside_the_figure():
    with st.style():
        fig = Figure(figsize=(4, 2), layout="constrained")
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "one text", transform=ax.transAxes)
        ax.text(0.52, 0.5, "another", transform=ax.transAxes)
        fig.text(0.9, 0.5, "runs off the right edge")
    found = st.overlapping_texts(fig)
    assert ("one text", "another") in found or ("another", "one text") in found
    assert ("runs off the right edge", "<figure edge>") in found
    assert not st.overlapping_texts(_figure(6.0))


# ------------------------------------------------------------------------------------------ the library's figures

def _library_figures():
    nb201, darts = synthetic_run(space="nb201"), synthetic_run(space="darts")
    runs = [synthetic_run(seed=s, method=m) for s in range(3) for m in ("darts", "fairdarts")]
    gain = {init: [{"epoch": e, "beta": init + 0.1 * e, "test_acc": 50 + e} for e in range(1, 11)]
            for init in (0.0, 0.5, 1.0)}
    out = {f"nb201 {name}": fig for name, fig in plots.standard_figures(nb201)}
    out.update({f"darts {name}": fig for name, fig in plots.standard_figures(darts)
                if not name.endswith("reduce")})  # (the reduction cell's figures are laid out as the normal's)
    out.update({
        "compare_runs": plots.compare_runs(runs),
        "compare_runs, 4 columns": plots.compare_runs(runs, ncols=4),
        "gradient correlation, several runs": plots.plot_gradient_correlation(runs),
        "gradient correlation, 4 cells": plots.plot_gradient_correlation(runs[:2], cells=[0, 1, 2, 3]),
        "op-weight gradients, 3 runs": plots.plot_op_weight_gradients(runs[:3]),
        "training curves, several runs": plots.plot_training_curves(runs),
        "skip counts, several runs": plots.plot_skip_counts(runs, spread="minmax"),
        "weight histogram, several runs": plots.plot_weight_histogram(runs),
        "discretization gap, several runs": plots.plot_discretization_gap(runs),
        "ies, several runs": plots.plot_ies(runs),
        "draw_genotype DARTS_V2": plots.draw_genotype(published_genotype("DARTS_V2"), title="DARTS_V2"),
        "draw_cell DARTS_V2, full op names": plots.draw_cell(published_genotype("DARTS_V2"), "reduce"),
        "residual gain": plots.plot_residual_gain(gain, title="Trainable skip coefficient, small ResNet on digits"),
    })
    return out


FIGURES = _library_figures()


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_text_of_a_library_figure_displays_at_9_pt_or_more_and_overlaps_none(name):
    fig = FIGURES[name]
    assert fig.get_size_inches()[0] <= st.MAX_FIGURE_WIDTH_IN + 1e-9
    small = st.small_texts(fig)
    assert not small, f"{name}: texts displayed below {st.MIN_DISPLAY_PT:g} pt: {small[:5]}"
    if "landscape" not in name:  # (3-D axes: the boxes of rotated labels overlap where the labels do not)
        assert not st.overlapping_texts(fig), name


def test_the_explorer_puts_its_panels_in_rows_that_fit():
    from dartslib.book.explorer import Explorer

    def draw(ax, value, result):
        ax.plot([0, 1], [0, result], label="a line")
        ax.set(xlabel="step", ylabel="op weight")
        ax.legend(loc="upper left")

    explorer = Explorer("c", [0.5, 1.0, 1.5, 3.0, 6.0], compute=lambda c: c, draw=draw, value_format="c = {:g}",
                        panel_size=(2.4, 2.4))
    fig = explorer.static_figure()
    assert fig.get_size_inches()[0] <= st.MAX_FIGURE_WIDTH_IN
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 5
    assert not st.small_texts(fig)
    assert not st.small_texts(explorer.figure(1.0))


def test_a_chapter_figure_wider_than_the_page_allows_is_refused():
    from dartslib.book import new_figure

    assert new_figure(st.MAX_FIGURE_WIDTH_IN, 3).get_size_inches()[0] == st.MAX_FIGURE_WIDTH_IN
    with pytest.raises(ValueError, match="two rows"):
        new_figure(9.0, 3)


def test_the_story_figure_displays_its_text_at_9_pt_or_more():
    """The landing page shows ``_static/story.png`` in a ``{figure}`` at ``:width: 100%``: scaled to 774 px."""
    module = runpy.run_path(str(ROOT / "book" / "figures" / "story.py"))
    fig = module["story_figure"]()
    width = fig.get_size_inches()[0]  # saved without a tight bounding box
    small = st.small_texts(fig, width_in=width, dpi=None, column_px=st.FIGURE_COLUMN_PX)
    assert not small, small[:5]
    assert not st.overlapping_texts(fig)
