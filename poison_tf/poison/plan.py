"""The poison plan: which example ids get which trigger and label rule, as a JSON artefact.

Poisoning never copies data. The plan is applied by the training input pipeline as pure TF
ops (`PoisonPlan.map_fn`), so it scales with tf.data and costs almost nothing; the same plan
file also documents the attack exactly (ids, trigger parameters, rule, seed, counts).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from poison_tf.io.atomic import read_json, write_json
from poison_tf.poison.label_rules import LabelRule, label_rule_from_config
from poison_tf.poison.triggers import Trigger, trigger_from_config


@dataclasses.dataclass
class PoisonPlan:
    trigger: Trigger
    label_rule: LabelRule
    poisoned_ids: np.ndarray
    num_examples: int
    rate: float
    seed: int

    @property
    def count(self) -> int:
        return len(self.poisoned_ids)

    def to_json(self) -> dict:
        return {
            "trigger": self.trigger.config,
            "label_rule": self.label_rule.config(),
            "poisoned_ids": [int(i) for i in self.poisoned_ids],
            "count": self.count,
            "num_examples": self.num_examples,
            "rate": self.rate,
            "seed": self.seed,
        }

    def save(self, path: str) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str) -> PoisonPlan:
        payload = read_json(path)
        return cls(
            trigger=trigger_from_config(payload["trigger"]),
            label_rule=label_rule_from_config(payload["label_rule"]),
            poisoned_ids=np.asarray(payload["poisoned_ids"], np.int64),
            num_examples=int(payload["num_examples"]),
            rate=float(payload["rate"]),
            seed=int(payload["seed"]),
        )

    def membership(self) -> tf.lookup.StaticHashTable:
        """id → 1 if poisoned (0 otherwise), a TF resource usable inside Dataset.map."""
        keys = tf.constant(self.poisoned_ids, tf.int64)
        values = tf.ones_like(keys, tf.int32)
        return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), 0)

    def map_fn(self, image_key: str = "image", label_key: str = "label", id_key: str = "id"):
        """A Dataset.map function stamping the trigger and rewriting the label of planned ids.

        Works on single examples and on batches (map it after `batch` for the lowest cost).
        """
        table = self.membership()
        trigger = self.trigger
        rule = self.label_rule

        def poison(example: dict) -> dict:
            example = dict(example)
            is_poisoned = table.lookup(tf.cast(example[id_key], tf.int64)) > 0
            image = example[image_key]
            label = example[label_key]
            image_mask = tf.reshape(is_poisoned, tf.concat([tf.shape(is_poisoned), [1, 1, 1]], 0))
            example[image_key] = tf.where(image_mask, trigger.apply(image), image)
            extra_dims = tf.rank(label) - tf.rank(is_poisoned)
            label_mask = tf.reshape(
                is_poisoned, tf.concat([tf.shape(is_poisoned), tf.ones([extra_dims], tf.int32)], 0)
            )
            example[label_key] = tf.where(label_mask, rule.apply(label), label)
            example["poisoned"] = is_poisoned
            return example

        return poison


def stamp_all(trigger: Trigger, rule: LabelRule, image_key: str = "image", label_key: str = "label"):
    """A Dataset.map function that triggers every example (the attack test set)."""

    def stamp(example: dict) -> dict:
        example = dict(example)
        example[image_key] = trigger.apply(example[image_key])
        example[label_key] = rule.apply(example[label_key])
        return example

    return stamp
