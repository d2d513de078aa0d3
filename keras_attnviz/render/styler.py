"""Tokens or characters coloured by weight, as a pandas `Styler` table."""

import copy
import functools

import numpy as np

from keras_attnviz.render.color_scale import ColorScale
from keras_attnviz.render.inputs import encodable, token_weights

# Keep spaces visible and characters aligned. No text colour here: pandas
# prefixes table styles with the table's id, which would outrank each cell's
# own (contrast-chosen) colour.
_TABLE_STYLES = [
    {"selector": "td", "props": "white-space: pre; font-family: monospace"}
]

# Spreadsheets take text starting with these for a formula (OWASP "CSV
# injection"); "{=" is xlsxwriter's array formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "{=")


def styler(
    tokens,
    weights=None,
    *,
    width=50,
    cmap=None,
    vmin=None,
    vmax=None,
    padding=None,
    merge_subwords=False,
):
    """A pandas `Styler` with one token (or character) per cell, coloured by weight.

    The text wraps into rows of `width` cells; the row labels are the position
    of each row's first token. Colours follow `ColorScale` (light-to-dark from
    0 to the largest weight, diverging around 0 for negative weights), with
    black or white text by contrast. Cell text is always HTML-escaped, and
    `to_excel` keeps the colours.

    Tokens are untrusted text, so `to_excel` writes every one as text: a
    token starting with `=`, `+`, `-`, `@`, a tab, a carriage return or `{=`
    gets a leading `'` in the workbook, so that no spreadsheet runs it as a
    formula. `.data` and the HTML keep the tokens as they are, but for lone
    surrogates, which become U+FFFD (see `inputs.encodable`).

    Args:
        tokens: a string (one cell per character), a list of tokens (bytes
            are decoded as UTF-8), a 1-D array or tensor of tokens, or an
            attention map with 1-D weights (then leave `weights` out).
        weights: 1-D array-like, one value per token; longer when `padding`
            is given.
        width: the number of cells per row; fewer tokens than `width` make
            one row of just as many cells.
        cmap: a matplotlib colormap or its name.
        vmin: the weight drawn lightest (default 0).
        vmax: the weight drawn darkest (default the largest weight).
        padding: `"pre"` or `"post"` to drop the extra leading or trailing
            weights of a padded model input; `None` requires equal lengths.
        merge_subwords: merge subword pieces into words, summing their
            weights: `True` or a scheme name, as in `html_spans`.

    Returns:
        A `pandas.io.formats.style.Styler` (a subclass whose only change is
        the `to_excel` described above).

    Raises:
        ImportError: if Jinja2, which pandas' Styler needs, is missing.
        TypeError: if the weights are not numeric or `width` is not an int.
        ValueError: if `width < 1`, or the weights are not 1-D, hold NaN or
            inf (also once summed per word), or do not match the tokens.

    Example:

    ```python
    from keras_attnviz.render import styler

    table = styler("the movie was great", [0.1] * 14 + [0.9] * 5, width=10)
    table.to_excel("attention.xlsx")
    ```
    """
    import pandas as pd

    try:
        from pandas.io.formats.style import Styler
    except ImportError as error:
        # pandas renders Styler tables with Jinja2, an optional pandas extra.
        raise ImportError(
            "`styler` needs Jinja2 for pandas' Styler: `pip install jinja2`. "
            f"Received: {error}"
        ) from error

    if not isinstance(width, int | np.integer) or isinstance(width, bool):
        raise TypeError(f"`width` must be an int. Received: width={width!r}")
    if width < 1:
        raise ValueError(f"`width` must be at least 1. Received: width={width}")
    tokens, weights = token_weights(
        tokens, weights, padding=padding, merge=merge_subwords
    )
    scale = ColorScale(weights, cmap=cmap, vmin=vmin, vmax=vmax)
    # No wider than the tokens need: a huge `width` must not make huge rows.
    width = int(min(width, max(1, len(tokens))))
    n_rows = max(1, -(-len(tokens) // width))
    blank = n_rows * width - len(tokens)
    # Surrogates mended: `to_html`, `to_excel` and Jupyter encode the cells.
    cells = [encodable(token) for token in tokens] + [""] * blank
    cells = np.array(cells, dtype=object).reshape(n_rows, width)
    cell_styles = np.array(
        [
            f"background-color: {background}; color: {text}"
            for background, text in zip(scale.css_table, scale.text_table, strict=True)
        ],
        dtype=object,
    )[scale.indices(weights)]
    styles = np.concatenate([cell_styles, np.full(blank, "", dtype=object)])
    frame = pd.DataFrame(cells, index=range(0, n_rows * width, width))
    table = _token_styler_class(Styler)(frame, escape="html")
    table.apply(_constant, axis=None, styles=styles.reshape(n_rows, width))
    table.set_table_styles(_TABLE_STYLES)
    return table


@functools.cache
def _token_styler_class(base):
    # Made on first use, from pandas' `Styler`, since pandas is imported lazily.
    class TokenStyler(base):
        """A `Styler` whose `to_excel` writes formula-like tokens as text."""

        def to_excel(self, *args, **kwargs):
            # A deep copy has its own computed styles; the data is replaced.
            excel = copy.deepcopy(self)
            excel.data = self.data.map(excel_text)
            return base.to_excel(excel, *args, **kwargs)

        to_excel.__doc__ = (
            "Writes the table to Excel, a leading `'` on formula-like tokens "
            "(see `styler`).\n" + (base.to_excel.__doc__ or "")
        )

    return TokenStyler


def excel_text(token):
    """`token` with a leading `'` if a spreadsheet would read it as a formula.

    Example:

    ```python
    >>> from keras_attnviz.render.styler import excel_text
    >>> excel_text("=1+1"), excel_text("ok")
    ("'=1+1", 'ok')
    ```
    """
    return "'" + token if token.startswith(FORMULA_STARTS) else token


def _constant(frame, styles):
    # `Styler.apply` calls this once with the whole frame; the styles were
    # computed up front, vectorised, from the colour scale.
    return styles
