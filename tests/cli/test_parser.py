"""The parser: options, global options, and the README's usage block."""

import importlib.metadata
import pathlib
import re

import pytest

import keras_attnviz
from keras_attnviz.cli import main
from keras_attnviz.cli.parser import build_parser

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert (
        capsys.readouterr().out.strip() == f"keras-attnviz {keras_attnviz.__version__}"
    )


def test_no_command_prints_help(run_cli):
    code, out, _ = run_cli()
    assert code == 0
    assert all(command in out for command in ("demo", "inspect", "render"))


def test_console_script_is_main():
    (script,) = importlib.metadata.entry_points(
        group="console_scripts", name="keras-attnviz"
    )
    assert script.load() is main


@pytest.mark.parametrize("position", ["before", "after"])
def test_global_options_go_before_or_after_the_command(position):
    command = ["inspect", "model.h5"]
    argv = ["--verbose", *command] if position == "before" else [*command, "--verbose"]
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.traceback is False
    assert build_parser().parse_args(command).verbose is False


def test_render_level_is_char_or_word(capsys):
    base = ["render", "m.h5", "--text", "a", "--out", "a.html"]
    assert build_parser().parse_args(base).level == "char"
    assert build_parser().parse_args([*base, "--level", "word"]).level == "word"
    for argv in ([*base, "--level", "token"], [*base, "--tokenizer", "word"]):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(argv)
        assert exit_.value.code == 2
    assert "--level" in capsys.readouterr().err


@pytest.mark.parametrize("epochs, expected", [("0", "Received: 0"), ("two", "'two'")])
def test_demo_rejects_bad_epochs(epochs, expected, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--epochs", epochs])
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err


def _help(argv, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return capsys.readouterr().out


def test_readme_usage_lines_name_only_real_options(capsys):
    text = README.read_text(encoding="utf-8")
    block = re.search(r"The command line:\n\n```\n(.*?)```", text, re.S).group(1)
    # A line that starts with spaces continues the command above it.
    usages = re.split(r"\n(?=keras-attnviz )", block.strip())
    commands = [re.match(r"keras-attnviz (\w*)", usage).group(1) for usage in usages]
    assert commands == ["", "demo", "inspect", "render", "explain"]
    for command, usage in zip(commands, usages, strict=True):
        shown = set(
            re.findall(r"--[a-z]+", _help([command] if command else [], capsys))
        )
        assert set(re.findall(r"--[a-z]+", usage)) <= shown, usage
