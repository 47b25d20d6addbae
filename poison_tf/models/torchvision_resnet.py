"""ResNet18/34/50 laid out exactly like torchvision's, so its `state_dict` loads one-to-one.

keras-cv's ResNetBackbone cannot take torchvision weights and give torchvision's outputs: it pads
strided convs with TF "same" (the extra row bottom/right, torch pads both sides) and its
bottleneck strides the first 1×1 conv (ResNet v1) where torchvision strides the 3×3 (v1.5).
So this builder mirrors torchvision: explicit `ZeroPadding2D` + valid convs, BatchNorm eps 1e-5
(torch's), momentum 0.9 (torch's 0.1 counted the other way), and Keras layer names equal to the
torch module names (`conv1`, `layer2.0.downsample.0`, `fc`), which is the whole weight map.
Inputs are NHWC RGB in [0, 1]; the ImageNet mean/std normalisation is the model's first layer
(a built-in `Normalization`, so the saved model needs no custom code).
"""

from __future__ import annotations

import keras

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# depth -> (block kind, blocks per stage)
RESNET_LAYOUTS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


def _conv(x, filters: int, kernel: int, stride: int, name: str):
    pad = kernel // 2
    if pad:
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}.pad")(x)
    return keras.layers.Conv2D(filters, kernel, stride, use_bias=False, name=name)(x)


def _bn(x, name: str):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)(x)


def _block(x, kind: str, width: int, stride: int, name: str):
    expansion = 4 if kind == "bottleneck" else 1
    shortcut = x
    if stride != 1 or x.shape[-1] != width * expansion:
        shortcut = _conv(x, width * expansion, 1, stride, f"{name}.downsample.0")
        shortcut = _bn(shortcut, f"{name}.downsample.1")
    if kind == "basic":
        y = keras.layers.ReLU(name=f"{name}.relu1")(
            _bn(_conv(x, width, 3, stride, f"{name}.conv1"), f"{name}.bn1")
        )
        y = _bn(_conv(y, width, 3, 1, f"{name}.conv2"), f"{name}.bn2")
    else:
        y = keras.layers.ReLU(name=f"{name}.relu1")(
            _bn(_conv(x, width, 1, 1, f"{name}.conv1"), f"{name}.bn1")
        )
        y = keras.layers.ReLU(name=f"{name}.relu2")(
            _bn(_conv(y, width, 3, stride, f"{name}.conv2"), f"{name}.bn2")
        )
        y = _bn(_conv(y, width * expansion, 1, 1, f"{name}.conv3"), f"{name}.bn3")
    y = keras.layers.Add(name=f"{name}.add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}.out")(y)


def build_torchvision_resnet(
    depth: int,
    num_classes: int | None = 1000,
    input_shape: tuple = (None, None, 3),
    mean: tuple = IMAGENET_MEAN,
    std: tuple = IMAGENET_STD,
) -> keras.Model:
    """A torchvision-layout ResNet classifier (or feature extractor) for RGB inputs in [0, 1].

    Args:
        depth: 18, 34 or 50.
        num_classes: size of the `fc` head; None ends at the global-average-pooled features.
        input_shape: NHWC shape without the batch (None sides: any size ≥ 32).
        mean: per-channel mean the weights were trained with (on [0, 1] inputs).
        std: per-channel standard deviation, likewise.

    Returns:
        A functional model named `resnet{depth}`; its last conv feature map is the layer
        `layer4.{n-1}.out` (for Grad-CAM).
    """
    if depth not in RESNET_LAYOUTS:
        raise ValueError(f"ResNet depth {depth}: use one of {sorted(RESNET_LAYOUTS)}")
    kind, blocks = RESNET_LAYOUTS[depth]
    images = keras.Input(input_shape, name="image")
    x = keras.layers.Normalization(
        mean=list(mean), variance=[s * s for s in std], name="normalize"
    )(images)
    x = keras.layers.ReLU(name="relu")(_bn(_conv(x, 64, 7, 2, "conv1"), "bn1"))
    x = keras.layers.ZeroPadding2D(1, name="maxpool.pad")(x)  # after ReLU, so zeros act as -inf
    x = keras.layers.MaxPooling2D(3, 2, name="maxpool")(x)
    for stage, (width, count) in enumerate(zip(STAGE_WIDTHS, blocks)):
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            x = _block(x, kind, width, stride, f"layer{stage + 1}.{index}")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    if num_classes is not None:
        x = keras.layers.Dense(num_classes, name="fc", dtype="float32")(x)
    return keras.Model(images, x, name=f"resnet{depth}")


def torch_name_map(model: keras.Model) -> dict[str, str]:
    """{Keras layer: torch module} for every weighted layer: the names are the torch names.

    Args:
        model: a model built by this module.

    Returns:
        {Keras layer name: torch module name} (the same names) of its Conv2D, BatchNorm and Dense
        layers.
    """
    weighted = (keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.Dense)
    return {layer.name: layer.name for layer in model.layers if isinstance(layer, weighted)}
