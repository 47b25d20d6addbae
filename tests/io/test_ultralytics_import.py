"""Ultralytics YOLOv8-seg -> YoloV8Seg: the same numbers as Ultralytics' own eval-mode forward.

Random-weight YOLOv8n-seg (80 classes) and YOLOv8s-seg (3 classes) from Ultralytics' yaml, saved
as Ultralytics saves them (a pickled dict holding the model) and imported through the `.pt`
path. Compared on the same 64-px images: decoded boxes (xywh, input pixels), class probabilities,
mask coefficients, prototypes (<= 1e-3), then the detections after NMS: Ultralytics' own
`non_max_suppression` (with a plain-torch greedy kernel standing in for `torchvision.ops.nms`,
see ultralytics_fixtures) against the project's `postprocess_image` at `val` settings, and the
masks of Ultralytics' `process_mask` against the project's.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
from ultralytics_fixtures import (
    random_seg_model,
    save_full_checkpoint,
    torch,
    torch_forward,
    ultralytics_masks,
    ultralytics_nms,
)

import poison_tf  # noqa: F401 (registers the model classes for load_model)
from poison_tf.io.ultralytics_import import import_ultralytics
from poison_tf.models.yolo_seg_postprocess import VALIDATION, decode_boxes, postprocess_image

SIZE = 64
TOLERANCE = 1e-3


@pytest.fixture(scope="module", params=[("n", 80), ("s", 3)], ids=["n-80", "s-3"])
def imported(request, tmp_path_factory):
    scale, num_classes = request.param
    model = random_seg_model(scale, num_classes, seed=1)
    path = str(tmp_path_factory.mktemp(f"yolo_{scale}") / f"yolov8{scale}-seg.pt")
    save_full_checkpoint(model, path, SIZE)
    keras_model, metadata = import_ultralytics(path, num_classes=num_classes, trust_pickle=True)
    images = np.random.default_rng(3).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    return model, keras_model, metadata, images, path


def _keras_outputs(keras_model, images):
    out = {k: np.asarray(v) for k, v in keras_model(images, training=False).items()}
    xyxy = decode_boxes(out["boxes"], SIZE).numpy()
    xywh = np.concatenate([(xyxy[..., :2] + xyxy[..., 2:]) / 2, xyxy[..., 2:] - xyxy[..., :2]], -1)
    return out, xywh, 1.0 / (1.0 + np.exp(-out["classes"]))


def test_metadata_reads_the_architecture_from_the_yaml(imported):
    torch_model, keras_model, metadata, _, path = imported
    yolo = metadata["yolo"]
    assert yolo["size"] == torch_model.yaml["scale"] == keras_model.size
    assert metadata["num_classes"] == torch_model.yaml["nc"] == keras_model.num_classes
    assert yolo["read_from"] == "yaml" and yolo["image_size"] == SIZE == keras_model.image_size
    tensors = torch_model.state_dict()
    expected = sum(
        v.numel() for k, v in tensors.items() if "dfl" not in k and "num_batches" not in k
    )
    assert yolo["numbers_copied"] == expected
    assert yolo["layout"] == "full-object" and metadata["source"] == "ultralytics"
    assert metadata["weights_file"] == os.path.basename(path)
    assert len(metadata["class_names"]) == metadata["num_classes"]


def test_raw_outputs_match_ultralytics(imported):
    torch_model, keras_model, metadata, images, _ = imported
    nc = metadata["num_classes"]
    y, protos = torch_forward(torch_model, images)
    y = y.numpy().transpose(0, 2, 1)  # [B, A, 4 + nc + 32]
    out, xywh, probs = _keras_outputs(keras_model, images)
    pairs = {
        "boxes xywh": (xywh, y[..., :4]),
        "class probabilities": (probs, y[..., 4 : 4 + nc]),
        "mask coefficients": (out["coefficients"], y[..., 4 + nc :]),
        "prototypes": (out["protos"], protos.numpy().transpose(0, 2, 3, 1)),
    }
    for name, (ours, theirs) in pairs.items():
        assert ours.shape == theirs.shape, name
        assert np.std(theirs) > 0.05, f"{name}: degenerate random model"  # the check can fail
        scale = max(1.0, float(np.abs(theirs).max()) / 100)  # boxes reach hundreds of pixels
        assert np.abs(ours - theirs).max() <= TOLERANCE * scale, name


def test_detections_after_nms_match_ultralytics(imported, monkeypatch):
    torch_model, keras_model, metadata, images, _ = imported
    nc = metadata["num_classes"]
    y, protos = torch_forward(torch_model, images)
    theirs = ultralytics_nms(
        y,
        monkeypatch,
        conf_thres=VALIDATION.conf,
        iou_thres=VALIDATION.iou,
        multi_label=VALIDATION.multi_label,
        max_det=VALIDATION.max_det,
        nc=nc,
    )
    out = keras_model(images, training=False)
    for i, det in enumerate(theirs):
        ours = postprocess_image(
            out["boxes"][i], out["classes"][i], out["coefficients"][i], out["protos"][i]
        )
        det = det.numpy()
        assert len(det) > 1 and len(ours["boxes"]) == len(det)
        np.testing.assert_allclose(ours["boxes"], det[:, :4], atol=TOLERANCE * 10)
        np.testing.assert_allclose(ours["scores"], det[:, 4], atol=TOLERANCE)
        np.testing.assert_array_equal(ours["classes"], det[:, 5].astype(np.int64))
        np.testing.assert_allclose(ours["coefficients"], det[:, 6:], atol=TOLERANCE)
        masks = ultralytics_masks(protos[i], torch.from_numpy(det), SIZE).numpy() > 0
        assert masks.any() and np.mean(masks != np.asarray(ours["masks"])) < 1e-3


def test_state_dict_file_imports_without_unpickling(imported, tmp_path):
    torch_model, keras_model, metadata, images, _ = imported
    path = str(tmp_path / "weights.pt")
    torch.save(torch_model.state_dict(), path)
    plain, plain_meta = import_ultralytics(path, num_classes=None, trust_pickle=False)
    assert plain_meta["yolo"]["layout"] == "state_dict"
    assert plain_meta["yolo"]["read_from"] == "tensor shapes"
    assert plain_meta["yolo"]["size"] == metadata["yolo"]["size"]
    assert plain_meta["yolo"]["image_size"] == 640  # the file does not say: Ultralytics' default
    from poison_tf.models.yolo_seg_transfer import with_image_size

    ours = with_image_size(plain, SIZE)(images, training=False)
    reference = keras_model(images, training=False)
    for key in ("boxes", "classes", "coefficients", "protos"):
        np.testing.assert_allclose(np.asarray(ours[key]), np.asarray(reference[key]), atol=1e-5)


def test_saved_keras_model_loads_with_the_same_outputs(imported, tmp_path):
    _, keras_model, _, images, _ = imported
    path = str(tmp_path / "imported.keras")
    keras_model.save(path)
    loaded = keras.models.load_model(path, compile=False)  # safe mode stays on
    reference = keras_model(images, training=False)
    for key, value in loaded(images, training=False).items():
        np.testing.assert_allclose(np.asarray(value), np.asarray(reference[key]), atol=1e-6)


def test_trainer_checkpoint_with_float16_ema_imports(tmp_path):
    """Ultralytics' trainer writes `"model": None` and the float16 EMA model under `"ema"`."""
    import copy

    half = copy.deepcopy(random_seg_model("n", 3, seed=2)).half()
    path = str(tmp_path / "last.pt")
    torch.save({"model": None, "ema": half, "train_args": {"imgsz": SIZE}}, path)
    keras_model, metadata = import_ultralytics(path, num_classes=3, trust_pickle=True)
    assert metadata["yolo"]["size"] == "n" and keras_model.image_size == SIZE
    images = np.random.default_rng(4).uniform(0, 255, (1, SIZE, SIZE, 3)).astype(np.float32)
    _, protos = torch_forward(half.float(), images)
    ours = np.asarray(keras_model(images, training=False)["protos"])
    np.testing.assert_allclose(ours, protos.numpy().transpose(0, 2, 3, 1), atol=TOLERANCE)
