"""File operations on a pipeline root that may be a `tf.io.gfile` URI (`gs://`, `file://`, ...).

The components read and write their artefacts through local file APIs (h5py, Keras, PIL, plain
`open`), so a URI root is never handed to them: `staging` keeps a local mirror and moves whole
folders between it and the URI with the functions here. These are the only places the DAG
layer touches `tf.io.gfile`, and TensorFlow is imported only when a URI is actually used, so a
local run (and the Ray driver) pays nothing for it.

What is atomic where: object stores write one object whole at close, but "renaming" a folder
is a copy of every object (and on TF's `ram://` a folder rename loses the files), so nothing
here renames folders. A folder counts as finished because of a marker file written after all
its other files (`upload_tree(..., last=...)`), and a single small file is replaced by writing
a temporary object beside it and renaming that one object.
"""

from __future__ import annotations

import os
import posixpath
import uuid

from poison_tf.errors import UserInputError


def is_uri(path: str) -> bool:
    """Whether `path` is a `scheme://` URI rather than a local path."""
    return "://" in str(path)


def require_local_output_dir(output_dir: str, program: str, uri_works: str) -> None:
    """Checks `--output_dir` of a program that writes only local (or mounted) folders.

    Only `poison-tf-pipeline` stages a run through a local mirror to a URI; the other programs
    refuse a URI up front and say where one works, rather than fail deep inside a run.

    Args:
        output_dir: the flag's value.
        program: who writes, for the message ("poison-tf-demo").
        uri_works: where a URI does work instead, for the message ("per study").

    Raises:
        UserInputError: no `--output_dir`, or a URI.
    """
    if not output_dir:
        raise UserInputError("--output_dir is required")
    if is_uri(output_dir):
        raise UserInputError(
            f"--output_dir={output_dir}: {program} writes a local (or mounted) folder; a URI "
            f"works {uri_works} (poison-tf-pipeline --output_dir=<URI>)"
        )


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def check_uri(uri: str, flag: str = "--output_dir") -> None:
    """Checks that `tf.io.gfile` can reach `uri` and that it is (or can become) a folder.

    Reads only: a bad URI leaves nothing behind.

    Args:
        uri: a `scheme://...` URI.
        flag: the flag it came from, named in the error.

    Raises:
        UserInputError: a scheme no file system is registered for, storage that cannot be
            reached (credentials, network), or a file where the folder should be.
    """
    import tensorflow as tf

    scheme = uri.split("://", 1)[0]
    try:
        exists = tf.io.gfile.exists(uri)
        is_folder = exists and tf.io.gfile.isdir(uri)
    except tf.errors.UnimplementedError:
        schemes = ", ".join(f"{s}://" for s in _registered_schemes() if s)
        raise UserInputError(
            f"{flag}={uri}: no file system is registered for {scheme}:// in TensorFlow "
            f"(registered: {schemes}); use a local path, or install the plug-in for it"
        ) from None
    except tf.errors.OpError as error:
        first = str(error.message).splitlines()[0] if error.message else type(error).__name__
        raise UserInputError(f"{flag}={uri}: cannot reach it ({first})") from None
    if exists and not is_folder:
        raise UserInputError(f"{flag}={uri}: exists and is not a folder")


def _registered_schemes() -> list[str]:
    getter = getattr(_gfile(), "get_registered_schemes", None)
    return sorted(getter()) if getter else []


def exists(uri: str) -> bool:
    """Whether the file or folder `uri` exists."""
    return _gfile().exists(uri)


def read_text(uri: str) -> str | None:
    """The contents of the file `uri`, or None when it does not exist."""
    gfile = _gfile()
    if not gfile.exists(uri):
        return None
    with gfile.GFile(uri, "r") as handle:
        return handle.read()


def write_text(uri: str, text: str) -> None:
    """Replaces the file `uri` with `text`: written beside it under a temporary name, then
    that one file is renamed over it, so a reader never sees half of it."""
    gfile = _gfile()
    gfile.makedirs(posixpath.dirname(uri))
    tmp = f"{uri}.tmp-{uuid.uuid4().hex[:8]}"
    with gfile.GFile(tmp, "w") as handle:
        handle.write(text)
    gfile.rename(tmp, uri, overwrite=True)


def remove_tree(uri: str) -> None:
    """Deletes the folder `uri` and everything under it (nothing when it does not exist)."""
    gfile = _gfile()
    if gfile.exists(uri):
        gfile.rmtree(uri)


def put_file(local: str, uri: str) -> None:
    """Copies the local file `local` to the object `uri` (written whole at close); an existing
    `uri` is removed first (a `ram://` write over a longer file does not truncate it)."""
    gfile = _gfile()
    gfile.makedirs(posixpath.dirname(uri))
    if gfile.exists(uri):
        gfile.remove(uri)
    gfile.copy(local, uri)


def get_file(uri: str, local: str) -> None:
    """Copies the object `uri` to the local path `local` (its folder must exist)."""
    _gfile().copy(uri, local, overwrite=True)


def remove_file(uri: str) -> None:
    """Deletes the file `uri` (nothing when it does not exist)."""
    gfile = _gfile()
    if gfile.exists(uri):
        gfile.remove(uri)


def _files_under(root: str) -> list[str]:
    """Paths (relative, `/`-separated) of every file under the URI folder `root`."""
    found = []
    for folder, _, files in _gfile().walk(root):
        relative = folder[len(root) :].strip("/")
        found += [posixpath.join(relative, name) if relative else name for name in files]
    return sorted(found)


def download_tree(uri: str, local: str, replace: bool = False) -> None:
    """Copies the folder `uri` to the local folder `local`, atomically (`download_files`).

    Args:
        uri: a finished folder at the URI.
        local: the local path it should appear at.
        replace: an existing `local` (an outdated copy) is moved aside and replaced.

    Raises:
        FileNotFoundError: `uri` does not exist.
    """
    if not _gfile().isdir(uri):
        raise FileNotFoundError(f"{uri}: no such folder to download")
    files = {relative: posixpath.join(uri, relative) for relative in _files_under(uri)}
    download_files(files, local, replace)


def download_files(files: dict[str, str], local: str, replace: bool = False) -> None:
    """Makes the local folder `local` hold `files` (relative `/`-separated path → the URI of
    its bytes), atomically.

    The copy is assembled in a temporary folder beside `local` and renamed into place (one
    local rename), so `local` existing means it is complete; when another process on this node
    finished the same download first, its copy is kept and ours dropped.

    Args:
        files: what `local` should hold, and where each file's bytes are.
        local: the local path it should appear at.
        replace: an existing `local` (an outdated copy) is moved aside and replaced.
    """
    import shutil
    import tempfile

    parent = os.path.dirname(os.path.abspath(local))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(local)}.down-", dir=parent)
    try:
        for relative, source in files.items():
            target = os.path.join(tmp, *relative.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            get_file(source, target)
        old = f"{tmp}.old"
        if replace and os.path.isdir(local):
            os.rename(local, old)
        try:
            os.rename(tmp, local)
        except OSError:  # another process on this node put a complete copy there first
            if not os.path.isdir(local):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(f"{tmp}.old", ignore_errors=True)


def upload_tree(local: str, uri: str, last: str | None = None) -> None:
    """Copies the local folder `local` to the URI folder `uri`, `last` after everything else.

    Whatever stood at `uri` before is deleted first (a cut upload's leftovers), then every file
    is copied, and the file named `last` (relative to `local`) goes last: a reader that takes
    `last` as "finished" never sees a half upload as finished.

    Args:
        local: a local folder.
        uri: where it goes.
        last: the marker file, relative to `local` (None: no order).
    """
    gfile = _gfile()
    remove_tree(uri)
    relatives = []
    for folder, _, files in os.walk(local):
        relatives += [os.path.relpath(os.path.join(folder, name), local) for name in files]
    relatives.sort(key=lambda r: (r == last, r))
    for relative in relatives:
        target = posixpath.join(uri, *relative.split(os.sep))
        gfile.makedirs(posixpath.dirname(target))
        gfile.copy(os.path.join(local, relative), target, overwrite=True)
