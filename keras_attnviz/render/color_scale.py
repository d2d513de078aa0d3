"""The colour scale every renderer shares: weights to colours, resolved once."""

import numpy as np

SEQUENTIAL_CMAP = "Blues"
DIVERGING_CMAP = "RdBu_r"

# WCAG 2 relative luminance of sRGB colours, and its contrast ratio.
_LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])


def relative_luminance(rgb):
    """WCAG 2 relative luminance of sRGB colours.

    Args:
        rgb: array of shape `(..., 3)` (or `(..., 4)`, alpha ignored), in [0, 1].

    Returns:
        An array of shape `(...)`, 0 for black and 1 for white.

    Example:

    ```python
    >>> from keras_attnviz.render.color_scale import relative_luminance
    >>> relative_luminance([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    array([0.    , 0.2126, 1.    ])
    ```
    """
    rgb = np.asarray(rgb, dtype=np.float64)[..., :3]
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return linear @ _LUMINANCE_WEIGHTS


def _contrast_ratio(luminance_a, luminance_b):
    lighter = np.maximum(luminance_a, luminance_b)
    darker = np.minimum(luminance_a, luminance_b)
    return (lighter + 0.05) / (darker + 0.05)


class ColorScale:
    """Maps weights to colours with one colormap and one pair of limits.

    By default the scale is sequential light-to-dark (`"Blues"`) from 0 to the
    largest value, so the strongest token is fully coloured and a heavier token
    is never drawn lighter. If a value is negative (raw scores) and `vmin` is
    not given, the scale is diverging (`"RdBu_r"`) with limits symmetric
    around 0. Constant or all-zero values map to the light end.

    Colours are looked up in the colormap's table, so `rgba`, `css` and
    `text_colors` agree exactly with `cmap(norm(values))`.

    Args:
        values: the weights the scale must cover (any shape, finite).
        cmap: a matplotlib colormap or its registered name; `None` picks the
            default described above.
        vmin: the value drawn at the light (diverging: low) end.
        vmax: the value drawn at the dark (diverging: high) end.

    Attributes:
        cmap: the `matplotlib.colors.Colormap`.
        vmin: the resolved lower limit (float).
        vmax: the resolved upper limit (float).
        norm: a clipping `matplotlib.colors.Normalize(vmin, vmax)`.
        diverging: whether the default diverging rule applied.
        css_table: the CSS colour (`"#rrggbb"`) of each colormap table entry.
        text_table: the text colour (black or white) for each entry.

    Raises:
        TypeError: if `cmap` is neither a string nor a colormap.
        ValueError: if `cmap` names no colormap or `vmin > vmax`.

    Example:

    ```python
    >>> from keras_attnviz.render.color_scale import ColorScale
    >>> scale = ColorScale([0.1, 0.6, 0.3])
    >>> scale.css([0.0, 0.6])
    ['#f7fbff', '#08306b']
    ```
    """

    def __init__(self, values, *, cmap=None, vmin=None, vmax=None):
        import matplotlib.colors

        values = np.asarray(values, dtype=np.float64)
        low = float(values.min()) if values.size else 0.0
        high = float(values.max()) if values.size else 0.0
        self.diverging = vmin is None and low < 0
        if self.diverging:
            bound = abs(float(vmax)) if vmax is not None else max(-low, high)
            vmin, vmax = -bound, bound
        else:
            vmin = 0.0 if vmin is None else float(vmin)
            vmax = max(high, vmin) if vmax is None else float(vmax)
        if vmin > vmax:
            raise ValueError(
                f"`vmin` must not exceed `vmax`. Received: vmin={vmin}, vmax={vmax}"
            )
        self.vmin, self.vmax = vmin, vmax
        default = DIVERGING_CMAP if self.diverging else SEQUENTIAL_CMAP
        self.cmap = _get_cmap(default if cmap is None else cmap)
        self.norm = matplotlib.colors.Normalize(vmin, vmax, clip=True)
        self._table = self.cmap(np.arange(self.cmap.N))
        self.css_table = _to_hex(self._table)
        luminance = relative_luminance(self._table)
        on_black = _contrast_ratio(luminance, 0.0)
        on_white = _contrast_ratio(luminance, 1.0)
        self.text_table = np.where(on_black >= on_white, "#000000", "#ffffff").tolist()

    def indices(self, values):
        """Positions of `values` in the colormap's table (same shape, ints).

        This is the lookup `Colormap.__call__` does for floats; renderers use it
        to pick precomputed strings per colour instead of formatting each value.
        """
        values = np.asarray(values, dtype=np.float64)
        span = self.vmax - self.vmin
        if span > 0:
            fraction = np.clip((values - self.vmin) / span, 0.0, 1.0)
        else:
            fraction = np.zeros_like(values)
        n_colors = self.cmap.N
        return np.minimum((fraction * n_colors).astype(np.intp), n_colors - 1)

    def rgba(self, values):
        """RGBA colours, an array of shape `values.shape + (4,)` in [0, 1]."""
        return self._table[self.indices(values)]

    def css(self, values):
        """CSS colours (`"#rrggbb"`), a list in the order of the flattened values."""
        return _pick(self.css_table, self.indices(values))

    def text_colors(self, values):
        """Black or white, whichever contrasts more (WCAG) with each colour."""
        return _pick(self.text_table, self.indices(values))


def _pick(table, indices):
    return np.array(table, dtype=object)[indices.ravel()].tolist()


def _get_cmap(cmap):
    import matplotlib
    import matplotlib.colors

    if isinstance(cmap, matplotlib.colors.Colormap):
        return cmap
    if not isinstance(cmap, str):
        raise TypeError(
            "`cmap` must be a matplotlib colormap or its name. "
            f"Received: cmap={cmap!r} of type {type(cmap).__name__}"
        )
    try:
        return matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(
            "`cmap` must be the name of a registered matplotlib colormap, e.g. "
            f'"Blues" or "viridis". Received: cmap={cmap!r}'
        ) from None


def _to_hex(rgba):
    channels = np.rint(np.asarray(rgba)[..., :3] * 255).astype(np.uint8)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in channels.tolist()]
