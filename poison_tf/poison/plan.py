"""The poison plan: which example ids get which trigger and label rule, as a JSON artefact.

Poisoning never copies data. The plan is applied by the training input pipeline as pure TF
ops, so it scales with tf.data and costs almost nothing; the same plan file also documents the
attack exactly (ids, trigger parameters, rule, seed, counts).

Two ways to apply it, giving bit-identical examples (tests/poison/test_plan_paths.py):
- `pairs(plan)`: the map after `batch` that every Task has anyway (example dict → (image,
  label)) poisons the batch on the way (`batch_fn`: a boolean mask indexed by id, the poisoned
  rows gathered, stamped and scattered back, in a `tf.function` traced once per plan). The
  Tasks use this: no extra tf.data stage, no per-epoch re-tracing of the trigger
  (benchmarks/poison_overhead.py and BENCHMARKS.md section 1 say what each step bought).
- `map_fn`: a separate `Dataset.map`, per example or per batch, for other pipelines; it also
  adds the `poisoned` flag.

`noise_ids` (optional, disjoint from `poisoned_ids`) are the "cross" examples of WaNet's noise
mode: their trigger's `apply_noise(images, ids)` is applied and their labels are kept. They are
not poisoned (the `poisoned` flag stays False), which is the ground truth defences are scored on.
Both ways apply them; `batch_fn` warps a batch's poisoned and noise-mode rows together, in one
XLA-compiled call (`warp_rows`), its fixed-warp rows equal to `map_fn`'s within float32 round-off,
and with a `KeptRows` (the Tasks') it warps them in the first epoch only and looks them up later.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from poison_tf.data.image_examples import float_images
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import read_json, write_json
from poison_tf.poison.id_lookup import look_up, padded_table
from poison_tf.poison.kept_rows import KeptRows
from poison_tf.poison.label_rules import LabelRule, label_rule_from_config
from poison_tf.poison.plan_rows import noise_rows, stamp_rows, warp_rows
from poison_tf.poison.triggers import Trigger, trigger_from_config


@dataclasses.dataclass
class PoisonPlan:
    """Which examples are poisoned, with which trigger and label rule: the Poison stage's artefact.

    The plan holds ids, not data: the training input pipeline applies it inside `tf.data`
    (`batch_fn` / `map_fn`), so poisoning costs a gather and a stamp per batch.

    Attributes:
        trigger: what is stamped on the poisoned images.
        label_rule: what their labels become.
        poisoned_ids: sorted example ids to poison.
        num_examples: N, the size of the training split the rate refers to.
        rate: the poison rate (fraction of N).
        seed: the selection's seed.
        noise_ids: ids warped in WaNet's noise mode (labels kept); empty for other triggers.
    """

    trigger: Trigger
    label_rule: LabelRule
    poisoned_ids: np.ndarray
    num_examples: int
    rate: float
    seed: int
    noise_ids: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    _table: tf.lookup.StaticHashTable | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        overlap = np.intersect1d(self.poisoned_ids, self.noise_ids)
        if len(overlap):
            raise UserInputError(
                f"poison plan: {len(overlap)} id(s) are both poisoned and noise-mode "
                f"(e.g. {int(overlap[0])}); noise_ids must be disjoint from poisoned_ids"
            )

    @property
    def count(self) -> int:
        return len(self.poisoned_ids)

    def to_json(self) -> dict:
        """The plan as JSON (trigger and label rule by their configs).

        Returns:
            The JSON-ready dict `load` reads back.
        """
        return {
            "trigger": self.trigger.config,
            "label_rule": self.label_rule.config(),
            "poisoned_ids": [int(i) for i in self.poisoned_ids],
            "count": self.count,
            "num_examples": self.num_examples,
            "rate": self.rate,
            "seed": self.seed,
            **({"noise_ids": [int(i) for i in self.noise_ids]} if len(self.noise_ids) else {}),
        }

    def save(self, path: str) -> None:
        """Writes the plan's JSON to `path`, atomically.

        Args:
            path: the JSON file.
        """
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str) -> PoisonPlan:
        """Reads a plan that `save` wrote.

        Args:
            path: the JSON file.

        Returns:
            The plan.
        """
        payload = read_json(path)
        return cls(
            trigger=trigger_from_config(payload["trigger"]),
            label_rule=label_rule_from_config(payload["label_rule"]),
            poisoned_ids=np.asarray(payload["poisoned_ids"], np.int64),
            num_examples=int(payload["num_examples"]),
            rate=float(payload["rate"]),
            seed=int(payload["seed"]),
            noise_ids=np.asarray(payload.get("noise_ids", []), np.int64),
        )

    def membership(self) -> tf.lookup.StaticHashTable:
        """id → 1 if poisoned (0 otherwise), a TF resource usable inside Dataset.map.

        Built once per plan: a trainer rebuilds its input pipeline every epoch, and a fresh
        table for a Pandora-sized plan would cost its initialisation each time.

        Returns:
            The hash table (built on the first call, then kept).
        """
        if self._table is None:
            keys = tf.constant(self.poisoned_ids, tf.int64)
            values = tf.ones_like(keys, tf.int32)
            self._table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(keys, values), 0
            )
        return self._table

    def membership_mask(self) -> np.ndarray:
        """bool [M]: True at every poisoned id, M = max(num_examples, largest id + 1).

        Returns:
            The mask.
        """
        size = max(self.num_examples, int(self.poisoned_ids.max()) + 1 if self.count else 0)
        mask = np.zeros(max(size, 1), bool)
        mask[np.asarray(self.poisoned_ids, np.int64)] = True
        return mask

    def is_poisoned(self, ids: tf.Tensor) -> tf.Tensor:
        """Membership of int ids (any shape) by indexing the boolean mask; out-of-range ids
        (negative, or past the mask) are clean, as the hash table's default said.

        Args:
            ids: int example ids.

        Returns:
            bool, the shape of `ids`.
        """
        return look_up(tf.constant(padded_table(self.membership_mask(), False)), ids)

    def role_mask(self) -> np.ndarray:
        """int8 [M]: 1 at every poisoned id, 2 at every noise-mode id, 0 elsewhere; M covers
        `num_examples` and every planned id.

        Returns:
            The mask.
        """
        planned = [ids for ids in (self.poisoned_ids, self.noise_ids) if len(ids)]
        size = max([self.num_examples, 1, *(int(ids.max()) + 1 for ids in planned)])
        mask = np.zeros(size, np.int8)
        mask[np.asarray(self.poisoned_ids, np.int64)] = 1
        mask[np.asarray(self.noise_ids, np.int64)] = 2
        return mask

    def roles(self, ids: tf.Tensor) -> tf.Tensor:
        """What the plan does to int ids (any shape), by indexing `role_mask`: 1 poisoned,
        2 noise mode, 0 nothing (out-of-range ids, negative or past the mask, included).

        Args:
            ids: int example ids.

        Returns:
            int8, the shape of `ids`.
        """
        return look_up(tf.constant(padded_table(self.role_mask(), 0)), ids)

    def batch_fn(
        self,
        image_key: str = "image",
        label_key: str = "label",
        id_key: str = "id",
        kept: KeptRows | None = None,
    ):
        """A function on a decoded batch dict → the same dict with the planned rows poisoned.

        Meant to run inside the map that already follows `batch` (`pairs`), so a poisoned
        pipeline has no stage a clean one lacks. One mask `gather` per batch finds the poisoned
        rows; only they are gathered, stamped and scattered back. For WaNet (a trigger with
        `apply_rows`) the mask is `role_mask` and the poisoned and noise-mode rows go through
        one compiled call and one scatter (`warp_rows`); with `kept`, the first epoch keeps
        those rows and, once all are kept, later pipelines look them up instead of warping
        (`kept_rows`). It is a `tf.function` built once per plan (and `kept` state), so the map
        re-traced every epoch only adds a call to it.

        Args:
            image_key: the batch's image feature.
            label_key: the batch's label feature.
            id_key: the batch's example-id feature.
            kept: the training split's `KeptRows` (only for images that are a function of the
                id: no random augmentation before the plan), or None.

        Returns:
            The function (dict → dict).
        """
        key = (image_key, label_key, id_key)
        if kept is None:
            cache = self.__dict__.setdefault("_batch_fns", {})
        else:
            cache, key = kept.functions, (*key, kept.complete())
        if key not in cache:
            trigger, rule = self.trigger, self.label_rule
            warps = hasattr(trigger, "apply_rows")  # WaNet
            rows_kept = warps and kept is not None and kept.complete()

            @tf.function(reduce_retracing=True)
            def poison(example: dict) -> dict:
                example = dict(example)
                ids = tf.cast(example[id_key], tf.int64)
                image, label = example[image_key], example[label_key]
                if rows_kept:  # WaNet, rows kept: look them up by slot
                    slots = kept.slots_of(ids)
                    rows = tf.where((slots >= 0) & (slots < kept.poisoned))  # [K, 1] positions
                    example[image_key] = kept.stamp(image, slots)
                elif warps:  # WaNet: one role gather, both kinds of warped rows in one call
                    roles = self.roles(ids)
                    rows = tf.where(tf.equal(roles, 1))  # [K, 1] batch positions
                    example[image_key] = warp_rows(trigger, image, ids, roles, kept)
                else:
                    rows = tf.where(self.is_poisoned(ids))  # [K, 1] batch positions
                    example[image_key] = stamp_rows(trigger, image, rows)
                example[label_key] = tf.tensor_scatter_nd_update(
                    label, rows, rule.apply(tf.gather_nd(label, rows))
                )
                return example

            cache[key] = poison
        return cache[key]

    def _noise_table(self) -> tf.lookup.StaticHashTable:
        keys = tf.constant(self.noise_ids, tf.int64)
        return tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, tf.ones_like(keys, tf.int32)), 0
        )

    def map_fn(self, image_key: str = "image", label_key: str = "label", id_key: str = "id"):
        """A Dataset.map function stamping the trigger and rewriting the label of planned ids.

        Works on single examples and on batches (map it after `batch` for the lowest cost).
        On a batch only the poisoned rows are gathered, stamped and scattered back: stamping
        the whole batch and selecting with a broadcast `tf.where` cost 5× more per batch
        (benchmarks/poison_overhead.py: ratio 0.62 → 0.9 against the clean pipeline).

        Args:
            image_key: the example's image feature.
            label_key: the example's label feature.
            id_key: the example's id feature.

        Returns:
            The function (dict → dict).
        """
        table = self.membership()
        trigger = self.trigger
        rule = self.label_rule
        noise = self._noise_table() if len(self.noise_ids) else None

        def poison(example: dict) -> dict:
            example = dict(example)
            ids = tf.cast(example[id_key], tf.int64)
            is_poisoned = table.lookup(ids) > 0
            image, label = example[image_key], example[label_key]
            if ids.shape.rank == 0:
                image = tf.cond(is_poisoned, lambda: trigger.apply(image), lambda: image)
                label = tf.cond(is_poisoned, lambda: rule.apply(label), lambda: label)
            else:
                rows = tf.where(is_poisoned)  # [K, 1] positions in the batch
                image = tf.tensor_scatter_nd_update(
                    image, rows, trigger.apply(tf.gather_nd(image, rows))
                )
                label = tf.tensor_scatter_nd_update(
                    label, rows, rule.apply(tf.gather_nd(label, rows))
                )
            if noise is not None:  # WaNet noise mode: warp with noise, keep the label
                if ids.shape.rank == 0:
                    image = tf.cond(
                        noise.lookup(ids) > 0,
                        lambda: trigger.apply_noise(image, ids),
                        lambda: image,
                    )
                else:
                    image = noise_rows(trigger, noise, image, ids)
            example[image_key], example[label_key] = image, label
            example["poisoned"] = is_poisoned
            return example

        return poison


def pairs(
    plan: PoisonPlan | None,
    image_key: str = "image",
    label_key: str = "label",
    kept: KeptRows | None = None,
):
    """The Tasks' map after `batch`: example dict → (image, label), poisoned by `plan` if any.

    uint8 batches (`image_examples_dataset(uint8=True)`) are converted to float32 in [0, 1]
    here first: the plan then stamps the tensor the conversion has just made, which TF updates
    in place, where a batch handed to the map as an argument is copied whole before any write
    (measured: 0.4-0.9 ms per 64-image batch, BENCHMARKS §1).

    Args:
        plan: the poison plan of a training split, or None for a clean pipeline.
        image_key: the example's image key.
        label_key: the example's label key.
        kept: the split's `KeptRows` (`kept_rows`), for WaNet plans; None warps every epoch.

    Returns:
        A function for `Dataset.map` on batches of decoded examples.
    """
    poison = plan.batch_fn(image_key, label_key, kept=kept) if plan is not None else None

    def to_pair(example: dict):
        if example[image_key].dtype == tf.uint8:
            example = example | {image_key: float_images(example[image_key])}
        if poison is not None:
            example = poison(example)
        return example[image_key], example[label_key]

    return to_pair


def stamp_all(
    trigger: Trigger, rule: LabelRule, image_key: str = "image", label_key: str = "label"
):
    """A Dataset.map function that triggers every example (the attack test set).

    Args:
        trigger: the trigger.
        rule: the label rule (use `attack_rule` of the training rule).
        image_key: the example's image feature.
        label_key: the example's label feature.

    Returns:
        The function (dict → dict).
    """

    def stamp(example: dict) -> dict:
        example = dict(example)
        example[image_key] = trigger.apply(example[image_key])
        example[label_key] = rule.apply(example[label_key])
        return example

    return stamp
