"""`keras-attnviz explain MODEL ...`: attention beside attribution, the table, and
bad input answered early."""

import html.parser

import pytest

TEXTS = ["what a superb day", "a slow <b>day</b>"]


class _Page(html.parser.HTMLParser):
    """The rows of the page's tables and the text of their cells (no CSS)."""

    def __init__(self, text):
        super().__init__()
        self.rows, self._in_cell, self._in_style = [], False, False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1].append("")
        self._in_style |= tag == "style"

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False
        self._in_style &= tag != "style"

    def handle_data(self, data):
        if self._in_cell and not self._in_style:
            self.rows[-1][-1] += data


def test_explain_writes_the_table_and_the_texts_side_by_side(
    run_cli, char_model, tmp_path
):
    out = tmp_path / "explain.html"
    code, printed, err = run_cli(
        "explain",
        char_model / "model.h5",
        "--vocab",
        char_model / "vocab.json",
        "--text",
        TEXTS[0],
        "--text",
        TEXTS[1],
        "--steps",
        8,
        "--out",
        out,
    )
    assert code == 0, err
    assert printed.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert "<b>day" not in page and "&lt;" in page  # tokens escaped
    rows = _Page(page).rows
    methods = [row[0] for row in rows[1:6]]
    assert methods == [
        "attention: attention",
        "integrated_gradients",
        "gradient_x_input",
        "occlusion",
        "random",
    ]
    header = rows[6]
    assert header[2:] == ["attention: attention", "integrated gradients", "occlusion"]
    texts = rows[7:]
    assert [row[0] for row in texts] == ["0", "1"]
    # Each span cell holds the text (then its legend's limits).
    assert all(cell.startswith(TEXTS[1]) for cell in texts[1][2:])
    assert page.count('class="kav-spans kav-char"') == 6


def test_explain_a_model_that_splits_its_own_texts(run_cli, string_model, tmp_path):
    out = tmp_path / "words.html"
    code, _, err = run_cli(
        "explain",
        string_model / "model.keras",
        "--text",
        "what a superb day",
        "--steps",
        4,
        "--out",
        out,
    )
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert "attention: word_attention" in page
    assert page.count('class="kav-spans kav-token"') == 3


def test_a_model_without_attention_or_an_unknown_embedding(user_error, tmp_path):
    import keras

    ids = keras.Input((4,), dtype="int32")
    vectors = keras.layers.Embedding(5, 2, mask_zero=True)(ids)
    model = keras.Model(
        ids, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(vectors))
    )
    model.save(tmp_path / "plain.keras")
    (tmp_path / "vocab.txt").write_text("\na\nb\nc\nd\n", encoding="utf-8")
    common = ["--vocab", tmp_path / "vocab.txt", "--text", "abc"]
    out = ["--out", tmp_path / "a.html"]
    message = user_error("explain", tmp_path / "plain.keras", *common, *out)
    assert "has no attention layer" in message
    message = user_error(
        "explain", tmp_path / "plain.keras", *common, "--embedding", "emb", *out
    )
    assert message.startswith("`layer` must be a layer of model") and "'emb'" in message


@pytest.mark.parametrize(
    ("out", "steps", "expected"),
    [
        ("a.png", "8", "--out must end with .html. Received: '{}/a.png'"),
        ("no/such/a.html", "8", "(no folder"),
        ("a.html", "0", "--steps: must be at least 1. Received: 0"),
    ],
)
def test_bad_arguments_fail_before_keras_or_numpy_loads(
    run_fresh, tmp_path, out, steps, expected
):
    (tmp_path / "model.h5").write_bytes(b"never read")
    code, printed, err, loaded = run_fresh(
        "explain",
        tmp_path / "model.h5",
        "--text",
        "ab",
        "--steps",
        steps,
        "--out",
        tmp_path / out,
    )
    assert code == 2
    assert expected.format(tmp_path) in err, err
    assert printed == "" and loaded == []


def test_help_imports_neither_keras_nor_numpy(run_fresh):
    code, out, err, loaded = run_fresh("explain", "--help")
    assert code == 0, err
    assert "--embedding" in out and "--steps" in out
    assert loaded == []
