"""A training split's WaNet rows, warped in the first epoch and kept for the later ones.

A Task rebuilds its input pipeline every epoch, and tf.data instantiates every function of a
new pipeline anew (graph optimisation and kernels: ~0.3 ms of CPU per op, BENCHMARKS.md §14),
so WaNet's warp (~100 ops, compiled or not) costs ~60 ms per epoch before its first batch, on
top of ~1.5 ms per 128-image batch. Its rows are pure functions of (image, example id, plan):
the fixed warp of the image, or the noise-mode warp whose noise is a hash of the id; and a
Task's training images are the same every epoch (decoded from its examples artefact, nothing
random before the plan). So the first epoch keeps each warped row (a variable, by slot) as it
warps it, and once every planned row is kept, later epochs look rows up instead: a small
function, no warp. The same bits as warping every epoch (tests/poison/test_kept_rows.py).

Only for pipelines whose images are a function of the id (never after a random augmentation);
the Tasks opt in. Rows are kept only when they fit `KEEP_LIMIT_BYTES`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from poison_tf.poison.id_lookup import look_up, padded_table

KEEP_LIMIT_BYTES = 2**30


class KeptRows:
    """The warped rows of one training split by slot (poisoned ids first, then noise-mode ids),
    filled by the first epoch; plain variables, captured by handle (no copy per epoch).

    Args:
        plan: the `PoisonPlan` whose poisoned and noise-mode rows are kept.
        row_shape: one row's [H, W, C].

    Attributes:
        count: rows to keep (poisoned + noise-mode ids of the plan).
        poisoned: how many of the slots are poisoned rows (the first ones).
        slots: int32 [M] variable, id → slot (-1: not planned).
        rows: float32 [count, H, W, C] variable, the kept rows.
        filled: bool [count] variable, which slots hold their row.
        functions: the plan's batch functions bound to these rows (`PoisonPlan.batch_fn`).
    """

    def __init__(self, plan, row_shape: tuple[int, ...]):
        planned = np.concatenate([plan.poisoned_ids, plan.noise_ids]).astype(np.int64)
        self.count, self.poisoned = len(planned), len(plan.poisoned_ids)
        slots = np.full(len(plan.role_mask()), -1, np.int32)
        slots[planned] = np.arange(self.count, dtype=np.int32)
        self.slots = tf.Variable(padded_table(slots, -1), trainable=False, name="kept_slots")
        self.rows = tf.Variable(
            tf.zeros([self.count, *row_shape], tf.float32), trainable=False, name="kept_rows"
        )
        self.filled = tf.Variable(tf.zeros([self.count], tf.bool), trainable=False, name="kept")
        self.functions: dict = {}

    def complete(self) -> bool:
        """Whether every planned row is kept (checked when a pipeline is built, eagerly).

        Returns:
            True once every slot is filled.
        """
        return tf.executing_eagerly() and bool(tf.reduce_all(self.filled))

    def slots_of(self, ids: tf.Tensor) -> tf.Tensor:
        """The slots of int64 `ids` (any shape); -1 for ids not planned or out of range.

        Args:
            ids: int64 example ids.

        Returns:
            int32, the shape of `ids`.
        """
        return look_up(self.slots, ids)

    def keep(self, ids: tf.Tensor, rows: tf.Tensor) -> tf.Operation:
        """Keeps `rows` [K, H, W, C] of the planned `ids` [K] (in the filling epoch).

        Args:
            ids: int64 example ids, all planned.
            rows: their warped rows.

        Returns:
            The update op.
        """
        slots = self.slots_of(ids)[:, None]
        return tf.group(
            self.rows.scatter_nd_update(slots, rows),
            self.filled.scatter_nd_update(slots, tf.ones_like(slots[:, 0], tf.bool)),
        )

    def stamp(self, images: tf.Tensor, slots: tf.Tensor) -> tf.Tensor:
        """A batch with its planned rows (`slots` >= 0) replaced by the kept ones.

        Args:
            images: [B, H, W, C] float32.
            slots: [B] int32, `slots_of(ids)`.

        Returns:
            [B, H, W, C].
        """
        rows = tf.where(slots >= 0)  # [K, 1] batch positions
        kept = tf.gather(self.rows, tf.gather_nd(slots, rows))
        return tf.tensor_scatter_nd_update(images, rows, kept)


def keeps_rows(plan) -> bool:
    """Whether a Task's pipeline for `plan` may keep rows (`kept_rows`), and so carries state
    from one epoch to the next: plans whose trigger warps whole rows (WaNet).

    Args:
        plan: a `PoisonPlan`, or None (no plan).

    Returns:
        True for a plan whose trigger has `apply_rows`.
    """
    return plan is not None and hasattr(plan.trigger, "apply_rows")


def kept_rows(plan, image_shape) -> KeptRows | None:
    """A `KeptRows` for `plan` on images of `image_shape`, if its rows are worth keeping.

    Worth it for a trigger that warps whole rows (`apply_rows`: WaNet) on float32 images of a
    known shape, when (poisoned + noise-mode ids) × the row size fits `KEEP_LIMIT_BYTES`; BadNets,
    Blended or SIG stamp a row for less than looking it up costs. Not under a `tf.distribute`
    scope (its variables would be distributed ones): None there, and the plan warps every epoch.

    Args:
        plan: a `PoisonPlan`.
        image_shape: [H, W, C] of the pipeline's images (`element_spec` without the batch).

    Returns:
        The (empty) table, or None.
    """
    shape = tuple(tf.TensorShape(image_shape).as_list())
    if not keeps_rows(plan) or None in shape or tf.distribute.has_strategy():
        return None
    count = len(plan.poisoned_ids) + len(plan.noise_ids)
    if count == 0 or count * int(np.prod(shape)) * 4 > KEEP_LIMIT_BYTES:
        return None
    return KeptRows(plan, shape)
