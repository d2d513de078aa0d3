"""The model view's script under limits whose span overflows, in Chromium.

Its colour lookup must pick the table entry `ColorScale` picks (whose
positions tests/render/test_extreme_input.py checks exactly), as
tests/render/test_interactive_browser.py checks for ordinary limits. Before,
the script's span overflowed to infinity and every weight took the light end.
"""

import sys

import numpy as np
import pytest
import test_interactive_browser as interactive

from keras_attnviz.render import model_view

# Its browser, page and attention fixtures, and its skip without Chromium.
browser = interactive.browser
page = interactive.page
attention = interactive.attention
pytestmark = interactive.pytestmark

LARGEST = sys.float_info.max


@pytest.mark.parametrize(
    ("vmin", "vmax"),
    # Spans that overflow: halved, weights of 0 to 1 sit at the middle.
    [(-LARGEST, LARGEST), (-1e308, 1e308), (-9e307, 9e307)],
)
def test_thumbnails_take_the_scales_colours_under_extreme_limits(
    page, tmp_path, attention, vmin, vmax
):
    view = model_view(
        attention, interactive.TOKENS, vmin=vmin, vmax=vmax, cmap="viridis"
    )
    view_page = page.open(view, tmp_path)
    thumb = view_page.locator(".kav-thumb[data-layer='1'][data-head='2'] canvas")
    rgba = np.array(thumb.evaluate(interactive.PIXELS)).reshape(5, 5, 4)
    expected = view.scale.rgba(interactive.sent(attention["layer 2"])[2])[..., :3]
    np.testing.assert_array_equal(rgba[..., :3], np.rint(expected * 255))
