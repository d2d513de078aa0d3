"""`EpochPage`: one sample's attention at each recorded epoch, behind a slider.

Each epoch is a frame drawn in advance: the spans of `render.html_spans` for
1-D weights, a PNG of `epoch_figures.attention_figure` for 2-D and multi-head
weights, all on one colour scale. The script only shows one frame and hides
the others; it inserts nothing, so tokens are escaped exactly as on every
other page. Without JavaScript (an untrusted notebook) every frame shows, one
below the other.
"""

import base64
import html
import operator
import uuid

import numpy as np

from keras_attnviz.callbacks.epoch_figures import attention_figure, figure_png
from keras_attnviz.render import _html_document, html_spans
from keras_attnviz.render.color_scale import ColorScale

STYLESHEET = """<style>
.kav-epochs{font-family:system-ui,sans-serif;color:#000;background:#fff}
.kav-epochs [hidden]{display:none}
.kav-epochs-title{font-weight:600;margin:0.25em 0}
.kav-epochs-controls{display:flex;align-items:center;gap:0.6em;margin:0.4em 0}
.kav-epochs-slider{width:20em}
.kav-frame-title{font-size:0.85em;color:#333;margin-top:0.5em}
.kav-frame-image{max-width:100%}
</style>"""

# Shows the frame the slider points at; `play` steps through the epochs.
SCRIPT = """function (root) {
  if (!root) { return; }
  var frames = root.querySelectorAll(".kav-frame");
  var slider = root.querySelector(".kav-epochs-slider");
  var play = root.querySelector(".kav-epochs-play");
  var timer = null;
  function show(index) {
    for (var i = 0; i < frames.length; i++) { frames[i].hidden = i !== index; }
    slider.value = String(index);
  }
  function stop() {
    clearInterval(timer);
    timer = null;
    play.textContent = "play";
  }
  slider.addEventListener("input", function () {
    stop();
    show(Number(slider.value));
  });
  play.addEventListener("click", function () {
    if (timer !== null) { stop(); return; }
    var last = frames.length - 1;
    if (Number(slider.value) >= last) { show(0); }
    play.textContent = "pause";
    timer = setInterval(function () {
      var next = Number(slider.value) + 1;
      if (next > last) { stop(); } else { show(next); }
    }, 800);
  });
  root.querySelector(".kav-epochs-controls").hidden = false;
  show(frames.length - 1);
}"""


class EpochPage(_html_document.HTMLDocument):
    """One sample's attention at each recorded epoch, with a slider.

    `AttentionMonitor.render` makes one. Jupyter displays it; `to_html()`
    gives a fragment and `save(path)` a standalone page.

    Args:
        epochs: the epoch (an int) of each frame.
        maps: the `AttentionMap` of each frame, all of one shape.
        caption: the text above the slider (escaped).
        level: what one token is, for 1-D weights: as in `render.html_spans`.
        cmap: matplotlib colormap or its name.

    Attributes:
        epochs: the epoch of each frame.
        maps: the `AttentionMap` of each frame.
        scale: the `ColorScale` shared by every frame.
        caption: the text above the slider.
        level: the `level` of the spans.

    Raises:
        TypeError: if an epoch is not an int.
        ValueError: if there is not one map per epoch, or no map.

    Example:

    ```python
    from keras_attnviz import AttentionMap
    from keras_attnviz.callbacks.epoch_page import EpochPage

    tokens = ["a", "superb", "day"]
    maps = [AttentionMap(w, tokens=tokens) for w in ([0.3, 0.4, 0.3], [0.1, 0.8, 0.1])]
    EpochPage([0, 1], maps, caption="sample 0").save("epochs.html")
    ```
    """

    default_title = "Attention over epochs"

    def __init__(self, epochs, maps, *, caption="", level="auto", cmap=None):
        epochs = list(epochs)
        try:
            self.epochs = [operator.index(epoch) for epoch in epochs]
        except TypeError:
            raise TypeError(
                f"`epochs` must hold ints. Received: epochs={epochs!r}"
            ) from None
        self.maps = list(maps)
        if not self.maps or len(self.maps) != len(self.epochs):
            raise ValueError(
                "`maps` must hold one attention map per epoch, at least one. "
                f"Received: {len(self.maps)} maps and {len(self.epochs)} epochs"
            )
        self.caption = caption
        self.level = level
        self.scale = ColorScale(
            np.concatenate([amap.weights.ravel() for amap in self.maps]), cmap=cmap
        )

    def _parts(self):
        root_id = f"kav-epochs-{uuid.uuid4().hex}"
        last = len(self.epochs) - 1
        parts = [
            STYLESHEET,
            f'<div class="kav-epochs" id="{root_id}">'
            f'<div class="kav-epochs-title">{html.escape(self.caption)}</div>'
            '<div class="kav-epochs-controls" hidden>'
            '<button type="button" class="kav-epochs-play">play</button>'
            f'<input type="range" class="kav-epochs-slider" min="0" max="{last}" '
            f'step="1" value="{last}" aria-label="epoch"></div>',
        ]
        for epoch, amap in zip(self.epochs, self.maps, strict=True):
            parts.append(
                f'<div class="kav-frame" data-epoch="{epoch}">'
                f'<div class="kav-frame-title">epoch {epoch}</div>'
            )
            parts.extend(self._frame(epoch, amap))
            parts.append("</div>")
        if self.maps[0].weights.ndim == 1:
            parts.append(_html_document.legend(self.scale))
        parts.append(
            f'</div>\n<script>\n({SCRIPT})(document.getElementById("{root_id}"));'
            "\n</script>"
        )
        return parts

    def _frame(self, epoch, amap):
        scale = self.scale
        if amap.weights.ndim == 1:
            tokens = amap.tokens
            if tokens is None:
                tokens = [str(position) for position in range(len(amap.weights))]
            spans = html_spans(
                tokens,
                amap.weights,
                level=self.level,
                cmap=scale.cmap,
                vmin=scale.vmin,
                vmax=scale.vmax,
                legend=False,
            )
            return spans._parts()
        figure = attention_figure(
            amap, cmap=scale.cmap, vmin=scale.vmin, vmax=scale.vmax
        )
        png = base64.b64encode(figure_png(figure)).decode("ascii")
        return [
            f'<img class="kav-frame-image" src="data:image/png;base64,{png}" '
            f'alt="attention at epoch {epoch}">'
        ]
