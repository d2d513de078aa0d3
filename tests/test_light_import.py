"""`import keras_attnviz` adds no plotting, table or notebook import of its own."""

import json
import subprocess
import sys

HEAVY = ("matplotlib", "pandas", "IPython", "seaborn", "jinja2", "openpyxl")

# Keras (3.15) may load some of these itself; what counts is what we add after it.
SCRIPT = """
import json, sys
import keras, tensorflow
before = set(sys.modules)
import keras_attnviz
import keras_attnviz.render
added = sorted(set(sys.modules) - before)
print(json.dumps(added))
"""


def test_import_adds_no_plotting_table_or_notebook_module():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    added = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(name.startswith("keras_attnviz") for name in added)
    heavy = [name for name in added if name.split(".")[0] in HEAVY]
    assert heavy == []


def test_no_module_level_import_of_heavy_packages():
    # matplotlib and pandas are already loaded by keras itself, so the runtime
    # check above cannot see them: read every module's top-level imports.
    import ast
    import pathlib

    package = pathlib.Path(__file__).resolve().parents[1] / "keras_attnviz"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{path.relative_to(package)}: {name}"
                for name in names
                if name.split(".")[0] in HEAVY
            ]
    assert offenders == []
