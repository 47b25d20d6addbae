"""Training on in-memory arrays, as BackdoorBench trains: SGD + momentum, weight decay, cosine.

The training-set defences retrain or fine-tune a model several times with different data and
losses (retraining after a filter, ABL's flooding and unlearning phases, NC's unlearning), so
they share this one small loop rather than the artefact-level trainer. BackdoorBench's settings
(`config/defense/*/cifar10.yaml`, SCLBD/BackdoorBench @ f02e353): `client_optimizer: sgd`,
`sgd_momentum: 0.9`, `wd: 5.0e-4`, `lr: 0.01`, `lr_scheduler: CosineAnnealingLR`, batch 256 for
defences (128 for attacks); augmentation is random crop (padding 4) and horizontal flip.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf


def augment(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Random horizontal flip and a random crop after 4-px zero padding, per batch row.

    Args:
        images: [B, H, W, C].
        seed: a stateless seed [2].

    Returns:
        The augmented batch.
    """
    size = tf.shape(images)[1:3]
    flipped = tf.image.stateless_random_flip_left_right(images, seed)
    padded = tf.pad(flipped, [[0, 0], [4, 4], [4, 4], [0, 0]])
    offsets = tf.random.stateless_uniform([2], seed + 1, 0, 9, tf.int32)
    return tf.slice(padded, [0, offsets[0], offsets[1], 0], [-1, size[0], size[1], -1])


def dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    with_augment: bool = False,
) -> tf.data.Dataset:
    """A batched (image, label) dataset over arrays, shuffled per epoch with `seed`.

    Args:
        images: [N, H, W, C] in [0, 1].
        labels: int [N].
        batch_size: mini-batch size.
        seed: the shuffle's (and augmentation's) seed.
        shuffle: shuffle each epoch.
        with_augment: flip + pad-crop augmentation.

    Returns:
        The dataset.
    """
    ds = tf.data.Dataset.from_tensor_slices((images.astype(np.float32), labels.astype(np.int64)))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    # Training drops the ragged last batch: with oneDNN on (TF 2.21 CPU), a training step on a
    # batch of a second, smaller shape after full ones crashed the process ("free(): invalid
    # pointer") in the benchmark; shuffling each epoch means no example is always left out.
    ds = ds.batch(batch_size, drop_remainder=shuffle and len(labels) > batch_size)
    if with_augment:
        ds = ds.enumerate().map(
            lambda i, xy: (augment(xy[0], tf.stack([tf.cast(i, tf.int32), seed])), xy[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def sgd(learning_rate: float, steps: int, momentum: float = 0.9, weight_decay: float = 5e-4):
    """SGD with momentum and decoupled weight decay, cosine-annealed over `steps`.

    Args:
        learning_rate: the initial rate.
        steps: steps of the cosine schedule.
        momentum: SGD momentum.
        weight_decay: decoupled weight decay.

    Returns:
        A Keras SGD optimizer.
    """
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, steps))
    return keras.optimizers.SGD(schedule, momentum=momentum, weight_decay=weight_decay)


def train(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    learning_rate: float = 0.01,
    batch_size: int = 128,
    seed: int = 0,
    loss: Callable | None = None,
    with_augment: bool = False,
    optimizer: str = "sgd",
) -> keras.Model:
    """Trains `model` in place on (images, labels) and returns it.

    Args:
        model: a softmax classifier.
        images: float images [N, H, W, C] in [0, 1].
        labels: int labels [N].
        epochs: passes over the data (0 returns the model untouched).
        learning_rate: initial rate (cosine-annealed for sgd, constant for adam).
        batch_size: mini-batch size.
        seed: shuffling / augmentation seed.
        loss: a Keras loss `(y_true, y_pred) -> scalar`; sparse cross-entropy by default.
        with_augment: flip + pad-crop augmentation (BackdoorBench's training transform).
        optimizer: "sgd" (BackdoorBench) or "adam" (faster on tiny CPU presets).

    Returns:
        `model`, trained.
    """
    if epochs <= 0 or len(labels) == 0:
        return model
    steps = epochs * -(-len(labels) // batch_size)
    opt = sgd(learning_rate, steps) if optimizer == "sgd" else keras.optimizers.Adam(learning_rate)
    model.compile(optimizer=opt, loss=loss or keras.losses.SparseCategoricalCrossentropy())
    keras.utils.set_random_seed(seed)
    model.fit(
        dataset(images, labels, batch_size, seed, with_augment=with_augment),
        epochs=epochs,
        verbose=0,
    )
    return model


def predict_classes(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Argmax classes of `images` under `model` (inference mode).

    Args:
        model: a Keras classifier.
        images: [N, H, W, C].
        batch_size: images per call.

    Returns:
        int64 [N].
    """
    return np.argmax(model.predict(images, batch_size=batch_size, verbose=0), axis=-1)


def per_example_loss(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Cross-entropy of each example [N] under `model` (inference mode).

    Args:
        model: a softmax classifier.
        images: [N, H, W, C].
        labels: int [N].
        batch_size: images per call.

    Returns:
        float32 [N].
    """
    probs = model.predict(images, batch_size=batch_size, verbose=0)
    picked = probs[np.arange(len(labels)), np.asarray(labels, np.int64)]
    return -np.log(np.clip(picked, 1e-12, 1.0))


def clone(model: keras.Model) -> keras.Model:
    """A fresh copy with the same weights (defences never modify the model they are given).

    Args:
        model: a Keras model.

    Returns:
        The copy.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy
