"""A grid of attention heatmaps, one panel per (layer, head), on one colour scale."""

import numbers
from collections.abc import Mapping

import numpy as np

from keras_attnviz.render.color_scale import ColorScale
from keras_attnviz.render.heatmap import _HeatmapPlotter, _labels
from keras_attnviz.render.inputs import as_weights, encodable, unpack_attention_map

AVERAGE_TITLE = "head mean"
# Layout in inches. Set by hand rather than by a layout engine, whose cost grows
# fast with the number of panels (a 12 x 12 grid took seconds to lay out).
_PANEL_GAP = 0.12
_EDGE = 0.1
_CBAR_GAP = 0.2
_CBAR_WIDTH = 0.15
_CBAR_LABELS = 0.55
_CBAR_MAX_HEIGHT = 5.0
# The largest panel, in inches: a figure's pixels grow with its square, so a
# huge `panel_size` would make a figure of gigabytes.
MAX_PANEL_SIZE = 10.0


def heads_grid(
    weights,
    tokens=None,
    *,
    layers=None,
    heads=None,
    query_tokens=None,
    average=False,
    cmap=None,
    vmin=None,
    vmax=None,
    panel_size=2.5,
    cbar=True,
):
    """Draws multi-head attention as a grid of heatmaps, one per (layer, head).

    Rows are layers ("layer X"), columns are heads ("head h"); every panel
    shows the query x key weights of one head on the same colour scale, with a
    single colour bar. Token labels sit on the outer panels. The result is a
    `matplotlib.figure.Figure` made without pyplot: nothing is shown or kept
    open globally; save it with `fig.savefig`.

    Args:
        weights: the attention of several heads: an array-like of shape
            `(L, H, Tq, Tk)` (layers named 0 to L-1) or `(H, Tq, Tk)` (one
            layer), a dict mapping layer names to `(H, Tq, Tk)` arrays, or an
            attention map (an object with `weights` and `tokens`, like the
            probe's `AttentionMap`) with 3-D weights; dict values may be
            attention maps too. All layers must share one shape.
        tokens: the key tokens (x labels), one per column; by default those of
            the attention map(s), else column numbers.
        layers: the layers to draw, by name (dict key) or position; one value or
            a list. Default: all.
        heads: the heads to draw, by position; one value or a list. Default:
            all.
        query_tokens: the query tokens (y labels); by default those of the
            attention map(s), or `tokens` when there are as many queries as
            keys (self-attention), else row numbers.
        average: whether to add a last column with the mean over the drawn
            heads of each layer.
        cmap: matplotlib colormap or its name; default as in `heatmap`.
        vmin: the value at the light (diverging: low) end, shared by all panels.
        vmax: the value at the dark (diverging: high) end, shared by all panels;
            by default the largest weight drawn.
        panel_size: the width and height of a panel, in inches, at most
            `MAX_PANEL_SIZE` (10).
        cbar: whether to add the shared colour bar.

    Returns:
        A `matplotlib.figure.Figure`.

    Raises:
        TypeError: if `weights` is not numeric, `tokens` is not a sequence,
            `average` is not a bool or `panel_size` is not a number.
        ValueError: if `weights` has the wrong rank, holds NaN or inf, its
            layers differ in shape, `layers` or `heads` select nothing that
            exists, the tokens do not match, or `panel_size` is not positive
            or above `MAX_PANEL_SIZE`.

    Example:

    ```python
    import numpy as np
    from keras_attnviz.render import heads_grid

    scores = np.random.default_rng(0).random((2, 4, 5, 5))
    weights = scores / scores.sum(axis=-1, keepdims=True)
    fig = heads_grid(weights, "I like green tea .".split(), average=True)
    fig.savefig("heads.png")
    ```
    """
    _check_panel_size(panel_size)
    grid = _HeadsGrid(
        weights, tokens, query_tokens, layers=layers, heads=heads, average=average
    )
    scale = ColorScale(grid.panels, cmap=cmap, vmin=vmin, vmax=vmax)
    return grid.plot(scale, panel_size=panel_size, cbar=cbar)


class _HeadsGrid:
    """Checks and selects `heads_grid` inputs, then draws them on request.

    Attributes:
        panels: float64 array `(rows, columns, Tq, Tk)`: the selected layers
            down, the selected heads (then their mean) across.
        row_titles: `"layer X"` per row.
        column_titles: `"head h"` per column (`AVERAGE_TITLE` for the mean).
        x_labels: one label per key.
        y_labels: one label per query.
    """

    def __init__(
        self,
        weights,
        tokens=None,
        query_tokens=None,
        *,
        layers=None,
        heads=None,
        average=False,
    ):
        if not isinstance(average, bool):
            raise TypeError(
                f"`average` must be True or False. Received: average={average!r}"
            )
        names, stack, map_tokens, map_queries = _layer_stack(weights)
        n_heads, n_queries, n_keys = stack.shape[1:]
        rows = _select(layers, names, "layers", "layer")
        columns = _select(heads, list(range(n_heads)), "heads", "head")
        panels = stack[rows][:, columns]
        self.row_titles = [encodable(f"layer {names[row]}") for row in rows]
        self.column_titles = [f"head {column}" for column in columns]
        if average:
            panels = np.concatenate([panels, panels.mean(axis=1, keepdims=True)], 1)
            self.column_titles.append(AVERAGE_TITLE)
        self.panels = panels
        tokens = map_tokens if tokens is None else tokens
        query_tokens = map_queries if query_tokens is None else query_tokens
        if query_tokens is None and n_queries == n_keys:
            query_tokens = tokens
        self.x_labels = _labels(tokens, n_keys, "tokens", "key")
        self.y_labels = _labels(query_tokens, n_queries, "query_tokens", "query")

    def plot(self, scale, *, panel_size=2.5, cbar=True):
        """Draws the grid on a new `Figure` with one `ColorScale` and returns it."""
        from matplotlib.figure import Figure

        n_rows, n_columns = self.panels.shape[:2]
        left, bottom, top = _label_room(self.x_labels, self.y_labels)
        right = _EDGE + (_CBAR_GAP + _CBAR_WIDTH + _CBAR_LABELS if cbar else 0.0)
        grid_width = n_columns * panel_size + (n_columns - 1) * _PANEL_GAP
        grid_height = n_rows * panel_size + (n_rows - 1) * _PANEL_GAP
        width, height = left + grid_width + right, bottom + grid_height + top
        figure = Figure(figsize=(width, height))
        axes = figure.subplots(
            n_rows,
            n_columns,
            squeeze=False,
            gridspec_kw={
                "left": left / width,
                "right": (left + grid_width) / width,
                "bottom": bottom / height,
                "top": (bottom + grid_height) / height,
                "wspace": _PANEL_GAP / panel_size,
                "hspace": _PANEL_GAP / panel_size,
            },
        )
        for (row, column), ax in np.ndenumerate(axes):
            # Token labels on the outer panels only.
            ax.tick_params(
                labelsize="small",
                labelbottom=row == n_rows - 1,
                labelleft=column == 0,
            )
            plotter = _HeatmapPlotter(
                self.panels[row, column],
                self.x_labels,
                self.y_labels,
                cmap=scale.cmap,
                vmin=scale.vmin,
                vmax=scale.vmax,
            )
            image = plotter.plot(ax, cbar=False)
            # Layer names come from models: literal text, never mathtext.
            if row == 0:
                title = self.column_titles[column]
                ax.set_title(title, fontsize="medium", parse_math=False)
            if column == 0:
                ax.set_ylabel(self.row_titles[row], parse_math=False)
        if cbar:
            bar_height = min(grid_height, max(panel_size, _CBAR_MAX_HEIGHT))
            bar = figure.add_axes(
                (
                    (left + grid_width + _CBAR_GAP) / width,
                    (bottom + (grid_height - bar_height) / 2) / height,
                    _CBAR_WIDTH / width,
                    bar_height / height,
                )
            )
            scale.colorbar(figure, image, cax=bar)
        return figure


def _label_room(x_labels, y_labels):
    """Inches left of, below and above the panels for their labels and titles."""
    import matplotlib
    from matplotlib.font_manager import FontProperties

    from keras_attnviz.render._label_layout import text_width

    def points(size):
        return FontProperties(size=size).get_size_in_points()

    rc = matplotlib.rcParams
    tick = points("small")
    tick_room = rc["ytick.major.size"] + rc["ytick.major.pad"]
    # Token labels may be drawn vertical below the panels: room for the widest.
    left = (
        max(text_width(label, tick) for label in y_labels)
        + tick_room
        + rc["axes.labelpad"]
        + 1.2 * points(rc["axes.labelsize"])
    )
    bottom = max(text_width(label, tick) for label in x_labels) + tick_room
    top = 1.2 * points("medium") + rc["axes.titlepad"]
    return tuple(_EDGE + room / 72 for room in (left, bottom, top))


def _layer_stack(weights):
    """Names, weights `(L, H, Tq, Tk)` and any tokens of the layers in `weights`."""
    if isinstance(weights, Mapping):
        if not weights:
            raise ValueError(
                "`weights` must hold at least one layer. Received: an empty dict"
            )
        names = list(weights)
        layers = [_head_weights(weights[name], f"weights[{name!r}]") for name in names]
    else:
        layer = _head_weights(weights, "weights", ranks=(3, 4))
        array, tokens, queries, name = layer
        if array.ndim == 4:
            return list(range(array.shape[0])), array, tokens, queries
        names, layers = [0 if name is None else name], [layer]
    shapes = {name: layer[0].shape for name, layer in zip(names, layers, strict=True)}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            "The layers in `weights` must all have the same (heads, queries, keys) "
            f"shape; draw the others in a grid of their own. Received: {shapes}"
        )
    stack = np.stack([layer[0] for layer in layers])
    tokens = next((layer[1] for layer in layers if layer[1] is not None), None)
    queries = next((layer[2] for layer in layers if layer[2] is not None), None)
    return names, stack, tokens, queries


def _head_weights(value, name, ranks=3):
    """`(weights, tokens, query_tokens, layer_name)` of an array or attention map.

    An attention map always holds one layer: `(H, Tq, Tk)` weights.
    """
    tokens, weights, queries = unpack_attention_map(value, None)
    if weights is None:  # `value` is an array, not an attention map
        array, tokens, layer = tokens, None, None
    else:
        array, layer, ranks = weights, getattr(value, "layer", None), 3
    array = as_weights(array, name=name, ndim=ranks)
    if array.size == 0:
        raise ValueError(
            f"`{name}` must not be empty. Received: an array of shape {array.shape}"
        )
    return array, tokens, queries, layer


def _select(selection, names, argument, what):
    """Positions in `names` of the selected items (by name first, then position)."""
    if selection is None:
        return list(range(len(names)))
    if isinstance(selection, (str, numbers.Integral)):
        selection = [selection]
    try:
        selection = list(selection)
    except TypeError:
        raise TypeError(
            f"`{argument}` must be a {what} name or number, or a list of them. "
            f"Received: {selection!r}"
        ) from None
    if not selection:
        raise ValueError(f"`{argument}` must select at least one {what}. Received: []")
    return [_position(item, names, argument, what) for item in selection]


def _position(item, names, argument, what):
    if not isinstance(item, bool):
        if item in names:
            return names.index(item)
        if isinstance(item, numbers.Integral) and -len(names) <= item < len(names):
            return int(item) % len(names)
    raise ValueError(
        f"`{argument}` must name or number {what}s of `weights` "
        f"(available: {names}). Received: {item!r}"
    )


def _check_panel_size(panel_size):
    if not isinstance(panel_size, numbers.Real) or isinstance(panel_size, bool):
        raise TypeError(
            "`panel_size` must be a number of inches. "
            f"Received: panel_size={panel_size!r}"
        )
    if not 0 < panel_size <= MAX_PANEL_SIZE:
        raise ValueError(
            "`panel_size` must be a positive number of inches, at most "
            f"{MAX_PANEL_SIZE:g}. Received: panel_size={panel_size!r}"
        )
