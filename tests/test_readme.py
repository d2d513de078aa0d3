"""The README's Python blocks run, in order, as a reader would paste them."""

import pathlib
import re
import shutil

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert len(blocks) >= 2
    namespace = {}
    tour, loading = blocks[0], blocks[1]
    exec(compile(tour, "README.md (tour)", "exec"), namespace)
    assert "(8, 64)" in capsys.readouterr().out
    for name in ("classifier.h5", "sample.html", "sample.png"):
        assert (tmp_path / name).stat().st_size > 0
    # The loading block reads "old_model.h5": the tour's own file stands in.
    shutil.copy("classifier.h5", "old_model.h5")
    exec(compile(loading, "README.md (loading)", "exec"), {})


def test_quickstart_has_exactly_two_commands():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", text, re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    assert lines == ['pip install -e ".[dev]" && keras-attnviz demo', "pytest -n 2"]
