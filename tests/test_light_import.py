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


# Keras and TensorFlow made unimportable: a machine that only renders results.
WITHOUT_KERAS = """
import pickle, sys
sys.modules["keras"] = None
sys.modules["tensorflow"] = None
import keras_attnviz
import keras_attnviz.render
result = pickle.loads(sys.stdin.buffer.read())
amap = result.sample(0, "att", tokens=["a", "b", "c"])
page = keras_attnviz.render.html_spans(amap).to_html()
print(keras_attnviz.__version__, type(result).__name__, amap.tokens, "<span" in page)
"""


def test_results_unpickle_and_render_where_keras_cannot_be_imported():
    import pickle

    import numpy as np

    from keras_attnviz.probe.results import ProbeResult

    weights = np.array([[0.2, 0.8, 0.0, 0.0], [0.5, 0.25, 0.25, 0.0]])
    mask = np.array([[True, True, True, False], [True, True, True, False]])
    result = ProbeResult(np.zeros(2), {"att": weights}, key_masks={"att": mask})
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_KERAS],
        input=pickle.dumps(result),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == [
        "0.1.0",
        "ProbeResult",
        "['a',",
        "'b',",
        "'c']",
        "True",
    ]


def test_top_level_names_fail_clearly_without_keras():
    script = (
        "import sys; sys.modules['keras'] = None\n"
        "import keras_attnviz\n"
        "try:\n    keras_attnviz.AttentionProbe\n"
        "except ImportError as error:\n    print('ImportError', error.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["ImportError", "keras"], done.stderr[-2000:]
