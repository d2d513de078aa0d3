"""`render.heads_grid`: panels, titles, one shared colour scale, token labels."""

import io
from types import SimpleNamespace

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_attnviz.render.heads_grid import AVERAGE_TITLE, _HeadsGrid, heads_grid

TOKENS = ["[CLS]", "the", "cat", "$x$", "<b>"]


@pytest.fixture
def attention(rng):
    """Softmax-like weights of 2 layers x 3 heads over 5 tokens."""
    scores = rng.random((2, 3, 5, 5))
    return scores / scores.sum(axis=-1, keepdims=True)


def _panels(figure):
    """The heatmap panels, row by row (the colour bar holds no image)."""
    return [ax for ax in figure.axes if ax.images]


def _visible_labels(axis):
    return [label.get_text() for label in axis.get_ticklabels() if label.get_visible()]


def test_one_panel_per_layer_and_head_with_row_and_column_titles(attention):
    figure = heads_grid(attention, TOKENS)
    panels = _panels(figure)
    assert len(panels) == 6
    for panel, (layer, head) in zip(panels, np.ndindex(2, 3), strict=True):
        np.testing.assert_array_equal(
            panel.images[0].get_array(), attention[layer, head]
        )
    assert [ax.get_title() for ax in panels[:3]] == ["head 0", "head 1", "head 2"]
    assert all(ax.get_title() == "" for ax in panels[3:])
    assert [ax.get_ylabel() for ax in panels[::3]] == ["layer 0", "layer 1"]


def test_returns_a_figure_unknown_to_pyplot(attention, monkeypatch):
    monkeypatch.setattr(plt, "show", pytest.fail)
    figure = heads_grid(attention)
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == []


def test_all_panels_share_one_colour_scale_and_one_colour_bar(attention):
    attention[1, 2, 0, 0] = 3.0
    figure = heads_grid(attention, cmap="magma")
    images = [ax.images[0] for ax in _panels(figure)]
    limits = {(image.norm.vmin, image.norm.vmax) for image in images}
    assert limits == {(0.0, 3.0)}
    assert {image.get_cmap().name for image in images} == {"magma"}
    assert len(figure.axes) == len(images) + 1
    without_bar = heads_grid(attention, cbar=False)
    assert len(without_bar.axes) == len(_panels(without_bar)) == 6


def test_vmin_vmax_apply_to_every_panel(attention):
    figure = heads_grid(attention, vmin=0.1, vmax=0.5)
    limits = {
        (ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in _panels(figure)
    }
    assert limits == {(0.1, 0.5)}


def test_average_column_is_the_mean_over_the_heads(attention):
    figure = heads_grid(attention, average=True)
    panels = np.array(_panels(figure)).reshape(2, 4)
    assert panels[0, 3].get_title() == AVERAGE_TITLE
    for layer in range(2):
        np.testing.assert_allclose(
            panels[layer, 3].images[0].get_array(), attention[layer].mean(axis=0)
        )


def test_average_is_over_the_selected_heads(attention):
    grid = _HeadsGrid(attention, heads=[0, 2], average=True)
    np.testing.assert_allclose(grid.panels[:, 2], attention[:, [0, 2]].mean(axis=1))


def test_tokens_label_the_outer_panels_only(attention):
    panels = np.array(_panels(heads_grid(attention, TOKENS))).reshape(2, 3)
    for ax in panels[-1]:
        assert _visible_labels(ax.xaxis) == TOKENS
    for ax in panels[:, 0]:
        assert _visible_labels(ax.yaxis) == TOKENS
    assert _visible_labels(panels[0, 1].xaxis) == []
    assert _visible_labels(panels[0, 1].yaxis) == []
    # Tokens are literal text there too.
    label = panels[-1, 0].get_xticklabels()[3]
    assert label.get_text() == "$x$" and not label.get_parse_math()


def test_query_tokens_label_the_rows(rng):
    weights = rng.random((1, 2, 3, 4))
    grid = _HeadsGrid(weights, ["a", "b", "c", "d"], ["x", "y", "z"])
    assert grid.x_labels == ["a", "b", "c", "d"]
    assert grid.y_labels == ["x", "y", "z"]
    # Self-attention (as many queries as keys): the tokens label both axes.
    square = _HeadsGrid(rng.random((1, 2, 3, 3)), ["a", "b", "c"])
    assert square.y_labels == ["a", "b", "c"]


def test_dict_of_layers_uses_their_names(attention):
    figure = heads_grid({"encoder": attention[0], "decoder": attention[1]})
    panels = _panels(figure)
    assert [ax.get_ylabel() for ax in panels[::3]] == ["layer encoder", "layer decoder"]
    np.testing.assert_array_equal(panels[3].images[0].get_array(), attention[1, 0])


def test_hostile_layer_names_are_drawn_literally(attention):
    name = "$\\frac{$<script>"
    figure = heads_grid({name: attention[0]}, heads=[0])
    # Invalid mathtext: drawing raises if `$` were interpreted.
    figure.savefig(io.BytesIO(), format="png")
    assert _panels(figure)[0].get_ylabel() == f"layer {name}"


def test_layers_and_heads_select_by_name_or_position(attention):
    named = _HeadsGrid({"enc": attention[0], "dec": attention[1]}, layers="dec")
    np.testing.assert_array_equal(named.panels, attention[[1]])
    assert named.row_titles == ["layer dec"]
    grid = _HeadsGrid(attention, layers=[1], heads=[2, 0])
    np.testing.assert_array_equal(grid.panels, attention[[1]][:, [2, 0]])
    assert grid.column_titles == ["head 2", "head 0"]
    last = _HeadsGrid(attention, layers=-1, heads=-1)
    assert last.row_titles == ["layer 1"] and last.column_titles == ["head 2"]
    figure = heads_grid(attention, layers=[0], heads=[1])
    assert len(_panels(figure)) == 1


def test_a_single_layer_of_heads_is_one_row(attention):
    grid = _HeadsGrid(attention[0])
    assert grid.panels.shape == (1, 3, 5, 5)
    assert grid.row_titles == ["layer 0"]


def test_attention_maps_bring_their_tokens_and_layer_name(attention):
    attention_map = SimpleNamespace(
        weights=attention[0], tokens=TOKENS, query_tokens=None, layer="mha"
    )
    grid = _HeadsGrid(attention_map)
    assert grid.row_titles == ["layer mha"]
    assert grid.x_labels == TOKENS and grid.y_labels == TOKENS
    in_dict = _HeadsGrid({"block 1": attention_map, "block 2": attention[1]})
    assert in_dict.row_titles == ["layer block 1", "layer block 2"]
    assert in_dict.x_labels == TOKENS


def test_saves_a_png_with_agg(attention):
    buffer = io.BytesIO()
    heads_grid(attention, TOKENS, average=True).savefig(buffer, format="png")
    buffer.seek(0)
    pixels = matplotlib.image.imread(buffer, format="png")
    assert pixels.ndim == 3 and pixels.shape[0] > 100


@pytest.mark.parametrize(
    "weights, kwargs, error, message",
    [
        (np.zeros((2, 2)), {}, ValueError, "3-D or 4-D"),
        (np.full((1, 1, 2, 2), np.nan), {}, ValueError, "NaN"),
        ([[["a"]]], {}, TypeError, "numeric"),
        ({}, {}, ValueError, "at least one layer"),
        ({"a": np.zeros((2, 3, 3)), "b": np.zeros((2, 4, 4))}, {}, ValueError, "same"),
        ({"a": np.zeros((1, 2, 2, 2))}, {}, ValueError, r"`weights\['a'\]`"),
        (np.zeros((2, 3, 4, 4)), {"layers": ["enc"]}, ValueError, "`layers`.*'enc'"),
        (np.zeros((2, 3, 4, 4)), {"layers": [2]}, ValueError, "`layers`"),
        (np.zeros((2, 3, 4, 4)), {"heads": [3]}, ValueError, "`heads`.*3"),
        (np.zeros((2, 3, 4, 4)), {"heads": [True]}, ValueError, "`heads`"),
        (np.zeros((2, 3, 4, 4)), {"heads": []}, ValueError, "at least one"),
        (np.zeros((2, 3, 4, 4)), {"heads": 1.5}, TypeError, "`heads`"),
        (np.zeros((2, 3, 4, 4)), {"tokens": ["a"]}, ValueError, "1 labels and 4"),
        (np.zeros((2, 3, 4, 4)), {"tokens": 4}, TypeError, "`tokens`"),
        (np.zeros((1, 1, 2, 3)), {"query_tokens": "abc"}, ValueError, "3 labels"),
        (np.zeros((2, 3, 4, 4)), {"average": "yes"}, TypeError, "`average`"),
        (np.zeros((2, 3, 4, 4)), {"panel_size": 0}, ValueError, "`panel_size`"),
        (np.zeros((2, 3, 4, 4)), {"panel_size": "2"}, TypeError, "`panel_size`"),
        (np.zeros((2, 3, 4, 4)), {"vmin": 1, "vmax": 0}, ValueError, "`vmin`"),
    ],
)
def test_bad_arguments_raise_keras_style_errors(weights, kwargs, error, message):
    with pytest.raises(error, match=message):
        heads_grid(weights, **kwargs)


def test_draws_probe_attention_maps(attention):
    from keras_attnviz.probe.results import AttentionMap

    encoder = AttentionMap(attention[0], TOKENS, TOKENS, layer="encoder")
    figure = heads_grid({"encoder": encoder, "decoder": attention[1]}, heads=[0])
    panels = _panels(figure)
    assert [ax.get_ylabel() for ax in panels] == ["layer encoder", "layer decoder"]
    assert _visible_labels(panels[-1].xaxis) == TOKENS
    np.testing.assert_array_equal(panels[0].images[0].get_array(), attention[0, 0])
    single = _HeadsGrid(encoder)
    assert single.row_titles == ["layer encoder"] and single.x_labels == TOKENS
