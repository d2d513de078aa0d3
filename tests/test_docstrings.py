"""Every docstring example in the package runs, and shows what it says.

An example is a fenced ```python block (Keras style) in the docstring of a
module, class, function or method; a `>>>` session outside a fence is
collected too, so that no example goes untested. A block with `>>>` prompts
runs as a doctest, its output compared; any other block runs as a script.
Either way it starts from an empty namespace in an empty working directory,
so an example imports what it uses and writes the files it reads: a reader
can paste it as it is.
"""

import doctest
import importlib
import inspect
import io
import pkgutil
import re
import textwrap

import pytest

import keras_attnviz

_FENCE = re.compile(r"^[ \t]*```python[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_PROMPT = re.compile(r"^[ \t]*>>>", re.M)
_DOCTEST_OPTIONS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _modules():
    yield keras_attnviz
    for module in pkgutil.walk_packages(keras_attnviz.__path__, "keras_attnviz."):
        # Importing `python -m keras_attnviz.cli`'s module runs the command.
        if not module.name.endswith(".__main__"):
            yield importlib.import_module(module.name)


def _documented(module):
    """Yields `(qualified name, docstring)` for the module and what it defines."""
    yield module.__name__, module.__doc__
    # `vars`, not `dir`: a lazy package's `dir` lists names it would import.
    for value in vars(module).values():
        if (inspect.isclass(value) or inspect.isfunction(value)) and (
            value.__module__ == module.__name__
        ):
            yield from _with_members(value)


def _with_members(owner):
    # `__doc__`, not `inspect.getdoc`, which would inherit Keras's docstrings.
    yield f"{owner.__module__}.{owner.__qualname__}", owner.__doc__
    if not inspect.isclass(owner):
        return
    for member in vars(owner).values():
        if isinstance(member, property):
            member = member.fget
        member = getattr(member, "__func__", member)  # classmethod, staticmethod
        defined_here = getattr(member, "__qualname__", "").startswith(
            f"{owner.__qualname__}."
        )
        if defined_here and (inspect.isclass(member) or inspect.isfunction(member)):
            yield from _with_members(member)


def _examples():
    for module in _modules():
        for name, docstring in _documented(module):
            text = inspect.cleandoc(docstring or "")
            blocks = _FENCE.findall(text)
            unfenced = _FENCE.sub("", text)
            if _PROMPT.search(unfenced):
                blocks.append(unfenced)
            for block in blocks:
                yield pytest.param(name, textwrap.dedent(block), id=name)


EXAMPLES = list(_examples())
EXAMPLE_NAMES = {example.values[0] for example in EXAMPLES}


def _run_doctest(name, source, namespace):
    test = doctest.DocTestParser().get_doctest(source, namespace, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=_DOCTEST_OPTIONS)
    report = io.StringIO()
    runner.run(test, out=report.write)
    if runner.failures:
        pytest.fail(report.getvalue(), pytrace=False)


@pytest.mark.parametrize(("name", "source"), EXAMPLES)
def test_example_runs(name, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__main__"}
    if _PROMPT.search(source):
        _run_doctest(name, source, namespace)
    else:
        exec(compile(source, name, "exec"), namespace)


@pytest.mark.parametrize(
    "package",
    [
        "keras_attnviz",
        "keras_attnviz.layers",
        "keras_attnviz.render",
        "keras_attnviz.saving",
        "keras_attnviz.analysis",
        "keras_attnviz.attribution",
        "keras_attnviz.callbacks",
    ],
)
def test_public_classes_and_functions_have_examples(package):
    module = importlib.import_module(package)
    public = [getattr(module, name) for name in module.__all__]
    names = [
        f"{value.__module__}.{value.__qualname__}"
        for value in public
        if inspect.isclass(value) or inspect.isfunction(value)
    ]
    assert [name for name in names if name not in EXAMPLE_NAMES] == []
