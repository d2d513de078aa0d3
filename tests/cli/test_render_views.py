"""`keras-attnviz render ... --view heads|model`: interactive views of a saved model."""

import json
import re

import numpy as np
import pytest

TEXT = "a slow <b>day</b>"
BLOCKS = ["self_attention_0", "self_attention_1"]


@pytest.fixture
def render_words(run_cli, transformer_model):
    """`render` on the word-level transformer with its vocabulary, then `argv`."""

    def run(*argv):
        model = transformer_model / "model.keras"
        vocab = transformer_model / "vocab.json"
        return run_cli("render", model, "--vocab", vocab, "--level", "word", *argv)

    return run


def _view_data(page):
    """The JSON the view's script reads: the second argument of its call."""
    found = re.search(r'\}\)\("kav-[0-9a-f]+", (\{.*\})\);\n</script>', page)
    assert found, page[:2000]
    return json.loads(found.group(1))


def _expected_weights(transformer_model, layer):
    """The layer's weights for TEXT's 3 tokens, from the layers called by hand."""
    import keras

    from keras_attnviz.vocabulary import Vocabulary

    model = keras.saving.load_model(transformer_model / "model.keras")
    vocab = Vocabulary.load(transformer_model / "vocab.json", level="word")
    ids = vocab.encode([TEXT], maxlen=8)
    embedding = model.get_layer(index=1)
    x, mask = embedding(ids), embedding.compute_mask(ids)
    norms = [lay for lay in model.layers if "normalization" in lay.name]
    for block, norm in zip(BLOCKS, norms, strict=True):
        # Keras masks the first block only: `x + attended` drops the mask.
        masks = {"query_mask": mask, "value_mask": mask} if block == BLOCKS[0] else {}
        attention = model.get_layer(block)
        if block == layer:
            _, weights = attention(x, x, return_attention_scores=True, **masks)
            return keras.ops.convert_to_numpy(weights)[0, :, :3, :3]
        # Called plainly, as the model calls it: asked for scores, MHA takes
        # its explicit path, whose outputs at padded queries differ from the
        # fused kernel's, and the unmasked second block reads them.
        x = norm(x + attention(x, x, **masks))
    raise AssertionError(layer)


def _page_weights(layer):
    """The weights a view's layer sends to the page, back as floats."""
    import base64

    levels = np.frombuffer(base64.b64decode(layer["weights"]), dtype=np.uint8)
    peaks = np.asarray(layer["peaks"])
    levels = levels.reshape(len(peaks), -1).astype(np.float64)
    return levels * peaks[:, np.newaxis] / 255, peaks


@pytest.mark.parametrize("view", ["heads", "model"])
def test_view_of_chosen_layers(render_words, transformer_model, tmp_path, view):
    out = tmp_path / "view.html"
    argv = ["--layer", BLOCKS[0], "--layer", BLOCKS[1], "--view", view]
    code, printed, err = render_words("--text", TEXT, *argv, "--out", out)
    assert code == 0, err
    assert printed.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert f"kav-{'head' if view == 'heads' else 'model'}-view" in page
    assert "<b>" not in page  # the token is text, not markup
    data = _view_data(page)
    assert [layer["name"] for layer in data["layers"]] == BLOCKS
    assert data["keys"] == data["queries"] == ["a", "slow", "<b>day</b>"]
    for layer, name in zip(data["layers"], BLOCKS, strict=True):
        sent, peaks = _page_weights(layer)
        # The text's 3 tokens of 8 positions: self_attention_0 is masked,
        # self_attention_1 is not (the residual `x + attended` drops Keras's
        # mask), and --pad post cuts it to the same 3 x 3.
        expected = _expected_weights(transformer_model, name)
        assert expected.shape == (2, 3, 3)
        expected = expected.reshape(2, -1)
        np.testing.assert_allclose(sent, expected, atol=peaks.max() / 510 + 1e-9)
    assert [layer["heads"] for layer in data["layers"]] == [[0, 1], [0, 1]]


def test_view_with_rollout(render_words, tmp_path):
    out = tmp_path / "rollout.html"
    argv = ["--layer", BLOCKS[0], "--view", "model", "--rollout"]
    code, _, err = render_words("--text", TEXT, *argv, "--out", out)
    assert code == 0, err
    names = [layer["name"] for layer in _view_data(out.read_text())["layers"]]
    assert names == [BLOCKS[0], "rollout"]


def test_rollout_through_a_layer_that_attends_to_padding_is_refused(
    render_words, tmp_path
):
    # self_attention_1 runs without a mask: its rows over the text's 3 tokens
    # do not sum to 1, and a rollout over them would be wrong.
    out = tmp_path / "rollout.html"
    argv = ["--layer", BLOCKS[0], "--layer", BLOCKS[1], "--view", "heads"]
    code, _, err = render_words("--text", TEXT, *argv, "--rollout", "--out", out)
    assert code == 2
    assert f"{BLOCKS[1]!r} is not masked" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--text", "a", "--text", "b", "--view", "heads"], "shows one text"),
        (["--text", "a", "--view", "model", "--out", "x.png"], "must end with .html"),
        (["--text", "a", "--layer", "p", "--layer", "q"], "shows one layer"),
        (["--text", "a", "--rollout"], "--rollout goes with --view heads"),
    ],
)
def test_view_options_are_checked_before_the_model_loads(
    user_error, tmp_path, argv, expected
):
    # No model file at all: the options are refused first.
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "out.html")]
    message = user_error("render", tmp_path / "missing.keras", *argv)
    assert expected in message


def test_mixed_layers_need_layer(user_error, transformer_model, tmp_path):
    message = user_error(
        "render",
        transformer_model / "model.keras",
        "--vocab",
        transformer_model / "vocab.json",
        "--level",
        "word",
        "--text",
        TEXT,
        "--view",
        "heads",
        "--out",
        tmp_path / "view.html",
    )
    assert "pick them with --layer" in message
    for name in [*BLOCKS, "pooling"]:
        assert repr(name) in message
    assert not (tmp_path / "view.html").exists()
