"""What `load_model` gives back is what `AttentionProbe` needs."""

import numpy as np

from keras_attnviz.layers import DotProductAttention
from keras_attnviz.probe import AttentionProbe
from keras_attnviz.saving.load import load_model


def test_probe_reads_keras2_attention_from_a_loaded_recipe(legacy_dir):
    model = load_model(legacy_dir / "recipe.h5", safe_mode=False)
    result = AttentionProbe(model, layers=["attention_vec"]).predict(
        np.load(legacy_dir / "inputs.npy"), verbose=0
    )
    np.testing.assert_allclose(
        result.outputs, np.load(legacy_dir / "recipe.npy"), atol=1e-5
    )
    np.testing.assert_allclose(
        result.attention["attention_vec"],
        np.load(legacy_dir / "recipe_attention.npy"),
        atol=1e-6,
    )


def test_probe_reads_keras2_multi_head_scores(legacy_dir):
    inputs = np.load(legacy_dir / "inputs.npy")
    model = load_model(legacy_dir / "multi_head.h5")
    result = AttentionProbe(model).predict(inputs, verbose=0)
    np.testing.assert_allclose(
        result.outputs, np.load(legacy_dir / "multi_head.npy"), atol=1e-5
    )
    # Keras 2 spreads the rows of padded queries evenly, the probe zeroes them.
    real = inputs != 0
    expected = np.load(legacy_dir / "multi_head_scores.npy")
    for i, row in enumerate(real):
        np.testing.assert_allclose(
            result.attention["mha"][i][:, row], expected[i][:, row], atol=1e-6
        )


def test_probe_finds_our_layer_in_a_reloaded_h5(tmp_path, tokens, make_masked_model):
    model = make_masked_model(attention=DotProductAttention(name="attention"))
    model.save(tmp_path / "model.h5")
    expected = AttentionProbe(model).predict(tokens, verbose=0)
    got = AttentionProbe(load_model(tmp_path / "model.h5")).predict(tokens, verbose=0)
    assert list(got.attention) == ["attention"]
    np.testing.assert_allclose(
        got.attention["attention"], expected.attention["attention"], atol=1e-6
    )
    assert np.all(got.attention["attention"][tokens == 0] == 0)
