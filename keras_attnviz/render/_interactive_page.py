"""What the interactive views share: their markup, and the data their script reads.

A view is a `<div>` and a `<script>` that builds the view inside it. The data
goes into the script as JSON that cannot end it; the weights go as bytes,
base64-encoded. Nothing is loaded from anywhere: no CDN, no `require`, no
request, so the same markup works in a saved page, classic Notebook,
JupyterLab, VS Code and Colab. Each rendering gets an id of its own, so
several views, or one view shown twice, share a page.
"""

import base64
import json
import uuid

import numpy as np

from keras_attnviz.render import _html_document
from keras_attnviz.render._view_script import SCRIPT, STYLESHEET

# The weights sent to the page are whole numbers of 1/LEVELS of each head's
# largest weight: one byte per weight.
LEVELS = 255
FALLBACK = (
    '<p class="kav-fallback">This interactive view needs JavaScript: in Jupyter, '
    "trust the notebook and run the cell again.</p>"
)
# `json.dumps` escapes every non-ASCII character (U+2028 and U+2029 among
# them); escaping these too keeps `</script>` and `<!--` out of the script.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_json(data):
    """`data` as JSON that can stand anywhere inside a `<script>` element.

    Example:

    ```python
    >>> from keras_attnviz.render._interactive_page import script_json
    >>> print(script_json({"token": "</script>\\u2028"}))
    {"token":"\\u003c/script\\u003e\\u2028"}
    ```
    """
    return json.dumps(data, separators=(",", ":"), allow_nan=False).translate(
        _SCRIPT_SAFE
    )


def quantize(weights):
    """Weights in whole 1/255ths of each head's largest weight, for the page.

    Args:
        weights: float array `(H, Tq, Tk)`, non-negative.

    Returns:
        A tuple `(levels, peaks)`: the `uint8` levels (0 to 255) in C order,
        base64-encoded, and each head's largest weight (`list[float]`); a
        weight is `level * peak / 255`, within `peak / 510` of the original.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.render._interactive_page import quantize
    >>> quantize(np.array([[[0.5, 0.25], [0.0, 0.125]]]))
    ('/4AAQA==', [0.5])
    ```
    """
    peaks = weights.max(axis=(-2, -1))
    scale = LEVELS / np.where(peaks > 0, peaks, 1.0)
    levels = np.rint(weights * scale[:, np.newaxis, np.newaxis]).astype(np.uint8)
    return base64.b64encode(levels.tobytes()).decode("ascii"), peaks.tolist()


class InteractiveView(_html_document.HTMLDocument):
    """Base of `HeadView` and `ModelView`: one page, one script, one figure.

    Jupyter displays a view; `to_html()` gives a fragment, `save(path)` a
    standalone page and `to_figure()` the same picture for a paper.

    Subclasses set `kind` (the script's view: `"head"` or `"model"`) and may
    add data for the script (`_layer_data`, `_view_data`) and markup shown
    above the view (`_static_parts`).

    Attributes:
        layers: the `ViewLayers` shown: `names`, `weights` (one `(H, Tq, Tk)`
            array per layer), `heads`, `tokens` and `query_tokens`.
    """

    kind = None

    def __init__(self, layers):
        self.layers = layers

    def to_figure(self):
        """The static twin of the view, a `matplotlib.figure.Figure`."""
        raise NotImplementedError

    def _parts(self):
        uid = f"kav-{uuid.uuid4().hex}"
        return [
            STYLESHEET,
            f'<div class="kav-view kav-{self.kind}-view" id="{uid}">{FALLBACK}',
            *self._static_parts(),
            f"</div>\n<script>\n({SCRIPT})({script_json(uid)}, ",
            script_json(self._data()),
            ");\n</script>",
        ]

    def _data(self):
        layers = self.layers
        entries = []
        for index, weights in enumerate(layers.weights):
            levels, peaks = quantize(weights)
            entries.append(
                {
                    "name": layers.names[index],
                    "heads": layers.heads[index],
                    "labels": layers.head_labels[index],
                    "titles": layers.head_titles(index),
                    "peaks": peaks,
                    "weights": levels,
                    **self._layer_data(index),
                }
            )
        return {
            "kind": self.kind,
            "queries": layers.query_tokens,
            "keys": layers.tokens,
            "layers": entries,
            **self._view_data(),
        }

    def _layer_data(self, index):
        return {}

    def _view_data(self):
        return {}

    def _static_parts(self):
        return []
