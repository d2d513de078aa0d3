import json
import shutil
import subprocess
import sys

import keras
import pytest

import keras_attnviz
from keras_attnviz.cli import main as cli
from keras_attnviz.cli.demo import MAXLEN, build_classifier
from keras_attnviz.vocabulary import Vocabulary

TEXTS = ["what a superb day", "a slow <b>day</b>"]


@pytest.fixture(scope="module")
def char_model(tmp_path_factory):
    """An (untrained) demo classifier saved as .h5, with its vocabulary."""
    folder = tmp_path_factory.mktemp("char_model")
    vocab = Vocabulary.from_texts(["abcdefghijklmnopqrstuvwxyz <>/"])
    keras.utils.set_random_seed(0)
    model = build_classifier(len(vocab))
    model.save(folder / "model.h5")
    vocab.save(folder / "vocab.json")
    return folder


@pytest.fixture(scope="module")
def string_model(tmp_path_factory):
    """A model whose input is raw strings, split by a TextVectorization layer."""
    folder = tmp_path_factory.mktemp("string_model")
    text = keras.Input((1,), dtype="string")
    vectorize = keras.layers.TextVectorization(
        vocabulary=["what", "a", "superb", "day"], output_sequence_length=6
    )
    words = keras.layers.Embedding(10, 8, mask_zero=True)(vectorize(text))
    pooled = keras_attnviz.DotProductAttention(name="word_attention")(words)
    model = keras.Model(text, keras.layers.Dense(1)(pooled))
    model.save(folder / "model.keras")
    return folder


def run(*argv):
    return cli.main([str(arg) for arg in argv])


def render_with_vocab(char_model, *argv):
    """`render` on the char model with its vocabulary, then `argv`."""
    model, vocab = char_model / "model.h5", char_model / "vocab.json"
    return run("render", model, "--vocab", vocab, *argv)


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert keras_attnviz.__version__ in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert run() == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("demo", "inspect", "render"))


def test_inspect_lists_layers_with_shapes(char_model, capsys):
    assert run("inspect", char_model / "model.h5") == 0
    out = capsys.readouterr().out
    assert "attention" in out and "AdditiveAttention" in out
    assert f"(None, {MAXLEN})" in out


def test_render_html_with_vocab(char_model, tmp_path, capsys):
    out = tmp_path / "spans.html"
    code = render_with_vocab(
        char_model, "--text", TEXTS[0], "--text", TEXTS[1], "--out", out
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert printed.out.strip() == str(out)  # no progress bar for --text
    page = out.read_text(encoding="utf-8")
    assert 'class="kav-spans kav-char"' in page
    assert 'class="kav-spans kav-token"' not in page
    assert "&lt;" in page and "<b>day" not in page
    assert page.count("superb"[0]) >= 1


@pytest.mark.parametrize("pad", ["pre", "post"])
def test_render_png_from_texts_file(char_model, tmp_path, pad, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    out = tmp_path / "maps.png"
    code = render_with_vocab(char_model, "--texts", texts, "--pad", pad, "--out", out)
    assert code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A texts file gets Keras's progress bar; the printed path comes last.
    printed = capsys.readouterr().out
    assert "1/1" in printed and printed.rstrip().endswith(str(out))


def test_render_string_model_uses_its_text_vectorization(string_model, tmp_path):
    out = tmp_path / "words.html"
    assert (
        run(
            "render",
            string_model / "model.keras",
            "--tokenizer",
            "word",
            "--text",
            "What a superb day",
            "--out",
            out,
        )
        == 0
    )
    page = out.read_text(encoding="utf-8")
    assert 'class="kav-spans kav-token"' in page
    assert 'class="kav-spans kav-char"' not in page
    for word in ("what", "superb", "day"):
        assert word in page


def _one_line_error(capsys, code):
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("keras-attnviz: error: ")
    assert "\n" not in err and "Traceback" not in err
    return err


def test_missing_model_file(tmp_path, capsys):
    code = run(
        "render",
        tmp_path / "missing.h5",
        "--text",
        "superb",
        "--out",
        tmp_path / "a.html",
    )
    assert "missing.h5" in _one_line_error(capsys, code)


def test_bad_render_inputs_get_one_line_errors(char_model, tmp_path, capsys):
    model, vocab = char_model / "model.h5", char_model / "vocab.json"
    cases = [
        (["--layer", "atention"], "attention"),
        (["--text", "x" * (MAXLEN + 1)], f"at most {MAXLEN}"),
        (["--text", "superb 5€"], "'5'"),
        (["--out", tmp_path / "no" / "such" / "dir" / "a.html"], "writable"),
        (["--out", tmp_path / "a.pdf"], ".html"),
        (["--vocab", tmp_path / "nope.json"], "nope.json"),
    ]
    for extra, expected in cases:
        argv = [
            "render",
            model,
            "--vocab",
            vocab,
            "--text",
            "superb",
            "--out",
            tmp_path / "a.html",
        ]
        for flag in extra[::2]:
            position = argv.index(flag) if flag in argv else None
            if position is not None:
                del argv[position : position + 2]
        argv += extra
        err = _one_line_error(capsys, run(*argv))
        assert expected in err, (extra, err)


def test_id_model_without_vocab_is_refused(char_model, tmp_path, capsys):
    err = _one_line_error(
        capsys,
        run(
            "render",
            char_model / "model.h5",
            "--text",
            "superb",
            "--out",
            tmp_path / "a.html",
        ),
    )
    assert "--vocab" in err


def test_console_script_reports_errors_without_traceback(tmp_path):
    script = shutil.which("keras-attnviz") or ""
    command = [script] if script else [sys.executable, "-m", "keras_attnviz.cli"]
    done = subprocess.run(
        command + ["inspect", str(tmp_path / "missing.keras")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "missing.keras" in done.stderr


def test_demo_rejects_bad_epochs(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--epochs", "0"])
    assert exit_.value.code == 2


@pytest.mark.parametrize(
    "content, expected", [(None, "texts.txt"), ("\n \n", "at least one text")]
)
def test_bad_texts_file(char_model, tmp_path, capsys, content, expected):
    texts = tmp_path / "texts.txt"
    if content is not None:
        texts.write_text(content, encoding="utf-8")
    code = render_with_vocab(char_model, "--texts", texts, "--out", tmp_path / "a.html")
    assert expected in _one_line_error(capsys, code)


def test_string_model_refuses_texts_its_vectorizer_would_cut(
    string_model, tmp_path, capsys
):
    code = run("render", string_model / "model.keras", "--text",
               "what a superb day a superb day", "--out", tmp_path / "a.html")
    assert "at most 6 tokens. Received: 7" in _one_line_error(capsys, code)


def test_string_model_refuses_pre_padding(string_model, tmp_path, capsys):
    code = run("render", string_model / "model.keras", "--text", "a superb day",
               "--pad", "pre", "--out", tmp_path / "a.html")
    assert "--pad pre" in _one_line_error(capsys, code)


@pytest.mark.parametrize("text", ["", "   "])
def test_text_without_tokens_is_refused(char_model, string_model, tmp_path, capsys,
                                         text):
    for model, extra in [
        (char_model / "model.h5", ["--vocab", char_model / "vocab.json"]),
        (string_model / "model.keras", []),
    ]:
        if text and not extra:  # the string model strips spaces itself
            continue
        code = run("render", model, *extra, "--tokenizer", "word", "--text", text,
                   "--out", tmp_path / "a.html")
        assert "at least one token" in _one_line_error(capsys, code)


def test_vocab_ids_past_the_embedding_are_refused(char_model, tmp_path, capsys):
    # A dense vocabulary larger than the model's Embedding table (31 rows).
    letters = [chr(code) for code in range(0x100, 0x100 + 40)]
    vocab = tmp_path / "big.json"
    vocab.write_text(json.dumps({c: i + 1 for i, c in enumerate(letters)}),
                     encoding="utf-8")
    code = run("render", char_model / "model.h5", "--vocab", vocab, "--text",
               letters[0] + letters[39], "--out", tmp_path / "a.html")
    assert f"id 40 for {letters[39]!r}" in _one_line_error(capsys, code)


def test_png_and_directory_outputs_are_checked_first(char_model, tmp_path, capsys):
    texts = tmp_path / "many.txt"
    texts.write_text("ab\n" * 41, encoding="utf-8")
    code = render_with_vocab(char_model, "--texts", texts, "--out", tmp_path / "a.png")
    assert "at most 40 texts" in _one_line_error(capsys, code)
    (tmp_path / "folder.html").mkdir()
    code = render_with_vocab(
        char_model, "--text", "ab", "--out", tmp_path / "folder.html"
    )
    assert "must be a file" in _one_line_error(capsys, code)


def test_error_lines_drop_terminal_colours_and_key_quotes():
    assert cli._one_line(ValueError("\x1b[1mbold\x1b[0m\n next")) == "bold next"
    assert cli._one_line(KeyError("missing thing")) == "missing thing"
