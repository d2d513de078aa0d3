"""The model view: a thumbnail of every (layer, head), one to enlarge at a click."""

import numpy as np

from keras_attnviz.render import _html_document
from keras_attnviz.render._interactive_page import InteractiveView
from keras_attnviz.render._view_layers import ViewLayers
from keras_attnviz.render.color_scale import ColorScale
from keras_attnviz.render.heads_grid import (
    _CBAR_GAP,
    _CBAR_LABELS,
    _CBAR_WIDTH,
    _EDGE,
    _PANEL_GAP,
    _check_panel_size,
)


class ModelView(InteractiveView):
    """Every head of every layer as a heatmap thumbnail; made by `model_view`.

    Attributes:
        layers: the `ViewLayers` shown.
        scale: the `ColorScale` every thumbnail shares.
    """

    kind = "model"

    def __init__(self, layers, scale):
        super().__init__(layers)
        self.scale = scale

    def to_figure(self, *, panel_size=1.0):
        """Draws the grid of thumbnails on a new `matplotlib.figure.Figure`.

        Layers down, heads across, on the view's colour scale with one colour
        bar, as the page shows them. Made without pyplot: save it with
        `fig.savefig` (PNG, SVG, PDF). For token labels on the panels, draw
        the weights with `heads_grid`.

        Args:
            panel_size: the width and height of a thumbnail, in inches, at
                most 10 (`heads_grid.MAX_PANEL_SIZE`).

        Returns:
            A `matplotlib.figure.Figure`.

        Raises:
            TypeError: if `panel_size` is not a number.
            ValueError: if `panel_size` is not positive or above 10.
        """
        import matplotlib
        from matplotlib.figure import Figure

        from keras_attnviz.render._label_layout import text_width

        _check_panel_size(panel_size)
        names, weights = self.layers.names, self.layers.weights
        n_rows, n_columns = len(weights), max(len(layer) for layer in weights)
        size = matplotlib.rcParams["font.size"]
        left = 2 * _EDGE + max(text_width(name, size) for name in names) / 72
        top = _EDGE + 2 * size / 72
        pitch = panel_size + _PANEL_GAP
        grid_width, grid_height = n_columns * pitch, n_rows * pitch
        width = left + grid_width + _CBAR_GAP + _CBAR_WIDTH + _CBAR_LABELS + _EDGE
        height = _EDGE + grid_height + top
        figure = Figure(figsize=(width, height))

        def axes(x, y, w, h):  # a rectangle in inches from the bottom left
            return figure.add_axes((x / width, y / height, w / width, h / height))

        for row, layer in enumerate(weights):
            y = _EDGE + (n_rows - 1 - row) * pitch
            for column, panel in enumerate(layer):
                ax = axes(left + column * pitch, y, panel_size, panel_size)
                image = ax.imshow(
                    panel / self.scale.unit,
                    cmap=self.scale.cmap,
                    norm=self.scale.norm,
                    interpolation="nearest",
                    aspect="auto",
                )
                ax.set_xticks([])
                ax.set_yticks([])
                # Layer names come from models: literal text, never mathtext.
                if row == 0:
                    ax.set_title(self.layers.head_names(row)[column], parse_math=False)
                if column == 0:
                    ax.set_ylabel(
                        names[row],
                        rotation=0,
                        ha="right",
                        va="center",
                        parse_math=False,
                    )
        bar = axes(
            left + grid_width + _CBAR_GAP, _EDGE, _CBAR_WIDTH, grid_height - _PANEL_GAP
        )
        self.scale.colorbar(figure, image, cax=bar)
        return figure

    def _view_data(self):
        scale = self.scale
        return {"table": scale.css_table, "vmin": scale.vmin, "vmax": scale.vmax}

    def _static_parts(self):
        return [_html_document.legend(self.scale)]


def model_view(
    weights,
    tokens=None,
    *,
    sample=None,
    query_tokens=None,
    layers=None,
    heads=None,
    rollout=False,
    rollout_kws=None,
    cmap=None,
    vmin=None,
    vmax=None,
):
    """Shows every head of every layer as a thumbnail; a click enlarges one.

    Each thumbnail is the query x key heatmap of one (layer, head), layers
    down and heads across, all on one colour scale (light to dark `"Blues"`
    from 0 to the largest weight shown, as `heads_grid`). Clicking a
    thumbnail enlarges it, with its query tokens down the side and its key
    tokens along the top; hovering the enlarged map reads out a weight.
    Tokens are written as text, never as markup.

    The page holds all its code and data: no CDN, no request, in a saved
    page as in classic Notebook, JupyterLab, VS Code and Colab. The weights
    go into it as whole 1/255ths of each head's largest weight (one byte
    each, off by at most 1/510 of it): 12 layers of 12 heads over 128 tokens
    make a page of about 3.2 MB.

    For styling and tests, thumbnails carry `data-layer="<position>"` and
    `data-head="<head>"`, and the enlarged thumbnail's tokens
    `data-token="<position>"`.

    Args:
        weights, tokens, sample, query_tokens, layers, heads, rollout,
        rollout_kws: as in `head_view`.
        cmap: matplotlib colormap or its name; default `"Blues"`.
        vmin: the weight drawn lightest (default 0).
        vmax: the weight drawn darkest (default the largest weight shown).

    Returns:
        A `ModelView`: Jupyter displays it; `to_html()` gives a fragment,
        `save(path)` a standalone page, `to_figure()` a matplotlib figure.

    Raises:
        TypeError: for the reasons `head_view` gives, or a `cmap` that is
            not a colormap or its name.
        ValueError: for the reasons `head_view` gives, an unknown `cmap`, or
            `vmin > vmax`.

    Example:

    ```python
    import numpy as np
    from keras_attnviz.render import model_view

    scores = np.random.default_rng(0).random((3, 4, 6, 6)) ** 4
    weights = scores / scores.sum(axis=-1, keepdims=True)
    view = model_view(
        {f"block_{i}": layer for i, layer in enumerate(weights)},
        "a cat sat on the mat".split(),
    )
    view.save("model_view.html")  # or show `view` in Jupyter
    view.to_figure().savefig("model_view.png")
    ```
    """
    shown = ViewLayers(
        weights,
        tokens,
        sample=sample,
        query_tokens=query_tokens,
        layers=layers,
        heads=heads,
        rollout=rollout,
        rollout_kws=rollout_kws,
    )
    values = np.concatenate([layer.ravel() for layer in shown.weights])
    return ModelView(shown, ColorScale(values, cmap=cmap, vmin=vmin, vmax=vmax))
