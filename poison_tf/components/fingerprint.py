"""Cache keys: the fingerprint of (component version, input fingerprints, parameters).

Parameters that name files or folders (`ExecutionParameter(is_path=True)`) are stamped with the
size and modification time of every file under them, so editing a data set invalidates the
cache without hashing gigabytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any


def path_stamp(path: str) -> list:
    """(relative path, size, mtime_ns) of every file under `path`, or of `path` itself.

    A `format:path` value (e.g. `csv:poses.csv`) is stamped by its path part; a `yolo:` data.yaml
    by its whole folder (labels and images change, the yaml rarely does); a list of paths
    (`coco:<json>:<dir>,<json>:<dir>`, `hackml:val=<h5>,test=<h5>`) by each of its paths.
    """
    if path and not os.path.exists(path) and ":" in path:
        kind, _, path = path.partition(":")
        if kind == "yolo" and os.path.isfile(path):
            return path_stamp(os.path.dirname(os.path.abspath(path)))
        if not os.path.exists(path) and ("," in path or ":" in path or "=" in path):
            parts = [p.rpartition("=")[2] for p in re.split(r"[,:]", path) if p]
            return [[part, path_stamp(part)] for part in parts]
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


def fingerprint(payload: Any) -> str:
    """A stable sha256 hex digest of a JSON-serialisable payload."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
