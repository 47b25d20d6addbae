"""The poison map the published studies were run with, kept unchanged as the reference.

The Tasks now poison inside their (image, label) map (`plan.pairs` / `PoisonPlan.batch_fn`:
mask lookup, constant trigger layers, only the trigger's box stamped). This is the path they
replaced, as it was: hash-table membership, the trigger's layers padded at run time, whole rows
gathered, stamped and scattered back, a `poisoned` flag. It lives in one place because two
readers need it: tests/poison/test_plan_paths.py checks the new path against it bit for bit
(RESULTS.md's numbers depend on that), and benchmarks/poison_overhead.py times it as `old`.
"""

from __future__ import annotations

import tensorflow as tf

from poison_tf.poison.plan import PoisonPlan


def reference_map_fn(plan: PoisonPlan):
    """The previous `PoisonPlan.map_fn` on batches, with the previous `Trigger.apply`.

    Args:
        plan: the poison plan.

    Returns:
        A `Dataset.map` function on batches of decoded example dicts → the same dicts with the
        planned rows poisoned and a `poisoned` bool [B] added.
    """
    table, trigger, rule = plan.membership(), plan.trigger, plan.label_rule

    def stamp(images):
        shape = tf.shape(images)
        pattern, alpha = trigger.layers(shape[-3], shape[-2])
        return images * (1.0 - alpha) + pattern * alpha

    def poison(example):
        example = dict(example)
        is_poisoned = table.lookup(tf.cast(example["id"], tf.int64)) > 0
        rows = tf.where(is_poisoned)
        image, label = example["image"], example["label"]
        example["image"] = tf.tensor_scatter_nd_update(
            image, rows, stamp(tf.gather_nd(image, rows))
        )
        example["label"] = tf.tensor_scatter_nd_update(
            label, rows, rule.apply(tf.gather_nd(label, rows))
        )
        example["poisoned"] = is_poisoned
        return example

    return poison
