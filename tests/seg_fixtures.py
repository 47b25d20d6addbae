"""A tiny YOLO-seg example folder (synthetic streets → TFRecord shards + schema) for Task tests.

One helper for the fixtures of the segmentation Task tests, which build the same folder at
different sizes.
"""

from __future__ import annotations

import pathlib

from poison_tf.data import seg_examples
from poison_tf.data.synthetic_streets import write_synthetic_streets
from poison_tf.data.yolo_seg import load_split


def street_examples(
    root: pathlib.Path, size: int, num_train: int, num_val: int, seed: int = 0
) -> str:
    """Renders synthetic streets under `root/yolo` and writes their examples to `root/examples`.

    Args:
        root: an empty folder.
        size: the examples' image size (pixels, square).
        num_train: training scenes.
        num_val: validation scenes.
        seed: the scenes' seed.

    Returns:
        The examples folder (train and val splits, one shard each, and the schema).
    """
    data_yaml = write_synthetic_streets(
        str(root / "yolo"), num_train=num_train, num_val=num_val, size=size, seed=seed
    )
    folder = root / "examples"
    folder.mkdir()
    splits = {}
    for split in ("train", "val"):
        names, samples = load_split(data_yaml, split)
        splits[split] = seg_examples.write_seg_split(
            str(folder), split, samples, size, num_shards=1
        )
    seg_examples.write_seg_schema(str(folder), splits, size, names, "synthetic_streets", 100)
    return str(folder)
