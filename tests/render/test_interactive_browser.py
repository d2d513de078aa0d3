"""The interactive views in headless Chromium, driven by Playwright.

Each page is a file opened by `file://` (or markup set on a blank page, as a
notebook inserts an output): it must load with no console error and ask for
nothing beyond itself, and hovering, toggling, selecting and clicking must
change what is drawn. Screenshots of the views go to `tmp_path`.
"""

import importlib.util
import shutil

import numpy as np
import pytest

from keras_attnviz.render import head_view, model_view

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="needs headless Chromium (Debian package `chromium`, see .ci/run) and "
    "Playwright's Python package (the dev extra)",
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = [
    "</script><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<!--",
    "a\u2028b",
    "<style>body{display:none}</style>",
    "&lt;",
]
TOKENS = ["[CLS]", "the", "cat", "sat", "."]

# Painted pixels of the head view's canvas: how many, and their summed alpha.
PAINT = """canvas => {
  const pixels = canvas.getContext("2d")
    .getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0, alpha = 0;
  for (let i = 3; i < pixels.length; i += 4) {
    if (pixels[i]) { count++; alpha += pixels[i]; }
  }
  return [count, alpha];
}"""
# The rows of the canvas's first pixel column that are painted.
LEFT_EDGE = """canvas => {
  const pixels = canvas.getContext("2d").getImageData(0, 0, 1, canvas.height).data;
  const rows = [];
  for (let y = 0; y < canvas.height; y++) if (pixels[4 * y + 3]) rows.push(y);
  return rows;
}"""
PIXELS = """canvas => Array.from(
  canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data)"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Page:
    """A page that records console errors, requests and dialogs."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1000, "height": 700})
        self.errors, self.requests, self.dialogs, self.pages = [], [], [], []
        self.page.on(
            "console",
            lambda message: (
                message.type == "error" and self.errors.append(message.text)
            ),
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def goto(self, path):
        self.pages.append(path.as_uri())
        self.page.goto(path.as_uri())
        return self.page

    def open(self, view, tmp_path):
        path = tmp_path / "view.html"
        view.save(path)
        return self.goto(path)

    def check_clean(self):
        """No console error, no dialog, no request but for the pages opened."""
        assert self.errors == []
        assert self.dialogs == []
        assert self.requests == self.pages


@pytest.fixture
def page(browser):
    page = Page(browser)
    yield page
    page.check_clean()
    page.page.close()


def softmax_rows(scores):
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


@pytest.fixture
def attention(rng):
    """2 layers x 3 heads over 5 tokens: head 0 attends to the previous token,
    head 1 to the first token, head 2 everywhere; layer 2 differs."""
    first = np.zeros((3, 5, 5))
    first[0] = np.eye(5, k=-1) + np.eye(5, k=4)
    first[1, :, 0] = 1.0
    first[2] = softmax_rows(rng.standard_normal((5, 5)))
    second = first[:, :, ::-1]
    return {"layer 1": first, "layer 2": second}


def texts(page, selector):
    return page.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent)")


def test_head_view_loads_and_draws_every_token(page, tmp_path, attention):
    view_page = page.open(head_view(attention, TOKENS), tmp_path)
    assert texts(view_page, ".kav-queries [data-token]") == TOKENS
    assert texts(view_page, ".kav-keys [data-token]") == TOKENS
    assert texts(view_page, "[data-head]") == ["0", "1", "2"]
    assert texts(view_page, "[data-layer] option") == ["layer 1", "layer 2"]
    assert view_page.locator(".kav-fallback").count() == 0
    count, _ = view_page.locator(".kav-lines canvas").evaluate(PAINT)
    assert count > 1000
    view_page.screenshot(path=tmp_path / "head_view.png", full_page=True)


def test_hovering_a_query_keeps_its_lines_alone(page, tmp_path, attention):
    view_page = page.open(head_view(attention, TOKENS), tmp_path)
    canvas = view_page.locator(".kav-lines canvas")
    before = canvas.evaluate(PAINT)
    # Rows are 20 px high: lines leave the canvas's left edge on every row.
    assert {y // 20 for y in canvas.evaluate(LEFT_EDGE)} == set(range(5))
    view_page.hover(".kav-queries [data-token='2']")
    assert view_page.locator(".kav-queries [data-token='2']").get_attribute(
        "class"
    ) == ("kav-token kav-focus")
    during = canvas.evaluate(PAINT)
    assert during[0] < before[0] / 2
    assert {y // 20 for y in canvas.evaluate(LEFT_EDGE)} == {2}
    view_page.mouse.move(900, 650)
    assert canvas.evaluate(PAINT) == before


def test_hovering_a_key_keeps_the_lines_into_it(page, tmp_path, attention):
    view_page = page.open(head_view(attention, TOKENS), tmp_path)
    canvas = view_page.locator(".kav-lines canvas")
    before = canvas.evaluate(PAINT)
    view_page.hover(".kav-keys [data-token='0']")
    # Every query reaches the first key through head 1.
    assert {y // 20 for y in canvas.evaluate(LEFT_EDGE)} == set(range(5))
    assert canvas.evaluate(PAINT)[0] < before[0]


def test_head_toggles_hide_and_show_heads(page, tmp_path, attention):
    view_page = page.open(head_view(attention, TOKENS), tmp_path)
    canvas = view_page.locator(".kav-lines canvas")
    every = canvas.evaluate(PAINT)
    view_page.click("[data-head='2']")
    assert view_page.get_attribute("[data-head='2']", "aria-pressed") == "false"
    without_2 = canvas.evaluate(PAINT)
    assert without_2[1] < every[1]
    view_page.click("[data-head='2']")
    assert canvas.evaluate(PAINT) == every
    view_page.dblclick("[data-head='1']")
    pressed = [
        view_page.get_attribute(f"[data-head='{h}']", "aria-pressed") for h in range(3)
    ]
    assert pressed == ["false", "true", "false"]
    # Head 1 alone: a line from every query into the first key, nothing else.
    assert {y // 20 for y in canvas.evaluate(LEFT_EDGE)} == set(range(5))
    assert canvas.evaluate(PAINT)[0] < without_2[0]


def test_the_layer_selector_switches_layers(page, tmp_path, attention):
    view_page = page.open(head_view(attention, TOKENS, rollout=True), tmp_path)
    canvas = view_page.locator(".kav-lines canvas")
    first = canvas.evaluate(PIXELS)
    view_page.select_option("[data-layer]", "1")
    assert view_page.get_attribute("select", "data-layer") == "1"
    assert canvas.evaluate(PIXELS) != first
    view_page.select_option("[data-layer]", label="rollout")
    assert texts(view_page, "[data-head]") == ["rollout"]
    view_page.select_option("[data-layer]", "0")
    assert canvas.evaluate(PIXELS) == first
    view_page.screenshot(path=tmp_path / "head_view_layer.png", full_page=True)


def test_cross_attention_puts_queries_left_and_keys_right(page, tmp_path, rng):
    weights = softmax_rows(rng.standard_normal((2, 3, 6)))
    source = ["le", "chat", "noir", "dort", "ici", "."]
    view = head_view({"cross": weights}, source, query_tokens=["the", "black", "cat"])
    view_page = page.open(view, tmp_path)
    assert texts(view_page, ".kav-queries [data-token]") == ["the", "black", "cat"]
    assert texts(view_page, ".kav-keys [data-token]") == source
    assert {
        y // 20 for y in view_page.locator(".kav-lines canvas").evaluate(LEFT_EDGE)
    } == {
        0,
        1,
        2,
    }


def test_clicking_a_thumbnail_enlarges_it(page, tmp_path, attention):
    view_page = page.open(model_view(attention, TOKENS), tmp_path)
    thumbs = view_page.locator(".kav-thumb")
    assert thumbs.count() == 6
    assert view_page.locator(".kav-detail").is_hidden()
    thumb = view_page.locator(".kav-thumb[data-layer='1'][data-head='2']")
    thumb.click()
    detail = view_page.locator(".kav-detail")
    assert detail.is_visible()
    assert (detail.get_attribute("data-layer"), detail.get_attribute("data-head")) == (
        "1",
        "2",
    )
    assert thumb.get_attribute("aria-pressed") == "true"
    enlarged = detail.locator("canvas")
    small, large = thumb.bounding_box(), enlarged.bounding_box()
    assert large["width"] > 2 * small["width"] and large["height"] > 2 * small["height"]
    # The enlarged map is that thumbnail's picture.
    assert enlarged.evaluate(PIXELS) == thumb.locator("canvas").evaluate(PIXELS)
    assert texts(detail, ".kav-queries [data-token]") == TOKENS
    assert texts(detail, ".kav-keys [data-token]") == TOKENS
    box = enlarged.bounding_box()
    cell = box["width"] / 5
    view_page.mouse.move(box["x"] + 1.5 * cell, box["y"] + 3.5 * cell)
    weight = sent(attention["layer 2"])[2, 3, 1]
    assert (
        detail.locator(".kav-readout").text_content() == f"sat \u2192 the: {weight:.3f}"
    )
    view_page.screenshot(path=tmp_path / "model_view.png", full_page=True)
    thumb.click()
    assert detail.is_hidden()


def sent(weights):
    """`(H, Tq, Tk)` weights as the page holds them, in whole 1/255ths of
    each head's largest weight, and as its script reads them back."""
    peaks = weights.max(axis=(1, 2), keepdims=True)
    return np.rint(weights / peaks * 255) * peaks / 255


def test_thumbnails_are_coloured_by_the_shared_scale(page, tmp_path, attention):
    view = model_view(attention, TOKENS)
    view_page = page.open(view, tmp_path)
    thumb = view_page.locator(".kav-thumb[data-layer='0'][data-head='2'] canvas")
    rgba = np.array(thumb.evaluate(PIXELS)).reshape(5, 5, 4)
    expected = view.scale.rgba(sent(attention["layer 1"])[2])[..., :3]
    np.testing.assert_array_equal(rgba[..., :3], np.rint(expected * 255))
    assert (rgba[..., 3] == 255).all()


def test_the_rollout_is_a_row_of_one_thumbnail(page, tmp_path, attention):
    view_page = page.open(model_view(attention, TOKENS, rollout=True), tmp_path)
    assert view_page.locator(".kav-thumb[data-layer='2']").count() == 1
    view_page.click(".kav-thumb[data-layer='2']")
    assert (
        view_page.locator(".kav-detail").text_content().startswith("attention rollout")
    )


@pytest.mark.parametrize("make", [head_view, model_view], ids=["head", "model"])
def test_hostile_tokens_and_names_show_as_text_and_run_nothing(
    page, tmp_path, rng, make
):
    weights = softmax_rows(rng.standard_normal((2, 6, 6)))
    name = "</script><script>alert(2)</script>"
    view_page = page.open(make({name: weights}, HOSTILE), tmp_path)
    if make is model_view:
        view_page.click(".kav-thumb")
        assert view_page.locator(".kav-grid-layer").text_content() == name
    else:
        assert view_page.locator("option").text_content() == name
    assert texts(view_page, ".kav-queries [data-token]") == HOSTILE
    assert texts(view_page, ".kav-keys [data-token]") == HOSTILE
    assert view_page.locator("img, iframe").count() == 0
    assert view_page.locator("script").count() == 1
    assert view_page.locator("style").count() == 2  # the page's and the view's
    assert view_page.locator("body").is_visible()
    view_page.screenshot(path=tmp_path / f"{make.__name__}_hostile.png", full_page=True)


def test_views_side_by_side_build_each_in_its_own_place(page, tmp_path, attention):
    # A notebook with several outputs, one of them shown twice.
    head = head_view(attention, TOKENS).to_html()
    model = model_view(attention, TOKENS).to_html()
    path = tmp_path / "notebook.html"
    path.write_text(
        f"<!DOCTYPE html><body>{head}{model}{head}</body>", encoding="utf-8"
    )
    page.goto(path)
    views = page.page.locator(".kav-view")
    assert views.count() == 3
    assert views.evaluate_all(
        "nodes => nodes.map(n => n.hasAttribute('data-kav-ready'))"
    ) == [
        True,
        True,
        True,
    ]
    assert page.page.locator(".kav-head-view .kav-lines").count() == 2
    assert page.page.locator(".kav-model-view .kav-thumb").count() == 6
    page.page.locator(".kav-head-view").nth(1).locator("[data-head='0']").click()
    pressed = page.page.locator(".kav-head-view [data-head='0']").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('aria-pressed'))"
    )
    assert pressed == ["true", "false"]


@pytest.mark.parametrize("attached", [True, False], ids=["attached", "detached"])
def test_a_front_end_inserting_the_output_and_running_its_scripts(
    page, attention, attached
):
    # What JupyterLab and VS Code do with an HTML output: set it as innerHTML
    # (its scripts do not run), then put a copy of each script in its place,
    # into an output that may not be in the page yet.
    page.page.set_content('<div id="notebook"></div>')
    page.page.evaluate(
        """([markup, attached]) => {
          const output = document.createElement("div");
          if (attached) document.getElementById("notebook").appendChild(output);
          output.innerHTML = markup;
          for (const old of output.querySelectorAll("script")) {
            const script = document.createElement("script");
            script.textContent = old.textContent;
            old.replaceWith(script);
          }
          document.getElementById("notebook").appendChild(output);
        }""",
        [head_view(attention, TOKENS).to_html(), attached],
    )
    assert texts(page.page, ".kav-keys [data-token]") == TOKENS


@pytest.mark.parametrize("make", [head_view, model_view], ids=["head", "model"])
def test_12_layers_of_12_heads_at_128_tokens_fit_in_5_mb_and_open(
    page, tmp_path, rng, make
):
    # The load time is measured by benchmarks/bench_views.py, not here: no
    # test is timed.
    weights = softmax_rows(
        3 * rng.standard_normal((12, 12, 128, 128)).astype(np.float32)
    )
    view = make({f"layer {i}": layer for i, layer in enumerate(weights)})
    path = tmp_path / "large.html"
    view.save(path)
    assert path.stat().st_size < 5 * 2**20
    page.goto(path)
    assert page.page.locator("[data-token], .kav-thumb").count() >= 144
