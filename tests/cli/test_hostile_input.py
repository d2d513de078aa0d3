"""Bad files, devices, FIFOs, folders, huge and hostile inputs on the command line.

Each case runs `python -m keras_attnviz.cli` in a fresh process and must end
with exit code 2 and exactly one line on stderr. The process gets 60 s (the
hang detector: a FIFO opened for reading waits forever) and 1 GiB of address
space (reading `/dev/zero` grows without end). Keras and TensorFlow are
replaced by packages that fail on import, so each refusal is shown to come
before TensorFlow starts: none of these checks needs the model.
"""

import os
import resource
import subprocess
import sys

import pytest

HANG_SECONDS = 60
ADDRESS_SPACE = 2**30
TEXTS_CAP = 4 * 2**20
VOCAB_CAP = 32 * 2**20

_IMPORT_REFUSED = (
    'raise ImportError("{name} was imported before the command line had '
    'checked its input")\n'
)


@pytest.fixture(scope="module")
def no_tensorflow(tmp_path_factory):
    """A folder whose `keras` and `tensorflow` packages fail on import."""
    folder = tmp_path_factory.mktemp("no_tensorflow")
    for name in ("keras", "tensorflow"):
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(_IMPORT_REFUSED.format(name=name))
    return folder


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _run(argv, no_tensorflow):
    try:
        return subprocess.run(
            [sys.executable, "-m", "keras_attnviz.cli", *map(str, argv)],
            capture_output=True,
            text=True,
            timeout=HANG_SECONDS,
            env={**os.environ, "PYTHONPATH": str(no_tensorflow)},
            preexec_fn=_limit_memory,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"keras-attnviz {argv} still ran after {HANG_SECONDS} s")


@pytest.fixture
def refused(no_tensorflow):
    """Runs `keras-attnviz ARGV`; returns its one-line error without the prefix."""

    def run(*argv):
        done = _run(argv, no_tensorflow)
        lines = done.stderr.splitlines()
        assert done.returncode == 2, done.stderr
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("keras-attnviz: error: "), done.stderr
        assert done.stdout == ""
        return lines[0].removeprefix("keras-attnviz: error: ")

    return run


@pytest.fixture
def files(tmp_path):
    """Good inputs, and the bad ones each case swaps in."""
    (tmp_path / "model.keras").write_bytes(b"never read: a bad input comes first")
    (tmp_path / "vocab.json").write_text('{"a": 1, "b": 2}', encoding="utf-8")
    (tmp_path / "texts.txt").write_text("ab\nba\n", encoding="utf-8")
    os.mkfifo(tmp_path / "fifo")
    os.mkfifo(tmp_path / "fifo.html")
    (tmp_path / "folder").mkdir()
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    (tmp_path / "null.html").symlink_to("/dev/null")
    return tmp_path


def _render(folder, **changes):
    """`render` arguments, good but for `changes` (option name -> path)."""
    args = {
        "model": folder / "model.keras",
        "--vocab": folder / "vocab.json",
        "--texts": folder / "texts.txt",
        "--out": folder / "out.html",
    }
    args.update(changes)
    argv = ["render", args.pop("model")]
    for name, value in args.items():
        argv += [name, value]
    return argv


@pytest.mark.parametrize(
    ("option", "path", "kind"),
    [
        ("--texts", "fifo", "a FIFO"),
        ("--texts", "/dev/zero", "a character device"),
        ("--texts", "/dev/null", "a character device"),
        ("--texts", "folder", "a folder"),
        ("--vocab", "fifo", "a FIFO"),
        ("--vocab", "/dev/zero", "a character device"),
        ("--vocab", "zero.json", "a character device"),
        ("--vocab", "/dev/null", "a character device"),
        ("model", "fifo", "a FIFO"),
        ("model", "/dev/zero", "a character device"),
        ("model", "/dev/null", "a character device"),
        ("--out", "fifo.html", "a FIFO"),
        ("--out", "null.html", "a character device"),
    ],
)
def test_render_refuses_what_is_not_a_regular_file(refused, files, option, path, kind):
    target = path if path.startswith("/") else files / path
    message = refused(*_render(files, **{option: target}))
    name = "MODEL" if option == "model" else option
    assert message.startswith(f"{name} must be ")
    assert f"Received: '{target}' ({kind})" in message


@pytest.mark.parametrize(
    ("path", "kind"), [("fifo", "a FIFO"), ("/dev/zero", "a character device")]
)
def test_inspect_refuses_what_is_not_a_regular_file(refused, files, path, kind):
    target = path if path.startswith("/") else files / path
    message = refused("inspect", target)
    assert message == f"MODEL must be an existing file. Received: '{target}' ({kind})"


@pytest.mark.parametrize(
    ("option", "path", "kind"),
    [("--texts", "fifo", "a FIFO"), ("--vocab", "/dev/zero", "a character device")],
)
def test_explain_refuses_what_is_not_a_regular_file(refused, files, option, path, kind):
    target = path if path.startswith("/") else files / path
    argv = _render(files, **{option: target})
    argv[0] = "explain"
    assert refused(*argv) == (
        f"{option} must be an existing file. Received: '{target}' ({kind})"
    )


@pytest.mark.parametrize(
    ("option", "cap", "limit"),
    [("--texts", TEXTS_CAP, "4 MiB"), ("--vocab", VOCAB_CAP, "32 MiB")],
)
def test_files_past_their_size_cap_are_refused(refused, files, option, cap, limit):
    huge = files / ("huge.txt" if option == "--texts" else "huge.json")
    with open(huge, "wb") as file:
        file.truncate(cap + 1)  # sparse: nothing is written
    message = refused(*_render(files, **{option: huge}))
    assert message == (
        f"{option} must be at most {limit}. Received: '{huge}' of "
        f"{(cap + 1) / 2**20:.1f} MiB ({cap + 1:,} bytes)"
    )


@pytest.fixture
def deep(files):
    """JSON nested 100,000 deep: arrays, and objects."""
    arrays = files / "deep_arrays.json"
    arrays.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    objects = files / "deep_objects.json"
    objects.write_text('{"a":' * 100_000 + "1" + "}" * 100_000, encoding="utf-8")
    return arrays, objects


HOSTILE_VOCABULARIES = {
    "empty object": ("{}", "must hold at least one token. Received: {}"),
    "array": ("[1, 2]", "object token -> integer id. Received: list"),
    "string": ('"ab"', "object token -> integer id. Received: str"),
    "string id": ('{"a": "1"}', "integer id >= 0. Received: 'a': \"1\""),
    "float id": ('{"a": 1.5}', "integer id >= 0. Received: 'a': 1.5"),
    "boolean id": ('{"a": true}', "integer id >= 0. Received: 'a': true"),
    "negative id": ('{"a": -3}', "integer id >= 0. Received: 'a': -3"),
    "infinite id": ('{"a": 1e999}', "integer id >= 0. Received: 'a': Infinity"),
    "nested id": ('{"a": {"b": 1}}', "Received: 'a': a JSON object"),
    "shared id": ('{"a": 1, "b": 1}', "an id of its own. Received: id 1 for 'a'"),
    "huge id": ('{"a": 1000000000000}', "ids 0..N-1 with few gaps"),
    "long integer": ('{"a": ' + "7" * 5000 + "}", "is not valid JSON"),
    "broken": ('{"a": 1', "is not valid JSON"),
    "empty file": ("", "is not valid JSON"),
}


@pytest.mark.parametrize("case", HOSTILE_VOCABULARIES)
def test_hostile_json_vocabularies_are_refused(refused, files, case):
    text, expected = HOSTILE_VOCABULARIES[case]
    vocab = files / "hostile.json"
    vocab.write_text(text, encoding="utf-8")
    message = refused(*_render(files, **{"--vocab": vocab}))
    assert expected in message
    assert f"'{vocab}'" in message


@pytest.mark.parametrize("which", [0, 1])
def test_deeply_nested_json_is_refused(refused, files, deep, which):
    message = refused(*_render(files, **{"--vocab": deep[which]}))
    assert message == (
        f"'{deep[which]}' is not a JSON vocabulary: it is nested too deeply to read"
    )


BAD_TEXT_FILES = {
    "empty line vocabulary": (
        "--vocab",
        b"",
        "A vocabulary file must hold at least one token. Received: an empty file '{}'",
    ),
    "texts not UTF-8": (
        "--texts",
        "good line\ncaf\xe9 au lait\n".encode("latin-1"),
        "--texts must be UTF-8 text. Received: '{}', whose byte at offset 13 "
        "(line 2) is 0xe9, invalid continuation byte",
    ),
    "vocabulary not UTF-8": (
        "--vocab",
        b"\na\n\xff\n",
        "The vocabulary file must be UTF-8 text. Received: '{}', whose byte at "
        "offset 3 (line 3) is 0xff, invalid start byte",
    ),
}


@pytest.mark.parametrize("case", BAD_TEXT_FILES)
def test_bad_text_files_name_the_file_and_where(refused, files, case):
    option, data, expected = BAD_TEXT_FILES[case]
    path = files / "bad.txt"
    path.write_bytes(data)
    assert refused(*_render(files, **{option: path})) == expected.format(path)


def test_good_inputs_at_the_cap_pass_the_checks(files, no_tensorflow):
    # The control of the cases above: with nothing bad swapped in (and texts
    # of exactly the cap), the run gets as far as starting TensorFlow, which
    # the blocker refuses: a bug report, exit 1.
    texts = files / "capped.txt"
    texts.write_bytes(b"ab\n" * (TEXTS_CAP // 3) + b"a" * (TEXTS_CAP % 3))
    done = _run(_render(files, **{"--texts": texts}), no_tensorflow)
    assert done.returncode == 1, done.stderr
    assert "was imported before the command line had checked" in done.stderr
