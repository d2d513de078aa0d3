"""Finding the embedding layer: at any depth, by name, and clear refusals."""

import keras
import pytest

from keras_attnviz.attribution import find_embedding_layer, gradient_x_input

from .models import VOCAB, layers


class TokenEncoder(layers.Layer):
    """A custom layer holding the embedding, as keras-hub's do."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = layers.Embedding(VOCAB, 4, mask_zero=True)
        self.pooling = layers.GlobalAveragePooling1D()

    def call(self, ids):
        return self.pooling(self.token_embedding(ids))


def encoder_model():
    ids = keras.Input((5,), dtype="int32")
    pooled = TokenEncoder(name="encoder")(ids)
    return keras.Model(ids, layers.Dense(1, activation="sigmoid")(pooled))


def test_found_inside_a_custom_layer_by_itself_and_by_path():
    model = encoder_model()
    inner = model.get_layer("encoder").token_embedding
    assert find_embedding_layer(model) is inner
    assert find_embedding_layer(model, "encoder/token_embedding") is inner
    assert find_embedding_layer(model, inner.name) is inner
    assert find_embedding_layer(model, inner) is inner


def test_several_embeddings_need_a_choice(rng):
    ids = keras.Input((5,), dtype="int32")
    segments = keras.Input((5,), dtype="int32")
    added = layers.Add()(
        [
            layers.Embedding(VOCAB, 4, name="tokens")(ids),
            layers.Embedding(2, 4, name="segments")(segments),
        ]
    )
    model = keras.Model(
        [ids, segments], layers.Dense(1)(layers.GlobalAveragePooling1D()(added))
    )
    with pytest.raises(ValueError, match=r"several Embedding layers.*'tokens'"):
        find_embedding_layer(model)
    inputs = [rng.integers(0, VOCAB, (2, 5)), rng.integers(0, 2, (2, 5))]
    attribution = gradient_x_input(model, inputs, target=1, layer="tokens")
    assert attribution.layer == "tokens" and attribution.scores.shape == (2, 5)


def test_refusals():
    model = encoder_model()
    with pytest.raises(ValueError, match="must be a layer of model .* 'encoder"):
        find_embedding_layer(model, "embeddings")
    with pytest.raises(ValueError, match="must be a layer of model"):
        find_embedding_layer(model, layers.Embedding(3, 2))
    with pytest.raises(TypeError, match="`layer` must be a layer name"):
        find_embedding_layer(model, 3)
    with pytest.raises(TypeError, match="`model` must be a `keras.Model`"):
        find_embedding_layer(layers.Embedding(3, 2))
    features = keras.Input((4,))
    dense_only = keras.Model(features, layers.Dense(1)(features))
    with pytest.raises(ValueError, match="no Embedding layer"):
        find_embedding_layer(dense_only)


def test_an_embedding_called_twice_has_no_one_set_of_positions(rng):
    ids = keras.Input((4,), dtype="int32")
    shared = layers.Embedding(VOCAB, 3)
    both = layers.Concatenate(axis=1)([shared(ids), shared(ids)])
    model = keras.Model(ids, layers.Dense(1)(layers.Flatten()(both)))
    with pytest.raises(ValueError, match="exactly once per forward pass.*ran 2 times"):
        gradient_x_input(model, rng.integers(0, VOCAB, (2, 4)), target=1)
