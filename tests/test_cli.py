import subprocess
import sys

import keras_attnviz
from keras_attnviz import cli


def test_version_flag_prints_the_package_version(capsys):
    try:
        cli.main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert keras_attnviz.__version__ in capsys.readouterr().out


def test_console_script_module_runs():
    out = subprocess.run(
        [sys.executable, "-m", "keras_attnviz.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "keras-attnviz" in out.stdout
