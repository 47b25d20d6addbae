"""FaceExampleGen on its three sources: splits per identity, class labels, num_classes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from poison_tf.components.faces.face_example_gen import FaceExampleGen
from poison_tf.data.hackml import write_hackml_h5
from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.errors import UserInputError


def _labels(examples, split: str) -> np.ndarray:
    return np.array(
        [int(e["label"]) for e in image_examples_dataset(examples.uri, split).as_numpy_iterator()]
    )


def test_synthetic_source_splits_every_identity(tmp_path):
    examples = FaceExampleGen.run_standalone(
        {}, {"num_identities": 3, "images_per_identity": 10}, str(tmp_path)
    )["examples"]
    schema = read_schema(examples.uri)
    assert schema["label"]["num_classes"] == 3 and schema["image_size"] == [55, 47]
    assert {s: v["count"] for s, v in schema["splits"].items()} == {
        "train": 18,
        "val": 6,
        "test": 6,
    }
    for split in ("train", "val", "test"):
        assert sorted(set(_labels(examples, split))) == [0, 1, 2]


def test_hackml_source_keeps_images_and_makes_labels_dense(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 55, 47, 3)).astype(np.uint8)
    labels = np.repeat([7, 900], 10)
    write_hackml_h5(str(tmp_path / "data.h5"), images, labels)
    examples = FaceExampleGen.run_standalone(
        {}, {"source": f"hackml:{tmp_path / 'data.h5'}"}, str(tmp_path / "out")
    )["examples"]
    assert read_schema(examples.uri)["label"]["num_classes"] == 2
    for example in image_examples_dataset(examples.uri, "train").as_numpy_iterator():
        pixels = np.round(example["image"] * 255).astype(np.uint8)
        match = np.flatnonzero((images == pixels).all(axis=(1, 2, 3)))
        assert len(match) == 1  # the 0-255 file images come back exactly
        assert example["label"] == (0 if labels[match[0]] == 7 else 1)


def test_lfw_source_crops_250px_images_to_55x47(tmp_path):
    root = tmp_path / "lfw" / "images"
    for person, colour in (("Ann", (200, 0, 0)), ("Bob", (0, 0, 200))):
        (root / person).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (250, 250), colour).save(root / person / f"{person}_{i:04d}.jpg")
    examples = FaceExampleGen.run_standalone(
        {},
        {"source": f"lfw:{tmp_path / 'lfw'}", "num_identities": 0, "images_per_identity": 0},
        str(tmp_path / "out"),
    )["examples"]
    schema = read_schema(examples.uri)
    assert (
        schema["label"]["num_classes"] == 2
        and sum(v["count"] for v in schema["splits"].values()) == 10
    )
    for example in image_examples_dataset(examples.uri, "test").as_numpy_iterator():
        red = example["image"][..., 0].mean() > example["image"][..., 2].mean()
        assert red == (example["label"] == 0)


def test_unknown_source_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match="--source"):
        FaceExampleGen.run_standalone({}, {"source": "csv:faces.csv"}, str(tmp_path))
