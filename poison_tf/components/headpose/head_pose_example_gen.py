"""HeadPoseExampleGen: a head-pose source → train/test TFRecords of (image, yaw-pitch-roll, id).

Sources: `synthetic` (the project's rendered heads, the embedded default) or `<format>:<path>`
with format pandora, biwi, aflw2000, csv or opal23 (see `poison_tf.data.headpose`). Real data is
split into train/test by a seeded permutation of its records.
"""

from __future__ import annotations

import numpy as np

from poison_tf import types
from poison_tf.components.parameters import seed_parameter, shards_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data import image_examples
from poison_tf.data.source_files import source_parameter
from poison_tf.errors import UserInputError

LABEL = {"kind": "regression", "dim": 3, "names": ["yaw", "pitch", "roll"], "unit": "degrees"}


class HeadPoseExampleGenSpec(ComponentSpec):
    OUTPUTS = {"examples": types.Examples.channel()}
    PARAMETERS = {
        "source": source_parameter(
            "synthetic | pandora:<dir> | biwi:<dir> | aflw2000:<dir> | csv:<file> | opal23:<dir>"
        ),
        "image_size": ExecutionParameter(int, default=100, help="image side in pixels"),
        "num_train": ExecutionParameter(int, default=2000, help="synthetic: training images"),
        "num_test": ExecutionParameter(int, default=500, help="synthetic: test images"),
        "test_fraction": ExecutionParameter(float, default=0.2, help="real data: share held out"),
        "seed": seed_parameter(17),
        "num_shards": shards_parameter(4),
    }


def load_source(source: str, image_size: int, exec_properties: dict):
    """Returns (train images, train angles, test images, test angles) as uint8 / float32 arrays.

    Args:
        source: the `source` parameter (synthetic, csv:, pandora:, biwi:, aflw2000:, ...).
        image_size: the examples' side in pixels.
        exec_properties: the component's other parameters (sizes, fractions, seed).

    Returns:
        (train images, train angles, test images, test angles).

    Raises:
        UserInputError: a bad source or test fraction.
    """
    seed = exec_properties["seed"]
    if source == "synthetic":
        from poison_tf.data.synthetic_heads import render_heads

        train = render_heads(exec_properties["num_train"], size=image_size, seed=seed)
        test = render_heads(exec_properties["num_test"], size=image_size, seed=seed + 1_000_003)
        return (*train, *test)
    name, _, path = source.partition(":")
    from poison_tf.data.headpose import load_headpose_source

    images, angles = load_headpose_source(name, path, image_size)
    fraction = exec_properties["test_fraction"]
    if not 0.0 < fraction < 1.0:
        raise UserInputError(f"--test_fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(images))
    cut = int(round(len(images) * (1 - fraction)))
    if cut == 0 or cut == len(images):
        raise UserInputError(
            f"{path}: {len(images)} images are too few to split into train and test"
        )
    train, test = order[:cut], order[cut:]
    return images[train], angles[train], images[test], angles[test]


def write_headpose_examples(
    folder: str, train: tuple, test: tuple, source: str, num_shards: int = 4
) -> dict:
    """Writes (images uint8 [N,S,S,3], angles [N,3]) train and test splits + the schema.

    Args:
        folder: the `Examples` artefact folder.
        train: (images, angles) of the train split.
        test: (images, angles) of the test split.
        source: the source, recorded in the schema.
        num_shards: TFRecord shards per split.

    Returns:
        {split: its schema entry}.
    """
    splits = {
        name: image_examples.write_split(
            folder, name, images, angles.astype(np.float32), num_shards
        )
        for name, (images, angles) in (("train", train), ("test", test))
    }
    size = int(train[0].shape[1])
    image_examples.write_schema(folder, splits, (size, size), LABEL, source)
    return splits


class HeadPoseExampleGenExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        size = exec_properties["image_size"]
        if size < 16:
            raise UserInputError(f"--image_size={size}: at least 16 pixels are needed")
        train_x, train_y, test_x, test_y = load_source(
            exec_properties["source"], size, exec_properties
        )
        out = output_dict["examples"][0]
        splits = write_headpose_examples(
            out.uri,
            (train_x, train_y),
            (test_x, test_y),
            exec_properties["source"],
            exec_properties["num_shards"],
        )
        out.properties.update({k: v["count"] for k, v in splits.items()})
        out.properties["angle_std"] = [float(s) for s in train_y.std(axis=0)]


class HeadPoseExampleGen(BaseComponent):
    """A head-pose source → train/test TFRecords of (image, yaw-pitch-roll, id)."""

    SPEC_CLASS = HeadPoseExampleGenSpec
    EXECUTOR_CLASS = HeadPoseExampleGenExecutor
