"""Token <-> id vocabularies for models whose input is integer ids."""

import collections
import json
import os

from keras_attnviz.text_files import read_text_file

_LEVELS = ("char", "word")
_PADDINGS = ("pre", "post")
# The largest vocabulary file `Vocabulary.load` reads by default: 32 MiB, some
# ten times the JSON vocabulary of a 250,000-token tokenizer.
MAX_FILE_BYTES = 32 * 2**20


class Vocabulary:
    """Maps characters or words to the integer ids a model was trained on.

    Id 0 is padding, as with `keras.layers.Embedding(mask_zero=True)`.

    Args:
        tokens: list of tokens; the position of a token is its id. The first
            entry is the padding token (usually `""`).
        level: `"char"` splits texts into characters, `"word"` on whitespace.
        oov_token: token that stands for unknown tokens, or `None` to reject
            texts with unknown tokens.

    Example:

    ```python
    >>> from keras_attnviz import Vocabulary
    >>> vocab = Vocabulary.from_texts(["abc", "cab"], level="char")
    >>> vocab.tokens
    ['', 'a', 'b', 'c']
    >>> vocab.encode(["ca"], maxlen=4).tolist()
    [[3, 1, 0, 0]]
    ```
    """

    def __init__(self, tokens, *, level="char", oov_token=None):
        if level not in _LEVELS:
            raise ValueError(
                f"`level` must be one of {_LEVELS}. Received: level={level!r}"
            )
        tokens = list(tokens)
        if not tokens or not all(isinstance(token, str) for token in tokens):
            raise TypeError(
                "`tokens` must be a non-empty list of strings. "
                f"Received: {tokens[:5]!r}"
            )
        self.tokens = tokens
        self.level = level
        self.oov_token = oov_token
        self.ids = {token: i for i, token in enumerate(tokens)}
        if len(self.ids) != len(tokens):
            raise ValueError(
                "`tokens` must not repeat a token. Received: "
                f"{_repeated(tokens)} repeated"
            )
        if oov_token is not None and oov_token not in self.ids:
            raise ValueError(
                f"`oov_token` must be one of the tokens. Received: {oov_token!r}"
            )

    @classmethod
    def from_texts(cls, texts, *, level="char"):
        """Builds a vocabulary of every token in `texts`, sorted, after padding."""
        vocab = cls([""], level=level)
        found = sorted({token for text in texts for token in vocab.tokenize(text)})
        return cls([""] + found, level=level)

    @classmethod
    def load(cls, path, *, level="char", max_bytes=MAX_FILE_BYTES):
        """Reads a JSON object token -> id, or a text file of one token per line.

        In a text file the line number (from 0) is the id, as in the list that
        `keras.layers.TextVectorization.get_vocabulary()` returns. A token
        `"[UNK]"`, if there is one, stands for unknown tokens. Only regular
        UTF-8 files are read: a FIFO, a device (`/dev/zero`) or a folder is
        refused before it is opened.

        Args:
            path: str or `os.PathLike`; a `.json` file holds a JSON object,
                any other a text file.
            level: `"char"` or `"word"`, as in `Vocabulary`.
            max_bytes: the largest file read, 32 MiB (`MAX_FILE_BYTES`) by
                default.

        Returns:
            A `Vocabulary`.

        Raises:
            FileNotFoundError: if there is no such file.
            OSError: if the file cannot be read.
            ValueError: if the file is not a regular file, is larger than
                `max_bytes`, is not UTF-8, repeats a token, or its JSON is not
                an object from tokens to ids counted from 0 with few gaps.

        Example:

        ```python
        >>> import keras
        >>> from keras_attnviz import Vocabulary
        >>> layer = keras.layers.TextVectorization()
        >>> layer.adapt(["a fine film", "a film", "film"])
        >>> with open("vocab.txt", "w", encoding="utf-8") as file:
        ...     _ = file.write("\\n".join(layer.get_vocabulary()))
        >>> vocab = Vocabulary.load("vocab.txt", level="word")
        >>> vocab.encode(["a good film"], maxlen=4).tolist()
        [[3, 1, 2, 0]]
        ```
        """
        text = read_text_file(path, "The vocabulary file", max_bytes=max_bytes)
        if os.fspath(path).lower().endswith(".json"):
            tokens = _tokens_from_json(text, path)
        else:
            # Universal newlines, as a file opened in text mode reads them.
            tokens = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if tokens and tokens[-1] == "":
                tokens.pop()
            if not tokens:
                raise ValueError(
                    "A vocabulary file must hold at least one token. Received: "
                    f"an empty file {os.fspath(path)!r}"
                )
        # Checked here too, so that the error names the file.
        repeated = _repeated(tokens)
        if repeated:
            raise ValueError(
                f"A vocabulary must not repeat a token. Received: {repeated} "
                f"repeated in {os.fspath(path)!r}"
            )
        oov = "[UNK]" if "[UNK]" in tokens else None
        return cls(tokens, level=level, oov_token=oov)

    def save(self, path):
        """Writes the vocabulary as a JSON object token -> id."""
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.ids, file, ensure_ascii=False, indent=0)

    def __len__(self):
        return len(self.tokens)

    def tokenize(self, text):
        """Splits `text` into characters or whitespace-separated words."""
        if not isinstance(text, str):
            raise TypeError(f"`text` must be a str. Received: {type(text)}")
        return list(text) if self.level == "char" else text.split()

    def encode(self, texts, *, maxlen, padding="post"):
        """Turns texts into a padded `(len(texts), maxlen)` int32 id array.

        Args:
            texts: a list of strings.
            maxlen: the length of each row, the model's input length.
            padding: `"post"` puts the ids first and the padding (0) after
                them, `"pre"` the padding first.

        Returns:
            A NumPy int32 array of shape `(len(texts), maxlen)`.

        Raises:
            TypeError: if a text is not a `str`.
            ValueError: if `padding` is unknown, a text is longer than
                `maxlen` tokens, or holds a token the vocabulary lacks (and
                there is no `oov_token`) or the padding token.
        """
        import numpy as np

        if padding not in _PADDINGS:
            raise ValueError(
                f"`padding` must be one of {_PADDINGS}. Received: padding={padding!r}"
            )
        ids = np.zeros((len(texts), maxlen), dtype="int32")
        for row, text in enumerate(texts):
            tokens = self.tokenize(text)
            if len(tokens) > maxlen:
                raise ValueError(
                    f"The text is longer than the model's input: at most {maxlen} "
                    f"{self.level}s. Received: {len(tokens)} in {text[:40]!r}"
                )
            encoded = [self._id(token, text) for token in tokens]
            if encoded:
                start = maxlen - len(encoded) if padding == "pre" else 0
                ids[row, start : start + len(encoded)] = encoded
        return ids

    def _id(self, token, text):
        if token in self.ids and token != self.tokens[0]:
            return self.ids[token]
        if token == self.tokens[0]:
            raise ValueError(
                f"Id 0 is padding (as in `Embedding(mask_zero=True)`), so the "
                f"token at id 0 cannot be read. Received: {token!r} in "
                f"{text[:40]!r}; give real tokens ids from 1"
            )
        if self.oov_token is not None:
            return self.ids[self.oov_token]
        raise ValueError(
            f"Every {self.level} must be in the vocabulary. Received: {token!r} "
            f"in {text[:40]!r}"
        )


def _repeated(tokens):
    """Up to three tokens that occur more than once, sorted."""
    counts = collections.Counter(tokens)
    return sorted(token for token, n in counts.items() if n > 1)[:3]


def _tokens_from_json(text, path):
    path = os.fspath(path)
    try:
        mapping = json.loads(text)
    except RecursionError:
        raise ValueError(
            f"{path!r} is not a JSON vocabulary: it is nested too deeply to read"
        ) from None
    except ValueError as error:  # JSONDecodeError, or an int of 5,000 digits
        raise ValueError(f"{path!r} is not valid JSON: {error}") from None
    if not isinstance(mapping, dict):
        raise ValueError(
            f"A JSON vocabulary must be an object token -> integer id. Received: "
            f"{type(mapping).__name__} in {path!r}"
        )
    if not mapping:
        raise ValueError(
            "A JSON vocabulary must hold at least one token. Received: {} in "
            f"{path!r}"
        )
    for token, i in mapping.items():
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise ValueError(
                "A JSON vocabulary must be an object token -> integer id >= 0. "
                f"Received: {token!r}: {_preview(i)} in {path!r}"
            )
    size = max(mapping.values()) + 1
    # Vocabularies are dense; a huge id would make a huge table.
    if size > 2 * len(mapping) + 2:
        raise ValueError(
            "A JSON vocabulary must use ids 0..N-1 with few gaps. Received: "
            f"{len(mapping)} tokens with ids up to {size - 1} in {path!r}"
        )
    tokens = [f"<unused {i}>" for i in range(size)]
    holder = {}
    for token, i in mapping.items():
        if i in holder:
            raise ValueError(
                "A JSON vocabulary must give each token an id of its own. "
                f"Received: id {i} for {holder[i]!r} and {token!r} in {path!r}"
            )
        holder[i] = tokens[i] = token
    if 0 not in holder:
        tokens[0] = ""
    return tokens


def _preview(value):
    if isinstance(value, list | dict):
        return f"a JSON {'array' if isinstance(value, list) else 'object'}"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
