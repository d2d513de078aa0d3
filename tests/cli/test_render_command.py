"""`keras-attnviz render MODEL ...` on id-input and string-input models."""

import json

import pytest

from keras_attnviz.cli.demo import MAXLEN

TEXTS = ["what a superb day", "a slow <b>day</b>"]


@pytest.fixture
def render(run_cli, char_model):
    """`render` on the char model with its vocabulary, then `argv`."""

    def run(*argv):
        model, vocab = char_model / "model.h5", char_model / "vocab.json"
        return run_cli("render", model, "--vocab", vocab, *argv)

    return run


@pytest.fixture
def render_error(user_error, char_model):
    """The one-line error of `render` on the char model with its vocabulary."""

    def run(*argv):
        model, vocab = char_model / "model.h5", char_model / "vocab.json"
        return user_error("render", model, "--vocab", vocab, *argv)

    return run


def test_render_html_with_vocab(render, tmp_path):
    out = tmp_path / "spans.html"
    code, printed, err = render("--text", TEXTS[0], "--text", TEXTS[1], "--out", out)
    assert code == 0, err
    assert printed.strip() == str(out)  # no progress bar for --text
    page = out.read_text(encoding="utf-8")
    assert 'class="kav-spans kav-char"' in page
    assert 'class="kav-spans kav-token"' not in page
    assert "&lt;" in page and "<b>day" not in page


def test_render_word_level_vocab(run_cli, tmp_path):
    import keras

    import keras_attnviz

    words = ["", "what", "a", "superb", "day"]
    vocab = tmp_path / "words.txt"
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    ids = keras.Input((6,), dtype="int32")
    embedded = keras.layers.Embedding(len(words), 8, mask_zero=True)(ids)
    pooled = keras_attnviz.AdditiveAttention(name="attention")(embedded)
    model = keras.Model(ids, keras.layers.Dense(1)(pooled))
    model.save(tmp_path / "words.keras")
    out = tmp_path / "words.html"
    code, _, err = run_cli(
        "render",
        tmp_path / "words.keras",
        "--vocab",
        vocab,
        "--level",
        "word",
        "--text",
        "what a superb day",
        "--out",
        out,
    )
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert 'class="kav-spans kav-token"' in page
    assert page.count('title="') >= 4  # one span per word


@pytest.mark.parametrize("pad", ["pre", "post"])
def test_render_png_from_texts_file(render, tmp_path, pad):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    out = tmp_path / "maps.png"
    code, printed, err = render("--texts", texts, "--pad", pad, "--out", out)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A texts file gets Keras's progress bar; the printed path comes last.
    assert "1/1" in printed and printed.rstrip().endswith(str(out))


def test_render_string_model_uses_its_text_vectorization(
    run_cli, string_model, tmp_path
):
    out = tmp_path / "words.html"
    code, _, err = run_cli(
        "render",
        string_model / "model.keras",
        "--text",
        "What a superb day",
        "--out",
        out,
    )
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert 'class="kav-spans kav-token"' in page
    assert 'class="kav-spans kav-char"' not in page
    for word in ("what", "superb", "day"):
        assert word in page


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--layer", "atention"], "'atention'"),
        # A layer that is there but does not output attention weights.
        (["--layer", "positive"], "must output attention weights"),
        (["--text", "x" * (MAXLEN + 1)], f"at most {MAXLEN} chars"),
        (["--text", "superb 5€"], "'5'"),
        (["--text", "ab", "--level", "word"], "Every word must be in the vocabulary"),
    ],
)
def test_bad_render_inputs_get_one_line_errors(render_error, tmp_path, argv, expected):
    if "--text" not in argv:
        argv = [*argv, "--text", "superb"]
    assert expected in render_error(*argv, "--out", tmp_path / "a.html")


def test_bad_vocabulary_files_are_named(user_error, char_model, tmp_path):
    vocab = tmp_path / "broken.json"
    vocab.write_text("{not json", encoding="utf-8")
    err = user_error(
        "render",
        char_model / "model.h5",
        "--vocab",
        vocab,
        "--text",
        "ab",
        "--out",
        tmp_path / "a.html",
    )
    assert "broken.json" in err and "not valid JSON" in err


def test_id_model_without_vocab_is_refused(user_error, char_model, tmp_path):
    err = user_error(
        "render",
        char_model / "model.h5",
        "--text",
        "superb",
        "--out",
        tmp_path / "a.html",
    )
    assert "--vocab is required" in err


def test_vocab_ids_past_the_embedding_are_refused(user_error, char_model, tmp_path):
    # A dense vocabulary larger than the model's Embedding table (31 rows).
    letters = [chr(code) for code in range(0x100, 0x100 + 40)]
    vocab = tmp_path / "big.json"
    vocab.write_text(
        json.dumps({c: i + 1 for i, c in enumerate(letters)}), encoding="utf-8"
    )
    err = user_error(
        "render",
        char_model / "model.h5",
        "--vocab",
        vocab,
        "--text",
        letters[0] + letters[39],
        "--out",
        tmp_path / "a.html",
    )
    assert f"id 40 for {letters[39]!r}" in err


def test_string_model_refuses_texts_its_vectorizer_would_cut(
    user_error, string_model, tmp_path
):
    err = user_error(
        "render",
        string_model / "model.keras",
        "--text",
        "what a superb day a superb day",
        "--out",
        tmp_path / "a.html",
    )
    assert "at most 6 tokens. Received: 7" in err


def test_string_model_refuses_pre_padding(user_error, string_model, tmp_path):
    err = user_error(
        "render",
        string_model / "model.keras",
        "--text",
        "a superb day",
        "--pad",
        "pre",
        "--out",
        tmp_path / "a.html",
    )
    assert "--pad pre" in err


def test_text_without_tokens_is_refused(user_error, string_model, tmp_path):
    # Not blank, but the TextVectorization strips punctuation: no token is left.
    err = user_error(
        "render",
        string_model / "model.keras",
        "--text",
        "?!",
        "--out",
        tmp_path / "a.html",
    )
    assert err == (
        "Every text must hold at least one token the model reads. Received: '?!'"
    )
