"""HackML data files: the writer's format, streaming in batches, and one message per bad file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from hackml_helpers import faces

from poison_tf.data.hackml import open_hackml, write_hackml_h5
from poison_tf.errors import UserInputError


def test_writer_stores_channels_first_floats_and_reader_streams_nhwc(tmp_path):
    images, labels = faces(7, seed=1), np.array([0, 1, 2, 3, 4, 1282, 9])
    path = str(tmp_path / "d.h5")
    write_hackml_h5(path, images, labels)
    with h5py.File(path, "r") as handle:
        assert sorted(handle) == ["data", "label"]
        assert handle["data"].shape == (7, 3, 55, 47) and handle["data"].dtype == np.float32
        np.testing.assert_array_equal(handle["data"][2], images[2].transpose(2, 0, 1))
        assert handle["label"].dtype == np.float32
    data = open_hackml(path)
    assert (data.num_examples, data.image_shape) == (7, (55, 47, 3))
    batches = list(data.batches(3))
    assert [len(b[0]) for b in batches] == [3, 3, 1]
    indices, x, y = (np.concatenate(parts) for parts in zip(*batches))
    np.testing.assert_array_equal(indices, np.arange(7))
    np.testing.assert_allclose(x, images / 255.0, rtol=1e-6)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    raw = np.concatenate([b[1] for b in open_hackml(path, rescale=False).batches(4)])
    np.testing.assert_array_equal(raw, images.astype(np.float32))


def test_float64_files_and_column_labels_are_read(tmp_path):
    path = str(tmp_path / "d.h5")
    images = faces(3, seed=2)
    with h5py.File(path, "w") as handle:  # the validation files' layout: float64
        handle["data"] = images.transpose(0, 3, 1, 2).astype(np.float64)
        handle["label"] = np.array([[43.0], [328.0], [196.0]])
    data = open_hackml(path)
    np.testing.assert_array_equal(data.labels, [43, 328, 196])
    indices, x, y = next(iter(data.as_dataset(2)))
    assert x.shape == (2, 55, 47, 3) and list(y.numpy()) == [43, 328]


def _h5(path, **datasets):
    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            handle[key] = value
    return str(path)


@pytest.mark.parametrize(
    "datasets, message",
    [
        ({"data": np.zeros((2, 3, 55, 47))}, "missing key(s) 'label'"),
        ({"x": np.zeros(2), "y": np.zeros(2)}, "missing key(s) 'data', 'label'"),
        ({"data": np.zeros((2, 55, 47, 3)), "label": np.zeros(2)}, "channels-last (NHWC)"),
        ({"data": np.zeros((2, 55, 47)), "label": np.zeros(2)}, "expected 4 dimensions"),
        ({"data": np.zeros((2, 3, 55, 47)), "label": np.zeros(3)}, "one per image"),
        ({"data": np.zeros((2, 3, 55, 47)), "label": np.array([1.0, 2.5])}, "not a class id"),
        ({"data": np.zeros((2, 3, 55, 47)), "label": np.array([1.0, np.nan])}, "not a class id"),
        ({"data": np.zeros((2, 3, 55, 47)), "label": np.array([-1.0, 2.0])}, "not a class id"),
        ({"data": np.zeros((0, 3, 55, 47)), "label": np.zeros(0)}, "holds no images"),
    ],
)
def test_bad_files_raise_one_message_naming_the_file(tmp_path, datasets, message):
    path = _h5(tmp_path / "bad.h5", **datasets)
    with pytest.raises(UserInputError) as error:
        open_hackml(path)
    assert message in str(error.value) and path in str(error.value)


def test_missing_non_hdf5_and_truncated_files(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        open_hackml(str(tmp_path / "absent.h5"))
    text = tmp_path / "text.h5"
    text.write_text("Place your '.h5' data files in this directory\n")  # the repo's placeholder
    with pytest.raises(UserInputError, match="not an HDF5 file"):
        open_hackml(str(text))
    full = str(tmp_path / "full.h5")
    write_hackml_h5(full, faces(20), np.zeros(20))
    cut = tmp_path / "cut.h5"
    cut.write_bytes(open(full, "rb").read()[:200_000])
    with pytest.raises(UserInputError, match="truncated"):
        open_hackml(str(cut))


def test_nan_pixels_are_reported_with_their_batch(tmp_path):
    path = _h5(tmp_path / "nan.h5", data=np.full((4, 3, 55, 47), np.nan), label=np.zeros(4))
    with pytest.raises(UserInputError, match=r"images 0\.\.1 contain NaN"):
        next(open_hackml(path).batches(2))


def test_writer_rejects_inputs_it_cannot_store(tmp_path):
    with pytest.raises(UserInputError, match="NHWC"):
        write_hackml_h5(str(tmp_path / "a.h5"), np.zeros((2, 3, 55, 47)), [0, 0])
    with pytest.raises(UserInputError, match="2 images but 3 labels"):
        write_hackml_h5(str(tmp_path / "b.h5"), faces(2), [0, 0, 0])
    with pytest.raises(UserInputError, match="0..255"):
        write_hackml_h5(str(tmp_path / "c.h5"), np.full((1, 55, 47, 3), 300.0), [0])
    assert not list(tmp_path.iterdir())
