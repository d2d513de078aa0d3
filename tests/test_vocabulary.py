import json
import os
import threading

import numpy as np
import pytest

from keras_attnviz.vocabulary import Vocabulary


def test_char_vocabulary_encodes_post_and_pre_padding():
    vocab = Vocabulary.from_texts(["abc", "cab"])
    assert vocab.tokens == ["", "a", "b", "c"]
    np.testing.assert_array_equal(vocab.encode(["ca"], maxlen=4), [[3, 1, 0, 0]])
    np.testing.assert_array_equal(
        vocab.encode(["ca", ""], maxlen=3, padding="pre"), [[0, 3, 1], [0, 0, 0]]
    )


def test_word_level_splits_on_whitespace():
    vocab = Vocabulary.from_texts(["the cat", "a cat"], level="word")
    assert vocab.tokenize(" a  cat ") == ["a", "cat"]
    np.testing.assert_array_equal(vocab.encode(["the cat"], maxlen=3), [[3, 2, 0]])


def test_json_round_trip(tmp_path):
    vocab = Vocabulary.from_texts(["héllo wörld <b>"])
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded.tokens == vocab.tokens
    assert json.loads(path.read_text(encoding="utf-8"))["ö"] == vocab.ids["ö"]


def test_line_file_uses_line_numbers_as_ids_and_unk(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n[UNK]\nthe\ncat\n", encoding="utf-8")
    vocab = Vocabulary.load(path, level="word")
    assert vocab.ids == {"": 0, "[UNK]": 1, "the": 2, "cat": 3}
    np.testing.assert_array_equal(vocab.encode(["the dog"], maxlen=2), [[2, 1]])


def test_unknown_token_without_oov_names_it():
    vocab = Vocabulary.from_texts(["abc"])
    with pytest.raises(ValueError, match=r"Received: 'z'"):
        vocab.encode(["abz"], maxlen=5)


def test_padding_token_in_text_is_not_encoded_as_padding():
    vocab = Vocabulary(["<pad>", "a"], level="word")
    with pytest.raises(ValueError, match="Id 0 is padding.*'<pad>'"):
        vocab.encode(["a <pad>"], maxlen=3)


def test_text_longer_than_the_input_raises():
    vocab = Vocabulary.from_texts(["abc"])
    with pytest.raises(ValueError, match="at most 2 chars. Received: 3"):
        vocab.encode(["abc"], maxlen=2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`level`"):
        Vocabulary(["", "a"], level="byte")
    with pytest.raises(TypeError, match="`tokens`"):
        Vocabulary([0, 1])
    with pytest.raises(ValueError, match="repeat"):
        Vocabulary(["", "a", "a"])
    with pytest.raises(ValueError, match="`padding`"):
        Vocabulary(["", "a"]).encode(["a"], maxlen=2, padding="left")


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Vocabulary.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="token -> integer id"):
        Vocabulary.load(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        Vocabulary.load(broken)


def test_token_at_the_padding_id_gets_a_clear_error(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\n", encoding="utf-8")  # no blank padding line first
    vocab = Vocabulary.load(path)
    with pytest.raises(ValueError, match="Id 0 is padding"):
        vocab.encode(["ab"], maxlen=2)


def test_sparse_json_ids_are_refused_before_building_a_table(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text('{"a": 1, "zz": 3000000000}', encoding="utf-8")
    with pytest.raises(ValueError, match="ids 0..N-1"):
        Vocabulary.load(path)


def test_upper_case_json_suffix_and_repeated_lines(tmp_path):
    upper = tmp_path / "VOCAB.JSON"
    upper.write_text('{"a": 1}', encoding="utf-8")
    assert Vocabulary.load(upper).ids == {"": 0, "a": 1}
    repeated = tmp_path / "repeated.txt"
    repeated.write_text("\na\nb\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\['a'\] repeated in .*repeated.txt"):
        Vocabulary.load(repeated)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{}", r"at least one token. Received: \{\} in '.*vocab.json'"),
        ('"a"', r"object token -> integer id. Received: str in '.*vocab.json'"),
        ('{"a": "1"}', r"integer id >= 0. Received: 'a': \"1\" in '.*vocab.json'"),
        ('{"a": [1]}', r"Received: 'a': a JSON array in"),
        ('{"a": 1, "b": 1}', r"an id of its own. Received: id 1 for 'a' and 'b'"),
        ("[" * 100_000 + "]" * 100_000, r"vocab.json' is not a JSON vocabulary: it"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, r"nested too deeply to read"),
    ],
    ids=[
        "empty",
        "not an object",
        "string id",
        "array id",
        "shared id",
        "deep arrays",
        "deep objects",
    ],
)
def test_hostile_json_gets_a_value_error_naming_the_file(tmp_path, text, match):
    path = tmp_path / "vocab.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        Vocabulary.load(path)


def test_invalid_utf8_gets_a_value_error_naming_the_file_and_offset(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes("\nthé\n".encode("latin-1"))
    with pytest.raises(ValueError) as raised:
        Vocabulary.load(path)
    assert str(raised.value) == (
        f"The vocabulary file must be UTF-8 text. Received: '{path}', whose byte "
        "at offset 3 (line 2) is 0xe9, invalid continuation byte"
    )
    assert not isinstance(raised.value, UnicodeDecodeError)


def test_only_regular_files_of_at_most_max_bytes_are_read(tmp_path):
    with pytest.raises(ValueError, match=r"'/dev/null' \(a character device\)"):
        Vocabulary.load("/dev/null")
    with pytest.raises(ValueError, match=r"\(a folder\)"):
        Vocabulary.load(tmp_path)
    path = tmp_path / "vocab.txt"
    path.write_text("\na\nb\n", encoding="utf-8")
    assert Vocabulary.load(path, max_bytes=5).tokens == ["", "a", "b"]
    with pytest.raises(ValueError, match="must be at most 4 bytes. Received: .* 5"):
        Vocabulary.load(path, max_bytes=4)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="at least one token. Received: an empty"):
        Vocabulary.load(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "vocab.json"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            Vocabulary.load(fifo)
        except ValueError as error:
            outcome.append(str(error))

    # In a thread, so that a regression blocks the thread, not the suite.
    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        # Opening the writing end lets the blocked reader go.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("Vocabulary.load blocked on a FIFO")
    assert outcome == [
        f"The vocabulary file must be an existing file. Received: '{fifo}' (a FIFO)"
    ]
