"""Benchmarks of AttentionProbe: time over `model.predict`, and memory of iter_batches.

1. Time: Embedding -> GRU(64) -> keras_attnviz.AdditiveAttention -> Dense on 8192
   samples of length 100, batch 512. `model.predict` and `probe.predict` run side
   by side in one process, interleaved (alternating which goes first), after a
   warm-up; the table shows the medians and the median of the paired ratios.
   Target: ratio <= 1.05.
2. Memory: `iter_batches` over 1k and 16k samples of a model with two
   MultiHeadAttention layers of 4 heads at T=128. Each size runs in a fresh
   subprocess that reports its peak RSS (`ru_maxrss`, which is VmHWM); the
   growth from 1k to 16k is what the probe keeps per sample. Target: < 100 MiB
   (all of the 16k weights at once: 16384 x 2 x 4 x 128 x 128 x 4 B = 8 GiB).

Run: `python benchmarks/bench_probe.py [--repeats 21] [--quick]`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VOCAB = 5000
MEMORY_SIZES = (1024, 16384)
MIB = 1024 * 1024


def gru_model(length):
    import keras

    import keras_attnviz

    inputs = keras.Input((length,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 32, mask_zero=True)(inputs)
    x = keras.layers.GRU(64, return_sequences=True)(x)
    context = keras_attnviz.AdditiveAttention(name="attention")(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(context))


def mha_model(length):
    import keras

    inputs = keras.Input((length,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 32, mask_zero=True)(inputs)
    for name in ("mha_1", "mha_2"):
        attended = keras.layers.MultiHeadAttention(4, 8, name=name)(x, x)
        x = keras.layers.LayerNormalization()(keras.layers.Add()([x, attended]))
    pooled = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(1)(pooled))


def token_ids(samples, length, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, (samples, length), dtype="int32")
    lengths = rng.integers(length // 4, length + 1, samples)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids


def time_ratio(samples, length, batch_size, repeats):
    """Interleaved timings of `model.predict` and `probe.predict`."""
    from keras_attnviz import AttentionProbe

    model = gru_model(length)
    probe = AttentionProbe(model)
    ids = token_ids(samples, length)
    runs = {
        "model.predict": lambda: model.predict(ids, batch_size=batch_size, verbose=0),
        "probe.predict": lambda: probe.predict(ids, batch_size=batch_size, verbose=0),
    }
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    for repeat in range(repeats):
        order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]
        for name in order:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    ratios = [
        p / m
        for p, m in zip(times["probe.predict"], times["model.predict"], strict=True)
    ]
    return times, statistics.median(ratios)


def peak_rss_of_iter_batches(samples, length, batch_size):
    """Runs in the child process: probe `samples` in batches, report peak RSS."""
    import resource

    from keras_attnviz import AttentionProbe

    probe = AttentionProbe(mha_model(length))
    ids = token_ids(samples, length)
    top_weight = 0.0
    for result in probe.iter_batches(ids, batch_size=batch_size, verbose=0):
        # Use each batch, as a caller would, then let it go.
        top_weight = max(top_weight, float(result.attention["mha_2"].max()))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"samples": samples, "peak_mib": peak_kib / 1024}))


def memory_growth(length, batch_size):
    peaks = {}
    for samples in MEMORY_SIZES:
        completed = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child-memory",
                str(samples),
                "--length",
                str(length),
                "--batch-size",
                str(batch_size),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        peaks[samples] = report["peak_mib"]
    return peaks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--length", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--child-memory", type=int, default=None, help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.child_memory is not None:
        peak_rss_of_iter_batches(args.child_memory, args.length, args.batch_size)
        return

    samples = 1024 if args.quick else 8192
    times, ratio = time_ratio(samples, 100, 512, args.repeats)
    print(f"## probe.predict vs model.predict ({samples} samples, T=100, batch 512)")
    print(f"{'run':<16}{'median s':>10}{'min s':>10}{'max s':>10}")
    for name, values in times.items():
        print(
            f"{name:<16}{statistics.median(values):>10.3f}"
            f"{min(values):>10.3f}{max(values):>10.3f}"
        )
    # The target is on the median of paired ratios: each pair runs back to
    # back, so both sides see the same machine phase. On machines whose speed
    # jumps between phases (seen here: 0.38-0.45 s and 0.645 s for the same
    # call) the ratio of minimums compares two different phases; it is shown
    # so that such a machine is noticed, not as the target.
    probe_times, predict_times = times["probe.predict"], times["model.predict"]
    medians = statistics.median(probe_times) / statistics.median(predict_times)
    minimums = min(probe_times) / min(predict_times)
    print(
        f"probe/predict: median of paired ratios {ratio:.3f}, ratio of medians "
        f"{medians:.3f}, ratio of minimums {minimums:.3f} (target <= 1.05)\n"
    )

    peaks = memory_growth(128, 64)
    print("## iter_batches peak RSS (2 MultiHeadAttention x 4 heads, T=128, batch 64)")
    print(f"{'samples':>8}{'peak RSS MiB':>14}")
    for samples, peak in peaks.items():
        print(f"{samples:>8}{peak:>14.1f}")
    growth = peaks[MEMORY_SIZES[-1]] - peaks[MEMORY_SIZES[0]]
    full = MEMORY_SIZES[-1] * 2 * 4 * 128 * 128 * 4 / MIB
    print(
        f"growth {MEMORY_SIZES[0]} -> {MEMORY_SIZES[-1]}: {growth:.1f} MiB "
        f"(target < 100; all weights at once would be {full:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
