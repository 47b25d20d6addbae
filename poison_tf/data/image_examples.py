"""Image examples as sharded TFRecords plus a schema JSON: what every ExampleGen writes.

One record per image: PNG bytes, a label (a float vector for regression, an int64 class id for
classification) and an int64 id 0..N-1 that poison plans refer to. Downstream stages read the
records with `tf.data` only; shuffling happens on the serialised records (cheap) before the
decode, so even a Pandora-sized split (132k images) shuffles in constant memory per record.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from poison_tf.errors import UserInputError
from poison_tf.io.atomic import read_json, write_json

SCHEMA_FILE = "schema.json"


def _feature_bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def write_split(
    folder: str,
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    num_shards: int = 2,
    first_id: int = 0,
) -> dict:
    """Writes uint8 images [N, H, W, 3] with labels to `folder/split-XXXXX-of-YYYYY.tfrecord`."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    num_shards = max(1, min(num_shards, len(images)))
    files = []
    for shard in range(num_shards):
        name = f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"
        files.append(name)
        with tf.io.TFRecordWriter(os.path.join(folder, name)) as writer:
            for index in range(shard, len(images), num_shards):
                label = labels[index]
                if np.issubdtype(labels.dtype, np.integer):
                    label_feature = tf.train.Feature(
                        int64_list=tf.train.Int64List(value=np.atleast_1d(label).tolist())
                    )
                else:
                    label_feature = tf.train.Feature(
                        float_list=tf.train.FloatList(value=np.atleast_1d(label).tolist())
                    )
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            "image": _feature_bytes(tf.io.encode_png(images[index]).numpy()),
                            "label": label_feature,
                            "id": tf.train.Feature(
                                int64_list=tf.train.Int64List(value=[first_id + index])
                            ),
                        }
                    )
                )
                writer.write(example.SerializeToString())
    return {"count": int(len(images)), "files": files}


def write_schema(
    folder: str, splits: dict, image_size: tuple[int, int], label: dict, source: str
) -> dict:
    """`label` is {"kind": "regression"|"class", "dim": D, "names": [...]}."""
    schema = {"splits": splits, "image_size": list(image_size), "label": label, "source": source}
    write_json(os.path.join(folder, SCHEMA_FILE), schema)
    return schema


def read_schema(folder: str) -> dict:
    path = os.path.join(folder, SCHEMA_FILE)
    if not os.path.isfile(path):
        raise UserInputError(f"{folder}: no {SCHEMA_FILE}; not an examples artefact")
    return read_json(path)


def float_images(images: tf.Tensor) -> tf.Tensor:
    """uint8 images (any batch shape) as float32 in [0, 1]: the one conversion every reader
    uses, so an image converted per example or in a batch is the same to the bit."""
    return tf.cast(images, tf.float32) / 255.0


def image_examples_dataset(
    folder: str,
    split: str,
    shuffle_seed: int | None = None,
    transform: Callable[[dict], dict] | None = None,
    uint8: bool = False,
) -> tf.data.Dataset:
    """Yields {"image": float32 [H, W, 3] in [0, 1], "label", "id"} for one split, in order
    (or shuffled by `shuffle_seed`, identically for the same seed).

    Args:
        folder: the examples artefact (schema.json + TFRecord shards).
        split: which split to read.
        shuffle_seed: shuffle the records with this seed (None: file order).
        transform: a per-example function run inside the decode map, on the decoded example
            (a poison plan's `example_fn`): fused there it costs no extra tf.data stage.
        uint8: leave the images uint8 (`float_images` converts them later, e.g. per batch in
            `poison_tf.poison.plan.pairs`: a poison plan then writes into the batch that the
            conversion has just made instead of copying the batch `Dataset.batch` made).

    Returns:
        The dataset of example dicts (plus whatever `transform` adds).
    """
    schema = read_schema(folder)
    if split not in schema["splits"]:
        raise UserInputError(f"{folder}: no split {split!r} (has {sorted(schema['splits'])})")
    info = schema["splits"][split]
    height, width = schema["image_size"]
    label_kind, label_dim = schema["label"]["kind"], int(schema["label"]["dim"])
    label_dtype = tf.int64 if label_kind == "class" else tf.float32
    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([label_dim], label_dtype),
        "id": tf.io.FixedLenFeature([], tf.int64),
    }
    files = [os.path.join(folder, name) for name in info["files"]]
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=1, deterministic=True
    )
    if shuffle_seed is not None:
        dataset = dataset.shuffle(info["count"], seed=shuffle_seed, reshuffle_each_iteration=False)

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        image = tf.io.decode_png(example["image"], channels=3)
        image = tf.ensure_shape(image, [height, width, 3])
        label = example["label"]
        if label_kind == "class" and label_dim == 1:
            label = label[0]
        image = image if uint8 else float_images(image)
        decoded = {"image": image, "label": label, "id": example["id"]}
        return transform(decoded) if transform is not None else decoded

    return dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
