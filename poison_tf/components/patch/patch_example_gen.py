"""PatchExampleGen: a class-labelled image source → train/test TFRecords of (image, class, id).

Sources: `synthetic` (procedural texture classes, the embedded default), `npz:<file|dir>` or
`folder:<dir>` (see `poison_tf.data.classification_sources`). `max_train` / `max_test` keep
the first N of a (seeded) permutation, so a study can run on a subset of a large set.
"""

from __future__ import annotations

import numpy as np

from poison_tf import types
from poison_tf.components.parameters import seed_parameter, shards_parameter
from poison_tf.dag.component import BaseComponent
from poison_tf.dag.executor import BaseExecutor
from poison_tf.dag.spec import ComponentSpec, ExecutionParameter
from poison_tf.data import image_examples
from poison_tf.data.classification_sources import load_folders, load_npz, resize_images
from poison_tf.data.image_list import load_image_list_source
from poison_tf.data.source_files import source_parameter
from poison_tf.data.synthetic_classes import CLASS_NAMES, synthetic_classes
from poison_tf.errors import UserInputError


class PatchExampleGenSpec(ComponentSpec):
    OUTPUTS = {"examples": types.Examples.channel()}
    PARAMETERS = {
        "source": source_parameter(
            "synthetic | npz:<file|dir> | folder:<dir> | imagelist:<list file|dir> | tfds:<name>"
        ),
        "image_size": ExecutionParameter(
            int, default=32, help="side in pixels; 0 keeps an npz's own size"
        ),
        "num_classes": ExecutionParameter(int, default=4, help="synthetic: number of classes"),
        "num_train": ExecutionParameter(int, default=2000, help="synthetic: training images"),
        "num_test": ExecutionParameter(int, default=500, help="synthetic: test images"),
        "max_train": ExecutionParameter(
            int, default=0, help="real data: keep at most this many training images (0 = all)"
        ),
        "max_test": ExecutionParameter(
            int, default=0, help="real data: keep at most this many test images (0 = all)"
        ),
        "test_fraction": ExecutionParameter(
            float, default=0.2, help="real data without a test split: share held out"
        ),
        "seed": seed_parameter(),
        "num_shards": shards_parameter(),
    }


def _subset(images: np.ndarray, labels: np.ndarray, limit: int, rng: np.random.Generator):
    if limit <= 0 or limit >= len(images):
        return images, labels
    keep = np.sort(rng.permutation(len(images))[:limit])
    return images[keep], labels[keep]


def load_classification_source(props: dict) -> tuple[tuple, tuple, list[str]]:
    """The train and test splits and class names of the `source` parameter.

    Args:
        props: the component's parameters (source, image_size, seed, sizes, test_fraction).

    Returns:
        ((train images, labels), (test images, labels), class names).

    Raises:
        UserInputError: an unknown source, a bad class count or test fraction.
    """
    source, size, seed = props["source"], props["image_size"], props["seed"]
    if source == "synthetic":
        classes = props["num_classes"]
        if not 2 <= classes <= len(CLASS_NAMES):
            raise UserInputError(
                f"--num_classes={classes}: the synthetic source has 2..{len(CLASS_NAMES)} classes"
            )
        size = size or 32
        train = synthetic_classes(props["num_train"], size, classes, seed)
        test = synthetic_classes(props["num_test"], size, classes, seed + 1_000_003)
        return train, test, list(CLASS_NAMES[:classes])
    kind, _, path = source.partition(":")
    if kind == "npz":
        train, test, names = load_npz(path)
    elif kind == "folder":
        train, test, names = load_folders(path, size or 32)
    elif kind == "imagelist":
        train, test, names = load_image_list_source(path, size or 224)
    elif kind == "tfds":
        from poison_tf.data.tfds_source import load_tfds

        train, test, names = load_tfds(path)
    else:
        raise UserInputError(
            f"--source={source!r}: use synthetic, npz:<file|dir>, folder:<dir>, imagelist:<file|dir> or tfds:<name>"
        )
    rng = np.random.default_rng(seed)
    if test is None:
        fraction = props["test_fraction"]
        if not 0.0 < fraction < 1.0:
            raise UserInputError(f"--test_fraction must be in (0, 1), got {fraction}")
        order = rng.permutation(len(train[0]))
        cut = int(round(len(order) * (1 - fraction)))
        if cut == 0 or cut == len(order):
            raise UserInputError(
                f"{path}: {len(order)} images are too few to split into train and test"
            )
        test = (train[0][order[cut:]], train[1][order[cut:]])
        train = (train[0][order[:cut]], train[1][order[:cut]])
    train = _subset(*train, props["max_train"], rng)
    test = _subset(*test, props["max_test"], rng)
    if size:
        train, test = (
            (resize_images(train[0], size), train[1]),
            (resize_images(test[0], size), test[1]),
        )
    return train, test, names


class PatchExampleGenExecutor(BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        train, test, names = load_classification_source(exec_properties)
        out = output_dict["examples"][0]
        splits = {
            name: image_examples.write_split(
                out.uri, name, x, y.astype(np.int64), exec_properties["num_shards"]
            )
            for name, (x, y) in (("train", train), ("test", test))
        }
        label = {"kind": "class", "dim": 1, "names": names, "num_classes": len(names)}
        image_examples.write_schema(
            out.uri, splits, tuple(train[0].shape[1:3]), label, exec_properties["source"]
        )
        out.properties.update({k: v["count"] for k, v in splits.items()})
        out.properties["num_classes"] = len(names)


class PatchExampleGen(BaseComponent):
    """A class-labelled image source → train/test TFRecords of (image, class, id)."""

    SPEC_CLASS = PatchExampleGenSpec
    EXECUTOR_CLASS = PatchExampleGenExecutor
