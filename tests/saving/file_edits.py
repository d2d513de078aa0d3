"""Copies of saved model files with their configs edited, as old or hostile files."""

import json
import shutil
import zipfile

import h5py


def rewrite_h5(source, target, edit=None, *, attribute="model_config", version=None):
    """Copies the `.h5` file `source` to `target` and edits the copy.

    Args:
        source: the file to copy.
        target: where the copy goes.
        edit: optional function from the parsed JSON of the attribute
            `attribute` to what the copy holds instead.
        attribute: the JSON attribute `edit` rewrites.
        version: optional `keras_version` the copy claims to be written by.
    """
    shutil.copy(source, target)
    with h5py.File(target, "r+") as f:
        if edit is not None:
            f.attrs[attribute] = json.dumps(edit(json.loads(f.attrs[attribute])))
        if version is not None:
            f.attrs["keras_version"] = version


def copy_archive(source, target, *, edit=None, without=None):
    """Copies the `.keras` archive `source` to `target`, changed on the way.

    Args:
        source: the archive to copy.
        target: where the copy goes.
        edit: optional function from the parsed `config.json` to what the
            copy holds instead.
        without: optional name of an entry the copy leaves out.
    """
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as copy:
        for entry in archive.infolist():
            if entry.filename == without:
                continue
            data = archive.read(entry)
            if edit is not None and entry.filename == "config.json":
                data = json.dumps(edit(json.loads(data)))
            copy.writestr(entry, data)
