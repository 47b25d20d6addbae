"""YOLOv8-seg instance segmenter: keras-cv YOLOV8Backbone + PAN-FPN + detect head + mask prototypes.

keras-cv 0.9.0 has the YOLOv8 detector but no segmentation model, and its detect head applies the
sigmoid inside the model (so the loss cannot use logits), has no Ultralytics bias init and uses
a fixed depth of 2 in the PAN's down-path C2f blocks. So only the backbone and the C2f / Conv
blocks are reused; the PAN, the decoupled head, the Proto branch and the mask coefficients are
built here to match Ultralytics `yolov8-seg.yaml` layer for layer (see ../shared/notes/yolo_seg.md
§2.1). The model never reaches the network (explicit config, no presets).

`model(images)` takes float32 [B, S, S, 3] in 0..255 and returns the float32 dict
`{"boxes": [B, A, 64] DFL logits, "classes": [B, A, nc] logits, "coefficients": [B, A, 32],
"protos": [B, S/4, S/4, 32]}` with A = sum over strides 8/16/32 of (S/stride)^2.
"""

from __future__ import annotations

import dataclasses
import math

import keras
from keras_cv.src.models.object_detection.yolo_v8.yolo_v8_backbone import YOLOV8Backbone
from keras_cv.src.models.object_detection.yolo_v8.yolo_v8_layers import (
    apply_conv_bn,
    apply_csp_block,
)
from keras_cv.src.utils.train import get_feature_extractor

from poison_tf.errors import require
from poison_tf.models.yolo_box_ops import REG_MAX, STRIDES


@dataclasses.dataclass(frozen=True)
class SizeSpec:
    """Channel / depth settings of one model size.

    Attributes:
        stackwise_channels: channels of the C2f stages P2..P5 (the two stem convs have
            channels[0] // 2 and channels[0]).
        stackwise_depth: bottlenecks per backbone C2f stage.
        neck_depth: bottlenecks per C2f of the PAN neck.
        proto_channels: hidden channels of the Proto branch (Ultralytics `npr`).
    """

    # C2f stages P2..P5 (the two stem convs have channels[0] // 2 and channels[0])
    stackwise_channels: tuple[int, int, int, int]
    stackwise_depth: tuple[int, int, int, int]  # bottlenecks per backbone C2f stage
    neck_depth: int  # bottlenecks per C2f of the PAN neck
    proto_channels: int  # hidden channels of the Proto branch (Ultralytics `npr`)


# Ultralytics yolov8-seg.yaml scales (depth, width, max_channels): n (0.33, 0.25, 1024),
# s (0.33, 0.50, 1024), m (0.67, 0.75, 768), l (1.00, 1.00, 512), x (1.00, 1.25, 512).
# Channels = make_divisible(min(c, max_channels) * width, 8) of the yaml's 64/128/256/512/1024:
# n: 16, 32 | C2f 32, 64, 128, 256; s: 32, 64 | 64, 128, 256, 512; m: 48, 96 | 96, 192, 384, 576.
# Depths = round(n * depth) of the yaml's 3/6/6/3 (backbone) and 3 (each neck C2f);
# npr = make_divisible(min(256, max_channels) * width, 8) (ultralytics/nn/tasks.py parse_model).
# The same numbers as the keras-cv presets xs/s/m/l/xl (keras-cv commit 6a1431a).
SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec((8, 16, 32, 64), (1, 1, 1, 1), 1, 16),  # ours: tests and CPU demos
    "n": SizeSpec((32, 64, 128, 256), (1, 2, 2, 1), 1, 64),
    "s": SizeSpec((64, 128, 256, 512), (1, 2, 2, 1), 1, 128),
    "m": SizeSpec((96, 192, 384, 576), (2, 4, 4, 2), 2, 192),
    "l": SizeSpec((128, 256, 512, 512), (3, 6, 6, 3), 3, 256),
    "x": SizeSpec((160, 320, 640, 640), (3, 6, 6, 3), 3, 320),
}


def _upsample2(x):
    return keras.layers.UpSampling2D(2, interpolation="nearest")(x)


def apply_pan_fpn(features: list, depth: int, name: str = "pan") -> list:
    """Ultralytics' v8 PAN neck: top-down then bottom-up, C2f (no shortcut) of `depth` everywhere.

    Same wiring as keras-cv `apply_path_aggregation_fpn`, whose two bottom-up C2f blocks always
    have depth 2 (Ultralytics: round(3 * depth_multiple), i.e. 1 for n / s).

    Args:
        features: the backbone's [P3, P4, P5] feature maps.
        depth: bottlenecks per C2f block.
        name: prefix of the layer names.

    Returns:
        The neck's [P3, P4, P5] outputs, with the inputs' channels.
    """
    p3, p4, p5 = features
    c3, c4, c5 = (int(f.shape[-1]) for f in features)
    concat = keras.layers.Concatenate

    def c2f(x, channels, block):
        return apply_csp_block(x, channels, depth, shortcut=False, name=f"{name}_{block}")

    p4p5 = c2f(concat()([_upsample2(p5), p4]), c4, "p4p5")
    out3 = c2f(concat()([_upsample2(p4p5), p3]), c3, "p3p4p5")
    down = apply_conv_bn(out3, c3, kernel_size=3, strides=2, name=f"{name}_down1")
    out4 = c2f(concat()([down, p4p5]), c4, "down1_c2f")
    down = apply_conv_bn(out4, c4, kernel_size=3, strides=2, name=f"{name}_down2")
    out5 = c2f(concat()([down, p5]), c5, "down2_c2f")
    return [out3, out4, out5]


def _branch(x, hidden: int, outputs: int, name: str, bias_value: float | None = None):
    """Conv3 -> Conv3 -> Conv2d 1x1 (with bias), the shape of every Ultralytics head branch."""
    x = apply_conv_bn(x, hidden, kernel_size=3, name=f"{name}_1")
    x = apply_conv_bn(x, hidden, kernel_size=3, name=f"{name}_2")
    init = "zeros" if bias_value is None else keras.initializers.Constant(bias_value)
    final = keras.layers.Conv2D(
        outputs, 1, bias_initializer=init, dtype="float32", name=f"{name}_out"
    )
    x = final(x)
    return keras.layers.Reshape((-1, outputs), dtype="float32", name=f"{name}_flat")(x)


def class_bias(num_classes: int, image_size: int, stride: int) -> float:
    """Ultralytics `Detect.bias_init`: log(5 / nc / (S / stride)^2), ~5 objects per image prior.

    Ultralytics writes 640 for S whatever the training size; we use the model's S (same at 640).

    Args:
        num_classes: classes of the class head.
        image_size: S of the S×S input.
        stride: the feature level's stride.

    Returns:
        The initial bias of the class logits.
    """
    return math.log(5.0 / num_classes / (image_size / stride) ** 2)


@keras.saving.register_keras_serializable(package="poison_tf")
class YoloV8Seg(keras.Model):
    """YOLOv8-seg with explicit constructor arguments (keras-hub style; `get_config` = the args).

    Args:
        num_classes: classes of the class head.
        image_size: S of the S×S input, a multiple of 32.
        size: "tiny", "n", "s", "m", "l" or "x" (SIZES).
        num_masks: prototype masks (and coefficients per detection).
        **kwargs: passed to `keras.Model` (name, trainable).

    Raises:
        UserInputError: an unknown size, num_classes < 1 or an image size not a multiple of 32.
    """

    def __init__(
        self,
        num_classes: int,
        image_size: int = 640,
        size: str = "n",
        num_masks: int = 32,
        **kwargs,
    ):
        require(size in SIZES, f"unknown YOLOv8-seg size {size!r}; expected one of {sorted(SIZES)}")
        require(num_classes >= 1, f"num_classes must be >= 1, got {num_classes}")
        require(
            image_size >= 32 and image_size % 32 == 0,
            f"image_size must be a positive multiple of 32, got {image_size}",
        )
        spec = SIZES[size]
        backbone = YOLOV8Backbone(
            stackwise_channels=list(spec.stackwise_channels),
            stackwise_depth=list(spec.stackwise_depth),
            include_rescaling=True,
            input_shape=(image_size, image_size, 3),
        )
        levels = ["P3", "P4", "P5"]
        extractor = get_feature_extractor(
            backbone, [backbone.pyramid_level_inputs[lv] for lv in levels], levels
        )
        images = keras.Input((image_size, image_size, 3), name="images")
        features = apply_pan_fpn(list(extractor(images).values()), spec.neck_depth)

        ch0 = int(features[0].shape[-1])
        box_hidden = max(16, ch0 // 4, 4 * REG_MAX)
        cls_hidden = max(ch0, min(num_classes, 100))
        coef_hidden = max(ch0 // 4, num_masks)
        boxes, classes, coefficients = [], [], []
        for level, (feature, stride) in enumerate(zip(features, STRIDES)):
            boxes.append(_branch(feature, box_hidden, 4 * REG_MAX, f"box{level}", 1.0))
            cls_init = class_bias(num_classes, image_size, stride)
            classes.append(_branch(feature, cls_hidden, num_classes, f"cls{level}", cls_init))
            coefficients.append(_branch(feature, coef_hidden, num_masks, f"coef{level}"))

        npr = spec.proto_channels
        x = apply_conv_bn(features[0], npr, kernel_size=3, name="proto_1")
        x = keras.layers.Conv2DTranspose(npr, 2, strides=2, name="proto_upsample")(x)
        x = apply_conv_bn(x, npr, kernel_size=3, name="proto_2")
        x = apply_conv_bn(x, num_masks, kernel_size=1, name="proto_3")
        protos = keras.layers.Activation("linear", dtype="float32", name="protos")(x)

        def joined(parts, name):
            return keras.layers.Concatenate(axis=1, dtype="float32", name=name)(parts)

        outputs = {
            "boxes": joined(boxes, "boxes"),
            "classes": joined(classes, "classes"),
            "coefficients": joined(coefficients, "coefficients"),
            "protos": protos,
        }
        kwargs.setdefault("name", f"yolo_v8_{size}_seg")
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        self.num_classes = num_classes
        self.image_size = image_size
        self.size = size
        self.num_masks = num_masks

    def get_config(self) -> dict:
        return {
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "size": self.size,
            "num_masks": self.num_masks,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config: dict) -> YoloV8Seg:
        return cls(**config)


def build_yolo_v8_seg(
    num_classes: int, image_size: int = 640, size: str = "n", num_masks: int = 32
) -> YoloV8Seg:
    """The YOLOv8-seg model of `size` ("tiny", "n", "s", "m", "l", "x") for S x S inputs.

    Args:
        num_classes: classes of the class head.
        image_size: S of the S×S input, a multiple of 32.
        size: "tiny", "n", "s", "m", "l" or "x".
        num_masks: prototype masks.

    Returns:
        The uncompiled model.
    """
    return YoloV8Seg(num_classes=num_classes, image_size=image_size, size=size, num_masks=num_masks)
