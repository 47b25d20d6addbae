"""Class-labelled image sources → uint8 arrays: numpy archives and image folders.

- `npz:<file.npz>` (split by a seeded permutation) or `npz:<dir>` holding one archive whose
  name contains "train" and one whose name contains "test" (e.g. ../shared/datasets/
  cifar10-test-train20k: keys `x` uint8 [N, 32, 32, 3], `y` [N]). Keys `x`/`y` or
  `images`/`labels`; class names from a `classes.txt` beside the archives ("0<TAB>airplane").
- `folder:<dir>`: one sub-folder per class (names sorted = class ids), or `<dir>/train` and
  `<dir>/test` each laid out that way.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import tensorflow as tf

from poison_tf.errors import UserInputError
from poison_tf.io.safe_read import check_input_file, read_text

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _read_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        archive = np.load(path)
    except (OSError, ValueError) as error:
        raise UserInputError(f"{path}: not a readable numpy archive ({error})") from None
    for image_key, label_key in (("x", "y"), ("images", "labels")):
        if image_key in archive.files and label_key in archive.files:
            images, labels = archive[image_key], archive[label_key].reshape(-1)
            break
    else:
        raise UserInputError(f"{path}: needs keys x/y or images/labels, has {archive.files}")
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) != len(labels):
        raise UserInputError(
            f"{path}: images must be [N, H, W, 3] with N labels, got {images.shape} / {labels.shape}"
        )
    if images.dtype != np.uint8:
        images = np.round(
            np.clip(images, 0, 1) * 255 if images.max() <= 1.0 else np.clip(images, 0, 255)
        ).astype(np.uint8)
    return images, labels.astype(np.int64)


def _class_names(folder: str, count: int) -> list[str]:
    path = os.path.join(folder, "classes.txt")
    if os.path.isfile(path):
        text = read_text(path, "class names file")
        names = [line.split("\t")[-1].strip() for line in text.splitlines() if line.strip()]
        if len(names) >= count:
            return names
    return [str(i) for i in range(count)]


def load_npz(path: str) -> tuple[tuple, tuple | None, list[str]]:
    """((train x, y), (test x, y) or None, class names)."""
    if os.path.isdir(path):
        archives = sorted(glob.glob(os.path.join(path, "*.npz")))
        train = [a for a in archives if "train" in os.path.basename(a)]
        test = [a for a in archives if "test" in os.path.basename(a)]
        if len(train) != 1 or len(test) != 1:
            raise UserInputError(
                f"{path}: needs one *train*.npz and one *test*.npz, found {archives}"
            )
        train_xy, test_xy = _read_npz(train[0]), _read_npz(test[0])
        count = int(max(train_xy[1].max(), test_xy[1].max())) + 1
        return train_xy, test_xy, _class_names(path, count)
    if not os.path.isfile(path):
        raise UserInputError(f"--source=npz:{path}: no such file or folder")
    train_xy = _read_npz(path)
    return train_xy, None, _class_names(os.path.dirname(path), int(train_xy[1].max()) + 1)


def _read_class_folders(
    folder: str, size: int, names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = names or sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if len(names) < 2:
        raise UserInputError(f"{folder}: needs at least two class sub-folders, found {names}")
    images, labels = [], []
    for label, name in enumerate(names):
        for path in sorted(glob.glob(os.path.join(folder, name, "*"))):
            if not path.lower().endswith(IMAGE_SUFFIXES):
                continue
            check_input_file(path, "image")  # a dangling link or a folder named like an image
            try:
                image = tf.io.decode_image(
                    tf.io.read_file(path), channels=3, expand_animations=False
                )
            except tf.errors.InvalidArgumentError:
                raise UserInputError(f"{path}: not a readable image") from None
            image = tf.image.resize(image, (size, size), antialias=True)
            images.append(np.clip(np.round(image.numpy()), 0, 255).astype(np.uint8))
            labels.append(label)
    if not images:
        raise UserInputError(
            f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class sub-folders"
        )
    return np.stack(images), np.asarray(labels, np.int64), names


def load_folders(path: str, size: int) -> tuple[tuple, tuple | None, list[str]]:
    if not os.path.isdir(path):
        raise UserInputError(f"--source=folder:{path}: no such folder")
    if os.path.isdir(os.path.join(path, "train")) and os.path.isdir(os.path.join(path, "test")):
        train_x, train_y, names = _read_class_folders(os.path.join(path, "train"), size)
        test_x, test_y, _ = _read_class_folders(os.path.join(path, "test"), size, names)
        return (train_x, train_y), (test_x, test_y), names
    images, labels, names = _read_class_folders(path, size)
    return (images, labels), None, names


def resize_images(images: np.ndarray, size: int, chunk: int = 512) -> np.ndarray:
    """uint8 images resized to `size`×`size`, `chunk` at a time: `tf.image.resize` returns float32,
    so resizing CIFAR-10's 20k training images to 224 px in one call would hold 12 GB (twice that
    while rounding) where the uint8 result is 3 GB."""
    if images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, images.shape[-1]), np.uint8)
    for start in range(0, len(images), chunk):
        resized = tf.image.resize(
            images[start : start + chunk], (size, size), antialias=True
        ).numpy()
        out[start : start + chunk] = np.clip(np.round(resized), 0, 255)
    return out
