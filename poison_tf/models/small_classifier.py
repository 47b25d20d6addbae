"""A small residual CNN classifier for 32-px images (the demo victim of `adversarial_patch`).

stem conv → `stages` residual blocks (each halves the side and doubles the width) → the last
convolution (named `last_conv`, Grad-CAM's default) → global pooling → softmax. Built from
explicit arguments, no network access.
"""

from __future__ import annotations

import keras


def _block(x, filters: int, name: str):
    shortcut = keras.layers.Conv2D(filters, 1, strides=2, use_bias=False, name=f"{name}_proj")(x)
    y = keras.layers.Conv2D(
        filters, 3, strides=2, padding="same", use_bias=False, name=f"{name}_conv1"
    )(x)
    y = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn2")(y)
    return keras.layers.ReLU(name=f"{name}_out")(
        keras.layers.Add(name=f"{name}_add")([y, shortcut])
    )


def build_small_classifier(
    input_shape: tuple[int, int, int],
    num_classes: int,
    width: int = 16,
    stages: int = 2,
    pooling: str = "avg",
) -> keras.Model:
    """Softmax classifier; `pooling` is "avg" or "max" (global pooling before the head).

    Args:
        input_shape: (height, width, channels) of the input images.
        num_classes: classes of the softmax head.
        width: filters of the stem; each residual stage doubles them.
        stages: residual stages (each halves the resolution).
        pooling: "avg" or "max" global pooling before the head.

    Returns:
        The uncompiled functional model (softmax probabilities out).
    """
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="stem")(inputs)
    for stage in range(stages):
        x = _block(x, width * 2 ** (stage + 1), f"stage{stage + 1}")
    x = keras.layers.Conv2D(
        width * 2**stages, 3, padding="same", activation="relu", name="last_conv"
    )(x)
    pool = (
        keras.layers.GlobalMaxPooling2D if pooling == "max" else keras.layers.GlobalAveragePooling2D
    )
    x = pool(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="small_classifier")
