"""`render.model_view`: one colour scale, the data of its page, the figure.

Inputs are read as by `head_view` (`test_head_view.py`); what the script draws
is tested in a browser (`test_interactive_browser.py`).
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_attnviz.render import model_view
from keras_attnviz.render.color_scale import ColorScale


@pytest.fixture
def attention(rng):
    """Weights of 3 layers x 4 heads over 6 tokens, as a dict."""
    scores = rng.random((3, 4, 6, 6)) ** 4
    weights = scores / scores.sum(axis=-1, keepdims=True)
    return {f"block_{i}": layer for i, layer in enumerate(weights)}


def _panels(figure):
    return [ax for ax in figure.axes if ax.images]


def test_every_thumbnail_shares_one_scale_up_to_the_largest_weight(attention):
    view = model_view(attention, heads=[1, 3])
    largest = max(layer[[1, 3]].max() for layer in attention.values())
    assert (view.scale.vmin, view.scale.vmax) == (0.0, largest)
    assert view.scale.cmap.name == "Blues"
    data = view._data()
    assert data["kind"] == "model"
    assert data["table"] == view.scale.css_table
    assert (data["vmin"], data["vmax"]) == (0.0, largest)


def test_cmap_vmin_vmax_set_the_scale(attention):
    view = model_view(attention, cmap="magma", vmin=0.1, vmax=0.5)
    assert view.scale.cmap.name == "magma"
    assert (view.scale.vmin, view.scale.vmax) == (0.1, 0.5)
    with pytest.raises(ValueError, match="`vmin` must not exceed `vmax`"):
        model_view(attention, vmin=0.6, vmax=0.5)
    with pytest.raises(ValueError, match="registered matplotlib colormap"):
        model_view(attention, cmap="no such map")


def test_the_page_shows_the_scales_legend(attention):
    view = model_view(attention)
    markup = view.to_html()
    legend = markup.index('class="kav-legend"')
    assert markup.index('class="kav-fallback"') < legend < markup.index("<script>")
    first, last = ColorScale([0.0, view.scale.vmax]).css([0.0, view.scale.vmax])
    assert first in markup[legend:] and last in markup[legend:]


def test_the_figure_is_the_grid_of_thumbnails(attention, monkeypatch):
    monkeypatch.setattr(plt, "show", pytest.fail)
    view = model_view(attention, layers=["block_2", "block_0"], heads=[0, 3])
    figure = view.to_figure()
    assert isinstance(figure, Figure) and plt.get_fignums() == []
    panels = _panels(figure)
    assert len(panels) == 4
    for panel, (layer, head) in zip(
        panels,
        [("block_2", 0), ("block_2", 3), ("block_0", 0), ("block_0", 3)],
        strict=True,
    ):
        np.testing.assert_array_equal(
            panel.images[0].get_array(), attention[layer][head]
        )
        assert (panel.images[0].norm.vmin, panel.images[0].norm.vmax) == (
            view.scale.vmin,
            view.scale.vmax,
        )
        assert panel.get_xticks().size == panel.get_yticks().size == 0
    assert [ax.get_title() for ax in panels] == ["head 0", "head 3", "", ""]
    assert [ax.get_ylabel() for ax in panels] == ["block_2", "", "block_0", ""]
    # The panels of the first layer stand above those of the second.
    assert panels[0].get_position().y0 > panels[2].get_position().y1
    assert len(figure.axes) == len(panels) + 1  # one colour bar


def test_the_rollout_is_a_last_row_of_one_thumbnail(attention):
    from keras_attnviz.analysis import attention_rollout

    view = model_view(attention, rollout=True)
    panels = _panels(view.to_figure())
    assert len(panels) == 3 * 4 + 1
    assert panels[-1].get_ylabel() == "rollout"
    np.testing.assert_allclose(
        panels[-1].images[0].get_array(), attention_rollout(list(attention.values()))
    )
    layer = view._data()["layers"][-1]
    assert (layer["name"], layer["heads"], layer["labels"]) == (
        "rollout",
        [0],
        ["rollout"],
    )
    assert layer["titles"] == ["attention rollout"]


def test_layer_names_are_literal_text(attention):
    view = model_view({"$x^2$": attention["block_0"]})
    first = _panels(view.to_figure())[0]
    assert first.get_ylabel() == "$x^2$"
    assert not first.yaxis.label.get_parse_math()


@pytest.mark.parametrize(
    ("panel_size", "error"), [(0, ValueError), (-1.0, ValueError), ("2", TypeError)]
)
def test_panel_size_must_be_a_positive_number(attention, panel_size, error):
    with pytest.raises(error, match="`panel_size` must be"):
        model_view(attention).to_figure(panel_size=panel_size)


def test_panel_size_sets_the_figure_size(attention):
    small = model_view(attention).to_figure(panel_size=1.0).get_size_inches()
    large = model_view(attention).to_figure(panel_size=2.0).get_size_inches()
    np.testing.assert_allclose(large - small, [4 * 1.0, 3 * 1.0])
