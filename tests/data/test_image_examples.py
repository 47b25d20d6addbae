"""TFRecord round trip of image examples; shuffling is seeded and complete."""

import numpy as np
import pytest

from poison_tf.data import image_examples
from poison_tf.errors import UserInputError


def _write(tmp_path, labels):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 6, 5, 3), dtype=np.uint8)
    info = image_examples.write_split(str(tmp_path), "train", images, labels, num_shards=3)
    kind = "class" if np.issubdtype(labels.dtype, np.integer) else "regression"
    dim = 1 if labels.ndim == 1 else labels.shape[1]
    image_examples.write_schema(
        str(tmp_path), {"train": info}, (6, 5), {"kind": kind, "dim": dim}, "test"
    )
    return images


def test_round_trip_regression_labels(tmp_path):
    labels = np.arange(21, dtype=np.float32).reshape(7, 3)
    images = _write(tmp_path, labels)
    got = sorted(
        image_examples.image_examples_dataset(str(tmp_path), "train").as_numpy_iterator(),
        key=lambda e: e["id"],
    )
    assert [e["id"] for e in got] == list(range(7))
    for e in got:
        np.testing.assert_allclose(e["image"] * 255, images[e["id"]], atol=1e-3)
        np.testing.assert_array_equal(e["label"], labels[e["id"]])


def test_class_labels_and_seeded_shuffle(tmp_path):
    _write(tmp_path, np.arange(7, dtype=np.int64))

    def ds(seed):
        return [
            int(e["id"])
            for e in image_examples.image_examples_dataset(
                str(tmp_path), "train", seed
            ).as_numpy_iterator()
        ]

    assert ds(1) == ds(1) and sorted(ds(1)) == list(range(7)) and ds(1) != ds(2)
    first = next(image_examples.image_examples_dataset(str(tmp_path), "train").as_numpy_iterator())
    assert first["label"] == first["id"]


def test_missing_split_and_schema(tmp_path):
    _write(tmp_path, np.arange(7, dtype=np.int64))
    with pytest.raises(UserInputError, match="no split 'test'"):
        image_examples.image_examples_dataset(str(tmp_path), "test")
    with pytest.raises(UserInputError, match="schema.json"):
        image_examples.read_schema(str(tmp_path / "nothing"))
