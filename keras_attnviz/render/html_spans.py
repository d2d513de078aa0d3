"""Tokens or characters coloured by their attention weight, as HTML."""

import html

import numpy as np

from keras_attnviz.render import _html_document
from keras_attnviz.render.color_scale import ColorScale
from keras_attnviz.render.inputs import token_weights
from keras_attnviz.tokens import is_text

# What one token is, as `Vocabulary(level=...)` and `keras-attnviz --level` say it:
# characters are joined as text; words and other tokens are set apart.
LEVELS = ("auto", "char", "word", "token")

# Visible stand-ins for whitespace; the newline itself stays so lines still break.
_WHITESPACE_MARKERS = str.maketrans({" ": "\u00b7", "\n": "\u21b5\n", "\t": "\u2192\t"})


class HTMLSpans(_html_document.HTMLDocument):
    """One sequence of coloured spans with a legend; made by `html_spans`.

    Attributes:
        tokens: the rendered tokens (`list[str]`, after alignment and merging).
        weights: their weights (1-D float64 array).
        scale: the `ColorScale` used.
        level: `"char"` or `"token"`.
    """

    def __init__(self, tokens, weights, scale, *, level, legend, show_whitespace):
        self.tokens = tokens
        self.weights = weights
        self.scale = scale
        self.level = level
        self.legend = legend
        self.show_whitespace = show_whitespace

    def _parts(self):
        parts = _spans(
            self.tokens,
            self.weights,
            self.scale,
            separator="" if self.level == "char" else " ",
            show_whitespace=self.show_whitespace,
        )
        parts.insert(
            0, f'<div class="kav-spans kav-{self.level}"><div class="kav-text">'
        )
        legend = _html_document.legend(self.scale) if self.legend else ""
        parts.append(f"</div>{legend}</div>")
        return parts


def _spans(tokens, weights, scale, *, separator, show_whitespace):
    # One opening tag per colormap entry and one escaped text per distinct
    # token, so the per-token work is two list look-ups and one number format.
    openings = np.array(
        [
            f'<span style="background-color:{background};color:{text}" title="'
            for background, text in zip(scale.css_table, scale.text_table, strict=True)
        ],
        dtype=object,
    )
    closing = f"</span>{separator}"
    texts = {}
    for token in set(tokens):
        shown = token.translate(_WHITESPACE_MARKERS) if show_whitespace else token
        texts[token] = f'">{html.escape(shown, quote=True)}{closing}'
    parts = [""] * (3 * len(tokens))
    parts[0::3] = openings[scale.indices(weights)].tolist()
    # Nine significant digits give back every float32 (and float16) weight
    # exactly, at the cost of six.
    parts[1::3] = map("{:.9g}".format, weights.tolist())
    parts[2::3] = map(texts.__getitem__, tokens)
    return parts


def _resolve_level(level, tokens):
    if level not in LEVELS:
        raise ValueError(
            '`level` must be "auto", "char", "word" or "token". '
            f"Received: level={level!r}"
        )
    if level == "auto":
        return "char" if is_text(tokens) else "token"
    return "token" if level == "word" else level


def html_spans(
    tokens,
    weights=None,
    *,
    level="auto",
    cmap=None,
    vmin=None,
    vmax=None,
    padding=None,
    merge_subwords=False,
    legend=True,
    show_whitespace=False,
):
    """Colours tokens or characters by their weight, as HTML.

    Each token gets a background colour from `cmap` and a tooltip with its
    weight (9 significant digits, exact for float32); the text turns white on
    dark backgrounds. By default the scale runs from 0 to the largest weight,
    so the strongest token is fully coloured; negative weights (raw scores)
    get a diverging scale centred on 0 (see `ColorScale`). Every token is
    HTML-escaped.

    Args:
        tokens: a string (one span per character), a list of tokens (bytes
            are decoded as UTF-8), a 1-D array or tensor of tokens, or an
            attention map with 1-D weights (then leave `weights` out).
        weights: 1-D array-like (list, NumPy array or tensor), one value per
            token; longer when `padding` is given.
        level: `"char"` keeps the text as is (spaces and newlines included),
            `"token"` (or `"word"`, as `Vocabulary` names word tokens)
            separates tokens by a space, `"auto"` picks `"char"` for
            one text (a string, bytes or a 0-D string tensor) and `"token"`
            otherwise.
        cmap: a matplotlib colormap or its name.
        vmin: the weight drawn lightest (default 0).
        vmax: the weight drawn darkest (default the largest weight).
        padding: `"pre"` or `"post"` to drop the extra leading or trailing
            weights of a padded model input; `None` requires equal lengths.
        merge_subwords: merge subword pieces (`"##ing"`, `"▁the"`, `"Ġthe"`)
            into words, summing their weights: `True` finds the scheme (see
            `inputs.merge_subwords`), or name it: `"wordpiece"`,
            `"sentencepiece"` or `"bpe"`.
        legend: whether to draw a colour bar with the limits.
        show_whitespace: draw spaces as `·`, newlines as `↵` and tabs as `→`.

    Returns:
        An `HTMLSpans`: Jupyter displays it; `to_html()` gives a fragment and
        `save(path)` writes a standalone page.

    Raises:
        TypeError: if the weights are not numeric.
        ValueError: if the weights are not 1-D, hold NaN or inf (also once
            summed per word), or do not match the tokens; or if an option has
            an unknown value.

    Example:

    ```python
    from keras_attnviz.render import html_spans

    spans = html_spans(["the", "movie", "was", "great"], [0.1, 0.2, 0.1, 0.6])
    spans.save("attention.html")
    ```
    """
    level = _resolve_level(level, tokens)
    tokens, weights = token_weights(
        tokens, weights, padding=padding, merge=merge_subwords
    )
    return HTMLSpans(
        tokens,
        weights,
        ColorScale(weights, cmap=cmap, vmin=vmin, vmax=vmax),
        level=level,
        legend=legend,
        show_whitespace=show_whitespace,
    )


class HTMLReport(_html_document.HTMLDocument):
    """A table of samples, one row each with its spans, prediction and label.

    Made by `html_report`.

    Attributes:
        rows: the `HTMLSpans` of each sample.
        predictions: the predictions shown, or `None`.
        labels: the labels shown, or `None`.
        scale: the shared `ColorScale`, or `None` when each row has its own.
        columns: dict of further columns, name -> one value per sample.
    """

    def __init__(self, rows, predictions, labels, scale, columns=None):
        self.rows = rows
        self.predictions = predictions
        self.labels = labels
        self.scale = scale
        self.columns = columns or {}

    def _parts(self):
        columns = {"#": range(len(self.rows))}
        if self.predictions is not None:
            columns["prediction"] = self.predictions
        if self.labels is not None:
            columns["label"] = self.labels
        columns.update(self.columns)
        header = "".join(
            f"<th>{_cell_text(name)}</th>" for name in [*columns, "attention"]
        )
        legend = _html_document.legend(self.scale) if self.scale else ""
        parts = [
            f'<div class="kav-report-box">{legend}<table class="kav-report">'
            f"<thead><tr>{header}</tr></thead><tbody>"
        ]
        for i, row in enumerate(self.rows):
            cells = "".join(
                f"<td>{_cell_text(values[i])}</td>" for values in columns.values()
            )
            parts.append(f"<tr>{cells}<td>")
            parts.extend(row._parts())
            parts.append("</td></tr>")
        parts.append("</tbody></table></div>")
        return parts


def _cell_text(value):
    if isinstance(value, float | np.floating):
        text = f"{value:.3g}"
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif isinstance(value, np.ndarray):
        text = " ".join(_cell_text(item) for item in value.ravel().tolist())
    else:
        text = str(value)
    return html.escape(text, quote=True)


def _per_sample(values, name, n_samples):
    if values is None:
        return None
    values = list(values)
    if len(values) != n_samples:
        raise ValueError(
            f"`{name}` must have one entry per sample. "
            f"Received: {n_samples} samples and {len(values)} {name}."
        )
    return values


def html_report(
    tokens,
    weights=None,
    *,
    predictions=None,
    labels=None,
    columns=None,
    shared_scale=False,
    level="auto",
    cmap=None,
    vmin=None,
    vmax=None,
    padding=None,
    merge_subwords=False,
    show_whitespace=False,
):
    """Several sequences in one HTML table: one row per sample.

    Each row shows the sample's index, its prediction and label (when given)
    and its tokens coloured as by `html_spans`.

    Args:
        tokens: a sequence of samples, each a string, a token list or an
            attention map.
        weights: one row of weights per sample: a list of 1-D arrays or a
            `(batch, length)` array (padded rows need `padding`). Leave it out
            for attention maps.
        predictions: optional, one per sample (numbers, strings or arrays).
        labels: optional, one per sample.
        columns: optional dict of further columns shown after the label,
            name -> one value per sample (e.g. `{"peak on cue": [...]}`).
        shared_scale: one colour scale (and legend) for all rows instead of
            one per row (each running to that row's largest weight).
        level, cmap, vmin, vmax, padding, merge_subwords, show_whitespace:
            as in `html_spans`.

    Returns:
        An `HTMLReport`, with `to_html()`, `save(path)` and Jupyter display.

    Raises:
        ValueError: if the numbers of samples, weight rows, predictions and
            labels (or any of `columns`) differ, or for any reason
            `html_spans` gives.

    Example:

    ```python
    from keras_attnviz.render import html_report

    report = html_report(
        [["a", "fine", "film"], ["so", "dull"]],
        [[0.1, 0.7, 0.2], [0.3, 0.7]],
        predictions=[0.91, 0.12],
        labels=[1, 0],
    )
    report.save("report.html")
    ```
    """
    samples = list(tokens)
    rows_of_weights = _per_sample(
        [None] * len(samples) if weights is None else weights, "weights", len(samples)
    )
    predictions = _per_sample(predictions, "predictions", len(samples))
    labels = _per_sample(labels, "labels", len(samples))
    columns = {
        name: _per_sample(values, f"columns[{name!r}]", len(samples))
        for name, values in (columns or {}).items()
    }
    prepared = []
    for sample, sample_weights in zip(samples, rows_of_weights, strict=True):
        sample_level = _resolve_level(level, sample)
        sample_tokens, sample_weights = token_weights(
            sample, sample_weights, padding=padding, merge=merge_subwords
        )
        prepared.append((sample_tokens, sample_weights, sample_level))
    scale = None
    if shared_scale:
        every_weight = np.concatenate([[0.0], *(w for _, w, _ in prepared)])
        scale = ColorScale(every_weight, cmap=cmap, vmin=vmin, vmax=vmax)
    rows = [
        HTMLSpans(
            sample_tokens,
            sample_weights,
            scale or ColorScale(sample_weights, cmap=cmap, vmin=vmin, vmax=vmax),
            level=sample_level,
            legend=scale is None,
            show_whitespace=show_whitespace,
        )
        for sample_tokens, sample_weights, sample_level in prepared
    ]
    return HTMLReport(rows, predictions, labels, scale, columns)
