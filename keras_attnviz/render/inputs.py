"""Input checks shared by every renderer: weights, attention maps, token alignment.

Renderers take plain token lists, NumPy arrays, tensors (through `np.asarray`, so
`render` never imports keras) or the probe's per-sample attention maps.
"""

import re

import numpy as np

from keras_attnviz.tokens import as_tokens, is_text

PADDING_SIDES = ("pre", "post")

SUBWORD_SCHEMES = ("auto", "wordpiece", "sentencepiece", "bpe")
# WordPiece ("##ing") marks a continuation; SentencePiece ("▁the") and
# byte-level BPE ("Ġthe") mark the start of a word.
_CONTINUATION_MARKER = "##"
_WORD_START_MARKERS = {"sentencepiece": "\u2581", "bpe": "\u0120"}
_SPECIAL_TOKEN = re.compile(r"\[[A-Za-z_]+\]|<[^<>\s]+>")


def as_weights(weights, *, name="weights", ndim=None):
    """Converts weights to a finite float64 array.

    Args:
        weights: array-like of numbers: a list, a NumPy array or a tensor.
        name: the argument name used in error messages.
        ndim: `None` (any rank), an int, or a tuple of allowed ranks.

    Returns:
        A float64 `np.ndarray`.

    Raises:
        TypeError: if `weights` is not numeric.
        ValueError: if `weights` is ragged, holds NaN or inf, or has a rank
            outside `ndim`.

    Example:

    ```python
    >>> from keras_attnviz.render.inputs import as_weights
    >>> as_weights([0.2, 0.8], ndim=1)
    array([0.2, 0.8])
    ```
    """
    if weights is None:
        raise TypeError(f"`{name}` must be an array of numbers. Received: None")
    try:
        array = np.asarray(weights)
    except ValueError as error:
        raise ValueError(
            f"`{name}` must be a rectangular array of numbers. Received: {error}"
        ) from None
    if array.dtype.kind not in "biuf":
        array = _numeric_or_raise(array, name)
    array = array.astype(np.float64, copy=False)
    _check_ndim(array, name, ndim)
    _check_finite(array, name)
    return array


def _check_finite(array, name, when=""):
    finite = np.isfinite(array)
    if not finite.all():
        position = tuple(int(i) for i in np.argwhere(~finite)[0])
        value = array[position]
        label = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        where = position[0] if len(position) == 1 else position
        at = f" at position {where}" if position else ""
        raise ValueError(f"`{name}` must be finite{when}. Received: {label}{at}")


def _numeric_or_raise(array, name):
    # Object arrays may still hold plain numbers (e.g. a list of Decimals).
    if array.dtype.kind == "O":
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            pass
    raise TypeError(
        f"`{name}` must be numeric. Received: an array of dtype {array.dtype} "
        f"({_preview(array)})"
    )


def _preview(array):
    return _shorten(
        repr(array.ravel()[:3].tolist()) if array.ndim else repr(array.item())
    )


def _shorten(text, limit=60):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_ndim(array, name, ndim):
    if ndim is None:
        return
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if array.ndim not in allowed:
        ranks = " or ".join(f"{rank}-D" for rank in allowed)
        raise ValueError(
            f"`{name}` must be {ranks}. Received: an array of shape {array.shape}"
        )


def encodable(text):
    """`text` made encodable as UTF-8: surrogate pairs joined, lone ones U+FFFD.

    Python strings may hold surrogates that UTF-8 cannot encode (from a
    decoder's `surrogateescape`, or UTF-16 cut in half); a page or a font
    cannot take them. Every renderer mends the text it shows this way: a
    surrogate pair becomes its character, a lone surrogate U+FFFD, the
    replacement character.

    Example:

    ```python
    >>> from keras_attnviz.render.inputs import encodable
    >>> encodable("a\\ud83d\\ude00b\\ud800") == "a\\U0001f600b\\ufffd"
    True
    ```
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16, which pairs surrogates and replaces the unpaired.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def unpack_attention_map(tokens, weights):
    """Takes tokens and weights out of an attention map, if one was passed.

    An attention map is any object with `weights` and `tokens` attributes (the
    probe's `AttentionMap`); it is recognised only when `weights` is `None`.

    Args:
        tokens: the tokens, or an attention map.
        weights: the weights, or `None` when `tokens` is an attention map.

    Returns:
        A tuple `(tokens, weights, query_tokens)`; `query_tokens` is `None`
        unless it came from an attention map.

    Example:

    ```python
    >>> from keras_attnviz.render.inputs import unpack_attention_map
    >>> unpack_attention_map(["a", "b"], [0.3, 0.7])
    (['a', 'b'], [0.3, 0.7], None)
    ```
    """
    if weights is None and hasattr(tokens, "weights") and hasattr(tokens, "tokens"):
        attention_map = tokens
        return (
            attention_map.tokens,
            attention_map.weights,
            getattr(attention_map, "query_tokens", None),
        )
    return tokens, weights, None


def align(tokens, weights, padding=None):
    """Pairs tokens with weights along the weights' last axis.

    Args:
        tokens: a string (one token per character), an iterable of tokens or
            a 1-D array or tensor of them, converted by `as_tokens` (bytes
            decoded as UTF-8).
        weights: array-like whose last axis runs over the tokens.
        padding: `None`, `"pre"` or `"post"`. With `"pre"` (`"post"`), weights
            longer than the tokens lose their extra leading (trailing) values,
            as left (right) padded model inputs need.

    Returns:
        A tuple `(tokens, weights)`: a `list[str]` and a float64 array whose
        last axis has one value per token.

    Raises:
        TypeError: if `tokens` is not iterable.
        ValueError: if `padding` is not one of the above, the tokens are an
            array that is not 1-D, or the lengths do not match (after
            trimming).

    Example:

    ```python
    >>> from keras_attnviz.render.inputs import align
    >>> align("hi", [0.0, 0.1, 0.9], padding="pre")
    (['h', 'i'], array([0.1, 0.9]))
    ```
    """
    if padding is not None and padding not in PADDING_SIDES:
        raise ValueError(
            f'`padding` must be None, "pre" or "post". Received: padding={padding!r}'
        )
    tokens = as_tokens(tokens)
    weights = as_weights(weights)
    if weights.ndim == 0:
        raise ValueError("`weights` must have one value per token. Received: a scalar")
    n_tokens, n_weights = len(tokens), weights.shape[-1]
    if padding is not None and n_weights > n_tokens:
        start = n_weights - n_tokens if padding == "pre" else 0
        weights = weights[..., start : start + n_tokens]
    elif n_weights != n_tokens:
        when = f' (with padding="{padding}")' if padding else ""
        raise ValueError(
            f"`weights` must have one value per token{when}. "
            f"Received: {n_tokens} tokens and {n_weights} weights."
        )
    return tokens, weights


def merge_subwords(tokens, weights, *, scheme="auto"):
    """Merges subword pieces into words, summing their weights.

    WordPiece continuations (`"##ing"`) join the previous piece; with
    SentencePiece (`"▁the"`) or byte-level BPE (`"Ġthe"`) markers, a piece
    without the marker joins the previous one. Special tokens such as
    `"[CLS]"` or `"<s>"` stay words of their own. Markers are removed.

    `scheme="auto"` picks WordPiece if any piece starts with `"##"`, else
    SentencePiece if any starts with `"▁"`, else byte-level BPE if any starts
    with `"Ġ"`, else WordPiece (nothing merges). `"Ġ"` is also a letter
    (Maltese), so text with it and no `"##"` piece should name its scheme.

    Args:
        tokens: a list of string pieces.
        weights: float array whose last axis has one value per piece.
        scheme: `"auto"`, `"wordpiece"`, `"sentencepiece"` or `"bpe"` (byte
            level, as GPT-2 and RoBERTa).

    Returns:
        A tuple `(words, weights)` with the weights summed per word along the
        last axis.

    Raises:
        ValueError: if `scheme` is unknown, or a word's summed weight
            overflows to inf.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.render.inputs import merge_subwords
    >>> merge_subwords(["play", "##ing", "now"], np.array([0.2, 0.3, 0.5]))
    (['playing', 'now'], array([0.5, 0.5]))
    ```
    """
    if scheme not in SUBWORD_SCHEMES:
        raise ValueError(
            '`scheme` must be "auto", "wordpiece", "sentencepiece" or "bpe". '
            f"Received: scheme={scheme!r}"
        )
    if not tokens:
        return [], weights
    if scheme == "auto":
        scheme = _subword_scheme(tokens)
    marker = _WORD_START_MARKERS.get(scheme)
    words, starts, after_special = [], [], True
    for index, token in enumerate(tokens):
        special = _SPECIAL_TOKEN.fullmatch(token) is not None
        if special:
            starts_word, piece = True, token
        elif marker is not None:
            starts_word = token.startswith(marker)
            piece = token[1:] if starts_word else token
        else:
            starts_word = not token.startswith(_CONTINUATION_MARKER)
            piece = token if starts_word else token[len(_CONTINUATION_MARKER) :]
        if starts_word or after_special:
            words.append(piece)
            starts.append(index)
        else:
            words[-1] += piece
        after_special = special
    with np.errstate(over="ignore"):  # an overflow is reported just below
        merged = np.add.reduceat(weights, starts, axis=-1)
    _check_finite(merged, "weights", when=" once summed per word")
    return words, merged


def _subword_scheme(tokens):
    # "##" first: "Ġ" may be a letter, and WordPiece never writes "▁" or "Ġ"
    # as markers.
    for scheme, marker in (
        ("wordpiece", _CONTINUATION_MARKER),
        ("sentencepiece", _WORD_START_MARKERS["sentencepiece"]),
        ("bpe", _WORD_START_MARKERS["bpe"]),
    ):
        if any(token.startswith(marker) for token in tokens):
            return scheme
    return "wordpiece"


def token_weights(tokens, weights, *, padding=None, merge=False):
    """Prepares one sequence for rendering: unpack, check, align, merge.

    Args:
        tokens: a string (characters), an iterable, array or tensor of
            tokens, or an attention map with 1-D weights (then `weights` is
            `None`).
        weights: 1-D array-like, one value per token (see `padding`).
        padding: `None`, `"pre"` or `"post"`, as in `align`.
        merge: whether to merge subword pieces into words: `False`, `True`
            (the scheme `merge_subwords` finds) or a scheme name (`"auto"`,
            `"wordpiece"`, `"sentencepiece"`, `"bpe"`).

    Returns:
        A tuple `(tokens, weights)`: `list[str]` and a 1-D float64 array.

    Raises:
        TypeError: if `tokens` is missing or the weights are not numeric.
        ValueError: if the weights are not 1-D and finite (also once summed
            per word) or do not match the tokens, `merge` names no scheme, or
            `merge` is asked for on a string.

    Example:

    ```python
    >>> from keras_attnviz.render.inputs import token_weights
    >>> pieces = ["[CLS]", "play", "##ing"]
    >>> token_weights(pieces, [0.0, 0.1, 0.2, 0.7], padding="pre", merge=True)
    (['[CLS]', 'playing'], array([0.1, 0.9]))
    ```
    """
    tokens, weights, _ = unpack_attention_map(tokens, weights)
    if tokens is None:
        raise TypeError(
            "`tokens` must be a string, a list of tokens or an attention map. "
            "Received: None"
        )
    scheme = merge if isinstance(merge, str) else "auto"
    if not isinstance(merge, bool | np.bool_) and scheme not in SUBWORD_SCHEMES:
        raise ValueError(
            "`merge_subwords` must be True, False or a scheme name "
            '("auto", "wordpiece", "sentencepiece", "bpe"). '
            f"Received: merge_subwords={merge!r}"
        )
    if merge and is_text(tokens):
        raise ValueError(
            "Merging subwords needs a list of tokens: a string is rendered "
            "character by character. Received: tokens="
            f"{_shorten(''.join(as_tokens(tokens)))!r}"
        )
    tokens, weights = align(tokens, as_weights(weights, ndim=1), padding)
    if merge:
        tokens, weights = merge_subwords(tokens, weights, scheme=scheme)
    return tokens, weights
