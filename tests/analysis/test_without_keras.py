"""keras_attnviz.analysis runs where Keras and TensorFlow cannot be imported."""

import json
import subprocess
import sys

SCRIPT = """
import json, sys
sys.modules["keras"] = None
sys.modules["tensorflow"] = None
import numpy as np
import keras_attnviz.analysis as analysis
from keras_attnviz.probe.results import ProbeResult

pandas_at_import = "pandas" in sys.modules
# (N=2, H=1, T=2, T=2); the second sample's second position is padding.
low = np.array([[[[0.5, 0.5], [0.2, 0.8]]], [[[1.0, 0.0], [0.5, 0.5]]]])
high = np.array([[[[0.9, 0.1], [0.3, 0.7]]], [[[1.0, 0.0], [0.5, 0.5]]]])
mask = np.array([[True, True], [True, False]])
result = ProbeResult(
    np.zeros(2),
    {"a": low, "b": high},
    key_masks={"a": mask, "b": mask},
    self_attention={"a", "b"},
)
print(json.dumps({
    "rollout": analysis.attention_rollout(result).tolist(),
    "flow": analysis.attention_flow(result).tolist(),
    "summary": analysis.head_summary(result)["layer"].tolist(),
    "pandas_at_import": pandas_at_import,
    "loaded": sorted(
        m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow")
    ),
}))
"""


def test_analysis_runs_without_keras_and_tensorflow():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Sample 1 has one real position, which draws only on itself.
    assert report["rollout"][1] == [[1.0, 0.0], [0.0, 0.0]]
    assert report["flow"][1] == [[1.0, 0.0], [0.0, 0.0]]
    assert report["summary"] == ["a", "b"]
    assert report["pandas_at_import"] is False
    # Only the None placeholders: nothing under keras or tensorflow was loaded.
    assert report["loaded"] == ["keras", "tensorflow"]
