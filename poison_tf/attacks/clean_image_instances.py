"""The per-instance table of a split, read from the seg TFRecords that training reads.

A relabel plan must name the instance ids the training pipeline sees. ExampleGen numbers them
itself (images it cannot decode take no ids; instances beyond `max_instances` are not stored),
so the exact table comes from the records, not from the label files. Only the small label
features are parsed (no PNG decoding), so a 100k-image split is read in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np
import tensorflow as tf

from poison_tf.errors import UserInputError
from poison_tf.poison.relabel_plan import InstanceTable

_KEYS = ("classes", "instance_ids", "lines", "stem")


def table_from_examples(examples: Iterable[Mapping[str, object]]) -> InstanceTable:
    """From parsed examples (numpy values: classes [n], instance_ids [n], lines [n], stem).

    Args:
        examples: parsed seg examples with numpy values.

    Returns:
        The instances of all examples, in order.
    """
    ids, classes, stems, lines = [], [], [], []
    for example in examples:
        stem = example["stem"]
        stem = stem.decode() if isinstance(stem, bytes) else str(stem)
        count = len(np.asarray(example["classes"]).reshape(-1))
        ids.append(np.asarray(example["instance_ids"], np.int64).reshape(-1))
        classes.append(np.asarray(example["classes"], np.int64).reshape(-1))
        lines.append(np.asarray(example["lines"], np.int64).reshape(-1))
        stems.extend([stem] * count)
    if not ids:
        return InstanceTable(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, str), np.zeros(0, np.int64)
        )
    return InstanceTable(
        np.concatenate(ids), np.concatenate(classes), np.asarray(stems, str), np.concatenate(lines)
    )


def table_from_records(folder: str, split: str) -> InstanceTable:
    """The instance table of `split` in an ExampleGen seg artefact `folder`.

    Args:
        folder: an ExampleGen seg artefact.
        split: "train" or "val".

    Returns:
        The split's instance table.

    Raises:
        UserInputError: the artefact has no such split.
    """
    from poison_tf.data import seg_examples

    schema = seg_examples.read_seg_schema(folder)
    if split not in schema["splits"]:
        raise UserInputError(f"{folder}: no split {split!r} (has {sorted(schema['splits'])})")
    files = [os.path.join(folder, name) for name in schema["splits"][split]["files"]]
    features = {key: seg_examples.FEATURES[key] for key in _KEYS}

    def parse(record: tf.Tensor) -> dict:
        example = tf.io.parse_single_example(record, features)
        return {
            key: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v
            for key, v in example.items()
        }

    dataset = tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    return table_from_examples(dataset.as_numpy_iterator())
