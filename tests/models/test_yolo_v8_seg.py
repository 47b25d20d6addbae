"""The YOLOv8-seg network: output contract, anchor count, Ultralytics sizes and bias init."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from poison_tf.errors import UserInputError
from poison_tf.models.yolo_box_ops import make_anchors, num_anchors
from poison_tf.models.yolo_v8_seg import YoloV8Seg, build_yolo_v8_seg


def _trainable(model: keras.Model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.mark.parametrize("size", [64, 128])
def test_outputs_follow_the_contract(size):
    model = build_yolo_v8_seg(num_classes=3, image_size=size, size="tiny")
    images = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype(np.float32)
    outputs = model(images)
    anchors = (size // 8) ** 2 + (size // 16) ** 2 + (size // 32) ** 2
    assert num_anchors(size) == anchors
    assert set(outputs) == {"boxes", "classes", "coefficients", "protos"}
    assert tuple(outputs["boxes"].shape) == (2, anchors, 64)
    assert tuple(outputs["classes"].shape) == (2, anchors, 3)
    assert tuple(outputs["coefficients"].shape) == (2, anchors, 32)
    assert tuple(outputs["protos"].shape) == (2, size // 4, size // 4, 32)
    assert all(t.dtype == "float32" for t in outputs.values())
    assert all(np.isfinite(np.asarray(t)).all() for t in outputs.values())


def test_outputs_stay_float32_under_mixed_precision():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_yolo_v8_seg(num_classes=2, image_size=64, size="tiny")
        outputs = model(np.zeros((1, 64, 64, 3), np.float32))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert model.get_layer("proto_1_conv").compute_dtype == "bfloat16"  # the body is 16-bit
    assert {t.dtype.name for t in outputs.values()} == {"float32"}


def test_anchor_order_is_ultralytics_make_anchors():
    points, strides = make_anchors(64)
    assert points[0].tolist() == [0.5, 0.5] and points[1].tolist() == [1.5, 0.5]  # x inner
    assert points[8].tolist() == [0.5, 1.5]  # next row of the 8 x 8 P3 grid
    assert strides[:64].tolist() == [8.0] * 64 and strides[64:80].tolist() == [16.0] * 16
    assert strides[-1] == 32.0 and len(points) == 84


def test_bias_init_is_ultralytics():
    num_classes, size = 5, 128
    model = build_yolo_v8_seg(num_classes, size, "tiny")
    for level, stride in enumerate((8, 16, 32)):
        cls_bias = model.get_layer(f"cls{level}_out").bias.numpy()
        expected = math.log(5 / num_classes / (size / stride) ** 2)
        np.testing.assert_allclose(cls_bias, expected, rtol=1e-6)
        np.testing.assert_allclose(model.get_layer(f"box{level}_out").bias.numpy(), 1.0)
    # an untrained model therefore scores every anchor near the ~5-objects-per-image prior
    scores = 1 / (1 + np.exp(-np.asarray(model(np.zeros((1, size, size, 3)))["classes"])))
    assert scores.mean() < 0.05


def _fused_parameters(model: keras.Model) -> int:
    """Parameters after folding each BN into its conv (gamma, beta -> one bias) + 16 DFL weights.

    That is what Ultralytics prints as "summary (fused)" for a model loaded from a .pt file.
    """

    def leaves(layer):
        for inner in layer.layers:
            yield from leaves(inner) if isinstance(inner, keras.Model) else [inner]

    bn_channels = sum(
        int(layer.gamma.shape[0])
        for layer in leaves(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    return _trainable(model) - bn_channels + 16


def test_n_and_s_match_ultralytics_parameter_counts():
    # Ultralytics logs for the COCO (nc=80) models: "YOLOv8n-seg summary (fused): 195 layers,
    # 3,404,320 parameters" and "YOLOv8s-seg summary: ..., 11,810,560 parameters" (fused).
    assert _fused_parameters(build_yolo_v8_seg(80, 64, "n")) == 3_404_320
    assert _fused_parameters(build_yolo_v8_seg(80, 64, "s")) == 11_810_560


def test_keras_file_round_trip_in_safe_mode(tmp_path):
    model = build_yolo_v8_seg(4, 64, "tiny")
    model.save(tmp_path / "tiny.keras")
    loaded = keras.saving.load_model(tmp_path / "tiny.keras", safe_mode=True)
    assert isinstance(loaded, YoloV8Seg) and loaded.get_config() == model.get_config()
    images = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    expected, got = model(images), loaded(images)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"size": "huge"}, "size"),
        ({"image_size": 100}, "multiple of 32"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, needle):
    args = {"num_classes": 3, "image_size": 64, "size": "tiny", **kwargs}
    with pytest.raises(UserInputError, match=needle):
        build_yolo_v8_seg(**args)
