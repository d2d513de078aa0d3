"""`render.head_view`: inputs, the data in the page, the page itself, the figure.

What the script draws is tested in a browser (`test_interactive_browser.py`);
here, what it is given.
"""

import base64
import json
import re
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from keras_attnviz.probe.results import ProbeResult
from keras_attnviz.render import head_view, model_view
from keras_attnviz.render._view_script import SCRIPT
from keras_attnviz.render.head_view import MAX_LINES, ROLLOUT_COLOR, floor_bin

TOKENS = ["[CLS]", "the", "cat", "$x$", "<b>"]
HOSTILE = [
    "</script><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<!--",
    "a\u2028b\u2029c",
    "&amp;",
]


def softmax_rows(scores):
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


@pytest.fixture
def attention(rng):
    """Weights of 2 layers x 3 heads over 5 tokens, as a dict."""
    weights = softmax_rows(3 * rng.standard_normal((2, 3, 5, 5)))
    return {"block_1": weights[0], "block_2": weights[1]}


def page_data(markup):
    """The id and the data that the view's script is called with."""
    call = re.search(r"\)\((\"kav-[0-9a-f]{32}\"), (.*)\);\n</script>", markup, re.S)
    return json.loads(call.group(1)), json.loads(call.group(2))


def levels(layer):
    """The weights a page holds for one layer, decoded as its script does."""
    raw = np.frombuffer(base64.b64decode(layer["weights"]), dtype=np.uint8)
    peaks = np.array(layer["peaks"])[:, None]
    return (raw.reshape(len(peaks), -1) * peaks / 255).ravel()


# --- inputs -------------------------------------------------------------------


def test_a_dict_of_layers_in_its_order_with_tokens_on_both_sides(attention):
    view = head_view(attention, TOKENS)
    assert view.layers.names == ["block_1", "block_2"]
    np.testing.assert_array_equal(view.layers.weights[1], attention["block_2"])
    assert view.layers.heads == [[0, 1, 2], [0, 1, 2]]
    assert view.layers.tokens == view.layers.query_tokens == TOKENS


def test_layers_and_heads_pick_by_name_or_position_in_the_order_given(attention):
    view = head_view(attention, TOKENS, layers=["block_2", 0], heads=[2, 0])
    assert view.layers.names == ["block_2", "block_1"]
    np.testing.assert_array_equal(view.layers.weights[0], attention["block_2"][[2, 0]])
    assert view.layers.heads == [[2, 0], [2, 0]]
    assert head_view(attention, layers="block_2", heads=1).layers.heads == [[1]]


def test_without_tokens_positions_label_queries_and_keys(attention):
    view = head_view(attention)
    assert view.layers.tokens == view.layers.query_tokens == ["0", "1", "2", "3", "4"]


def test_cross_attention_keeps_query_tokens_apart(rng):
    weights = softmax_rows(rng.standard_normal((2, 3, 4)))
    view = head_view(
        {"cross": weights}, ["le", "chat", "noir", "."], query_tokens=["a", "b", "c"]
    )
    assert view.layers.tokens == ["le", "chat", "noir", "."]
    assert view.layers.query_tokens == ["a", "b", "c"]
    with pytest.raises(
        ValueError, match="`query_tokens` must have one label per query"
    ):
        head_view({"cross": weights}, query_tokens=["only one"])


def test_one_head_layers_and_attention_maps_are_accepted(rng):
    result = _encoder_result(rng)
    amap = result.sample(1, "encoder/att", tokens=list("abcd"))
    view = head_view(amap)
    assert view.layers.names == ["encoder/att"]
    assert view.layers.tokens == ["a", "b", "c"]
    single = head_view({"attention": amap.weights[0]}, ["a", "b", "c"])
    assert single.layers.heads == [[0]]
    assert single.layers.weights[0].shape == (1, 3, 3)


def _encoder_result(rng):
    """Two samples, the second post-padded by one, two self-attention layers."""
    mask = np.array([[True] * 4, [True, True, True, False]])
    weights = softmax_rows(
        rng.standard_normal((2, 2, 4, 4)) + np.where(mask, 0, -1e9)[:, None, None]
    )
    return ProbeResult(
        np.zeros((2, 1)),
        {"encoder/att": weights, "encoder/att_1": weights[:, ::-1]},
        key_masks={"encoder/att": mask, "encoder/att_1": mask},
        query_masks={"encoder/att": mask, "encoder/att_1": mask},
        self_attention={"encoder/att", "encoder/att_1"},
    )


def test_a_probe_result_shows_one_sample_without_its_padding(rng):
    result = _encoder_result(rng)
    view = head_view(result, list("wxyz"), sample=1)
    assert view.layers.names == ["encoder/att", "encoder/att_1"]
    assert view.layers.tokens == view.layers.query_tokens == ["w", "x", "y"]
    np.testing.assert_array_equal(
        view.layers.weights[1], result.attention["encoder/att_1"][1][:, :3, :3]
    )


def test_a_probe_result_with_several_samples_needs_sample(rng):
    result = _encoder_result(rng)
    with pytest.raises(ValueError, match="`sample` must say which of the 2 samples"):
        head_view(result)
    with pytest.raises(ValueError, match="one of the 2 samples. Received: sample=2"):
        head_view(result, sample=2)
    with pytest.raises(TypeError, match="`sample` must be an int, a position among"):
        head_view(result, sample="0")
    with pytest.raises(TypeError, match="`sample` picks a sample of a probe result"):
        head_view({"a": np.ones((1, 2, 2)) / 2}, sample=0)


def _seq2seq_result(rng):
    """An encoder's self-attention over 4 tokens, a decoder's cross-attention
    from 3 queries, the last one padding."""
    key_mask = np.ones((1, 4), dtype=bool)
    query_mask = np.array([[True, True, False]])
    return ProbeResult(
        np.zeros((1, 1)),
        {
            "encoder": softmax_rows(rng.standard_normal((1, 2, 4, 4))),
            "cross": softmax_rows(rng.standard_normal((1, 2, 3, 4))),
        },
        key_masks={"encoder": key_mask, "cross": key_mask},
        query_masks={"encoder": key_mask, "cross": query_mask},
        self_attention={"encoder"},
    )


def test_a_probe_results_cross_attention_takes_query_tokens(rng):
    result = _seq2seq_result(rng)
    source, target = ["le", "chat", "noir", "."], ["the", "cat", "<pad>"]
    view = head_view(result, source, query_tokens=target, layers="cross")
    assert view.layers.tokens == source
    assert view.layers.query_tokens == ["the", "cat"]
    # Without query tokens, the queries are numbered, not the keys' tokens.
    assert head_view(result, source, layers="cross").layers.query_tokens == ["0", "1"]
    with pytest.raises(ValueError, match="all self-attention or all cross-attention"):
        head_view(result, source, query_tokens=target)


def test_layers_of_other_shapes_or_kinds_are_refused(rng, attention):
    with pytest.raises(ValueError, match="share one \\(heads, queries, keys\\) shape"):
        head_view({**attention, "other": softmax_rows(rng.random((3, 5, 4)))})
    with pytest.raises(ValueError, match="must be 2-D or 3-D"):
        head_view({"pooling": [0.2, 0.8]})
    with pytest.raises(
        TypeError, match="must be a probe result, an attention map or a dict"
    ):
        head_view(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="at least one layer"):
        head_view({})
    with pytest.raises(ValueError, match="`layers` must name or number layers"):
        head_view(attention, layers="block_3")
    with pytest.raises(ValueError, match="`heads` must name or number heads"):
        head_view(attention, heads=[3])


@pytest.mark.parametrize(
    ("value", "match"),
    [(-0.1, "values from -0.1 to"), (1.5, "to 1.5"), (np.nan, "must be finite")],
)
def test_weights_must_be_attention_weights(attention, value, match):
    attention["block_1"][0, 0, 0] = value
    with pytest.raises(ValueError, match=match):
        head_view(attention)


def test_float32_rounding_above_one_is_clipped(attention):
    attention["block_1"][0, 0] = [1 + 5e-7, 0, 0, 0, 0]
    assert head_view(attention).layers.weights[0].max() == 1.0


# --- rollout ------------------------------------------------------------------


def test_rollout_is_a_last_layer_of_one_head(attention):
    from keras_attnviz.analysis import attention_rollout

    view = head_view(attention, TOKENS, heads=[0, 2], rollout=True)
    assert view.layers.names == ["block_1", "block_2", "rollout"]
    assert view.layers.heads[-1] == [0]
    assert view.layers.head_names(2) == ["rollout"]
    assert view.colors[-1] == [ROLLOUT_COLOR]
    # The rollout of the layers and heads shown, bottom-up in the order shown.
    expected = attention_rollout(
        [attention["block_1"][[0, 2]], attention["block_2"][[0, 2]]]
    )
    np.testing.assert_allclose(view.layers.weights[-1][0], expected)
    kws = {"residual": 0.0, "head_reduction": "max"}
    custom = head_view(attention, rollout=True, rollout_kws=kws)
    np.testing.assert_allclose(
        custom.layers.weights[-1][0],
        attention_rollout(list(attention.values()), **kws),
    )


def test_rollout_needs_self_attention_and_a_free_name(rng, attention):
    cross = {"cross": softmax_rows(rng.random((2, 3, 4)))}
    with pytest.raises(ValueError, match="needs self-attention"):
        head_view(cross, rollout=True)
    with pytest.raises(ValueError, match='adds a layer named "rollout"'):
        head_view({"rollout": attention["block_1"]}, rollout=True)
    with pytest.raises(TypeError, match="`rollout` must be True or False"):
        head_view(attention, rollout="yes")


# --- the page -----------------------------------------------------------------


def test_the_page_carries_tokens_layers_and_quantised_weights(attention):
    view = head_view(attention, TOKENS, heads=[1, 2])
    _, data = page_data(view.to_html())
    assert data["kind"] == "head"
    assert data["queries"] == data["keys"] == TOKENS
    assert [layer["name"] for layer in data["layers"]] == ["block_1", "block_2"]
    for layer, weights in zip(data["layers"], attention.values(), strict=True):
        assert layer["heads"] == [1, 2]
        assert layer["colors"] == ["#1f77b4", "#ff7f0e", "#2ca02c"][1:]
        peaks = weights[[1, 2]].max(axis=(1, 2))
        np.testing.assert_array_equal(layer["peaks"], peaks)
        # Whole 1/255ths of each head's largest weight: within half of one.
        error = np.abs(levels(layer) - weights[[1, 2]].ravel())
        assert error.max() <= peaks.max() / 510 + 1e-12


def test_hostile_tokens_and_names_cannot_leave_the_script(rng):
    weights = softmax_rows(rng.random((2, 5, 5)))
    name = "</script><script>alert(2)</script>"
    markup = head_view({name: weights}, HOSTILE, query_tokens=HOSTILE[::-1]).to_html()
    script = markup[markup.index("<script>") + len("<script>") :]
    # The script ends where it should; its data hold no way out of it.
    assert script.count("</script") == 1 and script.endswith(");\n</script>")
    data = script[script.index(f"({SCRIPT})") + len(SCRIPT) + 2 :]
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in data[: -len(");\n</script>")]
    _, data = page_data(markup)
    assert data["keys"] == HOSTILE
    assert data["queries"] == HOSTILE[::-1]
    assert data["layers"][0]["name"] == name


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def test_a_saved_page_is_standalone_and_loads_nothing(tmp_path, attention):
    path = tmp_path / "view.html"
    head_view(attention, HOSTILE).save(path, title="</title><script>alert(1)</script>")
    page = path.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(page)
    assert sorted(set(parser.tags)) == [
        "body",
        "div",
        "head",
        "html",
        "meta",
        "p",
        "script",
        "style",
        "title",
    ]
    assert parser.tags.count("script") == 1
    assert not {"src", "href"} & set(parser.attributes)
    for loader in (
        "require(",
        "import(",
        "fetch(",
        "XMLHttpRequest",
        "http:",
        "https:",
        "//cdn",
    ):
        assert loader not in page
    assert "<title>&lt;/title&gt;&lt;script&gt;" in page


def test_each_rendering_has_its_own_id(attention):
    view = head_view(attention)
    ids = {
        page_data(markup)[0]
        for markup in (view.to_html(), view.to_html(), view._repr_html_())
    }
    assert len(ids) == 3


def test_the_fragment_starts_with_the_fallback_text_for_front_ends_without_script(
    attention,
):
    markup = head_view(attention).to_html()
    assert 'class="kav-fallback"' in markup
    assert markup.index("kav-fallback") < markup.index("<script>")


def test_the_script_cannot_end_its_element():
    assert "</" not in SCRIPT and "<!--" not in SCRIPT


def test_a_12_layer_12_head_page_at_128_tokens_stays_under_5_mb(rng, tmp_path):
    weights = softmax_rows(
        3 * rng.standard_normal((12, 12, 128, 128)).astype(np.float32)
    )
    layers = {f"layer_{i}": layer for i, layer in enumerate(weights)}
    tokens = [f"token_{i}" for i in range(128)]
    for view in (head_view(layers, tokens), model_view(layers, tokens)):
        path = tmp_path / "big.html"
        view.save(path)
        # One byte per weight, base64: 4/3 of 12 * 12 * 128 * 128 bytes.
        assert 3.1e6 < path.stat().st_size < 3.3e6


# --- the figure ---------------------------------------------------------------


def _lines(figure):
    (ax,) = figure.axes
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    return ax, lines


def test_the_figure_draws_every_line_by_head_with_its_weight_as_alpha(
    attention, monkeypatch
):
    monkeypatch.setattr(plt, "show", pytest.fail)
    view = head_view(attention, TOKENS)
    figure = view.to_figure("block_2")
    assert isinstance(figure, Figure) and plt.get_fignums() == []
    ax, lines = _lines(figure)
    assert ax.get_title() == "block_2"
    weights = attention["block_2"]
    drawn = weights >= 1 / 255
    assert len(lines.get_segments()) == drawn.sum()
    np.testing.assert_allclose(
        np.sort(lines.get_colors()[:, 3]), np.sort(weights[drawn])
    )
    head, query, key = np.nonzero(drawn)
    np.testing.assert_allclose(
        lines.get_segments()[5], [[0, query[5] + 0.5], [1, key[5] + 0.5]]
    )
    expected = np.array([plt.matplotlib.colors.to_rgb(c) for c in view.colors[1]])
    np.testing.assert_allclose(lines.get_colors()[:, :3], expected[head])
    texts = [t.get_text() for t in ax.texts]
    assert texts == TOKENS + TOKENS
    # Tokens are literal: "$x$" is not mathtext.
    assert not any(t.get_parse_math() for t in ax.texts)
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        "head 0",
        "head 1",
        "head 2",
    ]
    assert lines.get_linewidth()[0] == 1.5


def test_the_figure_can_focus_on_one_query(attention):
    figure = head_view(attention, TOKENS).to_figure(query=-2)
    ax, lines = _lines(figure)
    starts = {segment[0][1] for segment in lines.get_segments()}
    assert starts == {3.5}
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert bold == ["$x$"]
    with pytest.raises(ValueError, match="position of one of the 5 queries"):
        head_view(attention).to_figure(query=5)
    with pytest.raises(ValueError, match="`layer` must name or number layers"):
        head_view(attention).to_figure("block_9")


def test_lines_are_the_strongest_up_to_max_lines():
    bins = np.concatenate([np.full(MAX_LINES - 10, 7), np.full(20, 6), [0, 255]])
    assert floor_bin(bins) == 7
    assert floor_bin(np.array([0, 1, 1])) == 1
    assert floor_bin(np.full(MAX_LINES + 1, 255)) == 256


def test_long_sequences_get_thin_lines(rng):
    weights = softmax_rows(rng.random((12, 30, 30)))
    view = head_view({"a": weights})
    assert view._data()["lineWidth"] == 1
    _, lines = _lines(view.to_figure())
    assert lines.get_linewidth()[0] == 0.75
