import re
import warnings

import matplotlib
import matplotlib.colors
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from keras_attnviz.render.color_scale import ColorScale, relative_luminance


def _hex(rgba):
    return matplotlib.colors.to_hex(rgba)


def test_default_is_sequential_from_zero_to_the_max():
    scale = ColorScale([0.1, 0.6, 0.3])
    assert scale.cmap.name == "Blues"
    assert (scale.vmin, scale.vmax) == (0.0, 0.6)
    blues = matplotlib.colormaps["Blues"]
    # The strongest token is fully coloured, a zero weight gets the light end.
    assert scale.css([0.6, 0.0]) == [_hex(blues(1.0)), _hex(blues(0.0))]


def test_default_colormap_luminance_strictly_decreases():
    scale = ColorScale([1.0])
    table = scale.cmap(np.arange(scale.cmap.N))
    assert np.all(np.diff(relative_luminance(table)) < 0)


@given(arrays(np.float64, st.integers(1, 50), elements=st.floats(0, 1e6)))
def test_heavier_is_never_lighter(values):
    scale = ColorScale(values)
    ordered = np.sort(values)
    luminance = relative_luminance(scale.rgba(ordered))
    assert np.all(np.diff(luminance) <= 0)


def test_rgba_matches_the_colormap_applied_to_the_norm(rng):
    values = rng.normal(size=200)
    scale = ColorScale(values, cmap="viridis")
    np.testing.assert_array_equal(scale.rgba(values), scale.cmap(scale.norm(values)))
    assert scale.rgba(values.reshape(10, 20)).shape == (10, 20, 4)


def test_negative_values_get_a_diverging_scale_centred_on_zero():
    scale = ColorScale([-2.0, 0.5, 1.0])
    assert scale.diverging
    assert scale.cmap.name == "RdBu_r"
    assert (scale.vmin, scale.vmax) == (-2.0, 2.0)
    # Zero sits in the light middle; luminance falls with |value| on both sides.
    grid = np.linspace(-2, 2, 401)
    luminance = relative_luminance(scale.rgba(grid))
    assert np.argmax(luminance) in range(195, 206)
    assert np.all(np.diff(luminance[grid >= 0]) <= 0)
    assert np.all(np.diff(luminance[grid < 0]) >= 0)


def test_diverging_limits_follow_vmax():
    scale = ColorScale([-1.0, 1.0], vmax=3.0)
    assert (scale.vmin, scale.vmax) == (-3.0, 3.0)


def test_explicit_vmin_keeps_a_sequential_scale_and_clips():
    scale = ColorScale([-1.0, 1.0], vmin=0.0, vmax=0.5)
    assert not scale.diverging
    assert scale.css([-5.0, 0.0]) == scale.css([0.0, 0.0])
    assert scale.css([0.5, 9.0]) == scale.css([0.5, 0.5])


@pytest.mark.parametrize("values", [[0.0, 0.0], [0.4, 0.4], []])
def test_constant_or_empty_values_do_not_divide_by_zero(values):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            scale = ColorScale(values)
            colors = scale.css(values)
    light, dark = scale.css_table[0], scale.css_table[-1]
    expected = {0.0: light, 0.4: dark}
    assert colors == [expected[value] for value in values]


def test_css_is_hex_and_text_colors_are_black_or_white(rng):
    values = rng.random(100)
    scale = ColorScale(values)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", color) for color in scale.css(values))
    assert set(scale.text_colors(values)) <= {"#000000", "#ffffff"}
    assert scale.text_colors([0.0, values.max()]) == ["#000000", "#ffffff"]


def test_text_color_follows_wcag_contrast():
    # #777777 has luminance 0.184: contrast 4.48 with white, 4.68 with black.
    # #757575 (luminance 0.178) reverses it: 4.61 with white, 4.56 with black.
    cmap = matplotlib.colors.ListedColormap(
        ["#ffffff", "#777777", "#757575", "#000000"]
    )
    scale = ColorScale([0.0, 1.0], cmap=cmap)
    assert scale.text_colors([0.0, 0.3, 0.6, 1.0]) == [
        "#000000",
        "#000000",
        "#ffffff",
        "#ffffff",
    ]


def test_relative_luminance_of_known_colors():
    np.testing.assert_allclose(
        relative_luminance([[1, 1, 1], [0, 0, 0], [1, 0, 0]]), [1.0, 0.0, 0.2126]
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="vmin.*must not exceed.*vmax"):
        ColorScale([1.0], vmin=2.0, vmax=1.0)
    with pytest.raises(ValueError, match="cmap='not_a_map'"):
        ColorScale([1.0], cmap="not_a_map")
    with pytest.raises(TypeError, match="cmap=3 of type int"):
        ColorScale([1.0], cmap=3)
