"""The head view: lines from each query token to its keys, one colour per head."""

import math

import numpy as np

from keras_attnviz.render._interactive_page import InteractiveView
from keras_attnviz.render._view_layers import ROLLOUT, ViewLayers, position

ROLLOUT_COLOR = "#404040"
# Figure layout in inches, after the page: 20 px rows, 240 px of lines.
_ROW = 0.22
_LINES_WIDTH = 2.5
_EDGE = 0.1
_TOKEN_GAP = 4  # points between a token and its lines
_TITLE_ROOM = 0.3
_LEGEND_ROW = 0.22
_LEGEND_FONT = "small"
# The most lines drawn at once, strongest first; lighter than 1/255 never.
MAX_LINES = 5_000
# Lines are 2 px wide (1.5 points in figures) in views of layers with at most
# this many lines, else 1 px: wide lines take four times longer to draw.
WIDE_LINES_UP_TO = 5_000


class HeadView(InteractiveView):
    """Attention drawn as lines between two token columns; made by `head_view`.

    Attributes:
        layers: the `ViewLayers` shown.
        colors: the colour of each head (`"#rrggbb"`), per layer.
    """

    kind = "head"

    def __init__(self, layers):
        super().__init__(layers)
        palette = _palette()
        self.colors = [
            [
                ROLLOUT_COLOR if label == ROLLOUT else palette[head % len(palette)]
                for head, label in zip(heads, labels, strict=True)
            ]
            for heads, labels in zip(layers.heads, layers.head_labels, strict=True)
        ]

    def to_figure(self, layer=None, *, query=None):
        """Draws one layer of the view on a new `matplotlib.figure.Figure`.

        Every head of the view is drawn in its colour, each line with the
        opacity of its weight, as the page draws them before any hover or
        toggle: the strongest `MAX_LINES` (5,000) lines at the most, none
        lighter than 1/255. Made without pyplot: save it with `fig.savefig`
        (PNG, SVG, PDF).

        Args:
            layer: the layer to draw, by name or position among the view's
                layers; default the first, which the page opens on.
            query: the position of a query token to draw alone (in bold), as
                hovering it does in the page; default every query.

        Returns:
            A `matplotlib.figure.Figure`.

        Raises:
            TypeError: if `query` is not an int.
            ValueError: if `layer` is not one of the view's or `query` is out
                of range.
        """
        from matplotlib.figure import Figure

        index = self.layers.index(layer)
        weights = self.layers.weights[index]
        n_heads, n_queries, n_keys = weights.shape
        if query is not None:
            query = position(query, n_queries, "query", "queries")
        names = self.layers.head_names(index)
        left = _token_room(self.layers.query_tokens)
        right = _token_room(self.layers.tokens)
        width = left + _LINES_WIDTH + right
        legend_columns = _legend_columns(names, width)
        bottom = _EDGE + _LEGEND_ROW * math.ceil(n_heads / legend_columns)
        lines_height = _ROW * max(n_queries, n_keys)
        height = bottom + lines_height + _EDGE + _TITLE_ROOM
        figure = Figure(figsize=(width, height))
        ax = figure.add_axes(
            (left / width, bottom / height, _LINES_WIDTH / width, lines_height / height)
        )
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(max(n_queries, n_keys), 0)
        ax.set_title(self.layers.names[index], parse_math=False)
        rows = range(n_queries) if query is None else [query]
        lines = _lines(weights, rows, self.colors[index])
        lines.set_linewidth(0.75 * self._line_width())
        ax.add_collection(lines)
        for tokens, x, gap, align in (
            (self.layers.query_tokens, 0, -_TOKEN_GAP, "right"),
            (self.layers.tokens, 1, _TOKEN_GAP, "left"),
        ):
            for i, token in enumerate(tokens):
                # Tokens are literal text: a `$` must not switch to mathtext.
                ax.annotate(
                    token,
                    (x, i + 0.5),
                    xytext=(gap, 0),
                    textcoords="offset points",
                    ha=align,
                    va="center",
                    fontweight="bold" if x == 0 and i == query else "normal",
                    parse_math=False,
                    annotation_clip=False,
                )
        figure.legend(
            [_legend_line(color) for color in self.colors[index]],
            names,
            loc="lower center",
            ncols=legend_columns,
            frameon=False,
            fontsize=_LEGEND_FONT,
        )
        return figure

    def _layer_data(self, index):
        return {"colors": self.colors[index]}

    def _view_data(self):
        return {"maxLines": MAX_LINES, "lineWidth": self._line_width()}

    def _line_width(self):
        """The page's line width in px; 3/4 of it in points for figures."""
        return 2 if self.layers.weights[0].size <= WIDE_LINES_UP_TO else 1


def _lines(weights, rows, colors):
    """A `LineCollection` from the queries `rows` to every key, by head.

    The strongest lines, `MAX_LINES` at the most, as the page draws them.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgb

    shown = weights[:, rows]
    bins = np.floor(shown * 255).astype(np.intp)
    head, row, key = np.nonzero(bins >= floor_bin(bins))
    segments = np.zeros((len(head), 2, 2))
    segments[:, 0, 1] = np.asarray(rows)[row] + 0.5
    segments[:, 1, 0] = 1.0
    segments[:, 1, 1] = key + 0.5
    rgb = np.array([to_rgb(color) for color in colors])
    rgba = np.column_stack([rgb[head], shown[head, row, key]])
    return LineCollection(segments, colors=rgba)


def floor_bin(bins):
    """The smallest bin of lines drawn: at most `MAX_LINES` lines, bins >= 1.

    A line's bin is its weight in whole 1/255ths; the page's script makes the
    same choice.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.render.head_view import MAX_LINES, floor_bin
    >>> floor_bin(np.array([0, 3, 200])), floor_bin(np.full(MAX_LINES + 1, 9))
    (1, 10)
    ```
    """
    counts = np.bincount(bins.ravel(), minlength=257)
    at_least = np.cumsum(counts[::-1])[::-1]  # lines of each bin or above
    return 1 + int(np.argmax(at_least[1:] <= MAX_LINES))


def _legend_line(color):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, linewidth=2)


def _points(size):
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=size).get_size_in_points()


def _token_room(tokens):
    """Inches beside the lines for the widest token."""
    from keras_attnviz.render._label_layout import text_width

    size = _points("medium")
    return _EDGE + (max(text_width(token, size) for token in tokens) + _TOKEN_GAP) / 72


def _legend_columns(names, width):
    """As many legend entries to a row as fit `width` inches."""
    from keras_attnviz.render._label_layout import text_width

    size = _points(_LEGEND_FONT)
    # matplotlib's defaults: a 2-em handle, 0.8 em to the text, 2 em between.
    entry = (max(text_width(name, size) for name in names) + 4.8 * size) / 72
    return max(1, min(len(names), int((width - 2 * _EDGE) // entry)))


def _palette():
    """Twenty head colours: the dark half of `tab20`, then its light half."""
    import matplotlib
    from matplotlib.colors import to_hex

    colors = matplotlib.colormaps["tab20"].colors
    return [to_hex(color) for color in colors[0::2] + colors[1::2]]


def head_view(
    weights,
    tokens=None,
    *,
    sample=None,
    query_tokens=None,
    layers=None,
    heads=None,
    rollout=False,
    rollout_kws=None,
):
    """Shows attention as lines from each query token to its keys (bertviz).

    Query tokens stand in a column on the left, key tokens on the right (for
    self-attention the same tokens twice, for cross-attention the decoder's
    queries and the encoder's keys), and a line joins each query to each
    key, in the colour of its head, with the opacity of its weight. In the
    page, a selector picks the layer, a toggle per head hides or shows it
    (double-click: that head alone), and hovering a token keeps only its
    lines. Tokens are written as text, never as markup. At most
    `MAX_LINES` (5,000) lines are drawn at once, the strongest, and none
    lighter than 1/255: the weakest lines of a long sequence only add a haze,
    and take time to draw; the page says when lines are left out.

    The page holds all its code and data: no CDN, no request, in a saved
    page as in classic Notebook, JupyterLab, VS Code and Colab. The weights
    go into it as whole 1/255ths of each head's largest weight (one byte
    each, off by at most 1/510 of it): 12 layers of 12 heads over 128 tokens
    make a page of about 3.2 MB.

    For styling and tests, the elements carry `data-token="<position>"`
    (tokens), `data-head="<head>"` (head toggles) and `data-layer="<shown
    layer's position>"` (the layer selector).

    Args:
        weights: a probe result (`ProbeResult`, recognised by its
            `attention` and `sample`), a dict mapping layer names to weights
            `(H, Tq, Tk)` (or `(Tq, Tk)` for one head) or to attention maps,
            or one attention map (`result.sample(i, layer)`). The layers of
            one view share one shape. Weights are in [0, 1].
        tokens: the key tokens. For a probe result they go to
            `result.sample`: one per real or one per padded position, and
            they are the queries too for self-attention. Default: the
            attention maps' tokens, else positions.
        sample: which sample of a probe result to show; may be left out
            when the result holds one.
        query_tokens: the query tokens of cross-attention. Default: for a
            dict, `tokens` when there are as many queries as keys; else
            positions.
        layers: the layers to show, by name or position; one or a list, in
            the order given. Default: all.
        heads: the heads to show, by position; one or a list. Default: all.
        rollout: whether to add the attention rollout (Abnar & Zuidema,
            2020) of the layers and heads shown as a last layer, `"rollout"`:
            `keras_attnviz.analysis.attention_rollout`, taking the layers
            bottom-up in the order shown. Needs self-attention.
        rollout_kws: keyword arguments for `attention_rollout`, e.g.
            `{"residual": 0.5, "head_reduction": "mean"}`.

    Returns:
        A `HeadView`: Jupyter displays it; `to_html()` gives a fragment,
        `save(path)` a standalone page, `to_figure()` a matplotlib figure.

    Raises:
        TypeError: if `weights` is of another type, is not numeric, or an
            option has the wrong type.
        ValueError: if the weights are not 2-D or 3-D, hold NaN or inf or
            values outside [0, 1], the layers differ in shape (or mix self-
            and cross-attention), `layers`, `heads` or `sample` select
            nothing that exists, the tokens do not match, or `rollout=True`
            meets cross-attention.

    Example:

    ```python
    import numpy as np
    from keras_attnviz.render import head_view

    scores = np.random.default_rng(0).random((2, 4, 5, 5))  # layers, heads, Tq, Tk
    weights = scores / scores.sum(axis=-1, keepdims=True)
    view = head_view(
        {"block_1": weights[0], "block_2": weights[1]},
        ["the", "cat", "sat", "down", "."],
    )
    view.save("head_view.html")  # or show `view` in Jupyter
    view.to_figure("block_2", query=1).savefig("head_view.png")
    ```
    """
    return HeadView(
        ViewLayers(
            weights,
            tokens,
            sample=sample,
            query_tokens=query_tokens,
            layers=layers,
            heads=heads,
            rollout=rollout,
            rollout_kws=rollout_kws,
        )
    )
