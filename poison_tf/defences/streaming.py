"""Batch-at-a-time access to image arrays, so detectors fit and score 100k images in memory.

Detectors accept any array-like that slices along axis 0 into [B, H, W, C] (a numpy array, a
memory map, an `h5py.Dataset`) and only ever hold one float32 batch of it, so the caller
decides what lives in memory. Training order is shuffled per epoch; for arrays that are not
in memory it shuffles contiguous blocks (fancy indexing an h5 dataset is slow and needs
sorted indices) and then the images inside each block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from poison_tf.errors import require


def check_images(x: Any, input_shape: tuple[int, ...] | None, what: str) -> int:
    """Returns N after checking `x` is [N, *input_shape] with N > 0 (else UserInputError).

    Args:
        x: an array-like of images.
        input_shape: the expected (H, W, C), or None for any.
        what: names the caller in error messages.

    Returns:
        N.

    Raises:
        UserInputError: see above.
    """
    shape = tuple(getattr(x, "shape", ()))
    require(len(shape) == 4, f"{what}: expected images [N, H, W, C], got shape {shape}")
    require(shape[0] > 0, f"{what}: no images")
    if input_shape is not None:
        require(
            tuple(shape[1:]) == tuple(input_shape),
            f"{what}: images are {tuple(shape[1:])}, the detector expects {tuple(input_shape)}",
        )
    return int(shape[0])


def iter_batches(x: Any, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive float32 batches of `x`, in order.

    Args:
        x: an array-like of images (an h5py dataset is read slice by slice).
        batch_size: rows per batch.

    Yields:
        float32 batches of at most `batch_size` rows.
    """
    for start in range(0, len(x), batch_size):
        yield np.asarray(x[start : start + batch_size], dtype=np.float32)


def shuffled_batches(
    x: Any, y: Any, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """One epoch of shuffled (x, y) batches; `y` may be None.

    Args:
        x: an array-like of images (an h5py dataset is shuffled by blocks, then within a block).
        y: the labels, or None.
        batch_size: rows per batch.
        rng: the shuffle's generator.

    Yields:
        (float32 images, labels or None) batches.
    """
    n = len(x)
    if isinstance(x, np.ndarray):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = np.sort(order[start : start + batch_size])
            yield _take(x, y, idx)
        return
    block = 16 * batch_size
    for start in rng.permutation(np.arange(0, n, block)):
        xb = np.asarray(x[start : start + block], dtype=np.float32)
        yb = None if y is None else np.asarray(y[start : start + block])
        inner = rng.permutation(len(xb))
        for s in range(0, len(xb), batch_size):
            yield _take(xb, yb, inner[s : s + batch_size])


def _take(x: Any, y: Any, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    return np.asarray(x[idx], dtype=np.float32), None if y is None else np.asarray(y[idx])


def map_batches(fn: Callable[[np.ndarray], Any], x: Any, batch_size: int) -> Any:
    """Applies `fn` batch by batch and concatenates its (array or tuple-of-arrays) outputs.

    Args:
        fn: batch → array or tuple of arrays.
        x: an array-like of images.
        batch_size: rows per batch.

    Returns:
        The concatenated outputs.
    """
    parts = [fn(batch) for batch in iter_batches(x, batch_size)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(parts[0])))
    return np.concatenate(parts)


def compiled(fn: Callable, input_shape: tuple[int, ...]) -> Callable[[np.ndarray], Any]:
    """`fn` as a tf.function over float32 batches of any size, returning numpy outputs.

    Args:
        fn: a TF function of a float32 batch.
        input_shape: (H, W, C) of one image.

    Returns:
        batch → numpy output(s).
    """
    traced = tf.function(fn, input_signature=[tf.TensorSpec((None, *input_shape), tf.float32)])

    def run(batch: np.ndarray) -> Any:
        out = traced(tf.convert_to_tensor(batch, tf.float32))
        if isinstance(out, (tuple, list)):
            return tuple(np.asarray(o) for o in out)
        return np.asarray(out)

    return run


class Subset:
    """Rows `indices` (sorted) of an array-like, sliceable like one, without copying it all.

    Used to split clean data into fit / held-out parts while keeping the streaming promise:
    slices map to sorted index lists, which numpy and h5py both read.

    Args:
        base: an array-like (numpy array or h5py dataset).
        indices: the rows to expose.
    """

    def __init__(self, base: Any, indices: np.ndarray) -> None:
        self.base = base
        self.indices = np.sort(np.asarray(indices, dtype=np.int64))
        self.shape = (len(self.indices), *tuple(base.shape[1:]))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key: Any) -> np.ndarray:
        picked = self.indices[key]
        if np.ndim(picked) == 0:
            return np.asarray(self.base[int(picked)])
        order = np.argsort(picked, kind="stable")
        rows = np.asarray(self.base[picked[order]])
        out = np.empty_like(rows)
        out[order] = rows
        return out
