"""How a plan stamps the planned rows of one batch, in place, as the Tasks' map runs it.

Each function takes a whole batch and returns it with only the planned rows changed, so the
rows that are not poisoned are never recomputed: `stamp_rows` for alpha-blend triggers (only
the trigger's box, written back in place), `warp_rows` for WaNet's fixed
and noise-mode rows together, `noise_rows` for the noise-mode rows alone (`map_fn`'s path).
`poison_tf.poison.plan.PoisonPlan` decides which rows; these decide how.
"""

from __future__ import annotations

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

    With a static image size only the box where the trigger's alpha is non-zero is read:
    every row's box is sliced out, the planned rows' boxes blended, and the box written back with
    `TensorStridedSliceUpdate`, which updates in place a batch the map function made itself
    (the float batch `pairs` converts from uint8). `tensor_scatter_nd_update` never does on
    CPU: it copied the whole batch first, ~0.7 ms of CPU per 64 heads of 100×100 (measured,
    BENCHMARKS §1), which was most of the plan's cost. Outside the box the blend is
    `x * 1 + 0 = x` and the other rows get their own box back, so the result is bit-identical to
    stamping whole images. Without a static size, or for a trigger that is not an alpha blend
    (WaNet's warp, SIG's signal), the planned rows are stamped whole.

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
    region = images[:, top:bottom, left:right]  # [B, h, w, C]
    blended = tf.gather_nd(region, rows) * (1.0 - alpha) + pattern * alpha
    stamped = tf.tensor_scatter_nd_update(region, rows, blended)
    return tf.raw_ops.TensorStridedSliceUpdate(  # masks 0b1001: every row, every channel
        input=images,
        begin=[0, top, left, 0],
        end=[0, bottom, right, 0],
        strides=[1, 1, 1, 1],
        begin_mask=0b1001,
        end_mask=0b1001,
        value=stamped,
    )
