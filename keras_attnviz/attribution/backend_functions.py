"""Each backend's own means for the attribution passes: compiling, gradients.

- TensorFlow: each pass is traced once by `tf.function`, its batch axis left
  free; gradients come from `tf.GradientTape`.
- JAX: each pass is compiled by `jax.jit` (once per batch shape, as JAX
  compiles), with the model's variables passed in through
  `keras.StatelessScope`, so a compiled pass always reads their current
  values; gradients come from `jax.value_and_grad`.
- PyTorch: each pass runs eagerly, without autograd's bookkeeping unless it
  takes gradients, which come from `torch.autograd.grad`.

Gradients are taken with respect to `delta`, a zero tensor that the pass adds
to the tensor it differentiates at: on every backend that is the gradient at
that tensor, even where (as in JAX) only a function's arguments can be
differentiated.
"""

import keras
from keras import ops


def to_tensors(structure):
    """NumPy arrays (a structure of them) as the backend's tensors."""
    return keras.tree.map_structure(ops.convert_to_tensor, structure)


def signature(args):
    """What a compiled pass depends on: each argument's dtype and non-batch axes."""
    return str(
        keras.tree.map_structure(
            lambda t: (tuple(t.shape[1:]), keras.backend.standardize_dtype(t.dtype)),
            args,
        )
    )


def compile_pass(body, model, args, *, gradients=False):
    """`body` compiled the backend's way for arguments like `args`.

    Args:
        body: a function of tensors that runs `model`.
        model: the model whose variables `body` reads.
        args: example arguments (tensors): their structure, dtypes and shapes.
        gradients: whether `body` takes gradients (PyTorch records them only
            then).

    Returns:
        A function of tensors like `args`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # One trace for every batch size: the batch axis is unknown.
        specs = keras.tree.map_structure(
            lambda t: tf.TensorSpec((None, *t.shape[1:]), t.dtype), args
        )
        return tf.function(body, input_signature=specs, autograph=False)
    if backend == "jax":
        return _jax_compiled(body, model.variables)
    if backend == "torch" and not gradients:
        return _without_autograd(body)
    return body


def _jax_compiled(body, variables):
    import jax

    def pure(values, *args):
        state = list(zip(variables, values, strict=True))
        with keras.StatelessScope(state_mapping=state):
            return body(*args)

    compiled = jax.jit(pure)

    def run(*args):
        return compiled([variable.value for variable in variables], *args)

    return run


def _without_autograd(body):
    import torch

    def run(*args):
        with torch.no_grad():
            return body(*args)

    return run


def value_and_gradient(forward, delta):
    """`forward(delta)` and the gradient of the sum of its values at `delta`.

    Args:
        forward: a function of `delta` returning `(values, aux)`: values
            whose sum is differentiated, and tensors kept beside them.
        delta: the tensor (zeros) to differentiate at.

    Returns:
        `(values, aux, gradient)`, the gradient shaped as `delta`.

    Raises:
        NotImplementedError: under the NumPy backend, which has no gradients.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(delta)
            values, aux = forward(delta)
        # Rows are independent, so the gradient of their sum is each row's
        # own gradient.
        return values, aux, tape.gradient(values, delta)
    if backend == "jax":
        import jax

        def total(at):
            values, aux = forward(at)
            return ops.sum(values), (values, aux)

        (_, (values, aux)), gradient = jax.value_and_grad(total, has_aux=True)(delta)
        return values, aux, gradient
    if backend == "torch":
        import torch

        delta = delta.detach().requires_grad_(True)
        with torch.enable_grad():
            values, aux = forward(delta)
            (gradient,) = torch.autograd.grad(ops.sum(values), delta)
        return values.detach(), keras.tree.map_structure(_detached, aux), gradient
    raise NotImplementedError(
        "Gradient attributions need a backend that computes gradients: "
        "TensorFlow, JAX or PyTorch (set KERAS_BACKEND before importing Keras). "
        f"Received: the {backend!r} backend"
    )


def _detached(tensor):
    return tensor.detach()
