"""`Keras2Backend`, the `K` of Keras 2 lambdas, on `keras.ops`."""

import numpy as np
import pytest

from keras_attnviz.saving.legacy.keras2_backend import Keras2Backend


def test_keras2_backend_shim_follows_keras2_semantics():
    K = Keras2Backend()
    x = np.arange(24, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_allclose(K.concatenate([x, x]), np.concatenate([x, x], -1))
    np.testing.assert_allclose(K.expand_dims(x), x[..., None])
    np.testing.assert_allclose(K.permute_dimensions(x, (0, 2, 1)), x.transpose(0, 2, 1))
    np.testing.assert_allclose(K.cumsum(x), np.cumsum(x, axis=0))
    np.testing.assert_allclose(K.argmax(x), np.argmax(x, axis=-1))
    np.testing.assert_allclose(K.repeat(x[:, 0], 2), np.stack([x[:, 0]] * 2, 1))
    np.testing.assert_allclose(
        K.dot(x, np.ones((4, 5), "float32")), x @ np.ones((4, 5))
    )
    np.testing.assert_allclose(
        K.l2_normalize(x, axis=-1),
        x / np.linalg.norm(x, axis=-1, keepdims=True),
        rtol=1e-6,
    )
    np.testing.assert_allclose(K.sum(x, axis=1), x.sum(axis=1))
    y = x.transpose(0, 2, 1) + 1.0
    np.testing.assert_allclose(K.batch_dot(x, y), np.einsum("bij,bjk->bik", x, y))
    np.testing.assert_allclose(
        K.batch_dot(x, x, axes=[2, 2]), np.einsum("bik,bjk->bij", x, x)
    )
    np.testing.assert_allclose(
        K.batch_dot(x[:, 0], x[:, 1], axes=1),
        np.sum(x[:, 0] * x[:, 1], axis=1, keepdims=True),
    )
    with pytest.raises(AttributeError, match="K.no_such_function"):
        K.no_such_function  # noqa: B018


def _keras2_backend_cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)).astype("float32") * 4.0
    x3 = rng.normal(size=(4, 5, 3)).astype("float32")
    rows = np.array([True, False, True, False, True])
    grid = rng.normal(size=(4, 5)) > 0
    cases = [
        ("sqrt", (x,), {}),
        ("hard_sigmoid", (x,), {}),
        ("clip", (x, None, 1.0), {}),
        ("clip", (x, 0.5, -1.0), {}),
        ("switch", (rows, x, -x), {}),
        # A condition of rank 2 over rank-3 branches: leading axes line up.
        ("switch", (grid, x3, -x3), {}),
        # A scalar condition picks a branch, which may be a function.
        ("switch", (np.array(True), lambda: x, lambda: -x), {}),
        ("switch", (np.array(0), x, lambda: -x), {}),
    ]
    for alpha in (0.0, 0.1, 1.5):
        for max_value in (None, 6.0, 1.0):
            for threshold in (0.0, 0.5, -0.5):
                kwargs = dict(alpha=alpha, max_value=max_value, threshold=threshold)
                cases.append(("relu", (x,), kwargs))
    cases.append(("relu", (x, 0.2), {}))
    return cases


def test_keras2_backend_shim_matches_tf_keras():
    tf = pytest.importorskip("tensorflow")
    K2 = pytest.importorskip("tf_keras").backend
    K = Keras2Backend()

    def as_tensor(value):
        return tf.constant(value) if isinstance(value, np.ndarray) else value

    for name, args, kwargs in _keras2_backend_cases():
        expected = getattr(K2, name)(*map(as_tensor, args), **kwargs)
        got = getattr(K, name)(*args, **kwargs)
        np.testing.assert_allclose(
            np.asarray(got), np.asarray(expected), rtol=1e-6, err_msg=f"K.{name}"
        )
