"""How a plan stamps the planned rows of one batch, in place, as the Tasks' map runs it.

Each function takes a whole batch and returns it with only the planned rows changed (gathered,
stamped, scattered back), so the rows that are not poisoned are never copied or recomputed:
`stamp_rows` for alpha-blend triggers (only the trigger's box), `warp_rows` for WaNet's fixed
and noise-mode rows together, `noise_rows` for the noise-mode rows alone (`map_fn`'s path).
`poison_tf.poison.plan.PoisonPlan` decides which rows; these decide how.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from poison_tf.poison.kept_rows import KeptRows
from poison_tf.poison.triggers import Trigger


def noise_rows(
    trigger: Trigger, noise: tf.lookup.StaticHashTable, images: tf.Tensor, ids: tf.Tensor
) -> tf.Tensor:
    """A batch with WaNet's noise-mode warp applied to the rows whose id is in `noise`.

    Args:
        trigger: a WaNet `WarpTrigger`.
        noise: id → 1 for the noise-mode ids.
        images: [B, H, W, C].
        ids: [B] example ids.

    Returns:
        [B, H, W, C].
    """
    rows = tf.where(noise.lookup(ids) > 0)
    return tf.tensor_scatter_nd_update(
        images, rows, trigger.apply_noise(tf.gather_nd(images, rows), tf.gather_nd(ids, rows))
    )


def warp_rows(
    trigger, images: tf.Tensor, ids: tf.Tensor, roles: tf.Tensor, kept: KeptRows | None = None
) -> tf.Tensor:
    """A batch with WaNet's rows warped: the fixed warp where `roles` is 1, the noise-mode warp
    where it is 2; one gather, one compiled call (`WarpTrigger.apply_rows`), one scatter.

    Args:
        trigger: a WaNet `WarpTrigger`.
        images: [B, H, W, C] float32.
        ids: [B] int64 example ids.
        roles: [B] int8, `PoisonPlan.roles(ids)`.
        kept: where to keep the warped rows by id, or None.

    Returns:
        [B, H, W, C].
    """
    rows = tf.where(roles > 0)  # [K, 1] batch positions
    row_ids = tf.gather_nd(ids, rows)
    warped = trigger.apply_rows(
        tf.gather_nd(images, rows), row_ids, tf.equal(tf.gather_nd(roles, rows), 2)
    )
    if kept is not None:
        with tf.control_dependencies([kept.keep(row_ids, warped)]):
            warped = tf.identity(warped)
    return tf.tensor_scatter_nd_update(images, rows, warped)


def stamp_rows(trigger: Trigger, images: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """`images` [B, H, W, C] with `trigger` stamped on `rows` [K, 1], touching only its box.

    With a static image size only the box where the trigger's alpha is non-zero is gathered,
    blended and scattered back (a 10-px checkerboard on 100×100 images: 1 % of the pixels);
    outside it the blend is `x * 1 + 0 = x`, so the result is bit-identical to stamping whole
    images. Without a static size, or for a trigger that is not an alpha blend (WaNet's warp,
    SIG's signal), whole rows are stamped.

    Args:
        trigger: the trigger.
        images: [B, H, W, C].
        rows: [K, 1] int indices of the rows to stamp.

    Returns:
        [B, H, W, C].
    """
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None or not isinstance(trigger, Trigger):
        return tf.tensor_scatter_nd_update(images, rows, trigger.apply(tf.gather_nd(images, rows)))
    top, bottom, left, right = trigger.box(height, width)
    pattern, alpha = (t[top:bottom, left:right] for t in trigger.placed(height, width))
    pattern = tf.cast(tf.constant(pattern), images.dtype)
    alpha = tf.cast(tf.constant(alpha), images.dtype)
    region = tf.gather_nd(images[:, top:bottom, left:right], rows)  # [K, h, w, C]
    stamped = region * (1.0 - alpha) + pattern * alpha
    grid = np.stack(np.mgrid[top:bottom, left:right], -1).astype(np.int64)  # [h, w, 2]
    count, (h, w) = tf.shape(rows, tf.int64)[:1], grid.shape[:2]
    row_index = tf.broadcast_to(rows[:, None, None, :], tf.concat([count, [h, w, 1]], 0))
    pixel_index = tf.broadcast_to(tf.constant(grid), tf.concat([count, [h, w, 2]], 0))
    where = tf.concat([row_index, pixel_index], -1)  # [K, h, w, 3]: (row, y, x) per pixel
    return tf.tensor_scatter_nd_update(images, where, stamped)
