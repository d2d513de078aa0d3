"""What the commands that run a model share: their texts, --out, and the
model's input for the texts.

The checks of texts and --out run before TensorFlow starts; this module
imports neither it nor NumPy at load time.
"""

import os

from keras_attnviz.cli.user_input import UserInputError, as_user_error
from keras_attnviz.text_files import special_file_kind

# A PNG stacks one heatmap per text; past this many it is unreadable and huge.
_MAX_PNG_TEXTS = 40


def check_texts(texts):
    """The --text values, once each holds more than whitespace."""
    for text in texts:
        if not text.strip():
            raise UserInputError(
                f"--text must hold more than whitespace. Received: {text!r}"
            )
    return texts


def check_out(out, n_texts, *, suffixes=(".html", ".png")):
    """The suffix of --out, once it is known the file can be written."""
    suffix = os.path.splitext(out)[1].lower()
    if suffix not in suffixes:
        raise UserInputError(
            f"--out must end with one of {suffixes}. Received: {out!r}"
        )
    folder = os.path.dirname(os.path.abspath(out))
    if kind := special_file_kind(out):
        problem = kind  # a FIFO would block the write, a device swallow it
    elif not os.path.isdir(folder):
        problem = f"no folder {folder!r}"
    elif not os.access(folder, os.W_OK) or (
        os.path.exists(out) and not os.access(out, os.W_OK)
    ):
        problem = "not writable"
    else:
        problem = None
    if problem:
        raise UserInputError(
            f"--out must be a file in a writable folder. Received: {out!r} ({problem})"
        )
    if suffix == ".png" and n_texts > _MAX_PNG_TEXTS:
        raise UserInputError(
            f"A .png holds at most {_MAX_PNG_TEXTS} texts; write .html for more. "
            f"Received: {n_texts} texts"
        )
    return suffix


def model_inputs(model, texts, args, vocab):
    """The model's input for `texts` and the tokens that each position shows.

    `vocab` is the `Vocabulary` of --vocab, or `None` without it.
    """
    if len(model.inputs) != 1:
        raise UserInputError(
            "`render` supports models with one text input. Received: a model "
            f"with {len(model.inputs)} inputs"
        )
    spec = model.inputs[0]
    if spec.dtype == "string":
        if args.pad != "post":
            raise UserInputError(
                "--pad pre does not apply to a model with a TextVectorization "
                "layer: it pads at the end. Received: --pad pre"
            )
        return _string_inputs(model, texts)
    if vocab is None:
        raise UserInputError(
            "--vocab is required for a model whose input is integer ids. "
            "Received: no --vocab"
        )
    token_lists = [vocab.tokenize(text) for text in texts]
    maxlen = spec.shape[1] if len(spec.shape) > 1 else None
    if maxlen is None:
        maxlen = max(len(tokens) for tokens in token_lists)
    # encode's ValueError: a text longer than the input, or a token the
    # vocabulary lacks.
    with as_user_error(ValueError):
        ids = vocab.encode(texts, maxlen=maxlen, padding=args.pad)
    _check_ids_fit(model, ids, vocab)
    return ids, token_lists


def _check_ids_fit(model, ids, vocab):
    """An id past the Embedding's table would fail deep inside TensorFlow."""
    embedding = find_layer(model, "Embedding")
    if embedding is not None and ids.size and ids.max() >= embedding.input_dim:
        largest = int(ids.max())
        raise UserInputError(
            f"--vocab ids must be below {embedding.input_dim}, the size of the "
            f"model's Embedding. Received: id {largest} for "
            f"{vocab.tokens[largest]!r}"
        )


def _string_inputs(model, texts):
    import numpy as np

    vectorizer = find_layer(model, "TextVectorization")
    if vectorizer is None:
        raise UserInputError(
            "A model with a string input must hold a TextVectorization layer "
            "to split texts into tokens. Received: none in the model"
        )
    strings = np.asarray(texts, dtype=object)
    vocabulary = vectorizer.get_vocabulary()
    ids = np.asarray(vectorizer(strings))
    token_lists = [[vocabulary[i] for i in row if i != 0] for row in ids]
    limit = vectorizer.get_config().get("output_sequence_length")
    if limit:
        for text, count in zip(texts, _token_counts(vectorizer, strings), strict=True):
            if count > limit:
                raise UserInputError(
                    f"The text is longer than the model's input: at most {limit} "
                    f"tokens. Received: {count} in {text[:40]!r}"
                )
    return strings, token_lists


def _token_counts(vectorizer, strings):
    """How many tokens each string has before `output_sequence_length` cuts it."""
    import keras

    config = {**vectorizer.get_config(), "output_sequence_length": None}
    twin = keras.layers.TextVectorization.from_config(config)
    if config.get("vocabulary") is None:
        twin.set_vocabulary(vectorizer.get_vocabulary(include_special_tokens=False))
    return (keras.ops.convert_to_numpy(twin(strings)) != 0).sum(axis=-1)


def find_layer(model, class_name):
    """The first layer of that Keras class, nested models included."""
    import keras

    layer_class = getattr(keras.layers, class_name)
    for layer in model.layers:
        if isinstance(layer, layer_class):
            return layer
        if isinstance(layer, keras.Model):
            found = find_layer(layer, class_name)
            if found is not None:
                return found
    return None
