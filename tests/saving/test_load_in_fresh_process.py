"""`load_model` in a fresh process, as users run it: no custom objects, no tf_keras."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from keras_attnviz.layers import AdditiveAttention


def test_fresh_process_loads_without_custom_objects(
    legacy_dir, tmp_path, tokens, make_masked_model
):
    cases = {}  # path: (inputs, expected predictions)
    for name, model in [
        ("ours", make_masked_model(attention=AdditiveAttention(name="attention"))),
        ("plain", make_masked_model()),
    ]:
        for extension in (".keras", ".h5"):
            path = tmp_path / f"{name}{extension}"
            model.save(path)
            cases[str(path)] = (tokens, model.predict(tokens, verbose=0))
    for name in ("masked_gru", "bidirectional"):
        cases[str(legacy_dir / f"{name}.h5")] = (
            np.load(legacy_dir / "inputs.npy"),
            np.load(legacy_dir / f"{name}.npy"),
        )
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        import keras_attnviz

        for path, (x, expected) in json.load(sys.stdin).items():
            got = keras_attnviz.load_model(path).predict(np.array(x), verbose=0)
            np.testing.assert_allclose(got, np.array(expected), atol=1e-5)
            print("loaded", path)
        assert "tf_keras" not in sys.modules
        """
    )
    payload = {path: (x.tolist(), y.tolist()) for path, (x, y) in cases.items()}
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("loaded") == len(cases) == 6
