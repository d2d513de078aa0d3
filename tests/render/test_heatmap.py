"""`render.heatmap`, checked by what it drew: the image, tick labels and texts."""

import io
import pickle
from types import SimpleNamespace

import matplotlib
import matplotlib.colors
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_attnviz.render._label_layout import MAX_TICK_LABELS
from keras_attnviz.render.heatmap import _HeatmapPlotter, heatmap

HOSTILE_TOKENS = [
    "$\\alpha$",
    "<script>alert(1)</script>",
    "$\\frac{$",
    "a$b",
    '"><img src=x onerror=alert(1)>',
    "\\$",
]


def _axes(figsize=(6, 4)):
    return plt.subplots(figsize=figsize)[1]


def _tick_texts(labels):
    return [label.get_text() for label in labels]


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    buffer.seek(0)
    return matplotlib.image.imread(buffer, format="png")


def _pixel_at_cell(ax, pixels, row, column):
    """The RGB pixel at the centre of cell (row, column) of a saved figure."""
    x, y = ax.transData.transform((column, row))
    return pixels[int(round(pixels.shape[0] - y)), int(round(x)), :3]


def _luminance(rgb):
    return float(np.dot(rgb, [0.2126, 0.7152, 0.0722]))


# --- what is drawn -----------------------------------------------------------


def test_2d_weights_are_drawn_as_one_image_of_the_weights(rng):
    weights = rng.random((3, 5))
    ax = heatmap(weights, ax=_axes())
    assert len(ax.images) == 1
    image = ax.images[0]
    np.testing.assert_array_equal(image.get_array(), weights)
    assert image.get_interpolation() == "nearest"
    # Row 0 on top, like a matrix.
    assert ax.get_ylim() == (2.5, -0.5)


def test_1d_weights_are_drawn_as_a_one_row_strip(rng):
    weights = rng.random(7)
    tokens = [f"w{i}" for i in range(7)]
    ax = heatmap(weights, tokens, ax=_axes())
    np.testing.assert_array_equal(ax.images[0].get_array(), weights[np.newaxis])
    assert _tick_texts(ax.get_xticklabels()) == tokens
    assert list(ax.get_xticks()) == list(range(7))
    assert list(ax.get_yticks()) == []


def test_strip_takes_a_single_row_label(rng):
    ax = heatmap(rng.random(3), "abc", ["doc 1"], ax=_axes())
    assert _tick_texts(ax.get_xticklabels()) == ["a", "b", "c"]
    assert _tick_texts(ax.get_yticklabels()) == ["doc 1"]


def test_tokens_become_tick_labels_at_the_cell_centres(rng):
    keys, queries = ["le", "chat", "noir"], ["the", "black", "cat", "."]
    ax = heatmap(rng.random((4, 3)), keys, queries, ax=_axes())
    assert _tick_texts(ax.get_xticklabels()) == keys
    assert _tick_texts(ax.get_yticklabels()) == queries
    assert list(ax.get_xticks()) == [0, 1, 2]
    assert list(ax.get_yticks()) == [0, 1, 2, 3]


def test_bytes_tokens_label_and_annotate_as_their_text(rng):
    tokens = np.array([b"caf\xc3\xa9", b"au"])
    ax = heatmap(
        rng.random((2, 2)), tokens, [b"x", "y"], annot=[tokens] * 2, ax=_axes()
    )
    assert _tick_texts(ax.get_xticklabels()) == ["caf\u00e9", "au"]
    assert _tick_texts(ax.get_yticklabels()) == ["x", "y"]
    written = sorted(text.get_text() for text in ax.texts)
    assert written == ["au", "au", "caf\u00e9", "caf\u00e9"]


def test_cells_are_numbered_without_labels(rng):
    ax = heatmap(rng.random((2, 3)), ax=_axes())
    assert _tick_texts(ax.get_xticklabels()) == ["0", "1", "2"]
    assert _tick_texts(ax.get_yticklabels()) == ["0", "1"]


def test_too_many_tokens_keep_every_kth_label(rng):
    tokens = [f"token{i}" for i in range(300)]
    ax = heatmap(rng.random((2, 300)), tokens, ax=_axes())
    ticks = list(ax.get_xticks())
    step = ticks[1] - ticks[0]
    assert step > 1
    assert len(ticks) <= MAX_TICK_LABELS
    assert ticks == list(range(0, 300, step))
    assert _tick_texts(ax.get_xticklabels()) == tokens[::step]


def test_thinning_is_decided_from_the_axes_size(rng):
    tokens = [str(i) for i in range(40)]
    small = heatmap(rng.random((40, 40)), tokens, tokens, ax=_axes((2, 2)))
    large = heatmap(rng.random((40, 40)), tokens, tokens, ax=_axes((16, 12)))
    assert len(small.get_yticks()) < len(large.get_yticks()) == 40
    assert len(small.get_xticks()) < len(large.get_xticks()) == 40


def test_long_labels_turn_vertical_and_short_ones_stay_upright(rng):
    short = heatmap(rng.random(4), ["a", "b", "c", "d"], ax=_axes((8, 2)))
    assert {label.get_rotation() for label in short.get_xticklabels()} == {0}
    words = ["internationalisation"] * 12
    long = heatmap(rng.random(12), words, ax=_axes((8, 2)))
    assert {label.get_rotation() for label in long.get_xticklabels()} == {90}


def test_draws_into_the_current_axes_by_default(rng):
    fig, (left, right) = plt.subplots(1, 2)
    plt.sca(left)
    ax = heatmap(rng.random((2, 2)))
    assert ax is left
    assert len(left.images) == 1 and not right.images


def test_returns_the_given_axes(rng):
    ax = _axes()
    assert heatmap(rng.random((2, 2)), ax=ax) is ax


def test_never_shows(monkeypatch, rng):
    def fail(*args, **kwargs):
        raise AssertionError("heatmap must not show the figure")

    monkeypatch.setattr(plt, "show", fail)
    monkeypatch.setattr(matplotlib.figure.Figure, "show", fail)
    ax = heatmap(rng.random((3, 3)), annot=True, ax=_axes())
    ax.figure.canvas.draw()


def test_colour_bar_is_optional(rng):
    with_bar = heatmap(rng.random((2, 2)), ax=_axes())
    assert len(with_bar.figure.axes) == 2
    colorbar = with_bar.images[0].colorbar
    assert colorbar is not None and colorbar.ax in with_bar.figure.axes
    without = heatmap(rng.random((2, 2)), ax=_axes(), cbar=False)
    assert without.figure.axes == [without]


def test_default_scale_runs_from_zero_to_the_largest_weight():
    ax = heatmap([[0.2, 0.5], [0.1, 0.4]], ax=_axes())
    norm = ax.images[0].norm
    assert (norm.vmin, norm.vmax) == (0.0, 0.5)
    assert ax.images[0].get_cmap().name == "Blues"


def test_negative_scores_get_a_diverging_scale_centred_on_zero():
    ax = heatmap([[-2.0, 1.0], [0.5, 0.0]], ax=_axes())
    norm = ax.images[0].norm
    assert (norm.vmin, norm.vmax) == (-2.0, 2.0)
    assert ax.images[0].get_cmap().name == "RdBu_r"


def test_cmap_vmin_vmax_are_used(rng):
    ax = heatmap(rng.random((2, 2)), ax=_axes(), cmap="viridis", vmin=0.1, vmax=2)
    image = ax.images[0]
    assert image.get_cmap().name == "viridis"
    assert (image.norm.vmin, image.norm.vmax) == (0.1, 2.0)


def test_kwargs_go_to_imshow(rng):
    ax = heatmap(rng.random((2, 2)), ax=_axes(), alpha=0.5, aspect="equal")
    assert ax.images[0].get_alpha() == 0.5
    assert ax.get_aspect() == 1.0


def test_attention_map_labels_keys_across_and_queries_down(rng):
    attention_map = SimpleNamespace(
        weights=rng.random((2, 3)), tokens=["a", "b", "c"], query_tokens=["x", "y"]
    )
    ax = heatmap(attention_map, ax=_axes())
    np.testing.assert_array_equal(ax.images[0].get_array(), attention_map.weights)
    assert _tick_texts(ax.get_xticklabels()) == ["a", "b", "c"]
    assert _tick_texts(ax.get_yticklabels()) == ["x", "y"]


def test_accepts_lists_and_integer_weights():
    ax = heatmap([1, 2, 3], ax=_axes())
    np.testing.assert_array_equal(ax.images[0].get_array(), [[1.0, 2.0, 3.0]])


# --- annotations ---------------------------------------------------------------


def test_annot_writes_each_value_with_fmt_at_its_cell(rng):
    weights = rng.random((3, 4))
    ax = heatmap(weights, annot=True, fmt=".1%", ax=_axes())
    assert len(ax.texts) == 12
    for text in ax.texts:
        column, row = text.get_position()
        assert text.get_text() == format(weights[row, column], ".1%")
        assert text.get_horizontalalignment() == "center"


def test_annot_array_writes_tokens_in_the_cells(rng):
    tokens = np.array([["le", "chat"], ["the", "cat"]])
    ax = heatmap(rng.random((2, 2)), annot=tokens, ax=_axes())
    written = {text.get_position(): text.get_text() for text in ax.texts}
    assert written == {(0, 0): "le", (1, 0): "chat", (0, 1): "the", (1, 1): "cat"}


def test_annot_on_a_strip_writes_one_row(rng):
    ax = heatmap([0.25, 0.75], ["a", "b"], annot=True, fmt=".2f", ax=_axes())
    written = {text.get_position(): text.get_text() for text in ax.texts}
    assert written == {(0, 0): "0.25", (1, 0): "0.75"}


def test_text_is_white_on_dark_cells_and_black_on_light_ones():
    ax = heatmap([[0.0, 1.0]], annot=True, ax=_axes())
    colors = {
        text.get_text(): matplotlib.colors.to_hex(text.get_color()) for text in ax.texts
    }
    assert colors == {"0.00": "#000000", "1.00": "#ffffff"}


def test_annotations_shrink_to_fit_small_cells(rng):
    few = heatmap(rng.random((2, 2)), annot=True, ax=_axes((6, 6)))
    many = heatmap(rng.random((40, 40)), annot=True, ax=_axes((6, 6)))
    assert {text.get_fontsize() for text in few.texts} == {
        matplotlib.rcParams["font.size"]
    }
    assert max(text.get_fontsize() for text in many.texts) < 6


def test_annotations_are_drawn_on_agg_and_in_vector_output(rng):
    weights = np.array([[1.0, 0.0]])
    ax = heatmap(weights, annot=[["X", "Y"]], ax=_axes((4, 2)), cbar=False)
    pixels = _png(ax.figure)
    x0, y0 = ax.transData.transform((-0.5, 0.5))
    x1, y1 = ax.transData.transform((0.5, -0.5))
    height = pixels.shape[0]
    cell = pixels[
        int(height - y1) + 2 : int(height - y0) - 2, int(x0) + 2 : int(x1) - 2
    ]
    # White text on the darkest cell: some bright pixels among dark ones.
    brightness = cell[..., :3].mean(axis=-1)
    assert brightness.min() < 0.3 and brightness.max() > 0.9
    svg = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        ax.figure.savefig(svg, format="svg")
    assert ">X</text>" in svg.getvalue() and ">Y</text>" in svg.getvalue()


def test_annotated_figure_can_be_pickled_after_drawing(rng):
    ax = heatmap(rng.random((2, 2)), annot=True, ax=_axes())
    ax.figure.canvas.draw()
    copy = pickle.loads(pickle.dumps(ax.figure))
    copy.canvas.draw()
    assert len(copy.axes[0].texts) == 4


# --- masks and padding -------------------------------------------------------------


def test_mask_hides_cells_from_image_text_and_scale():
    weights = np.array([[0.2, 0.4, 9.0], [0.1, 0.3, np.nan]])
    mask = np.array([[False, False, True], [False, False, True]])
    ax = heatmap(weights, mask=mask, annot=True, ax=_axes())
    drawn = ax.images[0].get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(drawn), mask)
    np.testing.assert_array_equal(drawn[~mask], weights[~mask])
    assert ax.images[0].norm.vmax == 0.4
    assert {text.get_position() for text in ax.texts} == {
        (0, 0),
        (1, 0),
        (0, 1),
        (1, 1),
    }


def test_hidden_cells_are_transparent_in_the_png():
    weights = np.array([[1.0, 1.0]])
    ax = heatmap(weights, mask=np.array([[False, True]]), ax=_axes(), cbar=False)
    pixels = _png(ax.figure)
    assert _luminance(_pixel_at_cell(ax, pixels, 0, 0)) < 0.2
    # The white Axes background shows through the hidden cell.
    np.testing.assert_allclose(_pixel_at_cell(ax, pixels, 0, 1), [1, 1, 1])


# --- Agg output ------------------------------------------------------------------


def test_png_is_dark_at_the_heaviest_cell_and_light_at_the_lightest(rng):
    assert matplotlib.get_backend().lower() == "agg"
    weights = rng.random((5, 6))
    ax = heatmap(weights, ax=_axes())
    pixels = _png(ax.figure)
    heaviest = np.unravel_index(np.argmax(weights), weights.shape)
    lightest = np.unravel_index(np.argmin(weights), weights.shape)
    expected = ax.images[0].cmap(ax.images[0].norm(weights[heaviest]))[:3]
    np.testing.assert_allclose(
        _pixel_at_cell(ax, pixels, *heaviest), expected, atol=2 / 255
    )
    assert _luminance(_pixel_at_cell(ax, pixels, *heaviest)) < 0.25
    assert _luminance(_pixel_at_cell(ax, pixels, *lightest)) > 0.8


# --- hostile tokens -------------------------------------------------------------------


def test_hostile_tokens_are_drawn_literally():
    ax = heatmap(
        np.ones((len(HOSTILE_TOKENS), len(HOSTILE_TOKENS))),
        HOSTILE_TOKENS,
        HOSTILE_TOKENS,
        annot=np.array([HOSTILE_TOKENS] * len(HOSTILE_TOKENS)),
        ax=_axes((12, 10)),
    )
    # `$\frac{$` is invalid mathtext: drawing raises if `$` were interpreted.
    ax.figure.canvas.draw()
    assert _tick_texts(ax.get_xticklabels()) == HOSTILE_TOKENS
    assert _tick_texts(ax.get_yticklabels()) == HOSTILE_TOKENS
    assert {text.get_text() for text in ax.texts} == set(HOSTILE_TOKENS)
    labels = ax.get_xticklabels() + ax.get_yticklabels() + ax.texts
    assert not any(label.get_parse_math() for label in labels)
    # Drawn as its eight characters, not as a one-letter alpha.
    alpha = ax.get_yticklabels()[0].get_window_extent()
    assert alpha.width > 3 * alpha.height


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tokens=st.lists(
        st.text(
            st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=8
        ),
        min_size=1,
        max_size=6,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_tokens_become_their_own_tick_labels(tokens, seed):
    weights = np.random.default_rng(seed).random(len(tokens))
    fig, ax = plt.subplots(figsize=(12, 2))
    try:
        heatmap(weights, tokens, ax=ax, annot=np.array(tokens))
        fig.canvas.draw()
        assert _tick_texts(ax.get_xticklabels()) == tokens
        assert [text.get_text() for text in ax.texts] == tokens
    finally:
        plt.close(fig)


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_raise_naming_them(bad):
    with pytest.raises(ValueError, match="NaN|inf"):
        heatmap([[0.1, bad]], ax=_axes())


def test_nan_outside_the_mask_still_raises():
    mask = np.array([[True, False]])
    with pytest.raises(ValueError, match="NaN"):
        heatmap([[np.nan, np.nan]], mask=mask, ax=_axes())


def test_label_count_mismatch_states_both_lengths(rng):
    with pytest.raises(ValueError, match="`x_labels`.*3 labels and 4 columns"):
        heatmap(rng.random((2, 4)), ["a", "b", "c"], ax=_axes())
    with pytest.raises(ValueError, match="`y_labels`.*1 labels and 2 rows"):
        heatmap(rng.random((2, 4)), None, ["q"], ax=_axes())
    with pytest.raises(ValueError, match="`y_labels`.*2 labels and 1 rows"):
        heatmap(rng.random(4), None, ["q", "r"], ax=_axes())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"weights": [["a", "b"]]}, TypeError, "numeric"),
        ({"weights": None}, TypeError, "Received: None"),
        ({"weights": np.zeros((2, 2, 2))}, ValueError, "heads_grid"),
        ({"weights": np.zeros(0)}, ValueError, "empty"),
        ({"x_labels": 3}, TypeError, "`x_labels`"),
        ({"annot": np.zeros((3, 2))}, ValueError, "`annot`.*shape"),
        ({"annot": True, "fmt": "%d"}, ValueError, "`fmt`"),
        ({"mask": np.zeros((2, 2), dtype=int)}, TypeError, "`mask`.*boolean"),
        ({"mask": np.zeros((2, 3), dtype=bool)}, ValueError, "`mask`.*shape"),
        ({"vmin": 1.0, "vmax": 0.5}, ValueError, "`vmin`"),
        ({"cmap": "no-such-map"}, ValueError, "`cmap`"),
        ({"norm": matplotlib.colors.LogNorm()}, TypeError, "`norm`"),
    ],
)
def test_bad_arguments_raise_keras_style_errors(kwargs, error, message):
    arguments = {"weights": np.eye(2), **kwargs}
    with pytest.raises(error, match=message):
        heatmap(ax=_axes(), **arguments)


def test_checks_happen_before_anything_is_drawn():
    ax = _axes()
    with pytest.raises(ValueError):
        heatmap([[0.1, np.nan]], ax=ax)
    assert not ax.images and ax.figure.axes == [ax]


def test_plotter_converts_without_drawing():
    plotter = _HeatmapPlotter(
        [0.5, 0.25], ["a", "b"], annot=True, mask=np.array([False, True])
    )
    assert plt.get_fignums() == []
    assert plotter.data.shape == (1, 2)
    assert plotter.x_labels == ["a", "b"] and plotter.y_labels == []
    assert plotter.annotations.tolist() == [["0.50", None]]
    assert (plotter.scale.vmin, plotter.scale.vmax) == (0.0, 0.5)


def test_draws_the_probe_attention_map(rng):
    from keras_attnviz.probe.results import AttentionMap

    weights = rng.random((2, 3))
    attention_map = AttentionMap(weights, ["a", "b", "c"], ["x", "y"], layer="attn")
    ax = heatmap(attention_map, annot=True, ax=_axes())
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)
    assert _tick_texts(ax.get_xticklabels()) == ["a", "b", "c"]
    assert _tick_texts(ax.get_yticklabels()) == ["x", "y"]
    # Explicit labels win over the map's tokens.
    relabelled = heatmap(attention_map, ["k1", "k2", "k3"], ax=_axes())
    assert _tick_texts(relabelled.get_xticklabels()) == ["k1", "k2", "k3"]
