"""Views of a user's saved model: its attention layers, and renders of texts.

These back the `keras-attnviz inspect` and `keras-attnviz render` commands.
"""

import os

import numpy as np

_OUTPUT_SUFFIXES = (".html", ".png")
# A PNG stacks one heatmap per text; past this many it is unreadable and huge.
_MAX_PNG_TEXTS = 40


def describe_attention_layers(model_path):
    """Lists the attention layers the probe finds in a saved model.

    Args:
        model_path: path of a `.keras` or `.h5` file.

    Returns:
        A text table: one line per layer with its class and weights shape.

    Example:

    ```python
    print(describe_attention_layers("model.h5"))
    ```
    """
    from keras_attnviz.saving.load import load_model
    from keras_attnviz.probe import AttentionProbe

    model = load_model(model_path)
    probe = AttentionProbe(model)
    rows = [("layer", "class", "weights shape")]
    for name, layer_class, shape in probe.describe():
        rows.append((name, layer_class, str(shape)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in rows
    ]
    return f"{model_path}: {len(rows) - 1} attention layer(s)\n" + "\n".join(
        line.rstrip() for line in lines
    )


def render_texts(
    model_path,
    texts,
    *,
    out,
    tokenizer="char",
    vocab=None,
    layer=None,
    padding="post",
    verbose=0,
):
    """Renders the attention a saved model gives to `texts` into `out`.

    Models whose input is integer ids need `vocab`; models whose input is raw
    strings take their vocabulary from their `TextVectorization` layer.

    Args:
        model_path: path of a `.keras` or `.h5` file.
        texts: list of strings.
        out: `.html` (coloured spans) or `.png` (heatmaps) file to write.
        tokenizer: `"char"` or `"word"`, how `vocab` splits texts.
        vocab: vocabulary file (JSON token -> id, or one token per line).
        layer: name of the attention layer; the first one found by default.
        padding: `"pre"` or `"post"`, where ids are padded (models with a
            `TextVectorization` layer always pad at the end).
        verbose: Keras verbosity of the forward pass (1 shows a progress bar).

    Returns:
        The path written.
    """
    from keras_attnviz.saving.load import load_model
    from keras_attnviz.probe import AttentionProbe

    suffix = os.path.splitext(os.fspath(out))[1].lower()
    if suffix not in _OUTPUT_SUFFIXES:
        raise ValueError(
            f"--out must end with one of {_OUTPUT_SUFFIXES}. Received: {out!r}"
        )
    _check_writable(out)
    if suffix == ".png" and len(texts) > _MAX_PNG_TEXTS:
        raise ValueError(
            f"A .png holds at most {_MAX_PNG_TEXTS} texts; write .html for more. "
            f"Received: {len(texts)} texts"
        )
    model = load_model(model_path)
    probe = AttentionProbe(model, layers=[layer] if layer else None)
    name = probe.layer_names[0]
    inputs, token_lists = _model_inputs(model, texts, tokenizer, vocab, padding)
    for text, tokens in zip(texts, token_lists, strict=True):
        if not tokens:
            raise ValueError(
                "Every text must hold at least one token the model reads. "
                f"Received: {text!r}"
            )
    result = probe.predict(inputs, verbose=verbose)
    maps = [
        result.sample(i, name, tokens=tokens, padding=padding)
        for i, tokens in enumerate(token_lists)
    ]
    predictions = _first_output(result.outputs)
    if suffix == ".html":
        # Characters read as text; words and vocabulary tokens stay apart.
        by_char = tokenizer == "char" and model.inputs[0].dtype != "string"
        _save_html(out, maps, predictions, name, "char" if by_char else "token")
    else:
        _save_png(out, maps, predictions, name)
    return os.fspath(out)


def _check_writable(out):
    folder = os.path.dirname(os.path.abspath(out))
    writable = os.path.isdir(folder) and os.access(folder, os.W_OK)
    if os.path.isdir(out) or not writable:
        raise PermissionError(
            f"--out must be a file in a writable folder. Received: {out!r}"
        )


def _model_inputs(model, texts, tokenizer, vocab_path, padding):
    """The model's input for `texts` and the tokens that each position shows."""
    from keras_attnviz.vocabulary import Vocabulary

    if len(model.inputs) != 1:
        raise ValueError(
            "`render` supports models with one text input. Received: a model "
            f"with {len(model.inputs)} inputs"
        )
    spec = model.inputs[0]
    if spec.dtype == "string":
        if padding != "post":
            raise ValueError(
                "--pad pre does not apply to a model with a TextVectorization "
                "layer: it pads at the end. Received: --pad pre"
            )
        return _string_inputs(model, texts)
    if vocab_path is None:
        raise ValueError(
            "--vocab is required for a model whose input is integer ids. "
            "Received: no --vocab"
        )
    vocab = Vocabulary.load(vocab_path, level=tokenizer)
    maxlen = spec.shape[1] if len(spec.shape) > 1 else None
    token_lists = [vocab.tokenize(text) for text in texts]
    if maxlen is None:
        maxlen = max(len(tokens) for tokens in token_lists)
    ids = vocab.encode(texts, maxlen=maxlen, padding=padding)
    _check_ids_fit(model, ids, vocab)
    return ids, token_lists


def _check_ids_fit(model, ids, vocab):
    """An id past the Embedding's table would fail deep inside TensorFlow."""
    embedding = _find_layer(model, "Embedding")
    if embedding is not None and ids.size and ids.max() >= embedding.input_dim:
        largest = int(ids.max())
        raise ValueError(
            f"--vocab ids must be below {embedding.input_dim}, the size of the "
            f"model's Embedding. Received: id {largest} for "
            f"{vocab.tokens[largest]!r}"
        )


def _string_inputs(model, texts):
    vectorizer = _find_layer(model, "TextVectorization")
    if vectorizer is None:
        raise ValueError(
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
                raise ValueError(
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
    return (np.asarray(twin(strings)) != 0).sum(axis=-1)


def _find_layer(model, class_name):
    """The first layer of that Keras class, nested models included."""
    import keras

    layer_class = getattr(keras.layers, class_name)
    for layer in model.layers:
        if isinstance(layer, layer_class):
            return layer
        if isinstance(layer, keras.Model):
            found = _find_layer(layer, class_name)
            if found is not None:
                return found
    return None


def _first_output(outputs):
    while isinstance(outputs, (list, tuple, dict)):
        outputs = list(outputs.values())[0] if isinstance(outputs, dict) else outputs[0]
    outputs = np.asarray(outputs)
    return outputs.reshape(len(outputs), -1)


def _format_prediction(row):
    if row.size == 1:
        return f"{row[0]:.3f}"
    return f"class {int(np.argmax(row))} ({row.max():.3f})"


def _one_row(amap):
    """1-D weights for spans: multi-query maps are averaged over queries."""
    weights = np.asarray(amap.weights)
    if weights.ndim == 1:
        return amap
    from keras_attnviz.probe.results import AttentionMap

    mean = weights.reshape(-1, weights.shape[-1]).mean(axis=0)
    return AttentionMap(mean, tokens=amap.tokens, layer=amap.layer)


def _save_html(out, maps, predictions, name, level):
    from keras_attnviz.render import html_report

    rank = max(np.asarray(amap.weights).ndim for amap in maps)
    title = f"Attention of layer {name!r}"
    if rank > 1:
        over = "heads and queries" if rank > 2 else "queries"
        title += f" (averaged over {over})"
    html_report(
        [_one_row(amap) for amap in maps],
        predictions=[_format_prediction(row) for row in predictions],
        level=level,
    ).save(out, title=title)


def _save_png(out, maps, predictions, name):
    from matplotlib.figure import Figure

    from keras_attnviz.render import heatmap

    figure = Figure(figsize=(10, 1.2 + 1.6 * len(maps)), layout="constrained")
    for i, amap in enumerate(maps):
        ax = figure.add_subplot(len(maps), 1, i + 1)
        shown = _one_row(amap) if np.asarray(amap.weights).ndim > 2 else amap
        heatmap(shown, ax=ax)
        ax.set_title(
            f"{name}: prediction {_format_prediction(predictions[i])}",
            fontsize=9,
            parse_math=False,
        )
    figure.savefig(out, dpi=110)
