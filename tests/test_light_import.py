"""`import keras_attnviz` adds no plotting, table or notebook import of its own."""

import ast
import json
import pathlib
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "pandas", "IPython", "seaborn", "jinja2", "openpyxl")

# Keras (3.15) may load some of these itself; what counts is what we add after it.
SCRIPT = """
import json, sys
import keras, tensorflow
before = set(sys.modules)
import keras_attnviz
import keras_attnviz.render
added = sorted(set(sys.modules) - before)
files = sorted(
    sys.modules[name].__file__ for name in added if name.startswith("keras_attnviz")
)
print(json.dumps({"added": added, "files": files}))
"""


@pytest.fixture(scope="module")
def fresh_import():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_adds_no_plotting_table_or_notebook_module(fresh_import):
    added = fresh_import["added"]
    assert "keras_attnviz.render" in added
    assert [name for name in added if name.split(".")[0] in HEAVY] == []


def test_eagerly_loaded_modules_import_heavy_packages_lazily(fresh_import):
    # keras itself loads matplotlib and pandas, so the run-time check above
    # cannot see them: read the top-level imports of every module we load.
    offenders = []
    for file in fresh_import["files"]:
        tree = ast.parse(pathlib.Path(file).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{file}: {n}" for n in names if n.split(".")[0] in HEAVY]
    assert len(fresh_import["files"]) > 10
    assert offenders == []
