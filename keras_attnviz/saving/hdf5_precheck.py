"""Reading an untrusted HDF5 file first in a short-lived subprocess.

A damaged or hostile HDF5 file can make the HDF5 C library hang or crash
(SIGSEGV) inside a read that holds the GIL: no Python code of the process
that reads it can interrupt it. So before `load_model` reads an HDF5 file
with h5py (a `.h5` model, or the `model.weights.h5` member of a `.keras`
archive), `check_readable` reads it in a child process that imports only
h5py and numpy, under a time and an address-space limit, doing the reads
that the loader and Keras's `load_weights` will do:

- open the file (a `.keras` member straight from its zip archive, as Keras
  reads it);
- walk every group reachable through hard links, read every object's
  attributes, look up every link by its name and resolve every soft link;
- read every dataset's metadata, and its data: whole when it is at most
  `BLOCK_BYTES`, as Keras reads it, else chunk by chunk (every allocated
  chunk) or block by block (contiguous data, if any is stored), so the
  child's memory stays bounded; what is not stored holds the fill value,
  for which HDF5 reads nothing of the file.

A read that fails with a Python exception is recorded and the walk goes on;
such a file is left to the loader, which reports the same failure with its
own message. What this module refuses, with a `ValueError` naming the file:

- a read that does not finish within `time_limit(size)` seconds
  (`BASE_TIME_LIMIT_SECONDS` plus one second per `BYTES_PER_SECOND` of the
  file): the child is killed;
- a child that crashes (ends by a signal, as SIGSEGV or SIGABRT);
- a file that refers to other files (an external or user-defined link, a
  virtual dataset, a dataset stored in external files): reading it would
  open them, and no model file does.

The child's address space is limited to `MEMORY_LIMIT_BYTES` beyond its
start-up size (`resource.RLIMIT_AS`): an allocation beyond it fails in the
child, whatever the file declares.
"""

import json
import os
import signal
import subprocess
import sys

BASE_TIME_LIMIT_SECONDS = 10.0
BYTES_PER_SECOND = 10 * 2**20
MEMORY_LIMIT_BYTES = 2**30
BLOCK_BYTES = 64 * 2**20
# Errors the child reports in full; beyond, it only counts them.
_MAX_REPORTED_ERRORS = 20
_MAX_ERROR_CHARS = 500


def time_limit(size):
    """The seconds the child may take to read an HDF5 file of `size` bytes.

    Example:

    ```python
    from keras_attnviz.saving.hdf5_precheck import time_limit

    print(time_limit(100 * 2**20))  # 20.0 (a 100 MiB file)
    ```
    """
    return BASE_TIME_LIMIT_SECONDS + size / BYTES_PER_SECOND


def check_readable(path, member=None, size=None):
    """Reads the HDF5 file at `path` in a subprocess; refuses it if that fails.

    Args:
        path: the file: an HDF5 file, or a zip archive holding one.
        member: the name of the HDF5 file inside the zip archive `path`, or
            None if `path` is the HDF5 file.
        size: the bytes the HDF5 file takes, for the time limit (a member's
            uncompressed size); defaults to the size of `path`.

    Returns:
        The errors the child's reads raised (`"<where>: <type>: <message>"`),
        which the loader will meet again: an empty list for a sound file.

    Raises:
        ValueError: if the read hangs (beyond `time_limit(size)`), crashes,
            or would open other files. The message names the file.
        RuntimeError: if the child could not run at all (not the file's
            fault: e.g. h5py does not import).
    """
    if size is None:
        size = os.path.getsize(path)
    what = f"{path!r}" if member is None else f"the `{member}` in {path!r}"
    limit = time_limit(size)
    command = [sys.executable, "-c", _CHILD_COMMAND, __file__, path, member or ""]
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=limit,
            env={**os.environ, **_CHILD_ENVIRONMENT},
        )
    except subprocess.TimeoutExpired as e:
        raise ValueError(
            f"The HDF5 library could not read {what}: the read hung for {limit:.0f} "
            "s (the limit for a file of this size), so the file is corrupt or "
            "hostile. It was read in a separate process, which was stopped. "
            "For a trusted file that is merely slow to read, pass "
            "`hdf5_precheck=False` to `load_model`."
        ) from e
    if result.returncode < 0:
        number = -result.returncode
        raise ValueError(
            f"The HDF5 library could not read {what}: it crashed with signal "
            f"{_signal_name(number)}, so the file is corrupt or hostile. It was "
            "read in a separate process, which alone crashed."
        ) from subprocess.CalledProcessError(
            result.returncode, command[:1], stderr=_tail(result.stderr)
        )
    report = _report(result.stdout)
    if result.returncode or report is None:
        raise RuntimeError(
            f"Could not check {what} in a separate process: it exited with code "
            f"{result.returncode}. Received: {_tail(result.stderr)}"
        )
    if report["other_files"]:
        raise ValueError(
            f"The HDF5 file {what} refers to other files, which a model file "
            "never does, and reading it would open them. Received: "
            f"{'; '.join(report['other_files'][:5])}"
        )
    return report["errors"]


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _tail(data, limit=2000):
    return data.decode("utf-8", "replace")[-limit:].strip()


def _report(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith(b"{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


# ----------------------------------------------------------------- the child

# A crash prints the child's Python stack (to the chained error's stderr);
# numpy starts no BLAS threads, which take a third of its start-up, for
# nothing: the child multiplies no matrices.
_CHILD_ENVIRONMENT = {
    "PYTHONFAULTHANDLER": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
# Runs this file as `__main__` in the child without importing the package
# (which imports Keras); the empty entry `-c` puts first on `sys.path` (the
# working directory) goes, so no file there can stand in for h5py.
_CHILD_COMMAND = (
    "import runpy, sys; del sys.path[0]; "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)


def _child_main(path, member):
    import resource

    import h5py
    import numpy  # noqa: F401  (h5py's arrays; imported before the limit)

    with open("/proc/self/status") as f:
        size = next(int(line.split()[1]) * 1024 for line in f if "VmSize:" in line)
    limit = size + MEMORY_LIMIT_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    reader = _Reader(h5py)
    reader.attempt("/", "open", lambda: reader.read_file(path, member))
    print(json.dumps({"errors": reader.errors, "other_files": reader.other_files}))


class _Reader:
    """The child's reads of one file; errors are recorded, not raised."""

    def __init__(self, h5py):
        self.h5py, self.errors, self.other_files = h5py, [], []
        self.error_count = 0

    def attempt(self, where, what, read):
        try:
            return read()
        except Exception as e:  # any failure of h5py on a damaged file
            self.error_count += 1
            if len(self.errors) < _MAX_REPORTED_ERRORS:
                message = f"{where}: {what}: {type(e).__name__}: {e}"
                self.errors.append(message[:_MAX_ERROR_CHARS])
            return None

    def read_file(self, path, member):
        if member:
            import zipfile

            with zipfile.ZipFile(path) as archive, archive.open(member) as file:
                self.read_root(file)
        else:
            self.read_root(path)

    def read_root(self, file):
        with self.h5py.File(file, "r") as f:
            soft_links = self.walk(f)
            if not self.other_files:
                # Only now: a soft link's path could lead through another file.
                for where in soft_links:
                    self.attempt(where, "resolve soft link", lambda w=where: f[w])

    def walk(self, root):
        """Reads every object reachable through hard links: the soft links."""
        h5py = self.h5py
        seen, soft_links = set(), []
        stack = [("/", root)]
        while stack:
            where, obj = stack.pop()
            key = self.attempt(where, "object info", lambda o=obj: _address(h5py, o))
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            self.read_attributes(where, obj)
            if isinstance(obj, h5py.Dataset):
                self.read_dataset(where, obj)
            if not isinstance(obj, h5py.Group):
                continue
            names = self.attempt(where, "list links", lambda g=obj: list(g)) or []
            for name in names:
                child = f"{where.rstrip('/')}/{name}"
                link = self.attempt(
                    child, "link", lambda g=obj, n=name: g.get(n, getlink=True)
                )
                if isinstance(link, h5py.HardLink):
                    found = self.attempt(child, "open", lambda g=obj, n=name: g[n])
                    if found is not None:
                        stack.append((child, found))
                elif isinstance(link, h5py.SoftLink):
                    soft_links.append(child)
                elif link is not None:
                    self.other_files.append(f"{type(link).__name__} at `{child}`")
        return soft_links

    def read_attributes(self, where, obj):
        names = self.attempt(where, "list attributes", lambda: list(obj.attrs)) or []
        for name in names:
            self.attempt(where, f"attribute {name!r}", lambda n=name: obj.attrs[n])

    def read_dataset(self, where, dataset):
        def layout():
            if dataset.is_virtual:
                self.other_files.append(f"virtual dataset `{where}`")
            elif dataset.external:
                self.other_files.append(f"dataset `{where}` stored in other files")
            else:
                return dataset.shape, dataset.dtype, dataset.chunks
            return None

        found = self.attempt(where, "dataset metadata", layout)
        if found is None:
            return
        shape, dtype, chunks = found
        nbytes = dtype.itemsize
        for n in shape or ():
            nbytes *= n
        if nbytes <= BLOCK_BYTES or not shape:
            self.attempt(where, "read", lambda: dataset[()])
        elif chunks:
            self.attempt(where, "read chunks", lambda: self.read_chunks(dataset))
        elif self.attempt(where, "storage size", dataset.id.get_storage_size):
            # Contiguous data never written holds the fill value: HDF5 reads
            # nothing of the file for it.
            self.attempt(where, "read blocks", lambda: self.read_blocks(dataset))

    def read_chunks(self, dataset):
        chunks = dataset.chunks
        for index in range(dataset.id.get_num_chunks()):
            offset = dataset.id.get_chunk_info(index).chunk_offset
            dataset[
                tuple(
                    slice(start, start + n)
                    for start, n in zip(offset, chunks, strict=True)
                )
            ]

    def read_blocks(self, dataset):
        row_bytes = max(1, dataset.dtype.itemsize)
        for n in dataset.shape[1:]:
            row_bytes *= n
        rows = max(1, BLOCK_BYTES // max(1, row_bytes))
        for start in range(0, dataset.shape[0], rows):
            dataset[start : start + rows]


def _address(h5py, obj):
    """Where the object is in its file: the same for every hard link to it."""
    return h5py.h5o.get_info(obj.id).addr


if __name__ == "__main__":
    _child_main(sys.argv[2], sys.argv[3])
