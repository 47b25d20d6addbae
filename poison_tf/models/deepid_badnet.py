"""The DeepID-style face classifier of CSAW-HackML-2020 (`architecture.py`), rebuilt in Keras 3.

The challenge ships its BadNets mostly as Keras-2 *weights-only* `.h5` files, which Keras 3
cannot load as models (no `model_config`), so the network is rebuilt here and the weights are
loaded into it (`poison_tf.io.model_loading`). The layer names are those of the original,
because the weight files are keyed by them (`conv_1/conv_1/kernel:0`, ...) and name-based
loading is what makes the rebuilt net and the files agree regardless of layer order.

The original's Dropout layer is created but never connected, so it is not built here. The
default net has 601,643 parameters, matching the shapes stored in the HackML weight files.
"""

from __future__ import annotations

import keras

NUM_CLASSES = 1283
INPUT_SHAPE = (55, 47, 3)
# Layers that hold weights, in the order the HackML files list them.
WEIGHTED_LAYERS = ("conv_1", "conv_2", "conv_3", "conv_4", "fc_1", "fc_2", "output")


def build_deepid_badnet(
    num_classes: int = NUM_CLASSES, input_shape: tuple[int, int, int] = INPUT_SHAPE
) -> keras.Model:
    """The HackML BadNet: three conv/pool stages, two 160-unit branches added, softmax head.

    `num_classes` and `input_shape` can shrink the net for tests and synthetic studies; the
    HackML files need the defaults (1283 classes, 55×47×3 RGB in [0, 1], or 0–255 for lab 3).

    Args:
        num_classes: identities of the softmax head.
        input_shape: (height, width, channels) of the input faces.

    Returns:
        The uncompiled functional model, its weighted layers named as in WEIGHTED_LAYERS.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = keras.layers.Conv2D(20, (4, 4), activation="relu", name="conv_1")(inputs)
    x = keras.layers.MaxPooling2D((2, 2), name="pool_1")(x)
    x = keras.layers.Conv2D(40, (3, 3), activation="relu", name="conv_2")(x)
    x = keras.layers.MaxPooling2D((2, 2), name="pool_2")(x)
    x = keras.layers.Conv2D(60, (3, 3), activation="relu", name="conv_3")(x)
    pool_3 = keras.layers.MaxPooling2D((2, 2), name="pool_3")(x)
    fc_1 = keras.layers.Dense(160, name="fc_1")(keras.layers.Flatten(name="flatten_1")(pool_3))
    x = keras.layers.Conv2D(80, (2, 2), activation="relu", name="conv_4")(pool_3)
    fc_2 = keras.layers.Dense(160, name="fc_2")(keras.layers.Flatten(name="flatten_2")(x))
    x = keras.layers.Add(name="add_1")([fc_1, fc_2])
    x = keras.layers.Activation("relu", name="activation_1")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="deepid_badnet")
