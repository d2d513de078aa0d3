"""Fresh processes: reloads, and MirroredStrategy on two CPUs."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_attnviz
from keras_attnviz import AttentionProbe

from .builders import classifier, hub_backbone, token_ids


def _run_python(code, tmp_path, env=None):
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_reloaded_models_give_identical_weights(rng, tmp_path):
    ids = token_ids(rng, 6, 9, [9, 3, 5, 1, 7, 2])
    np.save(tmp_path / "ids.npy", ids)
    expected = {}
    for mask_zero in (True, False):
        model = classifier(
            keras_attnviz.AdditiveAttention(name="att"), mask_zero=mask_zero
        )
        weights = AttentionProbe(model).predict(ids, verbose=0).attention["att"]
        for suffix in ("keras", "h5"):
            path = f"model_{int(mask_zero)}.{suffix}"
            model.save(tmp_path / path)
            np.save(tmp_path / f"{path}.npy", weights)
            expected[path] = mask_zero
    # The probe's model itself can be saved and reloaded too.
    probe_model = AttentionProbe(model).model
    assert isinstance(probe_model, keras.Model)
    probe_model.save(tmp_path / "probe.keras")
    saved = keras.tree.flatten(probe_model.predict(ids, verbose=0))
    np.savez(tmp_path / "probe.npz", *saved)

    out = _run_python(
        f"""
        import json
        import numpy as np
        import keras_attnviz
        ids = np.load("ids.npy")
        report = {{}}
        for path in {sorted(expected)!r}:
            model = keras_attnviz.load_model(path)
            result = keras_attnviz.AttentionProbe(model).predict(ids, verbose=0)
            same = np.array_equal(result.attention["att"], np.load(path + ".npy"))
            report[path] = [bool(same), "att" in result.key_masks]
        import keras
        outputs = keras_attnviz.load_model("probe.keras").predict(ids, verbose=0)
        outputs = keras.tree.flatten(outputs)
        saved = np.load("probe.npz")
        report["probe.keras"] = [
            bool(np.array_equal(a, saved[f"arr_{{i}}"])) for i, a in enumerate(outputs)
        ]
        print(json.dumps(report))
        """,
        tmp_path,
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report.pop("probe.keras") == [True, True]  # outputs, weights (no mask)
    assert report == {path: [True, masked] for path, masked in expected.items()}


@pytest.mark.tensorflow_only
def test_mirrored_strategy_with_two_cpus(tmp_path):
    out = _run_python(
        """
        import json
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        import keras
        import numpy as np
        import keras_attnviz
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            inputs = keras.Input((6,), dtype="int32")
            x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
            x = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x)
            x = keras_attnviz.AdditiveAttention(name="pool")(x)
            model = keras.Model(inputs, keras.layers.Dense(1)(x))
        ids = np.random.default_rng(0).integers(0, 20, (10, 6))
        probe = keras_attnviz.AttentionProbe(model)
        result = probe.predict(ids, batch_size=4, verbose=0)
        batches = list(probe.iter_batches(ids, batch_size=4, verbose=0))
        print(json.dumps({
            "replicas": strategy.num_replicas_in_sync,
            "outputs": bool(np.array_equal(
                result.outputs, model.predict(ids, batch_size=4, verbose=0))),
            "shape": list(result.attention["mha"].shape),
            "batches": [len(b) for b in batches],
            "same": bool(np.allclose(np.concatenate(
                [b.attention["pool"] for b in batches]), result.attention["pool"],
                atol=1e-6)),
            "masked": bool(np.all(result.attention["pool"][ids == 0] == 0)),
        }))
        """,
        tmp_path,
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {
        "replicas": 2,
        "outputs": True,
        "shape": [10, 2, 6, 6],
        "batches": [4, 4, 2],
        "same": True,
        "masked": True,
    }


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX")
def test_data_parallel_on_two_jax_cpu_devices(tmp_path):
    # XLA_FLAGS must be set before JAX starts: a process of its own.
    out = _run_python(
        """
        import json
        import jax
        import keras
        import numpy as np
        import keras_attnviz

        def build():
            inputs = keras.Input((6,), dtype="int32")
            x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
            x = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x)
            x = keras_attnviz.AdditiveAttention(name="pool")(x)
            return keras.Model(inputs, keras.layers.Dense(1)(x))

        def probe_batches(model):
            probe = keras_attnviz.AttentionProbe(model)
            return list(probe.iter_batches(ids, batch_size=4, verbose=0))

        ids = np.random.default_rng(0).integers(0, 20, (10, 6))
        one_device = build()
        alone = probe_batches(one_device)
        devices = keras.distribution.list_devices("cpu")
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=devices)
        )
        spread = build()
        spread.set_weights(one_device.get_weights())
        both = probe_batches(spread)
        kernel = spread.get_layer("mha").variables[0].value
        print(json.dumps({
            "devices": len(jax.devices()),
            "variable_devices": len(kernel.sharding.device_set),
            "batches": [len(b) for b in both],
            "same": all(
                np.allclose(a.attention[name], b.attention[name], atol=1e-6)
                and np.allclose(a.outputs, b.outputs, atol=1e-6)
                and np.array_equal(a.key_masks[name], b.key_masks[name])
                for a, b in zip(alone, both)
                for name in ("mha", "pool")
            ),
            "masked": bool(np.all(np.concatenate(
                [b.attention["pool"] for b in both])[ids == 0] == 0)),
        }))
        """,
        tmp_path,
        env={
            "KERAS_BACKEND": "jax",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        },
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {
        "devices": 2,
        "variable_devices": 2,
        "batches": [4, 4, 2],
        "same": True,
        "masked": True,
    }


def test_custom_layer_and_keras_hub_models_probe_the_same_after_reload(tmp_path):
    from .user_models import keras_io_classifier

    rng = np.random.default_rng(7)
    keras_io = keras_io_classifier()
    ids = rng.integers(1, 40, (4, 10))
    bert, bert_inputs = hub_backbone("bert")
    cases = {"keras_io.keras": (keras_io, ids), "bert.keras": (bert, bert_inputs)}
    for path, (model, x) in cases.items():
        model.save(tmp_path / path)
        result = AttentionProbe(model).predict(x, verbose=0)
        np.savez(tmp_path / f"{path}.npz", **result.attention)
        np.savez(
            tmp_path / f"{path}.inputs.npz", **(x if isinstance(x, dict) else {"x": x})
        )
    out = _run_python(
        f"""
        import json, sys
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import user_models  # registers the custom layers, as a user's code would
        import keras_hub  # registers its backbones
        import keras_attnviz
        report = {{}}
        for path in {sorted(cases)!r}:
            model = keras_attnviz.load_model(path)
            inputs = dict(np.load(path + ".inputs.npz"))
            x = inputs.pop("x") if "x" in inputs else inputs
            result = keras_attnviz.AttentionProbe(model).predict(x, verbose=0)
            saved = np.load(path + ".npz")
            report[path] = {{
                name: bool(np.allclose(result.attention[name], saved[name], atol=1e-6))
                for name in saved.files
            }}
        print(json.dumps(report))
        """,
        tmp_path,
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {
        "bert.keras": {
            "transformer_layer_0/self_attention_layer": True,
            "transformer_layer_1/self_attention_layer": True,
        },
        "keras_io.keras": {"transformer_block/att": True},
    }
