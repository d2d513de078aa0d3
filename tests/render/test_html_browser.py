"""A real browser draws the saved page: the colours on screen are the scale's."""

import shutil
import subprocess

import matplotlib
import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest

from keras_attnviz.render import html_spans, styler

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is missing (Debian package `chromium`, see .ci/run)",
)
TOLERANCE = 2.5 / 255


def screenshot(page, tmp_path, size=(900, 300)):
    out = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-color-profile=srgb",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={out}",
            f"--window-size={size[0]},{size[1]}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return matplotlib.image.imread(out)[..., :3]


def pixels_of(image, color):
    target = np.array(matplotlib.colors.to_rgb(color))
    return np.all(np.abs(image - target) <= TOLERANCE, axis=-1)


def test_browser_draws_heaviest_dark_and_lightest_light(tmp_path):
    tokens = ["  lightest  ", "  middle  ", "  heaviest  "]
    spans = html_spans(tokens, [0.0, 0.5, 2.0], legend=False)
    page = tmp_path / "page.html"
    spans.save(page)
    image = screenshot(page, tmp_path)

    blues = matplotlib.colormaps["Blues"]
    light, middle, dark = (matplotlib.colors.to_hex(blues(x)) for x in (0.0, 0.25, 1.0))
    boxes = {}
    for name, color in [("light", light), ("middle", middle), ("dark", dark)]:
        rows, cols = np.nonzero(pixels_of(image, color))
        # A token's background is a solid block of at least a few hundred pixels.
        assert rows.size > 300, f"{name} end {color} not on screen"
        boxes[name] = (rows.min(), rows.max(), cols.min(), cols.max())
    # Tokens are laid out left to right in order of the weights here.
    assert (
        boxes["light"][3] < boxes["middle"][2] < boxes["middle"][3] < boxes["dark"][2]
    )

    # The text on the dark token is white, on the light one black.
    top, bottom, left, right = boxes["dark"]
    assert (image[top : bottom + 1, left : right + 1] > 0.9).all(axis=-1).sum() > 20
    top, bottom, left, right = boxes["light"]
    assert (image[top : bottom + 1, left : right + 1] < 0.2).all(axis=-1).sum() > 20
    # Outside the tokens the page stays white: the light end is not the page.
    assert pixels_of(image, "#ffffff").sum() > image.shape[0] * image.shape[1] // 2


def test_browser_draws_the_legend_from_light_to_dark(tmp_path):
    page = tmp_path / "page.html"
    # The only token weighs 0, so only the legend reaches the dark end.
    html_spans("a", [0.0], vmax=1.0).save(page)
    image = screenshot(page, tmp_path)
    blues = matplotlib.colormaps["Blues"]
    dark_rows, _ = np.nonzero(pixels_of(image, matplotlib.colors.to_hex(blues(1.0))))
    assert dark_rows.size > 10
    row = image[int(np.median(dark_rows))]
    border = np.nonzero(pixels_of(row[None], "#999999")[0])[0]
    inside = row[border.min() + 1 : border.max()]
    assert inside.shape[0] > 100
    np.testing.assert_allclose(inside[0], blues(0.0)[:3], atol=0.02)
    np.testing.assert_allclose(inside[-1], blues(1.0)[:3], atol=0.02)
    luminance = inside.mean(axis=-1)
    assert np.all(np.diff(luminance) <= 0.01)


def test_browser_draws_white_text_on_the_styler_dark_cell(tmp_path):
    page = tmp_path / "table.html"
    table = styler("WWWWWW", [0.0, 0.0, 0.0, 1.0, 1.0, 1.0], width=6).to_html()
    page.write_text(
        f'<html><body style="zoom:6;background:#fff">{table}</body></html>',
        encoding="utf-8",
    )
    image = screenshot(page, tmp_path)
    blues = matplotlib.colormaps["Blues"]
    rows, cols = np.nonzero(pixels_of(image, matplotlib.colors.to_hex(blues(1.0))))
    assert rows.size > 300
    dark_cells = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    # The letters on the dark cells are drawn in white, not in a dark colour.
    assert (dark_cells > 0.9).all(axis=-1).sum() > 50
    assert (dark_cells < 0.2).all(axis=-1).sum() == 0
