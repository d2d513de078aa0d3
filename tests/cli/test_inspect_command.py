"""`keras-attnviz inspect MODEL`."""

from keras_attnviz.cli.demo import MAXLEN
from keras_attnviz.cli.inspect_command import layer_table


def test_inspect_lists_layers_with_shapes(run_cli, char_model):
    code, out, err = run_cli("inspect", char_model / "model.h5")
    assert code == 0, err
    heading, columns, row = out.splitlines()
    assert heading.endswith("model.h5: 1 attention layer(s)")
    assert columns.split() == ["layer", "class", "weights", "shape"]
    assert row.split() == ["attention", "AdditiveAttention", "(None,", f"{MAXLEN})"]


def test_layer_table_aligns_columns_without_trailing_spaces():
    table = layer_table(
        "m.h5", [("a", "AdditiveAttention", (None, 8)), ("self_attention", "X", ())]
    )
    lines = table.splitlines()
    assert lines[0] == "m.h5: 2 attention layer(s)"
    assert lines[2] == "a               AdditiveAttention  (None, 8)"
    assert lines[3] == "self_attention  X                  ()"
    assert all(line == line.rstrip() for line in lines)


def test_model_without_attention_is_bad_input(user_error, tmp_path):
    import keras

    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(tmp_path / "dense.keras")
    assert "no attention layer" in user_error("inspect", tmp_path / "dense.keras")


def test_inspect_lists_attention_at_any_depth_with_paths(run_cli, tmp_path):
    # A keras-hub backbone: attention inside its Transformer layers, found by
    # path; its file reloads with keras-hub installed (a dev dependency).
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=6,
    )
    backbone.save(tmp_path / "bert.keras")
    code, out, err = run_cli("inspect", tmp_path / "bert.keras")
    assert code == 0, err
    heading, _, *rows = out.splitlines()
    assert heading.endswith("bert.keras: 2 attention layer(s)")
    assert [row.split()[:2] for row in rows] == [
        [f"transformer_layer_{i}/self_attention_layer", "MultiHeadAttention"]
        for i in range(2)
    ]
    assert all(row.endswith("(None, 2, None, None)") for row in rows)
