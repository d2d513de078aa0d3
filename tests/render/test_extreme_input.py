"""Extreme floats, hostile limits and tokens: every renderer gives a page or a
clean error, never an overflow, a traceback from deep inside, or a blown memory.

Hypothesis runs derandomized, so CI sees the same examples every time; set
KAV_HYPOTHESIS_EXAMPLES (e.g. 2000) for a longer local run.
"""

import io
import os
import re
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.figure import Figure
from test_html_escaping import audit

from keras_attnviz.callbacks.epoch_page import EpochPage
from keras_attnviz.probe.results import AttentionMap
from keras_attnviz.render import (
    head_view,
    heads_grid,
    heatmap,
    html_report,
    html_spans,
    model_view,
    styler,
)
from keras_attnviz.render.color_scale import ColorScale
from keras_attnviz.render.inputs import encodable

EXAMPLES = int(os.environ.get("KAV_HYPOTHESIS_EXAMPLES", "0"))


def _settings(examples):
    return settings(
        max_examples=EXAMPLES or examples,
        derandomize=True,
        deadline=None,
        # Examples overwrite the same files in `tmp_path`.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )


LARGEST = sys.float_info.max
# Any finite float, the extremes and subnormals drawn often.
finite = st.one_of(
    st.sampled_from([LARGEST, -LARGEST, 1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)
weights_1d = arrays(np.float64, st.integers(1, 12), elements=finite)
# Tokens from any code point, lone surrogates and markup included.
hostile_token = st.text(
    st.one_of(
        st.sampled_from(["<", ">", "&", '"', "'", "\ud800", "\udcff", "\ud83d"]),
        st.characters(),
    ),
    max_size=6,
)


@pytest.fixture(autouse=True)
def _overflow_is_an_error():
    """An overflow, NaN or division by zero in a renderer fails the test.

    Underflow is allowed: a subnormal that rounds to 0 is the right answer.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


# --- The colour scale -------------------------------------------------------


@_settings(300)
@given(values=weights_1d, limits=st.lists(finite, min_size=2, max_size=2))
def test_fractions_are_exact_and_never_overflow(values, limits):
    vmin, vmax = sorted(limits)
    scale = ColorScale(values, vmin=vmin, vmax=vmax)
    fractions = scale.fractions(values)
    assert np.all((fractions >= 0) & (fractions <= 1))
    for value, fraction in zip(values.tolist(), fractions.tolist(), strict=True):
        clipped = min(max(value, vmin), vmax)
        exact = (
            (Fraction(clipped) - Fraction(vmin)) / (Fraction(vmax) - Fraction(vmin))
            if vmax > vmin
            else Fraction(0)
        )
        # One rounding of each difference and of the quotient, or halving
        # a subnormal: far below one colour of a 256-entry table.
        assert abs(Fraction(fraction) - exact) <= Fraction(1, 2**40)


@_settings(200)
@given(values=weights_1d)
def test_default_limits_cover_any_finite_weights(values):
    scale = ColorScale(values)
    assert np.isfinite([scale.vmin, scale.vmax]).all()
    indices = scale.indices(values)
    assert np.all((indices >= 0) & (indices < scale.cmap.N))
    # The heaviest weight is drawn darkest (sequential: the dark end).
    assert indices[np.argmax(values)] == indices.max()
    if values.min() >= 0 and values.max() > 0:
        assert indices.max() == scale.cmap.N - 1
    if values.min() >= 0:
        order = np.argsort(values, kind="stable")
        assert np.all(np.diff(indices[order]) >= 0)


@pytest.mark.parametrize(
    ("limits", "error", "match"),
    [
        ({"vmin": float("nan")}, ValueError, r"`vmin` must be a finite.*vmin=nan"),
        ({"vmax": float("nan")}, ValueError, r"`vmax` must be a finite.*vmax=nan"),
        ({"vmin": float("-inf")}, ValueError, r"vmin=-inf"),
        ({"vmax": float("inf")}, ValueError, r"vmax=inf"),
        ({"vmin": np.float32("nan")}, ValueError, r"vmin=nan"),
        ({"vmin": "0"}, TypeError, r"`vmin` must be a number.*vmin='0'"),
        ({"vmax": [1.0, 2.0]}, TypeError, r"`vmax` must be a number.*list"),
    ],
)
@pytest.mark.parametrize(
    "render",
    [
        lambda **limits: html_spans("ab", [0.1, 0.2], **limits),
        lambda **limits: html_report(["ab"], [[0.1, 0.2]], **limits),
        lambda **limits: html_report(["ab"], [[0.1, 0.2]], shared_scale=True, **limits),
        lambda **limits: styler("ab", [0.1, 0.2], **limits),
        lambda **limits: heatmap([[0.1, 0.2]], ax=Figure().add_subplot(), **limits),
        lambda **limits: heads_grid(np.full((1, 2, 2), 0.5), **limits),
        lambda **limits: model_view({"a": np.full((1, 2, 2), 0.5)}, "ab", **limits),
    ],
    ids=[
        "html_spans",
        "html_report",
        "html_report_shared",
        "styler",
        "heatmap",
        "heads_grid",
        "model_view",
    ],
)
def test_every_renderer_refuses_bad_limits(render, limits, error, match):
    with pytest.raises(error, match=match):
        render(**limits)


# --- HTML -------------------------------------------------------------------


@_settings(120)
@given(values=weights_1d, data=st.data())
def test_spans_of_any_finite_weights_save_the_page_they_show(values, data, tmp_path):
    tokens = data.draw(
        st.lists(hostile_token, min_size=len(values), max_size=len(values))
    )
    cmap = data.draw(st.sampled_from([None, "viridis", "RdBu_r"]))
    spans = html_spans(tokens, values, cmap=cmap)
    markup = spans.to_html()
    markup.encode("utf-8")  # no lone surrogate left
    parsed = audit(markup)
    assert parsed.texts == [encodable(token) for token in tokens]
    assert [float(title) for title in parsed.titles] == pytest.approx(values.tolist())
    path = tmp_path / "spans.html"
    spans.save(path)
    page = path.read_bytes().decode("utf-8")  # strict: valid UTF-8
    # The page holds the fragment's markup, as to_html gives it.
    assert markup.removeprefix(_stylesheet(markup)) in page


def _stylesheet(markup):
    return markup[: markup.index("</style>") + len("</style>")]


@_settings(60)
@given(
    rows=st.lists(weights_1d, min_size=1, max_size=4),
    shared=st.booleans(),
    labels=st.lists(hostile_token, min_size=4, max_size=4),
)
def test_reports_of_any_finite_weights_save(rows, shared, labels, tmp_path):
    tokens = [["t"] * len(row) for row in rows]
    report = html_report(
        tokens,
        rows,
        predictions=labels[: len(rows)],
        columns={labels[-1]: [float(row.max()) for row in rows]},
        shared_scale=shared,
    )
    path = tmp_path / "report.html"
    report.save(path, title=labels[0])
    path.read_bytes().decode("utf-8")
    assert report.to_html().encode("utf-8")


def _without_ids(markup):
    return re.sub(r"kav-[a-z]*-?[0-9a-f]{32}", "kav-ID", markup)


def _views(tokens):
    weights = {"\ud800layer": np.full((2, len(tokens), len(tokens)), 0.5)}
    maps = [AttentionMap(np.full(len(tokens), 0.5), tokens=tokens)] * 2
    return {
        "head_view": head_view(weights, tokens),
        "model_view": model_view(weights, tokens, vmin=-LARGEST, vmax=LARGEST),
        "epoch_page": EpochPage([0, 1], maps, caption="\udcff<b>caption"),
        "report": html_report([tokens], [np.ones(len(tokens))], labels=["\ud83d"]),
    }


@pytest.mark.parametrize("kind", ["head_view", "model_view", "epoch_page", "report"])
def test_every_page_saves_what_to_html_shows(kind, tmp_path):
    tokens = ["\ud800", "\ud83d\ude00", "a\udcffb", "</script>"]
    page = _views(tokens)[kind]
    markup = page.to_html()
    path = tmp_path / "page.html"
    page.save(path, title="\ud800 title")
    saved = path.read_bytes().decode("utf-8")
    assert "\ufffd title" in saved
    body = _without_ids(markup.removeprefix(_stylesheet(markup)))
    assert body in _without_ids(saved)
    assert "\ud800" not in saved and "\ud800" not in markup


def test_surrogate_pairs_join_and_lone_surrogates_become_the_replacement():
    spans = html_spans(["\ud83d\ude00", "\ud800", "b\udcff"], [0.1, 0.2, 0.3])
    assert audit(spans.to_html()).texts == ["\U0001f600", "\ufffd", "b\ufffd"]


@_settings(60)
@given(width=st.integers(1, 10**18), n_tokens=st.integers(0, 30))
def test_styler_is_never_wider_than_its_tokens(width, n_tokens):
    table = styler(["t"] * n_tokens, np.ones(n_tokens), width=width)
    n_rows, n_columns = table.data.shape
    assert n_columns == max(1, min(width, n_tokens))
    assert n_rows * n_columns - n_tokens < n_columns or n_tokens == 0


def test_styler_of_extreme_weights_and_a_huge_width():
    table = styler(["a", "b", "\ud800"], [-LARGEST, LARGEST, 0.0], width=10**9)
    assert table.data.shape == (1, 3)
    assert table.to_html().encode("utf-8")


# --- Figures ----------------------------------------------------------------


@_settings(25)
@given(
    values=arrays(
        np.float64, st.tuples(st.integers(1, 3), st.integers(1, 4)), elements=finite
    ),
    annot=st.booleans(),
    labels=st.booleans(),
)
def test_heatmaps_of_any_finite_weights_draw(values, annot, labels):
    figure = Figure(figsize=(3, 2))
    ax = figure.add_subplot()
    x_labels = ["\ud800", "$x$", "<b>", "\ud83d\ude00"][: values.shape[1]]
    heatmap(values, x_labels=x_labels if labels else None, ax=ax, annot=annot)
    assert _png(figure).startswith(b"\x89PNG")
    # The colour bar is labelled in the weights' own magnitude.
    bar = figure.axes[1]
    ticks = [
        float(t.get_text().replace("\u2212", "-"))
        for t in bar.get_yticklabels()
        if t.get_text()
    ]
    largest = np.abs(values).max()
    if largest > 1e300 and ticks:
        assert max(abs(tick) for tick in ticks) > 1e299


@_settings(15)
@given(
    values=arrays(np.float64, (2, 2, 3, 3), elements=finite),
    limits=st.one_of(st.none(), st.just((-LARGEST, LARGEST)), st.just((0.0, 1e308))),
)
def test_heads_grids_of_any_finite_weights_draw(values, limits):
    vmin, vmax = limits or (None, None)
    figure = heads_grid(values, ["\ud800", "a", "b"], vmin=vmin, vmax=vmax)
    assert _png(figure).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "limits", [(None, None), (-LARGEST, LARGEST), (0.0, LARGEST), (5e-324, 5e-324)]
)
def test_model_and_head_view_figures_draw_under_extreme_limits(limits):
    weights = {"\udcffname": np.full((2, 3, 3), 1 / 3)}
    vmin, vmax = limits
    view = model_view(weights, ["\ud800", "a", "b"], vmin=vmin, vmax=vmax)
    assert _png(view.to_figure()).startswith(b"\x89PNG")
    assert view.to_html().encode("utf-8")
    assert _png(head_view(weights, ["\ud800", "a", "b"]).to_figure())


@pytest.mark.parametrize("panel_size", [10.01, 1e6, float("inf"), float("nan")])
@pytest.mark.parametrize(
    "draw",
    [
        lambda size: heads_grid(np.full((1, 2, 2), 0.5), panel_size=size),
        lambda size: model_view({"a": np.full((1, 2, 2), 0.5)}).to_figure(
            panel_size=size
        ),
    ],
    ids=["heads_grid", "model_view"],
)
def test_panels_are_at_most_ten_inches(draw, panel_size):
    # A figure's pixels grow with the square of its panels: 1e6 inches would
    # ask Agg for terabytes.
    with pytest.raises(ValueError, match="`panel_size` must be a positive number "):
        draw(panel_size)
    width, height = draw(10.0).get_size_inches()
    assert width < 15 and height < 15


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 2, 3)])
def test_epoch_pages_of_extreme_weights_render(shape, tmp_path):
    extreme = np.resize([-LARGEST, LARGEST, 0.0, 5e-324], shape)
    maps = [
        AttentionMap(weights, tokens=["\ud800", "b", "<c>"])
        for weights in (extreme, extreme[..., ::-1])
    ]
    page = EpochPage([0, 1], maps, caption="extreme")
    page.save(tmp_path / "epochs.html")
    assert (tmp_path / "epochs.html").read_bytes().decode("utf-8").count(
        'class="kav-frame"'
    ) == 2
