"""Grad-CAM: it finds the region a model looks at, handles nested backbones, and the component runs."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from poison_tf.components.headpose.head_pose_explainer import HeadPoseExplainer
from poison_tf.dag.artifact import Artifact
from poison_tf.data.image_examples import write_schema, write_split
from poison_tf.explain.gradcam import conv_layer_path, grad_cam, overlay
from poison_tf.models.resnet18_regressor import build_resnet18_regressor
from poison_tf.poison.triggers import make_trigger
from poison_tf.types import Explanation, HeadPoseModel

REGIONS = (
    (slice(0, 3), slice(10, 13)),
    (slice(11, 14), slice(2, 5)),
)  # asymmetric: a transpose fails


def _two_region_model(size: int = 16) -> keras.Model:
    """conv (16 ch) → channels 0-7 kept only in region 0, 8-15 only in region 1 → GAP → Dense(2).

    Output k reads only the channels of region k, so only region k can raise it: Grad-CAM of
    output k must peak there. Activations alone (no gradient) could not tell the outputs apart.
    """
    mask = np.zeros((1, size, size, 16), np.float32)
    for k, (rows, cols) in enumerate(REGIONS):
        mask[0, rows, cols, 8 * k : 8 * (k + 1)] = 1.0
    kernel = np.zeros((16, 2), np.float32)
    kernel[:8, 0] = kernel[8:, 1] = 1.0
    images = keras.Input((size, size, 3))
    features = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv")(images)
    masked = keras.layers.Multiply(name="regions")([features, keras.ops.convert_to_tensor(mask)])
    pooled = keras.layers.GlobalAveragePooling2D()(masked)
    dense = keras.layers.Dense(2, name="head")
    model = keras.Model(images, dense(pooled))
    dense.set_weights([kernel, np.zeros(2, np.float32)])
    return model


def test_cam_peaks_inside_the_region_that_drives_the_explained_output():
    keras.utils.set_random_seed(0)
    model = _two_region_model()
    assert conv_layer_path(model)[-1].name == "regions"
    images = np.random.default_rng(0).random((4, 16, 16, 3)).astype(np.float32)
    for k, (rows, cols) in enumerate(REGIONS):
        cams = grad_cam(model, images, lambda y, k=k: y[:, k])
        assert cams.shape == (4, 16, 16)
        for cam in cams:
            peak = np.unravel_index(np.argmax(cam), cam.shape)
            assert rows.start <= peak[0] < rows.stop and cols.start <= peak[1] < cols.stop, (
                k,
                peak,
            )
            assert cam.max() == pytest.approx(1.0)
            inside = np.zeros(cam.shape, bool)
            inside[rows, cols] = True
            assert cam[~inside].max() == 0.0  # the other region raises output k not at all


def _threshold_model(size: int = 4) -> keras.Model:
    """feature = the image's one channel → relu(feature - 1.5) → GAP → output.

    On an image that is 1 everywhere and 2 in one cell (a trigger), only that cell raises the
    output, but the feature is high everywhere: the trigger is a few cells of a busy channel.
    """
    images = keras.Input((size, size, 1))
    feature = keras.layers.Conv2D(1, 1, name="feature")
    gate = keras.layers.Conv2D(1, 1, activation="relu", name="gate")
    model = keras.Model(images, keras.layers.GlobalAveragePooling2D()(gate(feature(images))))
    feature.set_weights([np.ones((1, 1, 1, 1), np.float32), np.zeros(1, np.float32)])
    gate.set_weights([np.ones((1, 1, 1, 1), np.float32), np.full(1, -1.5, np.float32)])
    return model


def test_grad_x_activation_finds_a_trigger_that_channel_means_dilute():
    image = np.ones((1, 4, 4, 1), np.float32)
    image[0, 3, 3] = 2.0
    mask = np.zeros((4, 4), bool)
    mask[3, 3] = True
    model = _threshold_model()
    gradcam = grad_cam(model, image, lambda y: y[:, 0], layer="feature")[0]
    grad_x_act = grad_cam(model, image, lambda y: y[:, 0], layer="feature", spatial_mean=False)[0]
    # Grad-CAM: one channel weight (the mean gradient) times a feature that is 1 everywhere, 2 on
    # the trigger, so 2 / 17 of the mass; the element-wise map has the trigger's cell alone.
    assert gradcam[3, 3] == pytest.approx(1.0) and gradcam[0, 0] == pytest.approx(0.5)
    assert np.count_nonzero(grad_x_act) == 1 and grad_x_act[3, 3] == pytest.approx(1.0)


def test_nested_backbone_shapes_and_range():
    model = build_resnet18_regressor(input_size=32, width=0.25)
    backbone = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert conv_layer_path(model) == backbone  # the nested backbone's output is the feature map
    images = np.random.default_rng(1).random((3, 32, 32, 3)).astype(np.float32)
    cams = grad_cam(model, images, lambda y: y[:, 0])
    assert cams.shape[0] == 3 and cams.ndim == 3
    assert np.isfinite(cams).all() and cams.min() >= 0.0 and cams.max() <= 1.0
    inner = grad_cam(model, images, lambda y: y[:, 1], layer="v2_stack_1_block2_out")
    assert inner.shape == (3, 4, 4) and inner.min() >= 0.0 and inner.max() <= 1.0
    with pytest.raises(ValueError, match="named 'missing'"):
        grad_cam(model, images, lambda y: y[:, 0], layer="missing")
    with pytest.raises(ValueError, match="one value per image"):
        grad_cam(model, images, lambda y: y)


def test_overlay_is_uint8_rgb_of_the_image_size():
    image = np.random.default_rng(2).random((20, 24, 3)).astype(np.float32)
    out = overlay(image, np.eye(4, dtype=np.float32))
    assert out.shape == (20, 24, 3) and out.dtype == np.uint8
    hot, cold = (
        out[0, 0],
        out[0, -1],
    )  # cam 1 at the top-left, 0 at the top-right (jet: red vs blue)
    assert hot[0] > cold[0]


def _artifact(root, type_name: str) -> str:
    os.makedirs(root)
    Artifact(type_name, str(root), fingerprint=f"{type_name}:{root}").save_metadata()
    return str(root)


def test_component_writes_png_and_json(tmp_path):
    size = 32
    rng = np.random.default_rng(3)
    examples = _artifact(tmp_path / "examples", "Examples")
    splits = {
        "test": write_split(
            examples,
            "test",
            rng.integers(0, 255, (3, size, size, 3), dtype=np.uint8),
            rng.normal(size=(3, 3)).astype(np.float32),
            num_shards=1,
        )
    }
    write_schema(
        examples,
        splits,
        (size, size),
        {"kind": "regression", "dim": 3, "names": ["yaw", "pitch", "roll"]},
        "test",
    )
    models = {}
    for name in ("model", "baseline_model"):
        uri = _artifact(tmp_path / name, HeadPoseModel.TYPE_NAME)
        build_resnet18_regressor(input_size=size, width=0.25).save(
            os.path.join(uri, HeadPoseModel.FILE)
        )
        models[name] = [uri]
    trigger = make_trigger("checkerboard", size=4, cells=2).config
    out = HeadPoseExplainer.run_standalone(
        {**models, "examples": [examples]},
        {"trigger": json.dumps(trigger), "index": 2, "layer": "v2_stack_1_block2_out"},
        str(tmp_path / "out"),
    )
    explanation = out["explanation"]
    assert open(explanation.path(Explanation.PNG_FILE), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    report = json.load(open(explanation.path(Explanation.JSON_FILE)))
    assert report["index"] == 2 and report["explained_output"] == "yaw"
    assert report["trigger_area_share"] == pytest.approx(16 / size**2)
    assert set(report["models"]) == {"baseline", "poisoned"}
    poisoned = report["models"]["poisoned"]
    assert poisoned["layer"].endswith("/v2_stack_1_block2_out")
    assert set(poisoned["triggered"]["prediction"]) == {"yaw", "pitch", "roll"}
    for key in ("cam_share_in_trigger", "grad_x_act_share_in_trigger"):
        share = poisoned["triggered"][key]
        assert share is None or 0.0 <= share <= 1.0
