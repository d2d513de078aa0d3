"""Start-up: help and bad arguments answer before TensorFlow loads; its log is hidden.

Each case runs in a fresh interpreter, so that what it imports can be seen.
"""

import subprocess
import sys

import pytest

HEAVY = ["keras", "tensorflow"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["--help"],
        ["demo", "--help"],
        ["inspect", "--help"],
        ["render", "--help"],
    ],
)
def test_help_and_version_import_neither_keras_nor_numpy(run_fresh, argv):
    code, out, err, loaded = run_fresh(*argv)
    assert code == 0, err
    assert "keras-attnviz" in out
    assert loaded == []


@pytest.fixture
def files(tmp_path):
    """Paths for the render cases; the model file exists but is never read."""
    (tmp_path / "model.h5").write_bytes(b"not read before the other checks")
    (tmp_path / "vocab.json").write_text('{"a": 1}', encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "many.txt").write_text("ab\n" * 41, encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "folder.html").mkdir()
    return tmp_path


# Each case: the render arguments that replace the good ones, what the error says.
RENDER_CASES = {
    "missing model": (["MODEL", "missing.h5"], "'{}/missing.h5' (no such file)"),
    "model is a folder": (
        ["MODEL", "."],
        "MODEL must be an existing file. Received: '{}' (a folder)",
    ),
    "missing vocabulary": (["--vocab", "nope.json"], "--vocab must be an existing"),
    "wrong suffix": (["--out", "a.pdf"], "--out must end with one of"),
    "out is a folder": (["--out", "folder.html"], "(a folder)"),
    "out in no folder": (["--out", "no/such/a.html"], "(no folder"),
    "empty text": (["--text", ""], "--text must hold more than whitespace"),
    "blank text": (["--text", " \t"], "Received: ' \\t'"),
    "empty texts file": (["--texts", "empty.txt"], "at least one non-blank line"),
    "missing texts file": (["--texts", "nope.txt"], "--texts must be an existing"),
    "texts file not UTF-8": (["--texts", "latin1.txt"], "must be UTF-8"),
    "too many texts for a png": (
        ["--texts", "many.txt", "--out", "a.png"],
        "at most 40 texts; write .html for more. Received: 41",
    ),
}


def render_argv(folder, changes):
    """`render` with good arguments but for `changes`; paths are in `folder`."""
    args = {
        "MODEL": "model.h5",
        "--vocab": "vocab.json",
        "--text": "ab",
        "--out": "a.html",
    }
    changes = dict(zip(changes[::2], changes[1::2], strict=True))
    if "--texts" in changes:
        del args["--text"]  # the two exclude each other
    args.update(changes)
    argv = ["render", folder / args.pop("MODEL")]
    for name, value in args.items():
        argv += [name, value if name == "--text" else folder / value]
    return argv


@pytest.mark.parametrize("case", RENDER_CASES)
def test_bad_render_arguments_fail_before_keras_or_numpy_loads(run_fresh, files, case):
    replaced, expected = RENDER_CASES[case]
    code, out, err, loaded = run_fresh(*render_argv(files, replaced))
    assert code == 2
    assert err.startswith("keras-attnviz: error: ") and err.count("\n") == 1, err
    assert expected.format(files) in err
    assert out == ""
    assert loaded == []


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["inspect", "missing.keras"], "missing.keras' (no such file)"),
        (["inspect", "file.txt"], "MODEL must be a file ending in one of .keras"),
        (["demo", "--out", "file.txt/report"], "'{}/file.txt' is a file"),
    ],
)
def test_bad_inspect_and_demo_arguments_fail_before_keras_loads(
    run_fresh, tmp_path, argv, expected
):
    (tmp_path / "file.txt").write_text("", encoding="utf-8")
    code, _, err, loaded = run_fresh(
        *(str(tmp_path / a) if "." in a else a for a in argv)
    )
    assert code == 2
    assert expected.format(tmp_path) in err and err.count("\n") == 1, err
    assert not set(HEAVY) & set(loaded)


def run_module(*argv, env):
    return subprocess.run(
        [sys.executable, "-m", "keras_attnviz.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _unknown_layer_argv(char_model, tmp_path):
    # An unknown --layer can only be judged once the backend has loaded the model.
    return [
        "render",
        char_model / "model.h5",
        "--vocab",
        char_model / "vocab.json",
        "--text",
        "ab",
        "--layer",
        "atention",
        "--out",
        tmp_path / "a.html",
    ]


def test_an_error_after_loading_is_one_line(char_model, tmp_path, fresh_env):
    done = run_module(*_unknown_layer_argv(char_model, tmp_path), env=fresh_env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("keras-attnviz: error: ")
    assert "'atention'" in done.stderr


@pytest.mark.tensorflow_only  # TensorFlow's own start-up log
def test_tensorflow_start_up_log_shows_with_verbose(char_model, tmp_path, fresh_env):
    argv = _unknown_layer_argv(char_model, tmp_path)
    quiet = run_module(*argv, env=fresh_env).stderr
    verbose = run_module("--verbose", *argv, env=fresh_env)
    assert verbose.returncode == 2
    lines = verbose.stderr.splitlines()
    # TensorFlow's own lines come first, then the same one-line error.
    assert len(lines) > 1 and lines[-1] == quiet.rstrip("\n")


def test_model_suffixes_are_the_loaders():
    from keras_attnviz.cli.user_input import MODEL_SUFFIXES
    from keras_attnviz.saving import load

    assert MODEL_SUFFIXES == load._EXTENSIONS


@pytest.mark.parametrize("verbose", [False, True])
def test_tensorflow_python_warnings_show_only_with_verbose(fresh_env, verbose):
    # The retracing warning a command that builds several models gets from
    # TensorFlow's logger, written to it as TensorFlow does.
    code = (
        "import logging\n"
        "from keras_attnviz.cli.tensorflow_startup import start_tensorflow\n"
        f"start_tensorflow(verbose={verbose})\n"
        "logger = logging.getLogger('tensorflow')\n"
        "logger.warning('6 out of the last 16 calls triggered tf.function retracing')\n"
        "logger.error('an error')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=fresh_env,
    )
    assert done.returncode == 0, done.stderr
    assert ("retracing" in done.stderr) == verbose, done.stderr
    assert "an error" in done.stderr
