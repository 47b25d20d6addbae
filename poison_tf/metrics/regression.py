"""Regression metrics of the BadNets study: MAE per output and its mean, streamed over batches."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def mean_absolute_error(model: keras.Model, dataset: tf.data.Dataset) -> np.ndarray:
    """Mean |prediction − label| per output column over a dataset of (images, labels) batches."""

    # One trace for every batch, the short last one included (batched specs have a None batch dim).
    @tf.function(input_signature=list(dataset.element_spec))
    def batch_errors(images, labels):
        predictions = tf.cast(model(images, training=False), tf.float32)
        return tf.reduce_sum(tf.abs(predictions - tf.cast(labels, tf.float32)), axis=0), tf.shape(
            labels
        )[0]

    total, count = None, 0
    for images, labels in dataset:
        errors, size = batch_errors(images, labels)
        total = errors.numpy() if total is None else total + errors.numpy()
        count += int(size)
    if not count:
        raise ValueError("empty dataset")
    return total / count


def angle_maes(per_angle: np.ndarray, names=("yaw", "pitch", "roll")) -> dict:
    """{"yaw": .., "pitch": .., "roll": .., "mean": ..} from a per-output MAE vector."""
    result = {name: float(value) for name, value in zip(names, per_angle)}
    result["mean"] = float(np.mean(per_angle))
    return result
