"""A labelled image list (`<image path>, <class id>` per line) → uint8 arrays.

The format of ../shared/datasets/ilsvrc2012-val-1300/dataset.txt (Caffe's ImageNet lists):
`./data/ILSVRC2012_val_00000347.JPEG, 472`, paths relative to the list's folder, class ids in the
standard sorted-synset order (the order of torchvision's and Keras' ImageNet heads). `source`
is the list file or a folder holding `dataset.txt`. Images are resized to `size`×`size` with
antialiasing, like the `folder:` source.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from poison_tf.errors import UserInputError

LIST_NAME = "dataset.txt"


def list_path(source: str) -> str:
    """The list file of `source` (a file, or a folder with `dataset.txt`)."""
    path = os.path.join(source, LIST_NAME) if os.path.isdir(source) else source
    if not os.path.isfile(path):
        raise UserInputError(f"--source=imagelist:{source}: no list file {path}")
    return path


def read_list(source: str) -> list[tuple[str, int]]:
    """[(absolute image path, class id)] in file order."""
    path = list_path(source)
    root = os.path.dirname(os.path.abspath(path))
    entries = []
    for number, line in enumerate(open(path), 1):
        if not line.strip():
            continue
        parts = line.replace(",", " ").split()
        try:
            entries.append((os.path.normpath(os.path.join(root, parts[0])), int(parts[1])))
        except (IndexError, ValueError):
            raise UserInputError(
                f"{path}:{number}: expected '<image path>, <class id>', got {line.strip()!r}"
            ) from None
    if not entries:
        raise UserInputError(f"{path}: lists no images")
    return entries


def load_image_list(
    source: str, size: int, limit: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, size, size, 3], int64 labels [N]) of the list's images.

    Args:
        source: the list file, or a folder holding `dataset.txt`.
        size: side the images are resized to.
        limit: keep a seeded random subset of at most this many images (0: all, in file order).
        seed: seed of that subset.
    """
    entries = read_list(source)
    if 0 < limit < len(entries):
        keep = np.sort(np.random.default_rng(seed).permutation(len(entries))[:limit])
        entries = [entries[i] for i in keep]
    images = np.empty((len(entries), size, size, 3), np.uint8)
    for index, (path, _) in enumerate(entries):
        try:
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError):
            raise UserInputError(f"{path}: missing or not a readable image") from None
        resized = tf.image.resize(image, (size, size), antialias=True).numpy()
        images[index] = np.clip(np.round(resized), 0, 255)
    return images, np.asarray([label for _, label in entries], np.int64)


def class_names(source: str, count: int) -> list[str]:
    """Class names from `synset_words.txt` beside the list ("n01440764 tench, Tinca tinca" →
    "tench"), else the ids as text; at least `count` names."""
    path = os.path.join(os.path.dirname(os.path.abspath(list_path(source))), "synset_words.txt")
    names = []
    if os.path.isfile(path):
        for line in open(path):
            _, _, words = line.strip().partition(" ")
            if words:
                names.append(words.split(",")[0].strip())
    if len(names) < count:
        names = [str(i) for i in range(count)]
    return names


def load_image_list_source(source: str, size: int) -> tuple[tuple, None, list[str]]:
    """((images, labels), None, class names) for `--source=imagelist:<list or folder>`: no test
    split of its own (the example generator holds out a seeded share)."""
    images, labels = load_image_list(source, size)
    return (images, labels), None, class_names(source, int(labels.max()) + 1)
