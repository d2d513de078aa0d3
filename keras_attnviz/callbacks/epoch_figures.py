"""Pictures of one sample's attention: at one epoch, and over all recorded epochs.

The monitor's TensorBoard images, the 2-D frames of its epoch page and its
static figure are drawn here, with `render.heatmap` and `render.heads_grid` on
a `matplotlib.figure.Figure` (the Agg canvas, never pyplot), so nothing is
shown or kept open globally.
"""

import io

import numpy as np

from keras_attnviz.render import heads_grid, heatmap
from keras_attnviz.render.color_scale import ColorScale
from keras_attnviz.render.heads_grid import _label_room

DPI = 100
# Layout in inches, set by hand as `heads_grid` does: a layout engine costs
# more than the drawing, at every epoch. Cells shrink so that the data fits
# `_MAX_DATA`; tick labels are thinned to what fits.
_CELL = 0.22
_STRIP_HEIGHT = 0.45
_MAX_DATA = 16.0
_CBAR_GAP, _CBAR_WIDTH, _CBAR_LABELS = 0.15, 0.15, 0.55


def attention_figure(amap, *, cmap=None, vmin=None, vmax=None):
    """Draws one attention map: a strip, a query x key heatmap, or one per head.

    Args:
        amap: an `AttentionMap` with weights `(T,)`, `(Tq, T)` or `(H, Tq, T)`.
        cmap: matplotlib colormap or its name, as in `render.heatmap`.
        vmin: the value at the light (diverging: low) end.
        vmax: the value at the dark (diverging: high) end; by default the
            largest weight.

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    ```python
    from keras_attnviz import AttentionMap
    from keras_attnviz.callbacks.epoch_figures import attention_figure

    amap = AttentionMap([0.1, 0.7, 0.2], tokens=["a", "superb", "day"])
    attention_figure(amap).savefig("attention.png")
    ```
    """
    if amap.weights.ndim == 3:
        return heads_grid(amap, cmap=cmap, vmin=vmin, vmax=vmax)
    return _heatmap_figure(
        amap.weights, amap.tokens, amap.query_tokens, cmap=cmap, vmin=vmin, vmax=vmax
    )


def update_attention_figure(figure, amap):
    """Redraws a figure of `attention_figure` with the weights of `amap`.

    Tokens and layout stay; only the colours change, so this costs less than
    drawing anew: the monitor's TensorBoard images of one sample differ only
    in their weights from epoch to epoch.

    Args:
        figure: a figure `attention_figure` drew, for weights of one shape
            with those of `amap`.
        amap: the `AttentionMap` to show, with the default colour scale.

    Example:

    ```python
    from keras_attnviz import AttentionMap
    from keras_attnviz.callbacks.epoch_figures import (
        attention_figure,
        update_attention_figure,
    )

    tokens = ["a", "superb", "day"]
    figure = attention_figure(AttentionMap([0.3, 0.4, 0.3], tokens=tokens))
    update_attention_figure(figure, AttentionMap([0.1, 0.8, 0.1], tokens=tokens))
    figure.savefig("attention.png")
    ```
    """
    scale = ColorScale(amap.weights)
    if amap.weights.ndim == 1:
        panels = amap.weights[np.newaxis, np.newaxis]
    else:
        panels = amap.weights.reshape(-1, *amap.weights.shape[-2:])
    images = [ax.images[0] for ax in figure.axes if ax.images]
    for image, weights in zip(images, panels, strict=True):
        image.set_data(weights)
        image.set_cmap(scale.cmap)
        image.set_clim(scale.vmin, scale.vmax)


def epochs_figure(epochs, maps, *, cmap=None):
    """Draws one sample's attention at each epoch, one heatmap row per epoch.

    1-D weights give one heatmap with a row per epoch; 2-D and multi-head
    weights give a grid with a row of panels per epoch (one panel per head).
    Every epoch shares one colour scale, so a weight that grows darkens.

    Args:
        epochs: the epoch of each map.
        maps: the `AttentionMap`s of one sample and layer, one per epoch, all
            of one shape.
        cmap: matplotlib colormap or its name.

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    ```python
    from keras_attnviz import AttentionMap
    from keras_attnviz.callbacks.epoch_figures import epochs_figure

    tokens = ["a", "superb", "day"]
    maps = [AttentionMap(w, tokens=tokens) for w in ([0.3, 0.4, 0.3], [0.1, 0.8, 0.1])]
    epochs_figure([0, 1], maps).savefig("epochs.png")
    ```
    """
    first = maps[0]
    labels = [f"epoch {epoch}" for epoch in epochs]
    title = "attention after each epoch"
    if first.layer is not None:
        title = f"{first.layer}: {title}"
    if first.weights.ndim == 1:
        return _heatmap_figure(
            np.stack([amap.weights for amap in maps]),
            first.tokens,
            labels,
            cmap=cmap,
            title=title,
        )
    stack = np.stack(
        [amap.weights.reshape(-1, *amap.weights.shape[-2:]) for amap in maps]
    )
    figure = heads_grid(stack, first.tokens, query_tokens=first.query_tokens, cmap=cmap)
    # The grid names its rows after layers; here each row is an epoch.
    n_columns = stack.shape[1]
    panels = figure.axes[: len(maps) * n_columns]
    for row, label in enumerate(labels):
        panels[row * n_columns].set_ylabel(label, parse_math=False)
    if first.weights.ndim == 2:
        # One panel per epoch, not per head: the column is the layer's.
        panels[0].set_title(title, fontsize="medium", parse_math=False)
    return figure


def figure_png(figure):
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def figure_pixels(figure):
    """The figure drawn on the Agg canvas: a `(height, width, 4)` uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def _heatmap_figure(
    weights, x_labels, y_labels, *, cmap, vmin=None, vmax=None, title=None
):
    """A heatmap on a figure sized to its cells and labels, with a colour bar."""
    from matplotlib.figure import Figure

    n_rows = 1 if weights.ndim == 1 else weights.shape[0]
    n_keys = weights.shape[-1]
    room_labels = [str(key) for key in range(n_keys)] if x_labels is None else x_labels
    left, bottom, top = _label_room(
        room_labels, [""] if weights.ndim == 1 else y_labels or [str(n_rows)]
    )
    data_width = n_keys * min(_CELL, _MAX_DATA / n_keys)
    data_height = (
        _STRIP_HEIGHT if weights.ndim == 1 else n_rows * min(_CELL, _MAX_DATA / n_rows)
    )
    right = _CBAR_GAP + _CBAR_WIDTH + _CBAR_LABELS
    width, height = left + data_width + right, bottom + data_height + top
    figure = Figure(figsize=(width, height), dpi=DPI)
    ax = figure.add_axes(
        (left / width, bottom / height, data_width / width, data_height / height)
    )
    ax.tick_params(labelsize="small")
    heatmap(
        weights, x_labels, y_labels, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, cbar=False
    )
    bar = figure.add_axes(
        (
            (left + data_width + _CBAR_GAP) / width,
            bottom / height,
            _CBAR_WIDTH / width,
            data_height / height,
        )
    )
    figure.colorbar(ax.images[0], cax=bar)
    bar.tick_params(labelsize="small")
    if title is not None:
        ax.set_title(title, fontsize="medium", parse_math=False)
    return figure
