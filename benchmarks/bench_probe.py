"""Benchmarks of AttentionProbe: time over `model.predict`, and memory of iter_batches.

1. Time: `model.predict` and `probe.predict` run side by side in one process,
   interleaved (every order of the runs in turn), after a warm-up; each table
   shows the medians and the median of the paired ratios (the target), and
   the median of the paired ratios of process CPU time, which other
   processes' load moves less. Beside them, "limit": `model.predict`, then
   the probe's weights and masks written into new arrays, what returning
   them costs on top of Keras's own loop (the probe can come in under it:
   over arrays it skips that loop). Before every timed call the process
   touches and frees 1.5 times the probe's extra bytes, so that no run gets
   its memory cheaper than another because of what ran before it (see
   `memory_freed_just_now`).
   Cases:
   - gru: Embedding -> GRU(64) -> keras_attnviz.AdditiveAttention -> Dense,
     8192 samples of length 100, batch 512. Target: ratio <= 1.05.
   - bert: a keras-hub `BertBackbone` built from a config (no download):
     4 layers, 4 heads, hidden 128, intermediate 512, vocabulary 1000,
     T=128, `padding_mask` with 1/4 to all of each sample real; 512 samples,
     batch 64. Its `MultiHeadAttention` layers have BERT's dropout (0.1),
     which makes Keras take the explicit softmax even in `model.predict`.
     Target: ratio <= 1.10. Beside them, "hand-made": the backbone's own
     layers in a subclassed model that returns each encoder's weights
     (`return_attention_scores=True`), what a user writes without a probe.
   - bert_no_dropout: the same with dropout=0 (256 samples): `model.predict`
     takes the fused `dot_product_attention`, and the probe computes the
     explicit softmax beside it. Target: ratio <= 1.10.
   - translator: TensorFlow's translation tutorial as a subclassed model
     (`translator.py`: units 128, vocabularies 5000, context T=64, target
     T=48), its cross-attention making the plain `MultiHeadAttention` call
     (fused `dot_product_attention` in `model.predict`); 512 samples,
     batch 64. Target: ratio <= 1.10. The ratio can fall below 1: for a
     model with one output tensor, `model.predict` copies every batch's
     output once more, into the callbacks' logs (`pythonify_logs` in Keras
     3.15), and this model's logits are 0.9 MiB a sample; the probe's
     outputs are a tuple, which Keras leaves alone there.
2. Memory: `iter_batches` over a small and a large number of samples. Each
   size runs in a fresh subprocess (two at a time: they are not timed) that
   reports its peak RSS (VmHWM; not `ru_maxrss`, which on Linux a child
   inherits from its parent); the growth from the small to the large size is
   what the probe keeps per sample. Target: < 100 MiB. Models:
   - mha: two MultiHeadAttention layers of 4 heads at T=128, 1k -> 16k
     samples, batch 64 (all of the 16k weights at once: 8 GiB).
   - bert: the BERT above, 256 -> 2048 samples, batch 64 (1 MiB of weights
     per sample: 16k samples take too long for this benchmark).
   - translator: the translator above, 1k -> 4k samples, batch 64 (its
     outputs, logits over 5000 words, are 0.9 MiB a sample, its weights
     12 KiB).

Run: `python benchmarks/bench_probe.py [--repeats N] [--quick] [--cases gru,mha]`.
"""

import argparse
import concurrent.futures
import dataclasses
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VOCAB = 5000
BERT_VOCAB = 1000
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


def bert_backbone(length, dropout=0.1):
    import keras_hub

    return keras_hub.models.BertBackbone(
        vocabulary_size=BERT_VOCAB,
        num_layers=4,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=512,
        dropout=dropout,
        max_sequence_length=length,
    )


def bert_with_scores(backbone):
    """The hand-made way to BERT's weights: the backbone's own layers, rewired.

    The computation `BertBackbone` builds, in a subclassed model whose `call`
    calls each `TransformerEncoder` with `return_attention_scores=True` and
    returns the weights as extra outputs (keras-hub's encoder declares one
    output shape, so a functional rewiring cannot): what a user writes
    without a probe.
    """
    import keras

    class BertWithScores(keras.Model):
        def call(self, inputs):
            tokens = backbone.token_embedding(inputs["token_ids"])
            x = backbone.embeddings_add(
                (
                    tokens,
                    backbone.position_embedding(tokens),
                    backbone.segment_embedding(inputs["segment_ids"]),
                )
            )
            x = backbone.embeddings_dropout(backbone.embeddings_layer_norm(x))
            scores = []
            for layer in backbone.transformer_layers:
                x, layer_scores = layer(
                    x,
                    padding_mask=inputs["padding_mask"],
                    return_attention_scores=True,
                )
                scores.append(layer_scores)
            return {
                "sequence_output": x,
                "pooled_output": backbone.pooled_dense(x[:, 0, :]),
                "scores": scores,
            }

    return BertWithScores()


def translator_model():
    # Keras warns that the tutorial's `CrossAttention` and `Decoder` drop the
    # masks they receive (they do not support masking); by then their
    # `MultiHeadAttention` has read them, as in the tutorial.
    warnings.filterwarnings("ignore", message=".*does not support masking")
    from translator import Translator

    model = Translator(128, context_vocab=VOCAB, target_vocab=VOCAB)
    model(translator_inputs(2))  # built by calling it once, as the tutorial does
    return model


def token_ids(samples, length, seed=0, vocab=VOCAB):
    """Ids in `[1, vocab)` padded with 0 after 1/4 to all of `length`."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, (samples, length), dtype="int32")
    lengths = rng.integers(length // 4, length + 1, samples)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids


def bert_inputs(samples, length=128):
    ids = token_ids(samples, length, vocab=BERT_VOCAB)
    return {
        "token_ids": ids,
        "segment_ids": np.zeros_like(ids),
        "padding_mask": (ids != 0).astype("int32"),
    }


def translator_inputs(samples):
    return {
        "context": token_ids(samples, 64, seed=1),
        "target": token_ids(samples, 48, seed=2),
    }


@dataclasses.dataclass(frozen=True)
class TimeCase:
    """One `probe.predict` / `model.predict` row of the time tables."""

    title: str
    build: object  # (quick) -> (model, x)
    batch_size: int
    repeats: int
    target: float
    # (model) -> the same model with its weights as outputs, made by hand.
    hand_made: object = None


TIME_CASES = {
    "gru": TimeCase(
        "GRU + AdditiveAttention ({samples} samples, T=100, batch {batch})",
        lambda quick: (
            gru_model(100),
            token_ids(1024 if quick else 8192, 100),
        ),
        batch_size=512,
        repeats=18,
        target=1.05,
    ),
    "bert": TimeCase(
        "keras-hub BertBackbone, 4 layers x 4 heads, hidden 128, padding_mask "
        "({samples} samples, T=128, batch {batch})",
        lambda quick: (bert_backbone(128), bert_inputs(128 if quick else 512)),
        batch_size=64,
        repeats=24,
        target=1.10,
        hand_made=bert_with_scores,
    ),
    "bert_no_dropout": TimeCase(
        "the same BertBackbone with dropout=0, so that model.predict takes the "
        "fused dot_product_attention ({samples} samples, T=128, batch {batch})",
        lambda quick: (bert_backbone(128, 0.0), bert_inputs(128 if quick else 256)),
        batch_size=64,
        repeats=24,
        target=1.10,
        hand_made=bert_with_scores,
    ),
    "translator": TimeCase(
        "subclassed translator, cross-attention MultiHeadAttention "
        "({samples} samples, context T=64, target T=48, batch {batch})",
        lambda quick: (translator_model(), translator_inputs(128 if quick else 512)),
        batch_size=64,
        repeats=12,
        target=1.10,
    ),
}


@dataclasses.dataclass(frozen=True)
class MemoryCase:
    """One `iter_batches` peak-RSS row: a model, a small and a large size."""

    title: str
    build: object  # (samples) -> (model, x)
    sizes: tuple
    quick_sizes: tuple
    batch_size: int


MEMORY_CASES = {
    "mha": MemoryCase(
        "2 MultiHeadAttention x 4 heads, T=128",
        lambda samples: (mha_model(128), token_ids(samples, 128)),
        sizes=(1024, 16384),
        quick_sizes=(1024, 4096),
        batch_size=64,
    ),
    "bert": MemoryCase(
        "keras-hub BertBackbone, 4 layers x 4 heads, T=128",
        lambda samples: (bert_backbone(128), bert_inputs(samples)),
        sizes=(256, 2048),
        quick_sizes=(128, 512),
        batch_size=64,
    ),
    "translator": MemoryCase(
        "subclassed translator, context T=64, target T=48",
        lambda samples: (translator_model(), translator_inputs(samples)),
        sizes=(1024, 4096),
        quick_sizes=(256, 1024),
        batch_size=64,
    ),
}


def num_samples(x):
    import keras

    return len(keras.tree.flatten(x)[0])


def time_ratio(case, quick, repeats):
    """Interleaved timings of `model.predict` and `probe.predict`.

    Returns:
        `(samples, wall, cpu)`: `wall` and `cpu` map each run to its wall-clock
        and process CPU seconds, one per round.
    """
    from keras_attnviz import AttentionProbe

    model, x = case.build(quick)
    probe = AttentionProbe(model)
    batch_size = case.batch_size
    runs = {
        "model.predict": lambda: model.predict(x, batch_size=batch_size, verbose=0),
        "probe.predict": lambda: probe.predict(x, batch_size=batch_size, verbose=0),
    }
    if case.hand_made is not None:
        hand_made = case.hand_made(model)
        runs["hand-made"] = lambda: hand_made.predict(
            x, batch_size=batch_size, verbose=0
        )
    extra = beyond_the_outputs(
        probe.predict(x, batch_size=batch_size, verbose=0), batch_size
    )
    runs["limit"] = lambda: handed_over(runs["model.predict"], extra, batch_size)
    for run in runs.values():
        run()
    recycled = 3 * sum(math.prod(shape) * batch.itemsize for shape, batch in extra) // 2
    # Every order of the runs in turn: what ran just before a call moves its
    # time (see `memory_freed_just_now`), so no run may always follow another.
    orders = list(itertools.permutations(runs))
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in orders[repeat % len(orders)]:
            memory_freed_just_now(recycled)
            start, start_cpu = time.perf_counter(), time.process_time()
            # Kept until timed: freeing a result is not part of making it.
            result = runs[name]()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            del result
    return num_samples(x), wall, cpu


def beyond_the_outputs(result, batch_size):
    """One batch of each array a `ProbeResult` holds besides the model's outputs.

    Returns:
        `(shape, batch)` pairs: the whole array's shape, and its first
        `batch_size` samples, a copy (warm in memory by the time it is used).
    """
    arrays = [
        *result.attention.values(),
        *result.key_masks.values(),
        *result.query_masks.values(),
    ]
    return [(a.shape, a[:batch_size].copy()) for a in arrays]


def handed_over(predict, extra, batch_size):
    """The limit: `model.predict`, then the probe's extra arrays as new arrays.

    What returning the weights costs on top of Keras's loop: the model's
    forward pass, then every byte of the weights and masks written, batch by
    batch, into arrays made for the call (the caller owns them). On machines
    where new memory costs time (seen here: filling a new 512 MiB array took
    0.05 s, or, after a pause, 0.8-1.1 s), that cost is part of the limit.
    """
    outputs = predict()
    arrays = []
    for shape, batch in extra:
        into = np.empty(shape, batch.dtype)
        for start in range(0, shape[0], batch_size):
            part = into[start : start + batch_size]
            part[...] = batch[: len(part)]  # `batch` holds `batch_size` samples
        arrays.append(into)
    return outputs, arrays


def memory_freed_just_now(nbytes):
    """Touches and frees `nbytes`, so that the next run finds memory warm.

    On this machine (a VM whose freed memory goes back to the host after a
    moment), new memory is cheap when the process freed some just before and
    slow otherwise: filling a new 512 MiB array took 0.05 s, or 0.8-1.1 s.
    Without this, a run that follows one that freed a large result (the
    probe's, the hand-made model's) got its memory cheaply, and one that
    follows `model.predict` did not: the order of the runs decided the ratios.
    """
    block = np.ones(max(nbytes, 1) // 8 + 1)
    del block


def paired_ratio(times, run="probe.predict", baseline="model.predict"):
    """The median of the per-round ratios `run` / `baseline`."""
    return statistics.median(
        p / m for p, m in zip(times[run], times[baseline], strict=True)
    )


def print_time_table(case, samples, wall, cpu):
    print(
        "## probe.predict vs model.predict: "
        + case.title.format(samples=samples, batch=case.batch_size)
    )
    print(f"{'run':<16}{'median s':>10}{'min s':>10}{'max s':>10}{'median CPU s':>14}")
    for name, values in wall.items():
        print(
            f"{name:<16}{statistics.median(values):>10.3f}"
            f"{min(values):>10.3f}{max(values):>10.3f}"
            f"{statistics.median(cpu[name]):>14.3f}"
        )
    # The target is on the median of paired ratios: each pair runs back to
    # back, so both sides see the same machine phase. On machines whose speed
    # jumps between phases (seen here: 0.38-0.45 s and 0.645 s for the same
    # call) the ratio of minimums compares two different phases; it is shown
    # so that such a machine is noticed, not as the target. The ratio of
    # process CPU times is shown beside it because other processes' load
    # moves it less than the wall clock.
    ratio = paired_ratio(wall)
    probe_times, predict_times = wall["probe.predict"], wall["model.predict"]
    medians = statistics.median(probe_times) / statistics.median(predict_times)
    minimums = min(probe_times) / min(predict_times)
    print(
        f"probe/predict: median of paired ratios {ratio:.3f}, ratio of medians "
        f"{medians:.3f}, ratio of minimums {minimums:.3f}, median of paired CPU "
        f"ratios {paired_ratio(cpu):.3f} (target <= {case.target:.2f}, on the "
        "first)"
    )
    if "hand-made" in wall:
        print(
            "hand-made/predict: median of paired ratios "
            f"{paired_ratio(wall, 'hand-made'):.3f} (CPU "
            f"{paired_ratio(cpu, 'hand-made'):.3f}); probe/hand-made "
            f"{paired_ratio(wall, 'probe.predict', 'hand-made'):.3f} (CPU "
            f"{paired_ratio(cpu, 'probe.predict', 'hand-made'):.3f})"
        )
    print(
        "probe/limit (model.predict, then the weights and masks written into new "
        f"arrays): median of paired ratios {paired_ratio(wall, baseline='limit'):.3f}"
        f" (CPU {paired_ratio(cpu, baseline='limit'):.3f}); limit/predict "
        f"{paired_ratio(wall, 'limit'):.3f}"
    )
    print()
    return ratio


def peak_rss_of_iter_batches(name, samples):
    """Runs in the child process: probe `samples` in batches, report peak RSS."""
    import keras

    from keras_attnviz import AttentionProbe

    case = MEMORY_CASES[name]
    model, x = case.build(samples)
    probe = AttentionProbe(model)
    top_weight, weight_bytes, output_bytes = 0.0, 0, 0
    for result in probe.iter_batches(x, batch_size=case.batch_size, verbose=0):
        # Use each batch, as a caller would, then let it go.
        for weights in result.attention.values():
            top_weight = max(top_weight, float(weights.max()))
            weight_bytes += weights.nbytes
        output_bytes += sum(a.nbytes for a in keras.tree.flatten(result.outputs))
    print(
        json.dumps(
            {
                "samples": samples,
                "peak_mib": peak_rss_kib() / 1024,
                "weight_mib": weight_bytes / MIB,
                "output_mib": output_bytes / MIB,
            }
        )
    )


def peak_rss_kib():
    """This process's peak RSS since it started, in KiB."""
    # `ru_maxrss` is no measure here: Linux carries it over `fork` and `exec`,
    # so a child started by a parent that had grown to 1.7 GiB reports 1.7 GiB.
    # VmHWM belongs to the address space, which `exec` makes anew.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_memory_child(name, samples):
    completed = subprocess.run(
        [sys.executable, __file__, "--child-memory", name, str(samples)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"The memory run of {name!r} on {samples} samples failed:\n"
            f"{completed.stderr[-3000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def memory_reports(names, quick):
    """Peak RSS of every case and size; two children at a time."""
    jobs = [
        (name, samples)
        for name in names
        for samples in (
            MEMORY_CASES[name].quick_sizes if quick else MEMORY_CASES[name].sizes
        )
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda job: run_memory_child(*job), jobs))
    by_case = {}
    for (name, samples), report in zip(jobs, reports, strict=True):
        by_case.setdefault(name, {})[samples] = report
    return by_case


def print_memory_table(case, reports):
    print(f"## iter_batches peak RSS ({case.title}, batch {case.batch_size})")
    print(f"{'samples':>8}{'peak RSS MiB':>14}{'weights MiB':>13}{'outputs MiB':>13}")
    for samples, report in reports.items():
        print(
            f"{samples:>8}{report['peak_mib']:>14.1f}{report['weight_mib']:>13.0f}"
            f"{report['output_mib']:>13.0f}"
        )
    small, large = min(reports), max(reports)
    growth = reports[large]["peak_mib"] - reports[small]["peak_mib"]
    print(
        f"growth {small} -> {large}: {growth:.1f} MiB (target < 100; all "
        f"weights at once would be {reports[large]['weight_mib']:.0f} MiB, with "
        f"the outputs {reports[large]['weight_mib'] + reports[large]['output_mib']:.0f}"
        " MiB)\n"
    )
    return growth


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="rounds per time case"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--cases",
        default="gru,bert,bert_no_dropout,translator,mha",
        help="comma-separated: time cases (gru, bert, bert_no_dropout, "
        "translator) and memory cases (mha, bert, translator); bert and "
        "translator name both",
    )
    parser.add_argument("--child-memory", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_memory is not None:
        name, samples = args.child_memory
        peak_rss_of_iter_batches(name, int(samples))
        return

    started = time.perf_counter()
    names = args.cases.split(",")
    unknown = sorted(set(names) - set(TIME_CASES) - set(MEMORY_CASES))
    if unknown:
        parser.error(
            f"`--cases` must name cases among {sorted({*TIME_CASES, *MEMORY_CASES})}."
            f" Received: {unknown}"
        )
    summary = []
    for name in (n for n in TIME_CASES if n in names):
        case = TIME_CASES[name]
        repeats = case.repeats if args.repeats is None else args.repeats
        samples, wall, cpu = time_ratio(case, args.quick, repeats)
        ratio = print_time_table(case, samples, wall, cpu)
        summary.append(
            (
                f"time {name}",
                f"{ratio:.3f}",
                f"<= {case.target:.2f}",
                ratio <= case.target,
            )
        )

    memory_names = [n for n in MEMORY_CASES if n in names]
    for name, reports in memory_reports(memory_names, args.quick).items():
        growth = print_memory_table(MEMORY_CASES[name], reports)
        summary.append(
            (f"memory {name}", f"{growth:.1f} MiB", "< 100 MiB", growth < 100)
        )

    print("## summary")
    for row, value, target, met in summary:
        print(f"{row:<20}{value:>12}  target {target:<10}{'met' if met else 'MISSED'}")
    print(f"benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
