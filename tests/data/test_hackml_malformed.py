"""HackML data files that open as HDF5 but are malformed end in one UserInputError (issue 18)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from poison_tf.data.hackml import open_hackml
from poison_tf.errors import UserInputError

IMAGES = np.random.default_rng(0).uniform(0, 255, (4, 3, 55, 47)).astype("float32")
LABELS = np.array([0, 1, 2, 0], "float32")


def _write(path, libver="earliest", **datasets):
    with h5py.File(path, "w", libver=libver) as handle:
        for key, value in datasets.items():
            if isinstance(value, dict):
                handle.create_dataset(key, **value)
            else:
                handle.create_dataset(key, data=value)
    return str(path)


@pytest.mark.parametrize("key", ["data", "label"])
def test_null_dataspace(tmp_path, key):
    datasets = {"data": IMAGES, "label": LABELS, key: h5py.Empty("f4")}
    with pytest.raises(UserInputError, match=f"'{key}' has a null dataspace"):
        open_hackml(_write(tmp_path / "d.h5", **datasets))


def test_huge_declared_shape_is_refused_before_allocating(tmp_path):
    huge = {"shape": (10**12,), "dtype": "f4", "chunks": (4096,)}
    path = _write(tmp_path / "d.h5", data=IMAGES, label=huge)
    with pytest.raises(UserInputError, match="refusing to allocate"):
        open_hackml(path)


def test_declared_shape_without_stored_values(tmp_path):
    shell = {"shape": (4,), "dtype": "f4", "chunks": (2,)}
    with pytest.raises(UserInputError, match="stores no values"):
        open_hackml(_write(tmp_path / "d.h5", data=IMAGES, label=shell))


def test_corrupted_object_header(tmp_path):
    path = tmp_path / "d.h5"
    _write(path, libver="latest", data=IMAGES, label=LABELS)
    raw = bytearray(path.read_bytes())
    headers = [i for i in range(len(raw)) if raw[i : i + 4] == b"OHDR"]
    assert len(headers) >= 3  # root group + the two datasets
    for start in headers[1:]:
        raw[start + 4 : start + 24] = b"\xff" * 20
    path.write_bytes(bytes(raw))
    with pytest.raises(UserInputError, match="damaged HDF5 structure"):
        open_hackml(str(path))


@pytest.mark.parametrize("images", [IMAGES * 1e6, IMAGES - 1000.0], ids=["above_255", "negative"])
def test_pixels_outside_0_255(tmp_path, images):
    data = open_hackml(_write(tmp_path / "d.h5", data=images, label=LABELS))
    with pytest.raises(UserInputError, match="the format stores intensities 0..255"):
        list(data.batches(2))


@pytest.mark.parametrize(
    "labels", [LABELS + 0.5, np.full(4, 1e30), -LABELS - 1], ids=["float", "beyond_int", "negative"]
)
def test_labels_that_are_not_class_ids(tmp_path, labels):
    with pytest.raises(UserInputError, match="is not a class id"):
        open_hackml(_write(tmp_path / "d.h5", data=IMAGES, label=labels))


def test_valid_file_still_opens(tmp_path):
    data = open_hackml(_write(tmp_path / "d.h5", data=IMAGES, label=LABELS))
    assert data.num_examples == 4 and data.labels.tolist() == [0, 1, 2, 0]
