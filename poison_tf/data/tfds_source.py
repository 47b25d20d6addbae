"""`tfds:<name>` classification sources: a tensorflow_datasets image set the user already has.

Nothing is downloaded (`download=False`): a data set missing from the tfds data dir
(`TFDS_DATA_DIR`, default ~/tensorflow_datasets) is a user error naming it, as is a set without
both an image and a label feature. Returns the same shape as `classification_sources.load_npz`.
"""

from __future__ import annotations

import numpy as np

from poison_tf.errors import UserInputError


def load_tfds(name: str) -> tuple[tuple, tuple | None, list[str]]:
    """((train x uint8, y), (test x, y) or None, class names) of a prepared tfds data set."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise UserInputError(
            f"--source=tfds:{name}: tensorflow_datasets is not installed"
        ) from None
    try:
        builder = tfds.builder(name)
        splits = builder.info.splits
        data = tfds.load(name, split=None, batch_size=-1, as_supervised=True, download=False)
    except Exception as error:  # tfds raises many types for a missing or unknown set
        raise UserInputError(
            f"--source=tfds:{name}: not available offline ({type(error).__name__}: {error})"
        ) from None
    label = builder.info.features["label"] if "label" in builder.info.features else None
    names = list(label.names) if label is not None and hasattr(label, "names") else []
    train = tuple(np.asarray(t) for t in data["train"])
    test = tuple(np.asarray(t) for t in data["test"]) if "test" in splits else None
    if not names:
        names = [str(i) for i in range(int(train[1].max()) + 1)]
    return train, test, names
