"""Finding the layer that turns token ids into vectors, at any depth."""

import keras

from keras_attnviz.probe import discovery


def find_embedding_layer(model, layer=None):
    """The embedding layer of `model`, where attribution measures tokens.

    Without `layer`, the model must hold exactly one `keras.layers.Embedding`
    (subclasses included, such as keras-hub's `ReversibleEmbedding`),
    wherever it sits: in the graph, in a nested model, inside a custom layer
    or a subclassed model. A model with several (token and segment
    embeddings) or with a layer of its own that looks ids up needs `layer`.

    Args:
        model: a built `keras.Model`.
        layer: optional: the layer itself, or its name (its own `name`, or
            its path as `AttentionProbe` names layers, `"encoder/embedding"`).
            Any layer whose input is ids `(batch, T)` and whose output is one
            vector per id `(batch, T, D)` works.

    Returns:
        The layer.

    Raises:
        TypeError: if `model` is not a `keras.Model`, or `layer` is neither a
            name nor a layer.
        ValueError: if no embedding layer is found, several are and `layer`
            is not given, or `layer` is not in the model.

    Example:

    ```python
    import keras
    from keras_attnviz.attribution import find_embedding_layer

    ids = keras.Input((8,), dtype="int32")
    vectors = keras.layers.Embedding(50, 4, name="chars")(ids)
    model = keras.Model(ids, keras.layers.Dense(1)(keras.layers.Flatten()(vectors)))
    assert find_embedding_layer(model).name == "chars"
    ```
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "`model` must be a `keras.Model`. "
            f"Received: model of type {type(model).__name__}"
        )
    sites = _unique_sites(discovery.walk(model))
    if layer is None:
        found = [s for s in sites if isinstance(s.layer, keras.layers.Embedding)]
        if len(found) == 1:
            return found[0].layer
        if not found:
            raise ValueError(
                "`model` must hold an `Embedding` layer, the layer that turns "
                "token ids into vectors, or `layer` must name the layer that "
                f"does. Received: model {model.name!r} with no Embedding layer"
            )
        raise ValueError(
            "`model` holds several Embedding layers; pass `layer`, one of "
            f"{[s.name for s in found]}. Received: layer=None"
        )
    if isinstance(layer, str):
        for site in sites:
            if layer in (site.name, site.short_name, site.layer.name):
                return site.layer
    elif isinstance(layer, keras.layers.Layer):
        if any(site.layer is layer for site in sites):
            return layer
    else:
        raise TypeError(
            "`layer` must be a layer name or a `keras.layers.Layer`. "
            f"Received: layer of type {type(layer).__name__}"
        )
    shown = layer if isinstance(layer, str) else layer.name
    raise ValueError(
        f"`layer` must be a layer of model {model.name!r}, one of "
        f"{[site.name for site in sites]}. Received: layer={shown!r}"
    )


def _unique_sites(sites):
    # A layer called twice is one layer here.
    seen, unique = set(), []
    for site in sites:
        if id(site.layer) not in seen:
            seen.add(id(site.layer))
            unique.append(site)
    return unique
