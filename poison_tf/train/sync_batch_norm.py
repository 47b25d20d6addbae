"""Synchronised BatchNorm while a model trains on more than one replica.

Under MirroredStrategy / MultiWorkerMirroredStrategy each replica sees only its share of the
global batch, and a plain BatchNormalization layer normalises with that share's mean and
variance. The gradients then differ from one device's on the global batch (the per-share
variance misses the spread between shares), and so do the moving statistics, so results would
depend on the number of devices. `keras.layers.BatchNormalization(synchronized=True)` (TF
backend) all-reduces the sum, the sum of squares and the count over the replicas inside the
replica step and differentiates through that all-reduce, so every replica normalises with the
global batch's moments.

`synchronized_batch_norm` switches that on for every BatchNormalization layer of a model
(nested models included) only when the strategy has more than one replica, and switches it
back off afterwards: single-replica training runs exactly as before (tf.nn.moments), and the
saved model's config does not depend on how it was trained. The flag is read when the replica
step is traced, so the loop enters this context before it builds its tf.functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import tensorflow as tf


def batch_norm_layers(model: keras.Layer) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer in `model`, nested models and layers included."""
    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


@contextlib.contextmanager
def synchronized_batch_norm(
    model: keras.Layer, strategy: tf.distribute.Strategy
) -> Iterator[list[keras.layers.BatchNormalization]]:
    """Within the context, BN layers of `model` use cross-replica moments if replicas > 1.

    Args:
        model: the model being trained.
        strategy: the strategy it trains under; with one replica nothing changes.

    Returns:
        A context manager yielding the layers it switched (empty with one replica).
    """
    switched = []
    if strategy.num_replicas_in_sync > 1:
        switched = [layer for layer in batch_norm_layers(model) if not layer.synchronized]
    for layer in switched:
        layer.synchronized = True
    try:
        yield switched
    finally:
        for layer in switched:
            layer.synchronized = False
