"""Bad input is reported on one line (exit 2); anything else as a bug (exit 1)."""

import pytest

from keras_attnviz.cli import inspect_command
from keras_attnviz.cli.main import _one_line
from keras_attnviz.cli.user_input import UserInputError, as_user_error


def _raise(error):
    def raising(*args, **kwargs):
        raise error

    return raising


@pytest.mark.parametrize("error", [RuntimeError("boom"), ZeroDivisionError()])
def test_an_unexpected_error_is_reported_as_a_bug(run_cli, monkeypatch, error):
    monkeypatch.setattr(inspect_command, "run", _raise(error))
    code, out, err = run_cli("inspect", "model.h5")
    assert code == 1
    first, second = err.splitlines()
    name = type(error).__name__
    assert (
        first
        == f"keras-attnviz: internal error: {name}{': boom' if str(error) else ''}"
    )
    assert "bug in keras-attnviz" in second and "--traceback" in second
    assert "Traceback" not in err


def test_traceback_option_prints_the_traceback_of_a_bug(run_cli, monkeypatch):
    monkeypatch.setattr(inspect_command, "run", _raise(RuntimeError("boom")))
    code, _, err = run_cli("--traceback", "inspect", "model.h5")
    assert code == 1
    assert err.startswith("Traceback (most recent call last):")
    assert "in raising" in err and "RuntimeError: boom" in err
    assert err.rstrip().endswith("with the traceback above.")


def test_traceback_option_prints_the_traceback_of_bad_input(run_cli, tmp_path):
    code, _, err = run_cli("inspect", tmp_path / "missing.h5", "--traceback")
    assert code == 2
    assert "Traceback (most recent call last):" in err
    assert "in check_file" in err
    assert err.splitlines()[-1].startswith("keras-attnviz: error: MODEL must be")


def test_a_value_error_outside_the_users_input_is_a_bug(
    run_cli, char_model, monkeypatch
):
    # The model loads and the probe accepts it: a ValueError from describing
    # its layers is ours, not the user's.
    from keras_attnviz.probe import AttentionProbe

    monkeypatch.setattr(AttentionProbe, "describe", _raise(ValueError("ours")))
    code, _, err = run_cli("inspect", char_model / "model.h5")
    assert code == 1
    assert err.startswith("keras-attnviz: internal error: ValueError: ours\n")


def test_a_corrupt_model_file_is_bad_input(user_error, tmp_path):
    path = tmp_path / "corrupt.h5"
    path.write_bytes(b"\x00" * 64)
    assert "corrupt.h5" in user_error("inspect", path)


def test_as_user_error_wraps_only_the_given_types():
    with pytest.raises(UserInputError, match="^bad value$") as caught:
        with as_user_error(ValueError, OSError):
            raise ValueError("bad value")
    assert isinstance(caught.value.__cause__, ValueError)
    with pytest.raises(KeyError):
        with as_user_error(ValueError, OSError):
            raise KeyError("not the user's")


def test_error_lines_drop_terminal_colours_and_line_breaks():
    assert _one_line(ValueError("\x1b[1mbold\x1b[0m\n  next")) == "bold next"
