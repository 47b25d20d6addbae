"""Per-id tables looked up by example id inside tf.data, with a value for ids off the table.

A plan's masks (poisoned?, role) and WaNet's kept-row slots are arrays indexed by example id;
ids outside them (negative, or past the training split) must read as "not planned". Padding the
table with that value at each end and clipping ids onto the pads makes the range check free:
one add, one clip, one gather per batch, where a bounds test and a select took 13 ops.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def padded_table(values: np.ndarray, outside) -> np.ndarray:
    """`values` with `outside` before and after it, for `look_up`.

    Args:
        values: the per-id values [M], id i at position i.
        outside: the value of every id outside [0, M).

    Returns:
        [M + 2], the dtype of `values`.
    """
    return np.concatenate([[outside], values, [outside]]).astype(values.dtype)


def look_up(table, ids: tf.Tensor) -> tf.Tensor:
    """`table`'s value of each int id (any shape); ids off the table read its pads.

    Args:
        table: a `padded_table` (a constant or a variable).
        ids: int example ids.

    Returns:
        The values, the shape of `ids`.
    """
    index = tf.clip_by_value(tf.cast(ids, tf.int64) + 1, 0, int(table.shape[0]) - 1)
    return tf.gather(table, index)
