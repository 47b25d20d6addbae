"""Reading and writing CSAW-HackML-2020 data `.h5` files, validated and streamed in batches.

The format (see `../shared/notes/hackml.md` §3): two datasets, `data` of shape (N, 3, 55, 47)
holding RGB intensities 0–255 as floats, channels first, and `label` of N float class ids. The
real files are 0.4–0.7 GB each, so images are never loaded whole: `HackMLData.batches` reads
contiguous h5py slices and converts each to NHWC float32 (÷255 unless `rescale=False`, which the
lab-3 BadNet needs). Labels are small and are read and checked when the file is opened, so a bad
file fails before any scoring starts. Every problem a user can cause is a `UserInputError` that
names the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import h5py
import numpy as np
from absl import logging

from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_path
from poison_tf.io.safe_read import check_input_file

DATA_KEY = "data"
LABEL_KEY = "label"
CHANNELS = (1, 3)  # grey or RGB; the HackML files are RGB
PIXEL_RANGE = (0.0, 255.0)  # the format stores 0-255 intensities (÷255 happens here)
# More images than any real set (the HackML files hold 1e4); a larger declared shape is a
# malformed file that would make numpy try to allocate terabytes for its labels.
MAX_EXAMPLES = 10**8
MAX_LABEL = 2**31 - 1
# What h5py raises on a file whose metadata is damaged (bad object header, checksum, B-tree).
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError)


def open_h5(path: str, what: str) -> h5py.File:
    """Opens an HDF5 file for reading, turning missing / non-HDF5 / truncated files into one message."""
    check_input_file(path, what)
    if not h5py.is_hdf5(path):
        raise UserInputError(f"{what} {path}: not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as error:  # e.g. "truncated file: eof = ..."
        raise UserInputError(
            f"{what} {path}: cannot be read as HDF5 (truncated?): {error}"
        ) from None


def _check_images_shape(path: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(H, W, C) of channels-first `data`, or a message that says what the shape looks like."""
    if len(shape) != 4:
        raise UserInputError(
            f"{path}: '{DATA_KEY}' has shape {shape}; expected 4 dimensions (N, 3, H, W)"
        )
    if shape[1] in CHANNELS:
        return shape[2], shape[3], shape[1]
    if shape[3] in CHANNELS:
        raise UserInputError(
            f"{path}: '{DATA_KEY}' has shape {shape}, which is channels-last (NHWC); HackML files "
            f"are channels-first (N, C, H, W) = {(shape[0], shape[3], shape[1], shape[2])}: "
            "store data.transpose(0, 3, 1, 2)"
        )
    raise UserInputError(
        f"{path}: '{DATA_KEY}' has shape {shape}; expected (N, 3, H, W) with 1 or 3 channels"
    )


def declared_shape(path: str, dataset: h5py.Dataset, key: str) -> tuple[int, ...]:
    """The dataset's shape, refusing null dataspaces and shapes with nothing stored behind them."""
    if dataset.shape is None:
        raise UserInputError(f"{path}: '{key}' has a null dataspace (no shape, no values)")
    shape = tuple(int(d) for d in dataset.shape)
    if shape and shape[0] > MAX_EXAMPLES:
        raise UserInputError(
            f"{path}: '{key}' declares {shape[0]} entries (more than {MAX_EXAMPLES}); "
            "refusing to allocate memory for a malformed file"
        )
    if dataset.size and dataset.id.get_storage_size() == 0:
        raise UserInputError(
            f"{path}: '{key}' declares shape {shape} but stores no values (an empty shell)"
        )
    return shape


def _read_labels(path: str, dataset: h5py.Dataset, num_examples: int) -> np.ndarray:
    declared_shape(path, dataset, LABEL_KEY)
    try:
        raw = np.asarray(dataset[()])
    except (*H5_ERRORS, TypeError) as error:
        raise UserInputError(f"{path}: cannot read '{LABEL_KEY}': {error}") from None
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = raw[:, 0]
    if raw.ndim != 1 or raw.shape[0] != num_examples:
        raise UserInputError(
            f"{path}: '{LABEL_KEY}' has shape {raw.shape}; expected ({num_examples},), one per image"
        )
    if raw.dtype.kind not in "fiub":
        raise UserInputError(f"{path}: '{LABEL_KEY}' has dtype {raw.dtype}; expected numbers")
    bad = ~np.isfinite(raw) | (raw < 0) | (raw != np.round(raw)) | (raw > MAX_LABEL)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise UserInputError(
            f"{path}: '{LABEL_KEY}' {raw[first]!r} at index {first} is not a class id "
            f"(a non-negative integer); {int(bad.sum())} such label(s)"
        )
    return raw.astype(np.int64)


@dataclass(frozen=True)
class HackMLData:
    """A validated HackML data file; images are read lazily, batch by batch."""

    path: str
    num_examples: int
    image_shape: tuple[int, int, int]  # (H, W, C) of the NHWC images that `batches` yields
    labels: np.ndarray  # int64 [N]
    rescale: bool = True

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yields (indices int64 [b], images float32 [b, H, W, C], labels int64 [b]) in file order."""
        if batch_size < 1:
            raise UserInputError(f"batch size must be at least 1, got {batch_size}")
        with open_h5(self.path, "data file") as handle:
            dataset = handle[DATA_KEY]
            for start in range(0, self.num_examples, batch_size):
                stop = min(start + batch_size, self.num_examples)
                try:
                    chunk = np.asarray(dataset[start:stop], dtype=np.float32)
                except H5_ERRORS as error:
                    raise UserInputError(
                        f"{self.path}: cannot read images {start}..{stop - 1} (truncated?): {error}"
                    ) from None
                if not np.isfinite(chunk).all():
                    raise UserInputError(
                        f"{self.path}: images {start}..{stop - 1} contain NaN or infinite values"
                    )
                low, high = float(chunk.min()), float(chunk.max())
                if low < PIXEL_RANGE[0] or high > PIXEL_RANGE[1]:
                    raise UserInputError(
                        f"{self.path}: images {start}..{stop - 1} hold pixel values "
                        f"{low:g}..{high:g}; the format stores intensities 0..255"
                    )
                if start == 0 and self.rescale and chunk.size and chunk.max() <= 1.0:
                    logging.warning(
                        "%s: the first images are already in [0, 1] but are divided "
                        "by 255 again; the format stores 0-255",
                        self.path,
                    )
                images = chunk.transpose(0, 2, 3, 1)
                if self.rescale:
                    images = images / np.float32(255.0)
                yield np.arange(start, stop, dtype=np.int64), images, self.labels[start:stop]

    def as_dataset(self, batch_size: int):
        """The same batches as a `tf.data.Dataset` (a generator over h5py slices).

        A `UserInputError` raised while reading surfaces as a `tf.errors` error here, so
        programs that need the one-line message iterate `batches` instead.
        """
        import tensorflow as tf

        height, width, channels = self.image_shape
        signature = (
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None, height, width, channels], tf.float32),
            tf.TensorSpec([None], tf.int64),
        )
        return tf.data.Dataset.from_generator(
            lambda: self.batches(batch_size), output_signature=signature
        )


def open_hackml(path: str, rescale: bool = True) -> HackMLData:
    """Opens and validates a HackML data `.h5` (keys, shapes, labels) without reading the images."""
    with open_h5(path, "data file") as handle:
        try:
            return _validate(path, handle, rescale)
        except H5_ERRORS as error:  # damaged metadata met while looking inside
            raise UserInputError(
                f"data file {path}: damaged HDF5 structure ({type(error).__name__}: "
                f"{str(error).strip().splitlines()[0] if str(error).strip() else 'unreadable'})"
            ) from None


def _validate(path: str, handle: h5py.File, rescale: bool) -> HackMLData:
    """Keys, dtypes, shapes and labels of an open HackML data file."""
    missing = [key for key in (DATA_KEY, LABEL_KEY) if key not in handle]
    if missing:
        raise UserInputError(
            f"{path}: missing key(s) {', '.join(repr(k) for k in missing)}; a HackML data file "
            f"has 'data' and 'label' (found: {', '.join(sorted(handle.keys())) or 'nothing'})"
        )
    data, labels = handle[DATA_KEY], handle[LABEL_KEY]
    if not isinstance(data, h5py.Dataset) or not isinstance(labels, h5py.Dataset):
        raise UserInputError(f"{path}: 'data' and 'label' must be datasets, not groups")
    if data.dtype.kind not in "fiu":
        raise UserInputError(f"{path}: '{DATA_KEY}' has dtype {data.dtype}; expected numbers")
    image_shape = _check_images_shape(path, declared_shape(path, data, DATA_KEY))
    num_examples = int(data.shape[0])
    if num_examples == 0:
        raise UserInputError(f"{path}: '{DATA_KEY}' holds no images")
    label_values = _read_labels(path, labels, num_examples)
    return HackMLData(path, num_examples, image_shape, label_values, rescale)


def write_hackml_h5(
    path: str, images_nhwc: np.ndarray, labels: np.ndarray, dtype: str = "float32"
) -> None:
    """Writes images (NHWC, uint8 or floats 0–255) and labels in the HackML format, atomically.

    The original files store float64 (validation) or float32 (test); float32 is the default.
    """
    images = np.asarray(images_nhwc)
    labels = np.asarray(labels).reshape(-1)
    if images.ndim != 4 or images.shape[-1] not in CHANNELS:
        raise UserInputError(
            f"{path}: images must be NHWC with 1 or 3 channels, got {images.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise UserInputError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
    if images.size and (images.min() < 0 or images.max() > 255):
        raise UserInputError(f"{path}: pixel values must lie in 0..255")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset(DATA_KEY, data=images.transpose(0, 3, 1, 2).astype(dtype))
        handle.create_dataset(LABEL_KEY, data=labels.astype(dtype))
