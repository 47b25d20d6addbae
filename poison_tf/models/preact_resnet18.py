"""PreAct-ResNet18, BackdoorBench's default victim, as a functional Keras model.

Mirrors `models/preact_resnet.py` of SCLBD/BackdoorBench @ f02e353 (itself from the WaNet
release): a 3×3 stem conv (no BN / ReLU), four stages of two pre-activation basic blocks
(BN → ReLU → conv3×3 → BN → ReLU → conv3×3, plus a shortcut taken *after* the first BN-ReLU, a
1×1 conv when the shape changes) with strides 1, 2, 2, 2 and widths w, 2w, 4w, 8w (w = 64 in the
paper), global average pooling and one linear layer. There is no BN-ReLU after the last stage,
exactly as theirs. `width` narrows the network for CPU presets; the head is a softmax (the
project's classifiers output probabilities), and the pooled features are the layer
`penultimate` that the feature-space defences read (BackdoorBench hooks the input of `linear`).
"""

from __future__ import annotations

import keras


def _block(x, in_planes: int, planes: int, stride: int, name: str):
    out = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn1")(x)
    out = keras.layers.ReLU(name=f"{name}_relu1")(out)
    if stride != 1 or in_planes != planes:
        shortcut = keras.layers.Conv2D(
            planes, 1, strides=stride, use_bias=False, name=f"{name}_shortcut"
        )(out)
    else:
        shortcut = x
    out = keras.layers.Conv2D(
        planes, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1"
    )(out)
    out = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn2")(out)
    out = keras.layers.ReLU(name=f"{name}_relu2")(out)
    out = keras.layers.Conv2D(planes, 3, padding="same", use_bias=False, name=f"{name}_conv2")(out)
    return keras.layers.Add(name=f"{name}_add")([out, shortcut])


def build_preact_resnet18(
    input_shape: tuple[int, int, int] = (32, 32, 3),
    num_classes: int = 10,
    width: int = 64,
    blocks: tuple[int, ...] = (2, 2, 2, 2),
) -> keras.Model:
    """PreAct-ResNet18 (width 64, blocks 2-2-2-2 = BackdoorBench's); softmax output.

    Args:
        input_shape: (H, W, C) of the images, values in [0, 1].
        num_classes: classes of the softmax head.
        width: channels of the stem and first stage (doubles per stage).
        blocks: pre-activation blocks per stage.

    Returns:
        An uncompiled functional model named `preact_resnet18`.
    """
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem")(inputs)
    in_planes = width
    for stage, count in enumerate(blocks):
        planes = width * 2**stage
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            x = _block(x, in_planes, planes, stride, f"layer{stage + 1}_{index}")
            in_planes = planes
    features = keras.layers.GlobalAveragePooling2D(name="penultimate")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="linear")(features)
    return keras.Model(inputs, outputs, name="preact_resnet18")
