"""Models with the layers reload in a fresh process after only `import keras_attnviz`.

Keras 3's own `load_model` cannot reload a `.h5` file of a model with
`Embedding(mask_zero=True)` (`Unknown layer: 'NotEqual'`, with or without our
layers), so masked `.h5` files are reloaded with `keras_attnviz.load_model`,
everything else with `keras.models.load_model`.
"""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_attnviz

TOKENS = np.array([[3, 1, 4, 1, 5, 0, 0], [2, 7, 1, 8, 2, 8, 1], [9, 0, 0, 0, 0, 0, 0]])

RELOAD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_attnviz

    cases = json.loads(sys.argv[1])
    for path, (our_loader, expected_classes) in cases.items():
        load = keras_attnviz.load_model if our_loader else keras.models.load_model
        model = load(path)
        classes = {
            layer.name: type(layer).__name__
            for layer in model.layers
            if type(layer).__module__.startswith("keras_attnviz")
        }
        assert classes == expected_classes, (path, classes)
        saved = np.load(path + ".npz")
        outputs = model.predict(saved["inputs"], verbose=0)
        for index, output in enumerate(outputs):
            np.testing.assert_allclose(
                output, saved[f"output_{index}"], rtol=1e-5, atol=1e-6
            )
        print("reloaded", path)
    """
)


def sequence_model(masked):
    tokens = keras.Input((None,), dtype="int32")
    states = keras.layers.Embedding(10, 8, mask_zero=masked)(tokens)
    return tokens, keras.layers.GRU(8, return_sequences=True)(states)


def pooling_model(masked):
    tokens, states = sequence_model(masked)
    context, weights = keras_attnviz.AdditiveAttention(units=6, name="bahdanau")(
        states, return_attention_scores=True
    )
    output = keras.layers.Dense(2)(context)
    return keras.Model(tokens, [output, weights])


def list_form_model(masked):
    tokens, states = sequence_model(masked)
    last_state = keras.layers.GlobalAveragePooling1D()(states)
    pooled, pooled_weights = keras_attnviz.DotProductAttention(
        score="general", scale=0.5, name="luong"
    )([last_state, states], return_attention_scores=True)
    attended, weights = keras_attnviz.AdditiveAttention(name="self_attention")(
        [states, states, states], return_attention_scores=True
    )
    # `score="dot"`: a config string that Keras's `.h5` loader also names a
    # function by (`keras.ops.dot`).
    dotted, dot_weights = keras_attnviz.DotProductAttention(score="dot", name="dot")(
        [states, states], return_attention_scores=True
    )
    summary = keras.layers.GlobalAveragePooling1D()(
        keras.layers.Add()([attended, dotted])
    )
    output = keras.layers.Dense(1)(keras.layers.Concatenate()([pooled, summary]))
    return keras.Model(tokens, [output, pooled_weights, weights, dot_weights])


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """Saves models and predictions; returns `{path: (our_loader, classes)}`."""
    directory = tmp_path_factory.mktemp("models")
    cases = {}
    for build, masked, suffixes in [
        (pooling_model, True, [".keras", ".h5"]),
        (list_form_model, True, [".keras", ".h5"]),
        (pooling_model, False, [".keras", ".h5"]),
        (list_form_model, False, [".h5"]),
    ]:
        model = build(masked)
        outputs = model.predict(TOKENS, verbose=0)
        arrays = {f"output_{i}": output for i, output in enumerate(outputs)}
        classes = {
            layer.name: type(layer).__name__
            for layer in model.layers
            if isinstance(layer, keras_attnviz.layers.base_attention.BaseAttention)
        }
        for suffix in suffixes:
            path = str(directory / f"{build.__name__}_{masked}{suffix}")
            model.save(path)
            np.savez(path + ".npz", inputs=TOKENS, **arrays)
            cases[path] = (masked and suffix == ".h5", classes)
    return cases


def test_models_reload_in_a_fresh_process(saved_models):
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, json.dumps(saved_models)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("reloaded") == len(saved_models)


def test_masked_predictions_ignore_padding(saved_models):
    # The saved predictions above must depend on the mask, or the round trip
    # of a masked model would prove nothing about masks.
    path = next(p for p in saved_models if "pooling_model_True" in p)
    weights = np.load(path + ".npz")["output_1"]
    assert np.all(weights[TOKENS == 0] == 0.0)
    assert np.all(weights[TOKENS != 0] > 0.0)
