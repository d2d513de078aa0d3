import re
from html.parser import HTMLParser
from types import SimpleNamespace

import matplotlib
import matplotlib.colors
import numpy as np
import pytest

from keras_attnviz.render import html_report, html_spans
from keras_attnviz.render.color_scale import relative_luminance
from keras_attnviz.render.html_spans import HTMLReport, HTMLSpans

LIGHT_BLUE = matplotlib.colors.to_hex(matplotlib.colormaps["Blues"](0.0))
DARK_BLUE = matplotlib.colors.to_hex(matplotlib.colormaps["Blues"](1.0))


class SpanParser(HTMLParser):
    """Collects every coloured span (background, text colour, title, text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.spans = []
        self.legends = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        style = attrs.get("style") or ""
        colors = re.fullmatch(r"background-color:(#\w{6});color:(#\w{6})", style)
        if tag == "span" and colors:
            self._open = {
                "background": colors[1],
                "color": colors[2],
                "title": attrs["title"],
                "text": "",
            }
            self.spans.append(self._open)
        elif tag == "span" and "linear-gradient" in style:
            self.legends.append(re.findall(r"#\w{6}", style))

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


def parse(fragment):
    parser = SpanParser()
    parser.feed(fragment)
    parser.close()
    return parser


def test_tooltips_give_float32_weights_back_exactly(rng):
    weights = rng.random(50).astype("float32")
    parsed = parse(html_spans("x" * 50, weights).to_html()).spans
    assert [np.float32(span["title"]) for span in parsed] == weights.tolist()


def test_docstring_states_the_tooltip_precision():
    title = parse(html_spans(["a"], [1 / 3]).to_html()).spans[0]["title"]
    digits = len(title.removeprefix("0."))
    assert f"weight ({digits} significant digits" in " ".join(
        html_spans.__doc__.split()
    )


def test_character_level_keeps_every_character_in_order(rng):
    text = "Hi there,\n  two spaces\tand a tab"
    weights = rng.random(len(text))
    spans = html_spans(text, weights)
    parsed = parse(spans.to_html()).spans
    assert "".join(span["text"] for span in parsed) == text
    assert [span["title"] for span in parsed] == [f"{w:.9g}" for w in weights]
    assert [span["background"] for span in parsed] == spans.scale.css(weights)
    assert [span["color"] for span in parsed] == spans.scale.text_colors(weights)
    assert 'class="kav-spans kav-char"' in spans.to_html()


def test_heaviest_token_is_darkest_and_lightest_is_lightest(rng):
    weights = rng.random(60)
    parsed = parse(html_spans("x" * 60, weights).to_html()).spans
    backgrounds = [span["background"] for span in parsed]
    assert backgrounds[np.argmax(weights)] == DARK_BLUE
    rgb = np.array([matplotlib.colors.to_rgb(color) for color in backgrounds])
    luminance = relative_luminance(rgb)[np.argsort(weights)]
    assert np.all(np.diff(luminance) <= 0)
    zero = parse(html_spans("ab", [0.0, 1.0]).to_html()).spans[0]
    assert zero["background"] == LIGHT_BLUE


def test_dark_backgrounds_get_white_text():
    parsed = parse(html_spans(["low", "high"], [0.0, 1.0]).to_html()).spans
    assert [span["color"] for span in parsed] == ["#000000", "#ffffff"]


def test_token_level_separates_tokens():
    fragment = html_spans(["the", "movie", "rocks"], [0.2, 0.3, 0.5]).to_html()
    assert [span["text"] for span in parse(fragment).spans] == ["the", "movie", "rocks"]
    assert fragment.count("</span> <span") == 2
    assert 'class="kav-spans kav-token"' in fragment


def test_char_level_for_a_token_list_joins_without_separator():
    fragment = html_spans(["a", "b"], [0.1, 0.2], level="char").to_html()
    assert "</span><span" in fragment
    with pytest.raises(ValueError, match="level='words'"):
        html_spans(["a"], [1.0], level="words")


def test_merge_subwords_takes_a_scheme_name():
    tokens = ["\u0120ew", "\u2581a", "b"]
    spans = html_spans(tokens, [0.1, 0.2, 0.3], merge_subwords="sentencepiece")
    assert spans.tokens == ["\u0120ew", "ab"]
    with pytest.raises(ValueError, match="merge_subwords='x'"):
        html_spans(tokens, [0.1, 0.2, 0.3], merge_subwords="x")


def test_merge_subwords_sums_weights_into_words():
    spans = html_spans(
        ["\u2581the", "\u2581mo", "vie", "\u2581was", "\u2581gre", "at"],
        [0.1, 0.1, 0.2, 0.05, 0.25, 0.3],
        merge_subwords=True,
    )
    parsed = parse(spans.to_html()).spans
    assert [span["text"] for span in parsed] == ["the", "movie", "was", "great"]
    np.testing.assert_allclose(
        [float(s["title"]) for s in parsed], [0.1, 0.3, 0.05, 0.55]
    )
    assert parsed[-1]["background"] == DARK_BLUE


@pytest.mark.parametrize(
    "padding, weights, kept",
    [("pre", [0.0, 0.0, 0.4, 0.6], [0.4, 0.6]), ("post", [0.7, 0.3, 0.0], [0.7, 0.3])],
)
def test_padding_trims_the_given_side(padding, weights, kept):
    parsed = parse(html_spans("ab", weights, padding=padding).to_html()).spans
    assert [float(span["title"]) for span in parsed] == kept


def test_length_mismatch_states_both_lengths():
    with pytest.raises(ValueError, match="Received: 3 tokens and 5 weights."):
        html_spans(["a", "b", "c"], [0.2] * 5)


@pytest.mark.parametrize("bad, label", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_weights_are_refused(bad, label):
    with pytest.raises(ValueError, match=f"Received: {label} at position 1"):
        html_spans("ab", [0.5, bad])


def test_negative_weights_get_a_diverging_scale():
    spans = html_spans(["bad", "neutral", "good"], [-2.0, 0.0, 1.0])
    assert (spans.scale.vmin, spans.scale.vmax) == (-2.0, 2.0)
    parsed = parse(spans.to_html())
    bad, neutral, good = (
        matplotlib.colors.to_rgb(s["background"]) for s in parsed.spans
    )
    assert bad[2] > bad[0] and good[0] > good[2]  # blue below zero, red above
    assert min(neutral) > 0.9  # zero is near white
    assert "<span>-2</span>" in spans.to_html() and "<span>2</span>" in spans.to_html()


def test_legend_runs_from_the_light_to_the_dark_end():
    legends = parse(html_spans("ab", [0.0, 3.0]).to_html()).legends
    assert len(legends) == 1
    assert (legends[0][0], legends[0][-1]) == (LIGHT_BLUE, DARK_BLUE)
    assert "<span>0</span>" in html_spans("ab", [0.0, 3.0]).to_html()
    assert parse(html_spans("ab", [0.0, 3.0], legend=False).to_html()).legends == []


def test_vmin_vmax_and_cmap_are_honoured():
    spans = html_spans("abc", [0.0, 0.5, 1.0], vmin=0.0, vmax=0.5, cmap="Reds")
    parsed = parse(spans.to_html()).spans
    dark_red = matplotlib.colors.to_hex(matplotlib.colormaps["Reds"](1.0))
    assert [span["background"] for span in parsed][1:] == [dark_red, dark_red]


def test_show_whitespace_marks_spaces_newlines_and_tabs():
    parsed = parse(html_spans("a b\n\t", [1.0] * 5, show_whitespace=True).to_html())
    assert [span["text"] for span in parsed.spans] == [
        "a",
        "\u00b7",
        "b",
        "\u21b5\n",
        "\u2192\t",
    ]


def test_accepts_an_attention_map_and_tensors():
    import keras

    amap = SimpleNamespace(
        weights=keras.ops.convert_to_tensor([0.1, 0.9]), tokens=["a", "b"]
    )
    spans = html_spans(amap)
    assert isinstance(spans, HTMLSpans)
    assert spans.tokens == ["a", "b"]
    np.testing.assert_allclose(spans.weights, [0.1, 0.9], rtol=1e-6)


def test_bytes_and_string_tensors_render_as_their_text():
    spans = html_spans(np.array([b"the", b"caf\xc3\xa9"]), [0.1, 0.9])
    assert [span["text"] for span in parse(spans.to_html()).spans] == [
        "the",
        "caf\u00e9",
    ]
    tf = pytest.importorskip("tensorflow")
    spans = html_spans(tf.strings.split("the cat"), [0.1, 0.9])
    assert spans.tokens == ["the", "cat"] and spans.level == "token"
    text = html_spans(tf.constant("hi"), [0.1, 0.9])
    assert text.tokens == ["h", "i"] and text.level == "char"


def test_merged_weights_that_overflow_are_refused():
    with pytest.raises(ValueError, match="Received: inf"):
        html_spans(["a", "##b"], [1e308, 1e308], merge_subwords=True)


def test_empty_input_gives_an_empty_block():
    spans = html_spans([], [])
    assert parse(spans.to_html()).spans == []
    assert '<div class="kav-text"></div>' in spans.to_html()


def test_repr_html_is_the_fragment():
    spans = html_spans("ab", [0.1, 0.2])
    assert spans._repr_html_() == spans.to_html()
    assert spans.to_html().startswith("<style>")


def test_save_writes_a_standalone_offline_utf8_page(tmp_path):
    path = tmp_path / "page.html"
    html_spans("naïve ☃ café", np.linspace(0, 1, 12)).save(path, title="Démo")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page and "<title>Démo</title>" in page
    assert "".join(span["text"] for span in parse(page).spans) == "naïve ☃ café"
    for needle in ("<script", "http:", "https:", "src=", "<link", "@import"):
        assert needle not in page


def test_report_has_one_row_per_sample_with_prediction_and_label():
    report = html_report(
        ["good film", ["dull", "plot"]],
        [np.linspace(0, 1, 9), [0.3, 0.7]],
        predictions=[0.912345, "negative"],
        labels=[1, 0],
    )
    assert isinstance(report, HTMLReport)
    fragment = report.to_html()
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td><td>", fragment)
    assert rows == [("0", "0.912", "1"), ("1", "negative", "0")]
    parsed = parse(fragment)
    assert [span["text"] for span in parsed.spans][-2:] == ["dull", "plot"]
    # Each row has its own scale: both rows reach the dark end.
    assert [span["background"] for span in parsed.spans].count(DARK_BLUE) == 2
    assert len(parsed.legends) == 2
    assert "<th>prediction</th><th>label</th>" in fragment


def test_report_with_a_shared_scale_has_one_legend():
    report = html_report(
        ["ab", "cd"], np.array([[0.1, 0.2], [0.3, 0.4]]), shared_scale=True
    )
    parsed = parse(report.to_html())
    assert len(parsed.legends) == 1
    assert [span["background"] for span in parsed.spans].count(DARK_BLUE) == 1
    assert "prediction" not in report.to_html()


def test_report_takes_attention_maps_and_padded_batches():
    maps = [SimpleNamespace(weights=np.array([0.5, 0.5]), tokens=["x", "y"])]
    assert parse(html_report(maps).to_html()).spans[0]["text"] == "x"
    report = html_report(["ab", "c"], np.array([[0.2, 0.8], [0.0, 1.0]]), padding="pre")
    assert [s["title"] for s in parse(report.to_html()).spans] == ["0.2", "0.8", "1"]


def test_report_checks_counts():
    with pytest.raises(ValueError, match="Received: 2 samples and 1 weights."):
        html_report(["a", "b"], [[1.0]])
    with pytest.raises(ValueError, match="Received: 1 samples and 2 labels."):
        html_report(["a"], [[1.0]], labels=[0, 1])


def test_word_level_is_the_token_level():
    words = ["what", "a", "superb", "day"]
    weights = [0.1, 0.1, 0.7, 0.1]
    word_page = html_spans(words, weights, level="word").to_html()
    assert word_page == html_spans(words, weights, level="token").to_html()
    assert word_page != html_spans(words, weights, level="char").to_html()
