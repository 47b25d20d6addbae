"""The SHA-256 of a file, read in 1 MiB blocks: what import records and cache keys name weights by.

Kept free of Keras and TensorFlow so that the checkpoint reader (a pickle walk) stays light.
"""

from __future__ import annotations

import hashlib


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file, so a metadata record names exactly which weights were imported.

    Args:
        path: the file to hash.

    Returns:
        The 64-character hex digest of the file's bytes.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
