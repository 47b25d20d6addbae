"""An exponential moving average of a model's weights (Ultralytics `ModelEMA`), strategy-safe.

YOLO-style detectors are evaluated and exported with averaged weights: the raw weights of a
from-scratch run jump from step to step, the average does not. Ultralytics' rule, kept here:
after each optimizer step, `updates += 1`, `d = decay · (1 − exp(−updates / tau))`, and every
floating weight (BatchNorm moving statistics included) becomes `d · ema + (1 − d) · weight`.
The ramp makes the average follow the raw weights closely early in training.

The averages and the update count are variables created in the strategy's scope and saved in
the training checkpoint, so a resumed run continues the same average (bit-exact on CPU).
Updates run in cross-replica context (after `strategy.run`), where every replica holds the
same weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import tensorflow as tf


def ema_decay(updates, decay: float = 0.9999, tau: float = 2000.0):
    """Ultralytics' ramped decay after `updates` updates (expm1: 1 − exp(−x) loses float32
    precision for the small x of the first updates)."""
    return decay * -tf.math.expm1(-tf.cast(updates, tf.float32) / tau)


class ModelEMA:
    """Averages of `model`'s floating weights; call `update()` after every optimizer step."""

    def __init__(self, model: keras.Model, decay: float = 0.9999, tau: float = 2000.0):
        self.decay, self.tau = float(decay), float(tau)
        self.sources = [w for w in model.weights if tf.as_dtype(w.dtype).is_floating]
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="ema_updates")
        self.averages = [
            tf.Variable(tf.identity(w.value), trainable=False, name=f"ema_{i}")
            for i, w in enumerate(self.sources)
        ]

    def checkpoint_items(self) -> dict:
        """What the training checkpoint must hold for an exact resume."""
        return {"ema_updates": self.updates, "ema_weights": self.averages}

    def update(self) -> tf.Tensor:
        """One EMA step (call in cross-replica context, e.g. after `strategy.run`)."""
        self.updates.assign_add(1)
        d = ema_decay(self.updates, self.decay, self.tau)
        for average, source in zip(self.averages, self.sources):
            value = tf.cast(source.value, average.dtype)
            average.assign(d * average + (1.0 - d) * value)
        return d

    def copy_to_model(self) -> None:
        """Puts the averaged weights into the model (for export)."""
        for average, source in zip(self.averages, self.sources):
            source.assign(tf.cast(average, source.dtype))

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the raw ones come back after."""
        saved = [tf.identity(source.value) for source in self.sources]
        self.copy_to_model()
        try:
            yield
        finally:
            for value, source in zip(saved, self.sources):
                source.assign(value)
