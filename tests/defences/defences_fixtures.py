"""A tiny BadNets world for the detector tests: 16×16×3 patterns, a white-square trigger.

Four classes of coloured patterns (red horizontal stripes, green vertical stripes, a blue
checkerboard, a magenta blob) with random phase, intensity and noise; 20 % of the training
set carries a 4×4 white square in the bottom-right corner and is relabelled as class 0.
The victim CNN is trained once per test process (`functools.cache`), in a few seconds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
import numpy as np

SHAPE = (16, 16, 3)
NUM_CLASSES = 4
TARGET = 0


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clean images in [0, 0.75] for the given labels."""
    n = len(labels)
    rows, cols = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    x = rng.uniform(0.0, 0.15, size=(n, *SHAPE)).astype(np.float32)
    for i, label in enumerate(labels):
        phase = rng.integers(0, 4)
        level = rng.uniform(0.45, 0.6)
        if label == 0:
            x[i, :, :, 0] += level * (((rows + phase) // 2) % 2)
        elif label == 1:
            x[i, :, :, 1] += level * (((cols + phase) // 2) % 2)
        elif label == 2:
            x[i, :, :, 2] += level * ((((rows + phase) // 2) + ((cols + phase) // 2)) % 2)
        else:
            cy, cx = rng.uniform(5, 10, size=2)
            blob = ((rows - cy) ** 2 + (cols - cx) ** 2) < 12
            x[i, :, :, 0] += level * blob
            x[i, :, :, 2] += level * blob
    return np.clip(x, 0.0, 1.0)


def add_trigger(x: np.ndarray) -> np.ndarray:
    """The BadNets trigger: a white 4×4 square in the bottom-right corner."""
    out = x.copy()
    out[:, 12:16, 12:16, :] = 1.0
    return out


def build_cnn() -> keras.Model:
    inputs = keras.Input(SHAPE, name="input")
    x = keras.layers.Conv2D(16, 3, activation="relu", name="conv_1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool_1")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv_2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool_2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="tiny_badnet")


@dataclass(frozen=True)
class TinyBadNet:
    model: keras.Model
    val_x: np.ndarray  # clean validation: what detectors are fitted on
    val_y: np.ndarray
    test_x: np.ndarray  # clean test
    test_y: np.ndarray
    triggered_x: np.ndarray  # test images of classes != TARGET with the trigger
    clean_accuracy: float
    attack_success_rate: float


@functools.cache
def tiny_badnet() -> TinyBadNet:
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    train_y = rng.integers(0, NUM_CLASSES, 600)
    train_x = make_images(train_y, rng)
    poisoned = rng.choice(len(train_x), size=len(train_x) // 5, replace=False)
    train_x[poisoned] = add_trigger(train_x[poisoned])
    train_y[poisoned] = TARGET
    model = build_cnn()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(train_x, train_y, batch_size=32, epochs=6, verbose=0)
    val_y = rng.integers(0, NUM_CLASSES, 400)
    test_y = rng.integers(0, NUM_CLASSES, 300)
    val_x, test_x = make_images(val_y, rng), make_images(test_y, rng)
    triggered_x = add_trigger(test_x[test_y != TARGET])
    predict = lambda x: np.argmax(model.predict(x, verbose=0), axis=1)  # noqa: E731
    return TinyBadNet(
        model=model,
        val_x=val_x,
        val_y=val_y,
        test_x=test_x,
        test_y=test_y,
        triggered_x=triggered_x,
        clean_accuracy=float(np.mean(predict(test_x) == test_y)),
        attack_success_rate=float(np.mean(predict(triggered_x) == TARGET)),
    )
