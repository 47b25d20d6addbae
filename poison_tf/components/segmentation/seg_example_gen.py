"""SegExampleGen: an instance-segmentation source → train/val TFRecords of the seg contract.

Sources:
- `synthetic_streets` (the embedded default): rendered street scenes written as a YOLO-seg
  folder in a temporary directory, then read back through the YOLO reader like any other;
- `yolo:<data.yaml>`: an Ultralytics YOLO-seg folder (splits `train` and `val`);
- `coco:<instances_train.json>:<image_dir>` (one file: it is split into train/val by a seeded
  permutation with `val_fraction`), or `coco:<train.json>:<train_dir>,<val.json>:<val_dir>`.
Output: the `Examples` artefact with `train-*.tfrecord`, `val-*.tfrecord`, `<split>-index.json`
and schema.json (label kind `instance_segmentation`, names, mask stride, max instances).
"""

from __future__ import annotations

import tempfile

import numpy as np

from poison_tf import types
from poison_tf.components.parameters import seed_parameter, shards_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data import seg_examples
from poison_tf.data.source_files import coco_files, source_parameter, yolo_files
from poison_tf.data.yolo_seg import SegSample, load_split
from poison_tf.errors import UserInputError, require

SPLITS = ("train", "val")


class SegExampleGenSpec(ComponentSpec):
    OUTPUTS = {"examples": types.Examples.channel()}
    PARAMETERS = {
        "source": source_parameter(
            "synthetic_streets | yolo:<data.yaml> | coco:<json>:<image_dir>[,<json>:<image_dir>]",
            default="synthetic_streets",
            kinds={"yolo": yolo_files, "coco": coco_files},
        ),
        "image_size": ExecutionParameter(
            int, default=128, help="square input side S (multiple of 32)"
        ),
        "num_train": ExecutionParameter(int, default=400, help="synthetic: training images"),
        "num_val": ExecutionParameter(int, default=100, help="synthetic: validation images"),
        "val_fraction": ExecutionParameter(
            float, default=0.2, help="one COCO file: share held out for val"
        ),
        "seed": seed_parameter(),
        "max_instances": ExecutionParameter(
            int, default=100, help="instances kept per image (largest first, <= 255)"
        ),
        "num_shards": shards_parameter(),
    }


def _coco(spec: str, props: dict) -> tuple[list[str], dict[str, list[SegSample]]]:
    from poison_tf.data.coco_instances import load_coco_instances

    parts = [part for part in spec.split(",") if part]
    loaded = []
    for part in parts:
        json_path, sep, image_dir = part.rpartition(":")
        if not sep or not json_path or not image_dir:
            raise UserInputError(
                f"--source=coco:{spec!r}: expected coco:<instances.json>:<image_dir>"
            )
        loaded.append(load_coco_instances(json_path, image_dir))
    if len(loaded) == 2:
        require(
            loaded[0][0] == loaded[1][0], f"--source=coco:{spec}: train and val categories differ"
        )
        return loaded[0][0], {"train": loaded[0][1], "val": loaded[1][1]}
    require(len(loaded) == 1, f"--source=coco:{spec}: give one or two <json>:<image_dir> pairs")
    names, samples = loaded[0]
    fraction = props["val_fraction"]
    require(0.0 < fraction < 1.0, f"--val_fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(props["seed"]).permutation(len(samples))
    cut = int(round(len(samples) * (1 - fraction)))
    require(
        0 < cut < len(samples), f"--source=coco:{spec}: {len(samples)} images are too few to split"
    )
    return names, {
        "train": [samples[i] for i in sorted(order[:cut])],
        "val": [samples[i] for i in sorted(order[cut:])],
    }


def load_seg_source(props: dict, scratch: str) -> tuple[list[str], dict[str, list[SegSample]]]:
    """(class names, {split: samples}) of the `source` parameter; `scratch` holds rendered data.

    Args:
        props: the component's parameters (source, image_size, sizes, seed).
        scratch: a folder for data rendered on the fly.

    Returns:
        (class names, {split: samples}).

    Raises:
        UserInputError: an unknown source.
    """
    source = props["source"]
    if source == "synthetic_streets":
        from poison_tf.data.synthetic_streets import write_synthetic_streets

        data_yaml = write_synthetic_streets(
            scratch, props["num_train"], props["num_val"], props["image_size"], props["seed"]
        )
    else:
        kind, sep, rest = source.partition(":")
        if kind == "coco" and sep:
            return _coco(rest, props)
        if kind != "yolo" or not rest:
            raise UserInputError(
                f"--source={source!r}: use synthetic_streets, yolo:<data.yaml> or coco:<json>:<image_dir>"
            )
        data_yaml = rest
    splits = {}
    for split in SPLITS:
        names, splits[split] = load_split(data_yaml, split)
    return names, splits


class SegExampleGenExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        props = exec_properties
        size, limit = props["image_size"], props["max_instances"]
        require(
            size >= 32 and size % 32 == 0, f"--image_size={size}: must be a positive multiple of 32"
        )
        require(1 <= limit <= 255, f"--max_instances={limit}: must be in 1..255")
        out = output_dict["examples"][0]
        with tempfile.TemporaryDirectory(prefix="seg-source-") as scratch:
            names, samples = load_seg_source(props, scratch)
            written = {
                split: seg_examples.write_seg_split(
                    out.uri,
                    split,
                    samples[split],
                    size,
                    num_shards=props["num_shards"],
                    max_instances=limit,
                )
                for split in SPLITS
            }
        seg_examples.write_seg_schema(out.uri, written, size, names, props["source"], limit)
        out.properties.update({split: info["count"] for split, info in written.items()})
        out.properties["num_classes"] = len(names)
        out.properties["instances"] = {split: info["instances"] for split, info in written.items()}


class SegExampleGen(BaseComponent):
    """An instance-segmentation source → train/val TFRecords of the seg contract."""

    SPEC_CLASS = SegExampleGenSpec
    EXECUTOR_CLASS = SegExampleGenExecutor
