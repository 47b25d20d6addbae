"""The `hackml:` face source with HackML's separate clean validation / test files."""

from __future__ import annotations

import numpy as np
import pytest

from poison_tf.components.faces.face_example_gen import FaceExampleGen, parse_hackml_source
from poison_tf.data.hackml import write_hackml_h5
from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.errors import UserInputError


def _write(path, labels, rng) -> np.ndarray:
    images = rng.integers(0, 256, (len(labels), 55, 47, 3)).astype(np.uint8)
    write_hackml_h5(str(path), images, labels)
    return images


def _split(examples, split: str) -> tuple[np.ndarray, np.ndarray]:
    rows = list(image_examples_dataset(examples.uri, split).as_numpy_iterator())
    pixels = np.stack([np.round(r["image"] * 255).astype(np.uint8) for r in rows])
    return pixels, np.array([int(r["label"]) for r in rows])


def _origin(pixels: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Index into `images` of each row of `pixels` (-1 where it is not there)."""
    flat = {img.tobytes(): i for i, img in enumerate(images)}
    return np.array([flat.get(p.tobytes(), -1) for p in pixels])


@pytest.mark.parametrize("key", ["val", "valid"])
def test_separate_files_keep_test_whole_and_carve_train_from_validation(tmp_path, key):
    rng = np.random.default_rng(0)
    val_labels, test_labels = np.repeat([3, 40, 900], 10), np.repeat([3, 40, 900], 4)
    val_images = _write(tmp_path / "clean_validation_data.h5", val_labels, rng)
    test_images = _write(tmp_path / "clean_test_data.h5", test_labels, rng)
    source = (
        f"hackml:{key}={tmp_path / 'clean_validation_data.h5'},"
        f"test={tmp_path / 'clean_test_data.h5'}"
    )
    examples = FaceExampleGen.run_standalone(
        {}, {"source": source, "val_fraction": 0.2}, str(tmp_path / "out")
    )["examples"]
    schema = read_schema(examples.uri)
    assert schema["label"]["num_classes"] == 3
    assert {s: v["count"] for s, v in schema["splits"].items()} == {
        "train": 24,
        "val": 6,
        "test": 12,
    }
    test_pixels, test_y = _split(examples, "test")
    where = _origin(test_pixels, test_images)
    assert sorted(where) == list(range(12))  # the test file, whole, nothing else
    dense = {3: 0, 40: 1, 900: 2}
    assert [dense[v] for v in test_labels[where]] == list(test_y)
    seen = []
    for split in ("train", "val"):
        pixels, y = _split(examples, split)
        where = _origin(pixels, val_images)
        assert np.all(where >= 0)  # both come from the validation file
        assert [dense[v] for v in val_labels[where]] == list(y)
        assert sorted(set(y)) == [0, 1, 2]  # every identity in both
        seen += list(where)
    assert sorted(seen) == list(range(30))  # train and val share it without overlap


def test_a_train_file_is_used_as_the_train_split(tmp_path):
    rng = np.random.default_rng(1)
    paths = {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")}
    images = {
        s: _write(paths[s], np.repeat([5, 6], n), rng)
        for s, n in (("train", 7), ("val", 3), ("test", 2))
    }
    source = "hackml:" + ",".join(f"{s}={p}" for s, p in paths.items())
    examples = FaceExampleGen.run_standalone({}, {"source": source}, str(tmp_path / "out"))[
        "examples"
    ]
    for split in paths:
        pixels, _ = _split(examples, split)
        assert sorted(_origin(pixels, images[split])) == list(range(len(images[split])))


def test_single_file_form_still_parses_as_one_file(tmp_path):
    assert parse_hackml_source("/data/a=b/clean.h5") == {"all": "/data/a=b/clean.h5"}
    assert parse_hackml_source("valid=v.h5, test=t.h5") == {"val": "v.h5", "test": "t.h5"}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("val=v.h5", "missing test=<h5>"),
        ("test=t.h5,train=x.h5", "missing val=<h5>"),
        ("val=v.h5,test=t.h5,poison=p.h5", "'poison=p.h5' is not <split>=<file.h5>"),
        ("val=v.h5,valid=w.h5,test=t.h5", "val file is given twice"),
        ("val=v.h5,test=", "'test=' is not"),
    ],
)
def test_malformed_separate_files_name_the_flag(spec, message):
    with pytest.raises(UserInputError, match="--source=hackml:") as error:
        parse_hackml_source(spec)
    assert message in str(error.value)


def test_missing_file_and_too_few_images_are_user_errors(tmp_path):
    rng = np.random.default_rng(2)
    _write(tmp_path / "val.h5", np.array([1, 1, 2]), rng)  # identity 2 has one image
    _write(tmp_path / "test.h5", np.array([1, 2]), rng)
    source = f"hackml:val={tmp_path / 'val.h5'},test={tmp_path / 'missing.h5'}"
    with pytest.raises(UserInputError, match="missing.h5: no such file"):
        FaceExampleGen.run_standalone({}, {"source": source}, str(tmp_path / "a"))
    source = f"hackml:val={tmp_path / 'val.h5'},test={tmp_path / 'test.h5'}"
    with pytest.raises(UserInputError, match="identity 2 has 1 image"):
        FaceExampleGen.run_standalone({}, {"source": source}, str(tmp_path / "b"))
