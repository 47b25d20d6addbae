"""Cache keys: the fingerprint of (component version, input fingerprints, parameters).

Parameters that name files or folders (`ExecutionParameter(is_path=True)`) are stamped with the
size and modification time of every file under them, so editing a data set invalidates the
cache without hashing gigabytes. A parameter whose value is a data-source string rather than a
path (`yolo:<data.yaml>`, `hackml:val=<h5>,test=<h5>`) carries its own `stamp_files` function,
written beside the source's parser: this module knows no data format.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from poison_tf.dag.spec import ExecutionParameter


def path_stamp(path: str) -> list:
    """(relative path, size, mtime_ns) of every file under `path`, or of `path` itself.

    Args:
        path: a file or folder; a missing one is stamped as missing (not an error: the
            executor names it when it runs).

    Returns:
        A JSON-serialisable list that changes when any file under `path` changes.
    """
    if not path or not os.path.exists(path):
        return [path, "missing"]
    if os.path.isfile(path):
        stat = os.stat(path)
        return [os.path.basename(path), stat.st_size, stat.st_mtime_ns]
    stamp = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            stat = os.stat(full)
            stamp.append([os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns])
    return stamp


def parameter_stamp(value: str, parameter: ExecutionParameter) -> list:
    """The stamp of one `is_path` parameter value.

    Args:
        value: the parameter's value (a path, or a source string the parameter knows).
        parameter: its spec; `stamp_files` (when set) lists the files behind `value`.

    Returns:
        `path_stamp(value)` for a plain path, else `[[file, path_stamp(file)], ...]`.
    """
    if parameter.stamp_files is None:
        return path_stamp(value)
    return [[path, path_stamp(path)] for path in parameter.stamp_files(value)]


def fingerprint(payload: Any) -> str:
    """A stable sha256 hex digest of a JSON-serialisable payload."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
