"""Reading the small text files users name: regular files only, capped, UTF-8.

A path may name a FIFO (whose reader waits for a writer forever), a device
(`/dev/zero` never ends) or a folder. These are refused from `os.stat`, before
anything opens them; the file is then opened without blocking and checked
again, so a path swapped in between cannot block either. Reading stops one byte
past the cap, so a file that grows meanwhile costs no more memory than that.
"""

import os
import stat

# What `os.stat` says a path is, for the files that are not regular.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_file_kind(path):
    """What `path` is if it exists but is not a regular file, else `None`.

    Follows symbolic links, as opening the path would. Never opens it.

    Args:
        path: str or `os.PathLike`.

    Returns:
        `"a folder"`, `"a FIFO"`, `"a character device"`, `"a block device"`,
        `"a socket"`, or `None` for a regular file or a missing path.

    Example:

    ```python
    >>> from keras_attnviz.text_files import special_file_kind
    >>> special_file_kind("/dev/null"), special_file_kind("no-such-file")
    ('a character device', None)
    ```
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return None
    return _kind(mode)


def _kind(mode):
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) else "not a regular file"


def check_regular_file(path, name, *, max_bytes=None):
    """Refuses `path` unless it is an existing regular file, small enough.

    Never opens the file.

    Args:
        path: str or `os.PathLike`.
        name: what the caller calls the file in messages (`"--texts"`,
            ``"`path`"``).
        max_bytes: the largest size accepted, or `None` for any.

    Returns:
        The size of the file in bytes.

    Raises:
        FileNotFoundError: if nothing is at `path`.
        OSError: if `os.stat` fails otherwise (permissions).
        ValueError: if `path` is a folder, FIFO, device or socket, or larger
            than `max_bytes`.

    Example:

    ```python
    from keras_attnviz.text_files import check_regular_file

    try:
        check_regular_file("/dev/zero", "--texts")
    except ValueError as error:
        print(error)  # --texts must be an existing file. Received: '/dev/zero'
                      # (a character device)
    ```
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{name} must be an existing file. Received: {os.fspath(path)!r} "
            "(no such file)"
        ) from None
    except OSError as error:
        raise OSError(
            f"{name} must be a readable file. Received: {os.fspath(path)!r} "
            f"({error.strerror})"
        ) from None
    return _checked_size(info, path, name, max_bytes)


def _checked_size(info, path, name, max_bytes):
    kind = _kind(info.st_mode)
    if kind is not None:
        raise ValueError(
            f"{name} must be an existing file. Received: {os.fspath(path)!r} ({kind})"
        )
    if max_bytes is not None and info.st_size > max_bytes:
        raise ValueError(
            f"{name} must be at most {_size(max_bytes)}. Received: "
            f"{os.fspath(path)!r} of {_size(info.st_size)}"
        )
    return info.st_size


def _size(n_bytes):
    if n_bytes >= 2**20 and n_bytes % 2**20 == 0:
        return f"{n_bytes // 2**20} MiB"
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.1f} MiB ({n_bytes:,} bytes)"
    return f"{n_bytes:,} bytes"


def read_text_file(path, name, *, max_bytes):
    """The text of a regular UTF-8 file of at most `max_bytes`, never blocking.

    Args:
        path: str or `os.PathLike`.
        name: what the caller calls the file in messages.
        max_bytes: the largest size accepted.

    Returns:
        The decoded text (a `str`), a leading byte-order mark removed.

    Raises:
        FileNotFoundError: if nothing is at `path`.
        OSError: if the file cannot be opened or read.
        ValueError: if `path` is not a regular file, is larger than
            `max_bytes`, or is not UTF-8 (the message gives the offset and
            line of the first invalid byte).

    Example:

    ```python
    from keras_attnviz.text_files import read_text_file

    with open("texts.txt", "w", encoding="utf-8") as file:
        file.write("a superb day\\n")
    assert read_text_file("texts.txt", "--texts", max_bytes=1024) == "a superb day\\n"
    ```
    """
    check_regular_file(path, name, max_bytes=max_bytes)
    try:
        # O_NONBLOCK: had a FIFO replaced the file since, opening it would wait.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise OSError(
            f"{name} must be a readable file. Received: {os.fspath(path)!r} "
            f"({error.strerror})"
        ) from None
    with os.fdopen(descriptor, "rb") as file:
        _checked_size(os.fstat(descriptor), path, name, max_bytes)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew since
        raise ValueError(
            f"{name} must be at most {_size(max_bytes)}. Received: "
            f"{os.fspath(path)!r}, larger"
        )
    return _decode(data, path, name)


def _decode(data, path, name):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # The decoder counts from after a byte-order mark.
        offset = error.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, offset) + 1
        raise ValueError(
            f"{name} must be UTF-8 text. Received: {os.fspath(path)!r}, whose "
            f"byte at offset {offset} (line {line}) is "
            f"0x{data[offset]:02x}, {error.reason}"
        ) from None
