"""The colour scale every renderer shares: weights to colours, resolved once."""

import math

import numpy as np

SEQUENTIAL_CMAP = "Blues"
DIVERGING_CMAP = "RdBu_r"

# matplotlib's `Normalize` and colour bars subtract and add their limits, which
# overflows near the largest floats (limits of +-9e307 already fail); past
# this magnitude, figures draw in units of a power of ten.
_PLAIN_LIMIT = 1e300

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
    `text_colors` agree exactly with `cmap(norm(values / unit))`.

    Any finite values and limits work, up to the largest floats: positions
    along the scale are computed without overflow (halving both sides of
    `(x - vmin) / (vmax - vmin)` when the span itself overflows), and figures
    of limits beyond 1e300 in magnitude draw `values / unit` (a power of ten)
    with their colour bars labelled in the original values.

    Args:
        values: the weights the scale must cover (any shape, finite).
        cmap: a matplotlib colormap or its registered name; `None` picks the
            default described above.
        vmin: the value drawn at the light (diverging: low) end, a finite
            number.
        vmax: the value drawn at the dark (diverging: high) end, a finite
            number.

    Attributes:
        cmap: the `matplotlib.colors.Colormap`.
        vmin: the resolved lower limit (float).
        vmax: the resolved upper limit (float).
        unit: what figures divide the values by before drawing them: 1.0, or a
            power of ten for limits beyond 1e300 in magnitude.
        norm: a clipping `matplotlib.colors.Normalize(vmin / unit, vmax / unit)`.
        diverging: whether the default diverging rule applied.
        css_table: the CSS colour (`"#rrggbb"`) of each colormap table entry.
        text_table: the text colour (black or white) for each entry.

    Raises:
        TypeError: if `cmap` is neither a string nor a colormap, or `vmin` or
            `vmax` is not a number.
        ValueError: if `cmap` names no colormap, `values` hold NaN or inf,
            `vmin` or `vmax` is NaN or inf, or `vmin > vmax`.

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
        if not math.isfinite(low) or not math.isfinite(high):
            raise ValueError(
                f"`values` must be finite. Received: values from {low} to {high}"
            )
        vmin, vmax = _limit(vmin, "vmin"), _limit(vmax, "vmax")
        self.diverging = vmin is None and low < 0
        if self.diverging:
            bound = abs(vmax) if vmax is not None else max(-low, high)
            vmin, vmax = -bound, bound
        else:
            vmin = 0.0 if vmin is None else vmin
            vmax = max(high, vmin) if vmax is None else vmax
        if vmin > vmax:
            raise ValueError(
                f"`vmin` must not exceed `vmax`. Received: vmin={vmin}, vmax={vmax}"
            )
        self.vmin, self.vmax = vmin, vmax
        # vmax - vmin overflows only for limits of opposite signs beyond 8e307.
        self._halves = not math.isfinite(vmax - vmin)
        largest = max(abs(vmin), abs(vmax))
        self.unit = (
            1.0 if largest <= _PLAIN_LIMIT else 10.0 ** math.floor(math.log10(largest))
        )
        default = DIVERGING_CMAP if self.diverging else SEQUENTIAL_CMAP
        self.cmap = _get_cmap(default if cmap is None else cmap)
        self.norm = matplotlib.colors.Normalize(
            vmin / self.unit, vmax / self.unit, clip=True
        )
        self._table = self.cmap(np.arange(self.cmap.N))
        self.css_table = _to_hex(self._table)
        luminance = relative_luminance(self._table)
        on_black = _contrast_ratio(luminance, 0.0)
        on_white = _contrast_ratio(luminance, 1.0)
        self.text_table = np.where(on_black >= on_white, "#000000", "#ffffff").tolist()

    def fractions(self, values):
        """Where `values` sit on the scale: 0 at `vmin`, 1 at `vmax`, clipped.

        Computed without overflow for any finite values and limits.

        Example:

        ```python
        >>> from keras_attnviz.render.color_scale import ColorScale
        >>> ColorScale([-1e308, 1e308]).fractions([-1e308, 0.0, 1e308, 2e308])
        array([0. , 0.5, 1. , 1. ])
        ```
        """
        vmin, vmax = self.vmin, self.vmax
        values = np.clip(np.asarray(values, dtype=np.float64), vmin, vmax)
        if not vmax > vmin:
            return np.zeros_like(values)
        if self._halves:
            # Halved, both differences stay finite; halving is exact (but
            # for subnormals, negligible against a span beyond 8e307).
            return (values / 2 - vmin / 2) / (vmax / 2 - vmin / 2)
        return (values - vmin) / (vmax - vmin)

    def indices(self, values):
        """Positions of `values` in the colormap's table (same shape, ints).

        This is the lookup `Colormap.__call__` does for floats; renderers use it
        to pick precomputed strings per colour instead of formatting each value.
        """
        return self._table_positions(self.fractions(values))

    def _table_positions(self, fractions):
        n_colors = self.cmap.N
        return np.minimum((fractions * n_colors).astype(np.intp), n_colors - 1)

    def rgba(self, values):
        """RGBA colours, an array of shape `values.shape + (4,)` in [0, 1]."""
        return self._table[self.indices(values)]

    def css(self, values):
        """CSS colours (`"#rrggbb"`), a list in the order of the flattened values."""
        return _pick(self.css_table, self.indices(values))

    def text_colors(self, values):
        """Black or white, whichever contrasts more (WCAG) with each colour."""
        return _pick(self.text_table, self.indices(values))

    def css_at(self, fractions):
        """CSS colours at positions along the scale (0: `vmin`, 1: `vmax`)."""
        return _pick(self.css_table, self._table_positions(np.asarray(fractions)))

    def colorbar(self, figure, image, **kwargs):
        """Adds a colour bar for `image`, drawn with `norm`, labelled in values.

        Args:
            figure: the matplotlib `Figure`.
            image: the image drawn with `cmap`, `norm` and `values / unit`.
            **kwargs: passed to `Figure.colorbar` (`ax`, `cax`).

        Returns:
            The `matplotlib.colorbar.Colorbar`.
        """
        if self.unit != 1.0:
            from matplotlib.ticker import FuncFormatter

            unit = self.unit
            # Python floats: a tick past the limits may overflow to inf, unseen.
            kwargs["format"] = FuncFormatter(
                lambda tick, _: f"{float(tick) * unit:.3g}"
            )
        return figure.colorbar(image, **kwargs)


def _pick(table, indices):
    return np.array(table, dtype=object)[indices.ravel()].tolist()


def _limit(value, name):
    """`vmin` or `vmax` as a finite float, or `None`."""
    if value is None:
        return None
    if isinstance(value, str | bytes):
        raise TypeError(
            f"`{name}` must be a number or None. Received: {name}={value!r}"
        )
    try:
        limit = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a number or None. Received: {name}={value!r} of "
            f"type {type(value).__name__}"
        ) from None
    if not math.isfinite(limit):
        raise ValueError(
            f"`{name}` must be a finite number or None. Received: {name}={limit}"
        )
    return limit


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
