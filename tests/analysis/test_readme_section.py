"""The README's Analysis example runs as a reader would paste it.

Its block is fenced ```py, not ```python: tests/test_readme.py runs the
```python blocks by position, and this one is run here instead.
"""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_the_analysis_example_runs(tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Analysis\n(.*?)^## ", text, re.M | re.S).group(1)
    (block,) = re.findall(r"^```py\n(.*?)^```", section, re.M | re.S)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    exec(compile(block, "README.md (analysis)", "exec"), namespace)
    assert namespace["rollout"].shape == namespace["flow"].shape == (4, 12, 12)
    assert len(namespace["summary"]) == 8
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["layer", "head"]
    assert len(printed) == 4 and all("block_" in line for line in printed[1:])
