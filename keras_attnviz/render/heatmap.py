"""Heatmaps of attention weights: a one-row strip or a query x key matrix."""

import numpy as np

from keras_attnviz.render.color_scale import ColorScale
from keras_attnviz.render.inputs import as_weights, encodable, unpack_attention_map
from keras_attnviz.tokens import as_tokens


def heatmap(
    weights,
    x_labels=None,
    y_labels=None,
    *,
    ax=None,
    annot=False,
    fmt=".2f",
    cmap=None,
    vmin=None,
    vmax=None,
    cbar=True,
    mask=None,
    **kwargs,
):
    """Draws attention weights as a heatmap on a matplotlib Axes.

    1-D weights (one per token of a document) draw a one-row strip; 2-D weights
    draw the query x key alignment matrix, queries down and keys across. Tokens
    become tick labels, thinned to every k-th when the Axes has no room for all
    of them. Nothing is shown or saved: that is the caller's choice.

    Args:
        weights: array-like of shape `(T,)` or `(Tq, Tk)` (a list, a NumPy
            array, a tensor), or an attention map (an object with `weights`
            and `tokens`, like the probe's `AttentionMap`) whose `tokens` and
            `query_tokens` label the columns and rows.
        x_labels: one label per column (the key tokens), or `None` for column
            numbers. A string gives one label per character.
        y_labels: one label per row (the query tokens), or `None` for row
            numbers (no label for a 1-D strip).
        ax: the Axes to draw on; defaults to the current Axes (`plt.gca()`).
        annot: `True` writes each weight in its cell with `fmt`; an array of the
            shape of `weights` writes its entries instead (numbers with `fmt`,
            anything else, e.g. tokens, as text). Text is black or white,
            whichever contrasts more with the cell (WCAG).
        fmt: format spec for numbers written by `annot`.
        cmap: matplotlib colormap or its name. Defaults to light-to-dark
            `"Blues"`, or to `"RdBu_r"` centred on 0 if a weight is negative.
        vmin: the value at the light (diverging: low) end; default 0.
        vmax: the value at the dark (diverging: high) end; default the largest
            visible weight.
        cbar: whether to add a colour bar (`Figure.colorbar`, which takes its
            room from `ax`).
        mask: boolean array of the shape of `weights`; `True` hides a cell,
            as in seaborn: it is drawn transparent, left unannotated and left
            out of the colour scale. Hidden cells may hold NaN (padding).
        **kwargs: passed to `Axes.imshow`, e.g. `aspect="equal"` or `alpha`.

    Returns:
        The Axes drawn on.

    Raises:
        TypeError: if `weights` is not numeric, `mask` is not boolean, labels
            are not iterable, or `norm` is passed (use `vmin` and `vmax`).
        ValueError: if `weights` is not 1-D or 2-D, is empty, holds NaN or inf
            in a visible cell, or labels, `annot` or `mask` do not match it.

    Example:

    ```python
    import matplotlib.pyplot as plt
    from keras_attnviz.render import heatmap

    fig, ax = plt.subplots(figsize=(5, 3))
    heatmap(
        [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
        x_labels=["le", "chat", "noir"],
        y_labels=["the", "cat"],
        ax=ax,
        annot=True,
    )
    fig.savefig("alignment.png")
    ```
    """
    if "norm" in kwargs:
        raise TypeError(
            "`heatmap` builds its colour scale from `cmap`, `vmin` and `vmax`; "
            f"`norm` is not supported. Received: norm={kwargs['norm']!r}"
        )
    plotter = _HeatmapPlotter(
        weights,
        x_labels,
        y_labels,
        annot=annot,
        fmt=fmt,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        mask=mask,
    )
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    plotter.plot(ax, cbar=cbar, **kwargs)
    return ax


class _HeatmapPlotter:
    """Checks and converts `heatmap` inputs, then draws them on request.

    Attributes:
        data: 2-D masked float64 array, hidden cells masked; a strip is one row.
        x_labels: one label (`str`) per column.
        y_labels: one label per row, or `[]` for an unlabelled strip.
        annotations: 2-D object array of cell texts (`None` where hidden), or
            `None` when `annot` is off.
        scale: the `ColorScale` of the visible cells.
    """

    def __init__(
        self,
        weights,
        x_labels=None,
        y_labels=None,
        *,
        annot=False,
        fmt=".2f",
        cmap=None,
        vmin=None,
        vmax=None,
        mask=None,
    ):
        keys, values, queries = unpack_attention_map(weights, None)
        if values is None:  # `weights` is an array, not an attention map
            keys, values = None, keys
        values, hidden = _visible_weights(values, mask)
        strip = values.ndim == 1
        annotations = _annotations(annot, values, fmt)
        if strip:
            values, hidden = values[np.newaxis], hidden[np.newaxis]
            if annotations is not None:
                annotations = annotations[np.newaxis]
        n_rows, n_columns = values.shape
        self.x_labels = _labels(
            keys if x_labels is None else x_labels, n_columns, "x_labels", "column"
        )
        if strip and y_labels is None:
            self.y_labels = []
        else:
            self.y_labels = _labels(
                queries if y_labels is None else y_labels, n_rows, "y_labels", "row"
            )
        if annotations is not None:
            annotations[hidden] = None
        self.annotations = annotations
        self.data = np.ma.masked_array(values, hidden)
        self.scale = ColorScale(values[~hidden], cmap=cmap, vmin=vmin, vmax=vmax)

    def plot(self, ax, *, cbar=True, **kwargs):
        """Draws the heatmap on `ax` and returns the image artist."""
        image = ax.imshow(
            self.data / self.scale.unit,
            cmap=self.scale.cmap,
            norm=self.scale.norm,
            **{"interpolation": "nearest", "aspect": "auto", **kwargs},
        )
        ax.grid(False)
        if cbar:
            self.scale.colorbar(ax.figure, image, ax=ax)
        # Sizes are read after the colour bar took its room from `ax`.
        width, height = _size_in_points(ax)
        _set_token_ticks(ax.xaxis, self.x_labels, width)
        _set_token_ticks(ax.yaxis, self.y_labels, height)
        if self.annotations is not None:
            self._annotate(ax, width, height)
        return image

    def _annotate(self, ax, width, height):
        import matplotlib

        from keras_attnviz.render._cell_text import add_cell_texts
        from keras_attnviz.render._label_layout import cell_font_size

        n_rows, n_columns = self.data.shape
        texts = [text for text in self.annotations.ravel() if text is not None]
        size = cell_font_size(
            texts,
            width / n_columns,
            height / n_rows,
            matplotlib.rcParams["font.size"],
        )
        colors = np.array(self.scale.text_colors(self.data.filled(0.0)), dtype=object)
        add_cell_texts(ax, self.annotations, colors.reshape(self.data.shape), size)


def _visible_weights(values, mask):
    """The weights as a finite float array, and the boolean array of hidden cells."""
    if mask is None:
        weights = as_weights(values)
        hidden = np.zeros(weights.shape, dtype=bool)
    else:
        hidden = np.asarray(mask)
        if hidden.dtype != np.bool_:
            raise TypeError(
                "`mask` must be a boolean array, True where a cell is hidden. "
                f"Received: an array of dtype {hidden.dtype}"
            )
        weights = as_weights(_blank(values, hidden))
    if weights.ndim not in (1, 2):
        raise ValueError(
            "`weights` must be 1-D (one weight per token) or 2-D (queries x "
            "keys); draw multi-head weights with `heads_grid`. "
            f"Received: an array of shape {weights.shape}"
        )
    if weights.size == 0:
        raise ValueError(
            f"`weights` must not be empty. Received: an array of shape {weights.shape}"
        )
    return weights, hidden


def _blank(values, hidden):
    """`values` with hidden cells set to 0, so only visible cells must be finite."""
    try:
        array = np.asarray(values)
    except ValueError:
        return values  # ragged: `as_weights` reports it
    if array.shape != hidden.shape:
        raise ValueError(
            "`mask` must have the shape of `weights`. Received: mask of shape "
            f"{hidden.shape} and weights of shape {array.shape}"
        )
    return np.where(hidden, 0, array)


def _labels(labels, count, name, what):
    """One `str` per row or column (bytes decoded, surrogates mended), numbers
    without `labels`."""
    if labels is None:
        return [str(index) for index in range(count)]
    try:
        labels = as_tokens(labels, name=name)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a sequence of labels such as tokens. "
            f"Received: an object of type {type(labels).__name__}"
        ) from None
    if len(labels) != count:
        raise ValueError(
            f"`{name}` must have one label per {what} of `weights`. "
            f"Received: {len(labels)} labels and {count} {what}s."
        )
    # Fonts take no lone surrogate.
    return [encodable(label) for label in labels]


def _annotations(annot, weights, fmt):
    """The text of each cell as an object array, or `None` without `annot`."""
    if annot is None or annot is False:
        return None
    if annot is True:
        values = weights
    else:
        values = np.asarray(annot)
        if values.shape != weights.shape:
            raise ValueError(
                "`annot` must be True, False or an array of the shape of "
                f"`weights`. Received: annot of shape {values.shape} and weights "
                f"of shape {weights.shape}"
            )
    flat = values.ravel().tolist()
    if values.dtype.kind in "iuf":
        try:
            texts = [format(value, fmt) for value in flat]
        except (TypeError, ValueError):
            raise ValueError(
                "`fmt` must be a format spec for numbers, such as '.2f' or "
                f"'.0%'. Received: fmt={fmt!r}"
            ) from None
    else:
        texts = [encodable(text) for text in as_tokens(flat, name="annot")]
    return np.array(texts, dtype=object).reshape(values.shape)


def _size_in_points(ax):
    box = ax.get_window_extent()
    points_per_pixel = 72 / ax.figure.dpi
    return box.width * points_per_pixel, box.height * points_per_pixel


def _set_token_ticks(axis, labels, length):
    """Labels the cells along `axis`, keeping every k-th label that fits."""
    from keras_attnviz.render._label_layout import fits_horizontally, thinning_step

    if not labels:
        axis.set_ticks([])
        return
    size = axis.get_major_ticks(1)[0].label1.get_size()
    step = thinning_step(len(labels), length, size)
    shown = labels[::step]
    pitch = length * step / len(labels)
    upright = axis.axis_name == "y" or fits_horizontally(shown, pitch, size)
    # Tokens are literal text: a `$` must not switch to mathtext.
    axis.set_ticks(
        range(0, len(labels), step),
        shown,
        parse_math=False,
        rotation=0 if upright else 90,
    )
