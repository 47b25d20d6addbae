"""Atomic files and directories: a crash never leaves a half-written artefact in place.

Outputs are written beside their destination under a temporary name and renamed when
complete (rename is atomic on one file system), which is what "no partial artefact" means.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator

from poison_tf.io.safe_read import check_output_dir, check_output_path


def _make_parent(path: str, what: str) -> str:
    """Creates `path`'s folder; a file in the way is the user's mistake, said in one line."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        check_output_path(path, what)  # names the file that is in the way
        raise
    return parent


@contextlib.contextmanager
def atomic_dir(path: str) -> Iterator[str]:
    """Yields a temporary directory that replaces `path` only if the block succeeds."""
    if os.path.lexists(path) and not os.path.isdir(path):
        check_output_dir(path)
    parent = _make_parent(path, "output folder")
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
    """Yields the path of a temporary file that replaces `path` only if the block succeeds.

    For writers that open the file themselves by name (h5py, Keras, PIL).

    Args:
        path: the destination file.
        suffix: the temporary name's ending, for writers that choose the format by it
            (".keras", ".png").

    Yields:
        An empty file's path beside `path`.

    Raises:
        UserInputError: `path` is a folder, or a file stands where its folder should be.
    """
    if os.path.isdir(path):
        check_output_path(path)
    parent = _make_parent(path, "output")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", suffix=suffix, dir=parent)
    os.close(fd)
    try:
        yield tmp
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path: str, mode: str = "w") -> Iterator:
    """Yields an open temporary file that replaces `path` only if the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        yield handle


def write_json(path: str, payload: object) -> None:
    """Writes `payload` as indented, key-sorted JSON, atomically."""
    with atomic_file(path) as handle:
        json.dump(payload, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")


def read_json(path: str) -> object:
    with open(path) as handle:
        return json.load(handle)


def save_figure(fig, path: str, fmt: str = "png", **kwargs) -> None:
    """Writes a matplotlib figure to `path` atomically, then closes it (frees its memory).

    Args:
        fig: the figure.
        path: the image file.
        fmt: the format `savefig` writes ("png", "pdf").
        **kwargs: further `savefig` arguments (dpi, bbox_inches).
    """
    import matplotlib.pyplot as plt

    with atomic_file(path, "wb") as handle:
        fig.savefig(handle, format=fmt, **kwargs)
    plt.close(fig)
