"""Views of a user's saved model: its attention layers, and renders of texts.

These back the `keras-attnviz inspect` and `keras-attnviz render` commands.
"""

import os

import numpy as np

_OUTPUT_SUFFIXES = (".html", ".png")


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
    from keras_attnviz.loading import load_model
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
        padding: `"pre"` or `"post"`, where ids are padded.
        verbose: Keras verbosity of the forward pass (1 shows a progress bar).

    Returns:
        The path written.
    """
    from keras_attnviz.loading import load_model
    from keras_attnviz.probe import AttentionProbe

    suffix = os.path.splitext(os.fspath(out))[1].lower()
    if suffix not in _OUTPUT_SUFFIXES:
        raise ValueError(
            f"--out must end with one of {_OUTPUT_SUFFIXES}. Received: {out!r}"
        )
    _check_writable(out)
    model = load_model(model_path)
    probe = AttentionProbe(model, layers=[layer] if layer else None)
    name = probe.layer_names[0]
    inputs, token_lists = _model_inputs(model, texts, tokenizer, vocab, padding)
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
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise PermissionError(f"--out must be in a writable folder. Received: {out!r}")


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
    return vocab.encode(texts, maxlen=maxlen, padding=padding), token_lists


def _string_inputs(model, texts):
    vectorizer = _find_text_vectorization(model)
    if vectorizer is None:
        raise ValueError(
            "A model with a string input must hold a TextVectorization layer "
            "to split texts into tokens. Received: none in the model"
        )
    vocabulary = vectorizer.get_vocabulary()
    ids = np.asarray(vectorizer(np.asarray(texts, dtype=object)))
    token_lists = [[vocabulary[i] for i in row if i != 0] for row in ids]
    return np.asarray(texts, dtype=object), token_lists


def _find_text_vectorization(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.TextVectorization):
            return layer
        if isinstance(layer, keras.Model):
            found = _find_text_vectorization(layer)
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
    from keras_attnviz.attention_map import AttentionMap

    mean = weights.reshape(-1, weights.shape[-1]).mean(axis=0)
    return AttentionMap(mean, tokens=amap.tokens, layer=amap.layer)


def _save_html(out, maps, predictions, name, level):
    from keras_attnviz.render import html_report

    averaged = any(np.asarray(amap.weights).ndim > 1 for amap in maps)
    title = f"Attention of layer {name!r}"
    if averaged:
        title += " (averaged over queries and heads)"
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
            f"{name}: prediction {_format_prediction(predictions[i])}", fontsize=9
        )
    figure.savefig(out, dpi=110)
