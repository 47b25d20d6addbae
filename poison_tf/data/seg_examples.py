"""Instance-segmentation examples: TFRecord writer, schema, and the training `tf.data` reader.

Why: every seg source (YOLO folder, COCO JSON, synthetic streets) becomes the same sharded
records once, at a fixed square input size S, so training, validation and poisoning read one
format with `tf.data` only. One `tf.train.Example` per image (see seg_contract):
`image` PNG [S, S, 3] letterboxed; `mask` PNG [S/4, S/4, 1] overlap map (0 = background, i + 1 =
instance i, sorted by area descending); `classes`, `boxes` (xyxy input pixels, 4n floats),
`instance_ids` (unique within the split, numbered in (image, label line) order, so poison plans
can name them), `lines` (label-file line, COCO annotation id), `id`, `stem`, `orig_size` [h, w]
and `letterbox` [ratio, pad_x, pad_y]. Geometry: `poison_tf.data.seg_rasterize`.

`make_dataset` yields the contract's `(features, labels)`: shuffle of the serialised records
seeded by (seed, epoch), parse, optional `relabel(classes, instance_ids)` (the clean-image
poisoning), augmentation when training (`poison_tf.data.seg_augment`), padding to M rows.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from absl import logging
from PIL import Image

from poison_tf.data import image_examples
from poison_tf.data.seg_augment import SegAugment, augment_example
from poison_tf.data.seg_rasterize import MASK_STRIDE, encode_sample
from poison_tf.data.yolo_seg import SegSample, warn_skipped
from poison_tf.errors import UserInputError, require
from poison_tf.io.atomic import read_json, write_json

LABEL_KIND = "instance_segmentation"
Relabel = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "mask": tf.io.FixedLenFeature([], tf.string),
    "classes": tf.io.VarLenFeature(tf.int64),
    "boxes": tf.io.VarLenFeature(tf.float32),
    "instance_ids": tf.io.VarLenFeature(tf.int64),
    "lines": tf.io.VarLenFeature(tf.int64),
    "id": tf.io.FixedLenFeature([], tf.int64),
    "stem": tf.io.FixedLenFeature([], tf.string),
    "orig_size": tf.io.FixedLenFeature([2], tf.int64),
    "letterbox": tf.io.FixedLenFeature([3], tf.float32),
}


def _ints(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _png(array: np.ndarray) -> bytes:
    """PNG bytes with fast zlib level 1 (tf.io.encode_png's default level is ~15x slower)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_seg_split(
    folder: str,
    split: str,
    samples: list[SegSample],
    size: int,
    *,
    num_shards: int = 2,
    max_instances: int = 100,
) -> dict:
    """Writes `folder/<split>-XXXXX-of-YYYYY.tfrecord` + `<split>-index.json`; returns the split's
    schema entry. Images that fail to decode now are skipped with a warning (never silently)."""
    require(
        size % 32 == 0 and size >= 32,
        f"--image_size={size}: must be a multiple of 32 (the model's largest stride)",
    )
    require(
        1 <= max_instances <= 255,
        f"--max_instances={max_instances}: must be in 1..255 (uint8 mask)",
    )
    num_shards = max(1, min(num_shards, len(samples)))
    files = [f"{split}-{s:05d}-of-{num_shards:05d}.tfrecord" for s in range(num_shards)]
    writers = [tf.io.TFRecordWriter(os.path.join(folder, name)) for name in files]
    index, skipped, per_image, next_instance, dropped = [], [], [], 0, 0
    try:
        for sample in samples:
            try:
                with Image.open(sample.image_path) as image:
                    image.load()
                    encoded = encode_sample(sample, image, size, next_instance, max_instances)
            except (OSError, ValueError, SyntaxError):
                skipped.append(sample.image_path)
                continue
            next_instance += sample.num_instances
            dropped += encoded.dropped
            example_id = len(index)
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "image": _bytes(_png(encoded.image)),
                        "mask": _bytes(_png(encoded.mask)),
                        "classes": _ints(encoded.classes),
                        "boxes": _floats(encoded.boxes.reshape(-1)),
                        "instance_ids": _ints(encoded.instance_ids),
                        "lines": _ints(encoded.lines),
                        "id": _ints([example_id]),
                        "stem": _bytes(sample.stem.encode()),
                        "orig_size": _ints([sample.height, sample.width]),
                        "letterbox": _floats(encoded.letterbox.as_list()),
                    }
                )
            )
            writers[example_id % num_shards].write(example.SerializeToString())
            per_image.append(len(encoded.classes))
            index.append(
                {
                    "id": example_id,
                    "stem": sample.stem,
                    "image_path": sample.image_path,
                    "orig_size": [sample.height, sample.width],
                    "letterbox": encoded.letterbox.as_list(),
                }
            )
    finally:
        for writer in writers:
            writer.close()
    warn_skipped(f"{folder} [{split}]", skipped)
    require(index, f"split {split!r}: no image could be decoded")
    if dropped:
        logging.warning(
            "%s: %d instance(s) beyond --max_instances=%d per image were dropped (smallest first)",
            split,
            dropped,
            max_instances,
        )
    write_json(os.path.join(folder, f"{split}-index.json"), index)
    counts = np.bincount(per_image)
    return {
        "count": len(index),
        "files": files,
        "instances": int(sum(per_image)),
        "instance_ids": next_instance,
        "dropped_instances": int(dropped),
        "skipped_images": skipped,
        "max_instances_per_image": int(max(per_image)),
        "images_by_instance_count": {str(n): int(c) for n, c in enumerate(counts) if c},
    }


def write_seg_schema(
    folder: str, splits: dict, size: int, names: list[str], source: str, max_instances: int
) -> dict:
    label = {
        "kind": LABEL_KIND,
        "names": list(names),
        "num_classes": len(names),
        "mask_stride": MASK_STRIDE,
        "max_instances": max_instances,
    }
    return image_examples.write_schema(folder, splits, (size, size), label, source)


def read_seg_schema(folder: str) -> dict:
    schema = image_examples.read_schema(folder)
    if schema.get("label", {}).get("kind") != LABEL_KIND:
        raise UserInputError(f"{folder}: not an instance-segmentation examples artefact")
    return schema


def read_split_index(folder: str, split: str) -> list[dict]:
    """[{id, stem, image_path, orig_size, letterbox}] of a split, in id order."""
    path = os.path.join(folder, f"{split}-index.json")
    require(os.path.isfile(path), f"{folder}: no index for split {split!r}")
    return read_json(path)


def parse_example(record: tf.Tensor, size: int) -> dict:
    """A serialised record → {image uint8 [S,S,3], mask uint8 [S/4,S/4], classes int64 [n],
    boxes float32 [n,4], instance_ids, lines, id, stem, orig_size, letterbox}."""
    example = tf.io.parse_single_example(record, FEATURES)
    side = size // MASK_STRIDE
    return {
        "image": tf.ensure_shape(tf.io.decode_png(example["image"], channels=3), [size, size, 3]),
        "mask": tf.ensure_shape(
            tf.io.decode_png(example["mask"], channels=1)[..., 0], [side, side]
        ),
        "classes": tf.sparse.to_dense(example["classes"]),
        "boxes": tf.reshape(tf.sparse.to_dense(example["boxes"]), [-1, 4]),
        "instance_ids": tf.sparse.to_dense(example["instance_ids"]),
        "lines": tf.sparse.to_dense(example["lines"]),
        **{key: example[key] for key in ("id", "stem", "orig_size", "letterbox")},
    }


def _records(folder: str, split: str) -> tuple[tf.data.Dataset, dict, int]:
    schema = read_seg_schema(folder)
    if split not in schema["splits"]:
        raise UserInputError(f"{folder}: no split {split!r} (has {sorted(schema['splits'])})")
    info = schema["splits"][split]
    files = [os.path.join(folder, name) for name in info["files"]]
    records = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=len(files), block_length=1
    )
    return records, info, int(schema["image_size"][0])


def seg_examples_dataset(folder: str, split: str) -> tf.data.Dataset:
    """Parsed examples of a split in id order (for validation, inference and inspection)."""
    records, _, size = _records(folder, split)
    return records.map(
        lambda r: parse_example(r, size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def apply_label_map(relabel: Relabel) -> Callable[[dict], dict]:
    """The `Dataset.map` function that replaces `classes` by `relabel(classes, instance_ids)`."""

    def apply(example: dict) -> dict:
        classes = tf.cast(relabel(example["classes"], example["instance_ids"]), tf.int64)
        return dict(example, classes=tf.ensure_shape(classes, example["classes"].shape))

    return apply


def _mix(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 17) % (2**31 - 1)


def to_training_pair(example: dict, max_instances: int) -> tuple[dict, dict]:
    """Pads / truncates instances to M rows (padding after real rows) → (features, labels)."""
    m = max_instances
    count = tf.minimum(tf.shape(example["classes"])[0], m)
    pad = m - count

    def rows(key, fill, dtype):
        values = tf.cast(example[key][:m], dtype)
        widths = [[0, pad]] + [[0, 0]] * (len(values.shape) - 1)
        return tf.pad(values, widths, constant_values=fill)

    mask = tf.cast(example["mask"], tf.int32)
    labels = {
        "classes": tf.ensure_shape(rows("classes", -1, tf.int32), [m]),
        "boxes": tf.ensure_shape(rows("boxes", 0.0, tf.float32), [m, 4]),
        "masks": tf.where(mask > m, 0, mask),
        "instance_ids": tf.ensure_shape(rows("instance_ids", -1, tf.int64), [m]),
        "image_id": example["id"],
        "orig_size": tf.cast(example["orig_size"], tf.int32),
        "letterbox": example["letterbox"],
    }
    return {"images": tf.cast(example["image"], tf.float32)}, labels


def _log_truncation(info: dict, max_instances: int) -> None:
    by_count = info.get("images_by_instance_count", {})
    lost = sum(c * (int(n) - max_instances) for n, c in by_count.items() if int(n) > max_instances)
    if lost:
        logging.warning(
            "max_instances=%d: %d instance(s) in images with more are dropped (smallest first)",
            max_instances,
            lost,
        )


def make_dataset(
    folder: str,
    split: str,
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    epoch: int = 0,
    max_instances: int = 100,
    augment: SegAugment | bool | None = None,
    relabel: Relabel | None = None,
    drop_remainder: bool | None = None,
) -> tf.data.Dataset:
    """The contract's batches `({"images"}, {"classes", "boxes", "masks", "instance_ids", ...})`.

    Order and augmentation depend only on (seed, epoch). `augment=None` means the Ultralytics
    defaults when `training`, none otherwise; False disables; a `SegAugment` customises.
    Labels also carry `image_id` [B], `orig_size` [B, 2] and `letterbox` [B, 3] of the records
    (the letterbox describes the un-augmented image: use it for validation only).
    """
    require(batch_size >= 1, f"batch_size={batch_size}: must be >= 1")
    require(max_instances >= 1, f"max_instances={max_instances}: must be >= 1")
    records, info, size = _records(folder, split)
    _log_truncation(info, max_instances)
    mixed = _mix(seed, epoch)
    if training:
        records = records.shuffle(info["count"], seed=mixed, reshuffle_each_iteration=False)
    dataset = records.map(lambda r: parse_example(r, size), num_parallel_calls=tf.data.AUTOTUNE)
    if relabel is not None:
        dataset = dataset.map(apply_label_map(relabel), num_parallel_calls=tf.data.AUTOTUNE)
    if augment is None or augment is True:
        config = SegAugment() if (training or augment is True) else None
    else:
        config = augment or None
    if config is not None:

        def augment_one(example):
            seed_pair = tf.stack([tf.constant(mixed, tf.int64), example["id"]])
            return augment_example(example, config, seed_pair)

        dataset = dataset.map(augment_one, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(
        lambda e: to_training_pair(e, max_instances), num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = dataset.batch(
        batch_size, drop_remainder=training if drop_remainder is None else drop_remainder
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
