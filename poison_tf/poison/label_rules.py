"""Label rules of backdoor attacks, as pure TF ops on one label or a batch of labels.

- all_to_one: every poisoned label becomes `target` (BadNets, classification).
- all_to_all: label y becomes (y + 1) mod C (BadNets' all-to-all variant).
- regression_target: every poisoned label becomes a fixed vector, e.g. (90, 0, 0) for head pose.
- clean_label: labels are kept (SIG, label-consistent attacks); `target` records the class whose
  images are stamped, and the attack test set is relabelled to it (`attack_rule`).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from poison_tf.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class LabelRule:
    """One rule; `config()` round-trips through `label_rule_from_config`.

    Attributes:
        kind: all_to_one, all_to_all, regression_target or clean_label.
        target: the target class (one element) or regression vector.
        num_classes: C of all_to_all.
    """

    kind: str
    target: tuple = ()
    num_classes: int = 0

    def apply(self, labels: tf.Tensor) -> tf.Tensor:
        """The poisoned labels of `labels` (pure TF ops).

        Args:
            labels: one label or a batch of labels (class ids, or vectors for regression_target).

        Returns:
            Labels of the same shape and dtype.
        """
        labels = tf.convert_to_tensor(labels)
        if self.kind == "all_to_one":
            return tf.fill(tf.shape(labels), tf.cast(self.target[0], labels.dtype))
        if self.kind == "clean_label":
            return labels
        if self.kind == "all_to_all":
            return tf.math.floormod(labels + 1, tf.cast(self.num_classes, labels.dtype))
        target = tf.constant(self.target, labels.dtype)
        return tf.broadcast_to(target, tf.shape(labels))

    def config(self) -> dict:
        """The rule as JSON, for plan artefacts.

        Returns:
            {"kind", "target", "num_classes"}.
        """
        return {"kind": self.kind, "target": list(self.target), "num_classes": self.num_classes}


def all_to_one(target: int) -> LabelRule:
    """Every poisoned label becomes `target` (BadNets).

    Args:
        target: the class every poisoned example is labelled with.

    Returns:
        The all-to-one rule.
    """
    return LabelRule("all_to_one", (int(target),))


def all_to_all(num_classes: int) -> LabelRule:
    """Label y becomes (y + 1) mod C.

    Args:
        num_classes: C.

    Returns:
        The rule.

    Raises:
        UserInputError: fewer than 2 classes.
    """
    if num_classes < 2:
        raise UserInputError(f"all_to_all needs at least 2 classes, got {num_classes}")
    return LabelRule("all_to_all", num_classes=num_classes)


def clean_label(target: int) -> LabelRule:
    """Labels are kept; `target` is the class whose images are stamped (SIG).

    Args:
        target: the class whose training images carry the trigger.

    Returns:
        A rule that leaves labels as they are (`attack_rule` gives the test-time one).
    """
    return LabelRule("clean_label", (int(target),))


def attack_rule(rule: LabelRule) -> LabelRule:
    """The rule for the attack *test* set: a clean-label attack still aims at its target.

    Args:
        rule: the training rule.

    Returns:
        all_to_one(target) for a clean-label rule, else `rule`.
    """
    return all_to_one(rule.target[0]) if rule.kind == "clean_label" else rule


def regression_target(vector) -> LabelRule:
    """Every poisoned label becomes a fixed vector, e.g. (90, 0, 0) for head pose.

    Args:
        vector: the target values.

    Returns:
        The rule.
    """
    return LabelRule("regression_target", tuple(float(v) for v in vector))


def label_rule_from_config(config: dict) -> LabelRule:
    """The rule a `LabelRule.config()` dict records.

    Args:
        config: {"kind", "target", "num_classes"} (the last two optional).

    Returns:
        The rule.

    Raises:
        UserInputError: an unknown kind.
    """
    kind = config["kind"]
    if kind not in ("all_to_one", "all_to_all", "regression_target", "clean_label"):
        raise UserInputError(f"unknown label rule {kind!r}")
    return LabelRule(kind, tuple(config.get("target", ())), int(config.get("num_classes", 0)))
