"""PatchExampleGen sources: synthetic classes, numpy archives, image folders, real CIFAR-10."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.components.patch.patch_example_gen import PatchExampleGen
from poison_tf.data.classification_sources import resize_images
from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.data.synthetic_classes import synthetic_classes
from poison_tf.errors import UserInputError


def test_synthetic_classes_are_balanced_deterministic_and_distinct():
    images, labels = synthetic_classes(40, 16, 4, seed=3)
    again, _ = synthetic_classes(40, 16, 4, seed=3)
    np.testing.assert_array_equal(images, again)
    assert images.shape == (40, 16, 16, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [10, 10, 10, 10]


def _gen(tmp_path, source, **params):
    return PatchExampleGen.run_standalone({}, {"source": source, **params}, str(tmp_path / "gen"))[
        "examples"
    ]


def test_npz_file_is_split_and_resized(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, [20, 8, 8, 3], dtype=np.uint8)
    np.savez(tmp_path / "data.npz", x=images, y=np.arange(20) % 3)
    examples = _gen(tmp_path, f"npz:{tmp_path / 'data.npz'}", image_size=16, test_fraction=0.25)
    schema = read_schema(examples.uri)
    assert schema["splits"]["train"]["count"] == 15 and schema["splits"]["test"]["count"] == 5
    assert schema["image_size"] == [16, 16] and schema["label"]["num_classes"] == 3
    first = next(iter(image_examples_dataset(examples.uri, "test")))
    assert first["image"].shape == (16, 16, 3) and first["label"].dtype == tf.int64


def test_resizing_in_chunks_gives_what_one_call_gives():
    images = np.random.default_rng(0).integers(0, 256, (7, 12, 12, 3), dtype=np.uint8)
    one_call = np.clip(np.round(tf.image.resize(images, (20, 20), antialias=True).numpy()), 0, 255)
    chunked = resize_images(images, 20, chunk=3)
    assert chunked.dtype == np.uint8 and chunked.shape == (7, 20, 20, 3)
    np.testing.assert_array_equal(chunked, one_call.astype(np.uint8))


def test_image_folders(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(3):
            png = tf.io.encode_png(np.full([10, 12, 3], 40 * i, np.uint8)).numpy()
            (tmp_path / "imgs" / name / f"{i}.png").write_bytes(png)
    examples = _gen(tmp_path, f"folder:{tmp_path / 'imgs'}", image_size=8, test_fraction=0.5)
    schema = read_schema(examples.uri)
    assert schema["label"]["names"] == ["cat", "dog"]
    assert schema["splits"]["train"]["count"] + schema["splits"]["test"]["count"] == 6


@pytest.mark.parametrize(
    "source, message",
    [
        ("npz:/nonexistent.npz", "no such file"),
        ("parquet:/x", "use synthetic"),
        ("folder:/nonexistent", "no such folder"),
    ],
)
def test_bad_sources(tmp_path, source, message):
    with pytest.raises(UserInputError, match=message):
        _gen(tmp_path, source)


def test_npz_with_wrong_keys(tmp_path):
    np.savez(tmp_path / "bad.npz", a=np.zeros([2, 4, 4, 3]))
    with pytest.raises(UserInputError, match="keys"):
        _gen(tmp_path, f"npz:{tmp_path / 'bad.npz'}")


@pytest.mark.real_data
def test_cifar10_npz_folder(tmp_path, shared_dir):
    folder = shared_dir / "datasets" / "cifar10-test-train20k"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not present")
    examples = _gen(tmp_path, f"npz:{folder}", max_train=64, max_test=32)
    schema = read_schema(examples.uri)
    assert schema["label"]["names"][0] == "airplane" and schema["label"]["num_classes"] == 10
    assert schema["splits"]["train"]["count"] == 64 and schema["image_size"] == [32, 32]
