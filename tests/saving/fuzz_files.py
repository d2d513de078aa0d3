"""Mutation fuzzing of model files for `keras_attnviz.load_model`.

Small `.keras` and `.h5` files are written once (by a child process, with a
fixed random seed: the `.h5` files come out the same bytes every time, so a
case id names one file), then mutated with seeded randomness: bytes
flipped, zeroed or cut off; configs given values of the wrong type, huge
sizes, deep nesting and hostile class, module and registered names;
`keras_version` and other attributes of the wrong type; weights files that
declare enormous tensors while storing nothing. Each mutant is loaded in a
worker process under a time limit and an address-space limit
(`RLIMIT_AS`); a worker loads many files in turn, and
when one kills or hangs it, it is replaced and goes on after that file.

A load must end in a model or in a `ValueError` / `OSError` whose message
names the file, and no code from a file may run: the hostile names point at
a module `attnviz_fuzz_canary` on the workers' path, and lambdas hold code
that would import it; importing it creates a canary file.

CI runs a fixed sample (tests/saving/test_fuzz_files.py). A longer run, from
the repository root:

    python tests/saving/fuzz_files.py --cases 5000 --seed 1

or `ATTNVIZ_FUZZ_CASES=5000 python -m pytest tests/saving/test_fuzz_files.py`.
It prints the count per outcome and, for each outcome other than `loaded`
and `refused`, a few of its cases (`--show N`), which `--only ID` replays.
"""

import argparse
import collections
import copy
import io
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile

import h5py
import numpy as np

# What the workers may use: the weights limit passed to `load_model`, and the
# address space on top of what TensorFlow takes when it starts.
MAX_WEIGHT_BYTES = 256 * 2**20
MEMORY_BUDGET_BYTES = 2 * 2**30
CASE_TIMEOUT_SECONDS = 60.0
CANARY_MODULE = "attnviz_fuzz_canary"
GOOD_OUTCOMES = ("loaded", "refused")

HUGE_VALUES = [10**9, 2**40, 10**10, 2**31, 2**63, -1, 0, 1e308, float("inf")]
WRONG_TYPE_VALUES = [
    None,
    True,
    "x",
    "",
    [],
    {},
    [1, "a"],
    {"class_name": 3},
    -7,
    0.5,
    float("nan"),
    "../../etc/passwd",
]
HOSTILE_OBJECTS = [
    {"module": CANARY_MODULE, "class_name": "Evil", "config": {}},
    {"module": "os", "class_name": "system", "config": {"command": "true"}},
    {"module": "builtins", "class_name": "eval", "config": {}},
    {"module": None, "class_name": "Evil", "registered_name": f"{CANARY_MODULE}>Evil"},
    {"module": f"{CANARY_MODULE}.sub", "class_name": "Evil", "config": {}},
    {"module": "keras.layers", "class_name": f"{CANARY_MODULE}.Evil", "config": {}},
    {"class_name": "__lambda__", "config": {"code": "", "defaults": None}},
    {"class_name": "TFSMLayer", "config": {"filepath": "/", "call_endpoint": "x"}},
]
SIZE_KEYS = (
    "units",
    "input_dim",
    "output_dim",
    "filters",
    "kernel_size",
    "num_heads",
    "key_dim",
    "value_dim",
    "batch_shape",
    "axis",
    "rate",
    "pool_size",
    "strides",
)


# ---------------------------------------------------------------- seed files


SEED_SCRIPT = """
import os, sys
import keras
import keras_attnviz

out, canary_code = sys.argv[1], sys.argv[2]
# Seeded: the same files every time, so that a case id names one file.
keras.utils.set_random_seed(0)
ids = keras.Input((None,), dtype="int32")
x = keras.layers.Embedding(30, 8, mask_zero=True)(ids)
x = keras.layers.GRU(6, return_sequences=True)(x)
x = keras_attnviz.AdditiveAttention(name="attention")(x)
recurrent = keras.Model(ids, keras.layers.Dense(2)(x))

ids = keras.Input((7,), dtype="int32")
x = keras.layers.Embedding(30, 8)(ids)
x = keras.layers.Conv1D(4, 3, padding="same")(x)
x = keras.layers.MultiHeadAttention(2, 4, name="heads")(x, x)
x = keras.layers.LayerNormalization()(x)
x = keras.layers.Bidirectional(keras.layers.LSTM(3))(x)
transformer = keras.Model(ids, keras.layers.Dense(1)(x))

sequential = keras.Sequential(
    [keras.Input((5,)), keras.layers.Dense(4), keras.layers.Dropout(0.1),
     keras.layers.Dense(2, activation="softmax")]
)
sequential.compile("adam", "categorical_crossentropy")

# A lambda whose code would import the canary module: refused in safe mode.
lambda_model = keras.Sequential(
    [keras.Input((3,)), keras.layers.Lambda(eval(canary_code)), keras.layers.Dense(1)]
)
for name, model in [("recurrent", recurrent), ("transformer", transformer),
                    ("sequential", sequential), ("lambda", lambda_model)]:
    for extension in (".keras", ".h5"):
        model.save(os.path.join(out, name + extension))
"""


def write_seed_files(folder):
    """Writes the seed models into `folder`; returns their paths."""
    code = f"lambda x: __import__({CANARY_MODULE!r}) and x"
    subprocess.run(
        [sys.executable, "-c", SEED_SCRIPT, folder, code],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if name.endswith((".keras", ".h5"))
    )


# ------------------------------------------------------------------ mutations


def _nodes(value, path=()):
    """Every `(path, value)` in a parsed JSON value, depth first."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _nodes(child, (*path, index))


def _replace(value, path, new):
    if not path:
        return new
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return value


def mutate_json(value, rng):
    """A mutated copy of a parsed config, as text (which may not be JSON)."""
    value = copy.deepcopy(value)
    nodes = list(_nodes(value))
    kind = rng.choice(
        ["wrong_type", "huge", "hostile", "deep", "delete", "size_key", "text"]
    )
    if kind == "size_key":
        found = [(p, v) for p, v in nodes if p and p[-1] in SIZE_KEYS]
        if found:
            path, _ = rng.choice(found)
            value = _replace(value, path, rng.choice(HUGE_VALUES + WRONG_TYPE_VALUES))
            return json.dumps(value)
        kind = "huge"
    path, _ = rng.choice(nodes)
    if kind == "wrong_type":
        value = _replace(value, path, rng.choice(WRONG_TYPE_VALUES))
    elif kind == "huge":
        value = _replace(value, path, rng.choice(HUGE_VALUES))
    elif kind == "hostile":
        found = [p for p, v in nodes if isinstance(v, dict) and "class_name" in v]
        target = rng.choice(found) if found else path
        hostile = copy.deepcopy(rng.choice(HOSTILE_OBJECTS))
        if found and rng.random() < 0.5:
            # Keep the original config, change only the names.
            original = copy.deepcopy(dict(_nodes_at(value, target)))
            original.update({k: v for k, v in hostile.items() if k != "config"})
            hostile = original
        value = _replace(value, target, hostile)
    elif kind == "deep":
        depth = rng.choice([200, 1000, 100_000])
        text = json.dumps(_replace(value, path, "@@DEEP@@"))
        return text.replace('"@@DEEP@@"', "[" * depth + "]" * depth)
    elif kind == "delete" and path:
        parent = _nodes_at(value, path[:-1])
        del parent[path[-1]]
    else:
        text = json.dumps(value)
        cut = rng.randrange(len(text))
        return text[:cut] + rng.choice(["", "\x00", "\ud800", "}", "{", '"'])
    return json.dumps(value)


def _nodes_at(value, path):
    for key in path:
        value = value[key]
    return value


def mutate_bytes(data, rng):
    data = bytearray(data)
    kind = rng.choice(["flip", "truncate", "zero", "random"])
    if kind == "flip":
        for _ in range(rng.choice([1, 2, 8, 64])):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del data[rng.randrange(len(data)) :]
    else:
        start = rng.randrange(len(data))
        length = min(rng.choice([16, 256, 4096]), len(data) - start)
        fill = bytes(length) if kind == "zero" else rng.randbytes(length)
        data[start : start + length] = fill
    return bytes(data)


def _bomb_weights(source_h5, rng):
    """The weights file `source_h5`, one dataset replaced by a declared giant."""
    buffer = io.BytesIO(source_h5)
    with h5py.File(buffer, "r+") as f:
        datasets = []
        f.visititems(
            lambda name, obj: (
                datasets.append(name) if isinstance(obj, h5py.Dataset) else None
            )
        )
        name = rng.choice(datasets or ["model_weights/extra"])
        if name in f:
            del f[name]
        shape = rng.choice([(40000, 25000), (2**20, 2**12), (10**10,), (3, 7)])
        # Chunked, gzip, nothing written: stores almost nothing.
        f.create_dataset(
            name, shape=shape, dtype="float32", chunks=True, compression="gzip"
        )
    return buffer.getvalue()


def _keras_members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write_keras(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def mutate_keras(seed, target, rng):
    members = _keras_members(seed)
    kind = rng.choice(["config", "config", "config", "metadata", "bomb", "bytes"])
    if kind == "config":
        members["config.json"] = mutate_json(
            json.loads(members["config.json"]), rng
        ).encode("utf-8", "surrogatepass")
    elif kind == "metadata":
        metadata = json.loads(members["metadata.json"])
        metadata["keras_version"] = rng.choice(
            [[3, 1], ["3"], 3, None, "1.2", "2.15.0", {"a": 1}, "x" * 10_000]
        )
        members["metadata.json"] = json.dumps(metadata)
    elif kind == "bomb":
        members["model.weights.h5"] = _bomb_weights(members["model.weights.h5"], rng)
    if kind == "bytes":
        _write_keras(target, members)
        with open(target, "rb") as f:
            data = f.read()
        with open(target, "wb") as f:
            f.write(mutate_bytes(data, rng))
    else:
        _write_keras(target, members)
    return kind


def mutate_h5(seed, target, rng):
    with open(seed, "rb") as f:
        data = f.read()
    kind = rng.choice(["config", "config", "attribute", "bomb", "bytes", "bytes"])
    if kind == "bytes":
        data = mutate_bytes(data, rng)
    elif kind == "bomb":
        data = _bomb_weights(data, rng)
    else:
        buffer = io.BytesIO(data)
        with h5py.File(buffer, "r+") as f:
            if kind == "config":
                text = mutate_json(json.loads(f.attrs["model_config"]), rng)
                data = text.encode("utf-8", "surrogatepass")
                # Variable-length strings cannot hold NUL; fixed-length can.
                f.attrs["model_config"] = np.bytes_(data) if b"\0" in data else data
            else:
                _mutate_h5_attribute(f, rng)
        data = buffer.getvalue()
    with open(target, "wb") as f:
        f.write(data)
    return kind


def _mutate_h5_attribute(f, rng):
    groups = [f]
    f.visititems(
        lambda name, obj: groups.append(obj) if isinstance(obj, h5py.Group) else None
    )
    group = rng.choice(groups)
    names = list(group.attrs) or ["keras_version"]
    name = rng.choice(names + ["keras_version", "layer_names"])
    group.attrs[name] = rng.choice(
        [
            np.arange(3),
            np.array([b"a", b"b"]),
            np.array([]),
            7,
            2.5,
            b"\xff\xfe",
            "2.15.0",
            "1.0",
            np.array([b"x" * 100] * 50),
        ]
    )


def make_case(seed_files, folder, index, seed):
    """Writes mutant `index` of `seed_files` into `folder`: `(id, kind, path)`.

    The same `seed` and `index` give the same mutation of the same seed file
    (and the same file for `.h5` seeds, which are written the same each time).
    """
    rng = random.Random(f"{seed}:{index}")
    source = rng.choice(seed_files)
    extension = os.path.splitext(source)[1]
    base = os.path.splitext(os.path.basename(source))[0]
    target = os.path.join(folder, f"case{index:05d}_{base}{extension}")
    mutate = mutate_keras if extension == ".keras" else mutate_h5
    kind = mutate(source, target, rng)
    return index, f"{base}{extension}:{kind}", target


def make_cases(seed_files, folder, count, seed):
    """Writes `count` mutants of `seed_files` into `folder`: `[(id, kind, path)]`."""
    return [make_case(seed_files, folder, index, seed) for index in range(count)]


# -------------------------------------------------------------------- workers


WORKER_SCRIPT = """
import inspect, json, os, resource, sys
import keras
import keras_attnviz

# The backend starts before the limit is measured: JAX's runtime alone takes
# more address space than TensorFlow's.
keras.ops.convert_to_numpy(keras.ops.ones(1) + 1)

limit, budget, canary, paths = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:]
kwargs = {}
if "max_weight_bytes" in inspect.signature(keras_attnviz.load_model).parameters:
    kwargs["max_weight_bytes"] = limit
with open("/proc/self/status") as f:
    size = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + budget, size + budget))
print(json.dumps({"ready": True}), flush=True)
with open(paths) as f:
    paths = f.read().splitlines()
for path in paths:
    result = {}
    try:
        keras_attnviz.load_model(path, **kwargs)
        result["outcome"] = "loaded"
    except MemoryError as error:
        result.update(outcome="memory", type="MemoryError", message=str(error))
    except (ValueError, OSError) as error:
        named = path in str(error)
        result.update(outcome="refused" if named else "unnamed",
                      type=type(error).__name__, message=str(error))
    except BaseException as error:
        result.update(outcome="other_exception", type=type(error).__name__,
                      message=str(error))
    if os.path.exists(canary):
        result["outcome"] = "code_ran"
        os.remove(canary)
    result["message"] = result.get("message", "")[:300]
    print(json.dumps(result), flush=True)
"""


def canary_folder(folder):
    """A folder holding the canary module; importing it creates `canary`."""
    modules = os.path.join(folder, "modules")
    os.makedirs(modules, exist_ok=True)
    canary = os.path.join(folder, "canary")
    source = textwrap.dedent(
        f"""
        open({canary!r}, "w").write("ran")

        class Evil:
            def __init__(self, *args, **kwargs):
                open({canary!r}, "w").write("ran")
        """
    )
    for name in (f"{CANARY_MODULE}.py", os.path.join(CANARY_MODULE, "__init__.py")):
        path = os.path.join(modules, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(source)
    os.remove(os.path.join(modules, f"{CANARY_MODULE}.py"))
    with open(os.path.join(modules, CANARY_MODULE, "sub.py"), "w") as f:
        f.write(source)
    return modules, canary


class _Worker:
    def __init__(self, paths, modules, canary, folder):
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [os.environ.get("PYTHONPATH"), modules])
            ),
        }
        # In a file, not a pipe: a worker blocked on writing its results
        # while the parent writes more paths would never go on.
        with tempfile.NamedTemporaryFile(
            "w", dir=folder, suffix=".txt", delete=False
        ) as f:
            f.write("".join(f"{path}\n" for path in paths))
        args = [str(MAX_WEIGHT_BYTES), str(MEMORY_BUDGET_BYTES), canary, f.name]
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.stdout, self.pending = self.process.stdout.fileno(), b""

    def read(self, timeout):
        """The next JSON line, `"exit"` if the worker ended, None on timeout."""
        # Unbuffered: lines read ahead into a buffer would hide from `select`.
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.stdout], [], [], max(0.0, remaining))
            if not ready:
                return None
            data = os.read(self.stdout, 65536)
            if not data:
                return "exit"
            self.pending += data
        line, self.pending = self.pending.split(b"\n", 1)
        # Anything else a library prints is not a result.
        return json.loads(line) if line.startswith(b"{") else self.read(timeout)

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def run_cases(cases, folder, *, workers=2, timeout=CASE_TIMEOUT_SECONDS):
    """Loads every case in worker processes: `{id: result}`."""
    modules, canary = canary_folder(folder)
    shares = [cases[start::workers] for start in range(workers)]
    results = {}
    running = [_Run(share, modules, canary, timeout) for share in shares if share]
    while running:
        for run in list(running):
            if not run.step(results):
                running.remove(run)
    return results


class _Run:
    """One worker's share of the cases, restarted after a case that kills it."""

    def __init__(self, cases, modules, canary, timeout):
        self.cases, self.modules, self.canary = list(cases), modules, canary
        self.timeout, self.worker, self.deadline = timeout, None, None

    def step(self, results):
        if not self.cases:
            return False
        if self.worker is None:
            self.worker = _Worker(
                [p for _, _, p in self.cases],
                self.modules,
                self.canary,
                os.path.dirname(self.modules),
            )
            message = self.worker.read(120)
            if not (isinstance(message, dict) and message.get("ready")):
                raise RuntimeError("A fuzz worker did not start.")
            self.deadline = time.monotonic() + self.timeout
        message = self.worker.read(min(0.2, max(0.0, self.deadline - time.monotonic())))
        index, kind, path = self.cases[0]
        if message is None and time.monotonic() < self.deadline:
            return True
        if isinstance(message, dict):
            result = message
        elif message is None:
            result = {"outcome": "timeout", "message": f"over {self.timeout:.0f} s"}
        else:
            code = self.worker.process.wait()
            result = {"outcome": "crash", "message": f"worker exit code {code}"}
        if not isinstance(message, dict):
            self.worker.stop()
            self.worker = None
        results[index] = {"kind": kind, "path": path, **result}
        self.cases.pop(0)
        self.deadline = time.monotonic() + self.timeout
        if os.path.exists(self.canary):
            results[index]["outcome"] = "code_ran"
            os.remove(self.canary)
        return bool(self.cases) or self._close()

    def _close(self):
        if self.worker is not None:
            self.worker.stop()
        return False


def fuzz(count, seed, folder, *, workers=2, only=None):
    """Writes seeds and `count` mutants into `folder` and loads them: results.

    With `only` (case ids), writes and loads those mutants instead, whatever
    `count` is.
    """
    seeds = os.path.join(folder, "seeds")
    os.makedirs(seeds, exist_ok=True)
    cases_folder = os.path.join(folder, "cases")
    os.makedirs(cases_folder, exist_ok=True)
    seed_files = write_seed_files(seeds)
    if only is None:
        cases = make_cases(seed_files, cases_folder, count, seed)
    else:
        cases = [make_case(seed_files, cases_folder, i, seed) for i in sorted(only)]
    return run_cases(cases, folder, workers=workers)


def summary(results):
    """Counts per outcome, and per outcome the exception types seen."""
    counts = collections.Counter(result["outcome"] for result in results.values())
    types = collections.defaultdict(collections.Counter)
    for result in results.values():
        types[result["outcome"]][result.get("type", "")] += 1
    return dict(counts), {outcome: dict(counter) for outcome, counter in types.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--show", type=int, default=3)
    parser.add_argument("--only", type=int, nargs="*")
    parser.add_argument("--keep", help="folder for the files (default: a temp one)")
    parser.add_argument("--json", help="write every result to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or temporary
        start = time.monotonic()
        results = fuzz(
            args.cases, args.seed, folder, workers=args.workers, only=args.only
        )
        elapsed = time.monotonic() - start
        counts, types = summary(results)
        print(f"{len(results)} cases in {elapsed:.0f} s: {counts}")
        for outcome, counter in types.items():
            print(f"  {outcome}: {counter}")
        for outcome in counts:
            if outcome in GOOD_OUTCOMES:
                continue
            shown = [
                (i, r) for i, r in sorted(results.items()) if r["outcome"] == outcome
            ]
            for index, result in shown[: args.show]:
                print(
                    f"[{outcome}] case {index} {result['kind']}: "
                    f"{result.get('type', '')}: {result['message'][:200]}"
                )
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    return 0 if set(counts) <= set(GOOD_OUTCOMES) else 1


if __name__ == "__main__":
    sys.exit(main())
