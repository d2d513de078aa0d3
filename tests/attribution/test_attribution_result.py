"""`Attribution`: real positions only, signed scores rendered on a diverging
scale by every renderer, and a NumPy-only object that renders without Keras."""

import pickle
import re
import subprocess
import sys

import matplotlib.colors
import numpy as np
import pytest

from keras_attnviz.attribution import Attribution
from keras_attnviz.render import heatmap, html_spans, styler

TOKENS = ["dull", "but", "superb"]


@pytest.fixture
def attribution():
    # Two pre-padded samples; the first has a negative and a positive score.
    return Attribution(
        np.array([[0.0, -0.4, 0.05, 0.8], [0.0, 0.0, 0.3, 0.1]]),
        key_mask=np.array([[False, True, True, True], [False, False, True, True]]),
        method="integrated_gradients",
        target=np.array([1, 1]),
        target_output=np.array([0.9, 0.6]),
        layer="embedding",
        baseline_output=np.array([0.45, 0.3]),
    )


def test_a_sample_keeps_its_real_positions_and_their_tokens(attribution):
    sample = attribution.sample(0, tokens=TOKENS)
    assert sample.tokens == TOKENS and sample.layer == "integrated_gradients"
    np.testing.assert_array_equal(sample.weights, [-0.4, 0.05, 0.8])
    assert attribution.sample(1, tokens=["x", "y"]).top(1) == [("x", 0.3)]
    with pytest.raises(ValueError, match="one token per real position"):
        attribution.sample(0, tokens=["a", "b"])


def test_the_completeness_gap_compares_the_sum_with_the_change(attribution):
    # Sums 0.45 and 0.4, changes 0.45 and 0.3.
    np.testing.assert_allclose(attribution.completeness_gap, [0.0, 1 / 3])


def _rgb(css):
    return np.array(matplotlib.colors.to_rgb(css))


def _is_blue(css):
    red, _, blue = _rgb(css)
    return blue > red + 0.2


def _is_red(css):
    red, _, blue = _rgb(css)
    return red > blue + 0.2


def test_html_spans_colour_signed_scores_blue_to_red(attribution):
    page = html_spans(attribution.sample(0, tokens=TOKENS)).to_html()
    colours = re.findall(r"background-color:(#[0-9a-f]{6})", page)
    assert _is_blue(colours[0]) and _is_red(colours[2])
    assert np.allclose(_rgb(colours[1]), 1, atol=0.1)  # 0.05: nearly white


def test_one_diverging_scale_for_every_sample(attribution):
    # The second sample has no negative score: the scale stays diverging
    # when it is asked for, so equal scores look equal across samples.
    bound = np.abs(attribution.scores).max()
    options = {"cmap": "RdBu_r", "vmin": -bound, "vmax": bound}
    first = html_spans(attribution.sample(0, tokens=TOKENS), **options)
    second = html_spans(attribution.sample(1, tokens=["x", "y"]), **options)
    assert first.scale.css([0.3]) == second.scale.css([0.3])
    assert second.scale.css([0.0]) == first.scale.css([0.0])
    assert not _is_red(second.scale.css([0.0])[0])


def test_heatmap_centres_a_diverging_scale_on_zero(attribution):
    import matplotlib.pyplot as plt

    ax = heatmap(attribution.sample(0, tokens=TOKENS), ax=plt.figure().gca())
    image = ax.images[0]
    assert image.cmap.name == "RdBu_r"
    assert image.norm.vmin == -image.norm.vmax == -0.8
    assert [label.get_text() for label in ax.get_xticklabels()] == TOKENS


def test_styler_colours_signed_scores_blue_to_red(attribution):
    page = styler(attribution.sample(0, tokens=TOKENS)).to_html()
    colours = re.findall(r"background-color: (#[0-9a-f]{6})", page)
    assert _is_blue(colours[0]) and _is_red(colours[-1])


# Keras and TensorFlow made unimportable: a machine that only renders results.
WITHOUT_KERAS = """
import pickle, sys
sys.modules["keras"] = None
sys.modules["tensorflow"] = None
from keras_attnviz.render import html_spans
attribution = pickle.loads(sys.stdin.buffer.read())
page = html_spans(attribution.sample(0, tokens=["a", "b", "c"])).to_html()
print(type(attribution).__name__, "<span" in page)
"""


def test_an_attribution_unpickles_and_renders_without_keras(attribution):
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_KERAS],
        input=pickle.dumps(attribution),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["Attribution", "True"]
