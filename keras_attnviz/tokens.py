"""Tokens as text: the one converter that results and renderers share.

Tokens come as `str`, `bytes` (a tokenizer's output, a TF string tensor read
with `np.asarray`), NumPy scalars or numbers. This module imports NumPy only, so
the probe's results and the renderers read tokens the same way, with or
without Keras.
"""

import numpy as np


def is_text(tokens):
    """Whether `tokens` is one text (read per character), not a sequence.

    A `str`, `bytes`, or a 0-D array or tensor holding one string.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.tokens import is_text
    >>> is_text("movie"), is_text(np.array(b"movie")), is_text(["movie"])
    (True, True, False)
    ```
    """
    return isinstance(tokens, str | bytes) or getattr(tokens, "ndim", None) == 0


def as_tokens(tokens, *, name="tokens"):
    """Converts tokens to a list of `str`.

    Arrays and tensors (anything with `__array__`, read with `np.asarray`, so
    TF string tensors work without importing tensorflow) must be 1-D. Bytes
    are decoded as UTF-8, invalid bytes becoming U+FFFD; other tokens go
    through `str`. One text (see `is_text`) gives its characters.

    Args:
        tokens: a string, bytes, an iterable of tokens, or a 1-D array or
            tensor of tokens.
        name: the argument name used in error messages.

    Returns:
        A `list[str]`.

    Raises:
        TypeError: if `tokens` is not iterable.
        ValueError: if an array of tokens is not 1-D.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.tokens import as_tokens
    >>> as_tokens(np.array([b"caf\\xc3\\xa9", b"au", b"lait"]))
    ['café', 'au', 'lait']
    ```
    """
    if isinstance(tokens, str):
        return list(tokens)
    if not isinstance(tokens, list | tuple) and hasattr(tokens, "__array__"):
        tokens = np.asarray(tokens)
        if tokens.ndim == 0:
            return list(token_text(tokens[()]))
        if tokens.ndim != 1:
            raise ValueError(
                f"`{name}` must be 1-D: one token per weight. "
                f"Received: an array of shape {tokens.shape}"
            )
        tokens = tokens.tolist()
    elif isinstance(tokens, bytes):
        return list(token_text(tokens))
    try:
        return list(map(token_text, tokens))
    except TypeError:
        if not hasattr(tokens, "__iter__"):
            raise TypeError(
                f"`{name}` must be a string or a sequence of tokens. "
                f"Received: an object of type {type(tokens).__name__}"
            ) from None
        raise


def token_text(token):
    """Converts one token to `str`.

    Bytes are decoded as UTF-8, invalid bytes becoming U+FFFD; a 0-D array
    or tensor gives the text of its element; anything else goes through
    `str`.

    Args:
        token: a `str`, `bytes`, NumPy scalar, number, or 0-D array or tensor.

    Returns:
        A `str`.

    Example:

    ```python
    >>> import numpy as np
    >>> from keras_attnviz.tokens import token_text
    >>> token_text(b"caf\\xc3\\xa9"), token_text(b"\\xff!"), token_text(np.int32(7))
    ('café', '\ufffd!', '7')
    ```
    """
    if isinstance(token, str):
        return str(token)
    if isinstance(token, bytes):
        return token.decode("utf-8", errors="replace")
    if not isinstance(token, np.generic) and hasattr(token, "__array__"):
        # One element of a tensor, e.g. from iterating over it.
        array = np.asarray(token)
        if array.ndim == 0:
            return token_text(array[()])
    return str(token)
