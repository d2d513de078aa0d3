"""Inference speed of the attention layers next to their usual alternatives.

Every candidate is wrapped in a `keras.Model` and called through the same
`tf.function` (`model(x, training=False)`), on the same inputs, in interleaved
rounds so that background load hits all candidates alike; the table shows the
median over the rounds. Shapes: batch 256, 250 time steps, 128 features.

Cases:
- pooling: `AdditiveAttention()(values)` against the hand-made stack
  `TimeDistributed(Dense(1, tanh))` -> `Flatten` -> softmax -> `RepeatVector`
  -> `Permute` -> multiply -> sum over time. Target: ours >= 1.2x faster.
  That stack scores with a `Dense(1)`; ours computes Bahdanau's score
  v^T tanh(W k + b), a (D x units) projection of every key. So the pooling is
  also measured against the stack made to compute the same score.
- query forms against the Keras built-ins with the same maths where there is
  one: `DotProductAttention(scale=False)` vs `keras.layers.Attention()`, and
  `AdditiveAttention()` vs `keras.layers.AdditiveAttention()`, for one query
  step (Tq=1, an RNN's last state), a short decoder (Tq=8) and, for the dot
  product only, self-attention (Tq=T=250; the additive score has a
  (B, Tq, T, units) intermediate, 8 GB at Tq=T, for both implementations).
  Target: ours within 1.1x of the built-in. Our additive layer does more
  work than Keras's: it projects query and keys (`W_q q`, `W_k k`), Keras's
  has no projections. So the additive cases are measured twice: against the
  bare built-in, and against the built-in fed by the two `Dense` projections
  that make its maths Bahdanau's (what a user must stack to get our layer).

Usage: `python benchmarks/bench_layers.py [--rounds 15] [--jit]`.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_attnviz.layers import AdditiveAttention, DotProductAttention  # noqa: E402

BATCH, STEPS, DIM = 256, 250, 128


def hand_made_pooling(values):
    scores = keras.layers.TimeDistributed(keras.layers.Dense(1, activation="tanh"))(
        values
    )
    weights = keras.layers.Activation("softmax")(keras.layers.Flatten()(scores))
    weights = keras.layers.Permute([2, 1])(keras.layers.RepeatVector(DIM)(weights))
    return keras.ops.sum(keras.layers.Multiply()([values, weights]), axis=1)


def hand_made_bahdanau_pooling(values):
    """The same stack with the score our layer computes, v^T tanh(W k + b)."""
    hidden = keras.layers.TimeDistributed(keras.layers.Dense(DIM, activation="tanh"))(
        values
    )
    scores = keras.layers.TimeDistributed(keras.layers.Dense(1, use_bias=False))(hidden)
    weights = keras.layers.Activation("softmax")(keras.layers.Flatten()(scores))
    weights = keras.layers.Permute([2, 1])(keras.layers.RepeatVector(DIM)(weights))
    return keras.ops.sum(keras.layers.Multiply()([values, weights]), axis=1)


def bahdanau_by_hand(inputs):
    """Keras's AdditiveAttention behind the projections Bahdanau's score has."""
    query, values = inputs
    projected_query = keras.layers.Dense(DIM, use_bias=False)(query)
    projected_keys = keras.layers.Dense(DIM)(values)
    return keras.layers.AdditiveAttention()([projected_query, values, projected_keys])


def pooling_model(attention):
    values = keras.Input((STEPS, DIM))
    return keras.Model(values, attention(values))


def query_model(layer, query_steps):
    query = keras.Input((query_steps, DIM))
    values = keras.Input((STEPS, DIM))
    return keras.Model([query, values], layer([query, values]))


def cases():
    """`(case, target, [(name, model), ...])`, ours first, baseline second."""
    yield (
        "pooling",
        "ours >= 1.2x faster",
        [
            ("AdditiveAttention", pooling_model(AdditiveAttention())),
            ("hand-made stack", pooling_model(hand_made_pooling)),
        ],
    )
    yield (
        "pooling",
        "same maths (not a target)",
        [
            ("AdditiveAttention", pooling_model(AdditiveAttention())),
            ("hand-made, W k scores", pooling_model(hand_made_bahdanau_pooling)),
        ],
    )
    for query_steps in (1, 8, STEPS):
        yield (
            f"dot, Tq={query_steps}",
            "ours within 1.1x",
            [
                (
                    "DotProductAttention",
                    query_model(DotProductAttention(scale=False), query_steps),
                ),
                ("keras Attention", query_model(keras.layers.Attention(), query_steps)),
            ],
        )
    for query_steps in (1, 8):
        yield (
            f"additive, Tq={query_steps}",
            "ours within 1.1x",
            [
                ("AdditiveAttention", query_model(AdditiveAttention(), query_steps)),
                (
                    "keras AdditiveAttention",
                    query_model(keras.layers.AdditiveAttention(), query_steps),
                ),
            ],
        )
        yield (
            f"additive, Tq={query_steps}",
            "same maths: within 1.1x",
            [
                ("AdditiveAttention", query_model(AdditiveAttention(), query_steps)),
                (
                    "Dense x2 + keras Additive",
                    query_model(bahdanau_by_hand, query_steps),
                ),
            ],
        )


def inputs_for(model, rng):
    arrays = [
        rng.normal(size=(BATCH, *tensor.shape[1:])).astype("float32")
        for tensor in model.inputs
    ]
    return arrays[0] if len(arrays) == 1 else arrays


def median_times(models, inputs, rounds, jit):
    """Median seconds per call of each model, measured in interleaved rounds."""
    calls = [
        tf.function(lambda x, m=model: m(x, training=False), jit_compile=jit)
        for model in models
    ]
    for call in calls:
        for _ in range(3):
            np.asarray(call(inputs))
    times = [[] for _ in calls]
    for _ in range(rounds):
        for call, record in zip(calls, times, strict=True):
            start = time.perf_counter()
            np.asarray(call(inputs))
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--jit", action="store_true", help="XLA-compile every call")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"B={BATCH} T={STEPS} D={DIM}, median of {args.rounds} rounds, "
        f"jit_compile={args.jit}, keras {keras.__version__}, tf {tf.__version__}"
    )
    header = f"{'case':<18} {'ours':<20} {'ms':>8} {'baseline':<26} {'ms':>8}"
    print(f"{header} {'speed-up':>9}  target")
    for case, target, candidates in cases():
        (ours, our_model), (baseline, base_model) = candidates
        inputs = inputs_for(our_model, rng)
        our_time, base_time = median_times(
            [our_model, base_model], inputs, args.rounds, args.jit
        )
        print(
            f"{case:<18} {ours:<20} {1e3 * our_time:8.2f} {baseline:<26} "
            f"{1e3 * base_time:8.2f} {base_time / our_time:8.2f}x  {target}"
        )


if __name__ == "__main__":
    main()
