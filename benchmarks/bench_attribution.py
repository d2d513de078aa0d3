"""Benchmarks of attribution: integrated gradients and occlusion against loops.

Model: the demo's char-level classifier (`keras_attnviz.cli.demo.build_classifier`:
Embedding(32, mask_zero) -> GRU(32); AdditiveAttention queried by the final
state, keys [embedding; state], values the embeddings -> Dense(sigmoid)),
untrained (time does not depend on the weights), on
`cue_sentences` pre-padded to 64 characters. Every contender explains the
positive class from a zero baseline with the same Gauss-Legendre points, so
their scores are printed against each other too.

1. Integrated gradients, 256 samples, steps=64:
   - ours: `integrated_gradients(model, x, steps=64, target=1)`: every sample
     and step a row of batched gradient calls (4096 rows per call), plus its
     inspect pass and one baseline row per sample for the completeness gap;
   - per step, all samples: one traced `tf.GradientTape` gradient call per
     interpolation point on the 256 samples, summed in a Python loop;
   - the tutorial's loop: TensorFlow's integrated-gradients tutorial, one
     sample at a time, its interpolation points in batches of 32 per traced
     gradient call; target for both loops: ours >= 3x faster;
   - the limit: one traced gradient call on a batch of 256 x 64 rows, the
     same total; target: ours within 1.3x.
   The two references run the model's own layers by hand from the embeddings
   (the GRU and the attention given the mask), as a user writes it.
2. Occlusion, 256 samples: ours (`occlusion(model, x, target=1)`, the real
   positions only, batched) against a Python loop over the 64 positions, each
   a traced forward pass of the 256 samples with that position set to 0.

Each run builds and traces its own `tf.function`s, as a user's call does;
runs of the contenders alternate, after a warm-up, and the table shows
medians.

Run: `python benchmarks/bench_attribution.py [--repeats N] [--quick]`.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MAXLEN = 64


def demo_model_and_ids(samples):
    import keras

    from keras_attnviz.cli.demo import build_classifier
    from keras_attnviz.datasets import cue_sentences
    from keras_attnviz.vocabulary import Vocabulary

    data = cue_sentences(samples, seed=1)
    vocab = Vocabulary.from_texts(data.texts)
    keras.utils.set_random_seed(0)
    model = build_classifier(len(vocab), MAXLEN)
    return model, vocab.encode(data.texts, maxlen=MAXLEN, padding="pre")


def path_points(steps):
    import numpy as np

    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return ((nodes + 1) / 2).astype("float32"), (weights / 2).astype("float32")


def forward_from_embeddings(model):
    """The demo model's layers after its Embedding, called by hand with the mask."""
    import keras

    from keras_attnviz.layers import AdditiveAttention

    def layer_of(kind):
        (layer,) = [layer for layer in model.layers if isinstance(layer, kind)]
        return layer

    gru, concatenate = layer_of(keras.layers.GRU), layer_of(keras.layers.Concatenate)
    attention, dense = layer_of(AdditiveAttention), layer_of(keras.layers.Dense)

    def forward(vectors, mask):
        states, final_state = gru(vectors, mask=mask)
        keys = concatenate([vectors, states])
        context = attention([final_state, vectors, keys], mask=[None, mask, mask])
        return dense(context)[:, 0]

    return forward


def gradient_function(model):
    """A traced gradient of the positive output at points on the path."""
    import tensorflow as tf

    forward = forward_from_embeddings(model)

    @tf.function
    def gradients(vectors, mask, alphas):
        path = vectors * alphas[:, None, None]
        with tf.GradientTape() as tape:
            tape.watch(path)
            output = forward(path, mask)
        return tape.gradient(output, path)

    return gradients


def embeddings_and_mask(model, ids):
    import keras

    (embedding,) = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)
    ]
    return embedding(ids), ids != 0


def ig_per_step(model, steps):
    """One gradient call per interpolation point (the tutorial's pattern)."""
    import numpy as np

    gradients = gradient_function(model)
    alphas, weights = path_points(steps)

    def run(ids):
        vectors, mask = embeddings_and_mask(model, ids)
        total = np.zeros(vectors.shape, "float32")
        for alpha, weight in zip(alphas, weights, strict=True):
            step = np.full(len(ids), alpha, "float32")
            total += weight * gradients(vectors, mask, step).numpy()
        return np.where(mask, (np.asarray(vectors) * total).sum(-1), 0.0)

    return run


def ig_tutorial(model, steps, alpha_batch=32):
    """TensorFlow's tutorial: one sample at a time, its steps in batches of 32."""
    import numpy as np

    gradients = gradient_function(model)
    alphas, weights = path_points(steps)

    def run(ids):
        vectors, mask = embeddings_and_mask(model, ids)
        vectors, mask = np.asarray(vectors), np.asarray(mask)
        scores = np.zeros(ids.shape)
        for i in range(len(ids)):
            total = np.zeros(vectors.shape[1:], "float32")
            for start in range(0, steps, alpha_batch):
                batch = alphas[start : start + alpha_batch]
                rows = np.zeros(len(batch), int)
                grads = gradients(vectors[i][None][rows], mask[i][None][rows], batch)
                total += np.einsum(
                    "s,std->td", weights[start : start + alpha_batch], grads.numpy()
                )
            scores[i] = np.where(mask[i], (vectors[i] * total).sum(-1), 0.0)
        return scores

    return run


def ig_one_call(model, steps):
    """The limit: every point of every sample in one gradient call."""
    import numpy as np

    gradients = gradient_function(model)
    alphas, weights = path_points(steps)

    def run(ids):
        vectors, mask = embeddings_and_mask(model, ids)
        rows = np.repeat(np.arange(len(ids)), steps)
        grads = gradients(
            np.asarray(vectors)[rows],
            np.asarray(mask)[rows],
            np.tile(alphas, len(ids)),
        ).numpy()
        grads = grads.reshape(len(ids), steps, *grads.shape[1:])
        total = np.einsum("s,nstd->ntd", weights, grads)
        return np.where(mask, (np.asarray(vectors) * total).sum(-1), 0.0)

    return run


def ig_ours(model, steps):
    from keras_attnviz.attribution import integrated_gradients

    return lambda ids: integrated_gradients(model, ids, steps=steps, target=1).scores


def occlusion_loop(model):
    """One traced forward pass per position, that position's id set to 0."""
    import numpy as np
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False)[:, 0])

    def run(ids):
        full = forward(ids).numpy()
        scores = np.zeros(ids.shape)
        for position in range(ids.shape[1]):
            edited = ids.copy()
            edited[:, position] = 0
            scores[:, position] = full - forward(edited).numpy()
        return np.where(ids != 0, scores, 0.0)

    return run


def occlusion_ours(model):
    from keras_attnviz.attribution import occlusion

    return lambda ids: occlusion(model, ids, target=1).scores


def race(contenders, samples, repeats):
    """Each contender on its own copy of the model: the first call (tracing
    included), then the median of `repeats` later calls, alternating."""
    import numpy as np

    runs, first, later, results = {}, {}, {}, {}
    for name, make in contenders.items():
        model, ids = demo_model_and_ids(samples)
        runs[name] = make(model)
        first[name], results[name] = timed(runs[name], ids)
        later[name] = []
    names = list(contenders)
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            later[name].append(timed(runs[name], ids)[0])
    reference = results[names[0]]
    return [
        (
            name,
            first[name],
            statistics.median(later[name]),
            float(np.abs(results[name] - reference).max()),
        )
        for name in names
    ]


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def print_table(title, rows, targets):
    ours_later = rows[0][2]
    print(f"\n{title}")
    print(
        "| contender | first call, s | later calls, s | ours vs it (later) | "
        "target | largest score difference |"
    )
    print("|---|---|---|---|---|---|")
    for name, first, later, difference in rows:
        ratio = "" if name == "ours" else f"{later / ours_later:.2f}x"
        print(
            f"| {name} | {first:.2f} | {later:.2f} | {ratio} | "
            f"{targets.get(name, '')} | {difference:.1e} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="64 samples, 16 steps")
    args = parser.parse_args()
    samples, steps = (64, 16) if args.quick else (256, 64)
    repeats = 1 if args.quick else args.repeats

    import keras
    import tensorflow as tf

    print(
        f"keras {keras.__version__}, TensorFlow {tf.__version__}, "
        f"{os.cpu_count()} CPUs; {samples} samples, T={MAXLEN}, steps={steps}"
    )
    # Warm-up: TensorFlow's first trace and kernels, on a model of its own.
    model, ids = demo_model_and_ids(8)
    ig_ours(model, 2)(ids)
    occlusion_ours(model)(ids)

    rows = race(
        {
            "ours": lambda model: ig_ours(model, steps),
            "per step, all samples": lambda model: ig_per_step(model, steps),
            "the tutorial's loop": lambda model: ig_tutorial(model, steps),
            "one call (limit)": lambda model: ig_one_call(model, steps),
        },
        samples,
        repeats,
    )
    print_table(
        f"integrated gradients, {samples} samples x {steps} steps",
        rows,
        {
            "per step, all samples": ">= 3x faster",
            "the tutorial's loop": ">= 3x faster",
            "one call (limit)": "within 1.3x",
        },
    )
    rows = race(
        {"ours": occlusion_ours, "loop over positions": occlusion_loop},
        samples,
        repeats,
    )
    print_table(f"occlusion, {samples} samples, T={MAXLEN}", rows, {})


if __name__ == "__main__":
    main()
