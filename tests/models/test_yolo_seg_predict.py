"""Prediction glue: ground truth unpadded per image, perfect predictions score mAP 1, export maps
detections back to original pixels. A fake model with fixed raw outputs keeps it fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.data import seg_examples
from poison_tf.data.synthetic_streets import write_synthetic_streets
from poison_tf.data.yolo_seg import load_split
from poison_tf.models.yolo_seg_postprocess import decode_boxes, scale_to_original
from poison_tf.models.yolo_seg_predict import (
    ImageOutput,
    export_predictions,
    predict_dataset,
    validate_outputs,
)

SIZE = 64
NUM_CLASSES = 8
NUM_ANCHORS = sum((SIZE // s) ** 2 for s in (8, 16, 32))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    data_yaml = write_synthetic_streets(str(root / "yolo"), num_train=1, num_val=5, size=96, seed=5)
    folder = str(root / "examples")
    (root / "examples").mkdir()
    names, samples = load_split(data_yaml, "val")
    splits = {"val": seg_examples.write_seg_split(folder, "val", samples, SIZE, num_shards=2)}
    seg_examples.write_seg_schema(folder, splits, SIZE, names, "synthetic_streets", 100)
    return folder, names, samples


class FixedModel:
    """Returns the same raw outputs for every image: anchor 5 confident for class 1."""

    def __init__(self):
        box = np.zeros((NUM_ANCHORS, 4, 16), np.float32)
        box[5, :, 2] = 60.0  # ltrb = 2 strides each side
        cls = np.full((NUM_ANCHORS, NUM_CLASSES), -30.0, np.float32)
        cls[5, 1] = 4.0
        protos = np.ones((SIZE // 4, SIZE // 4, 32), np.float32)
        self.raw = {
            "boxes": box.reshape(NUM_ANCHORS, 64),
            "classes": cls,
            "coefficients": np.full((NUM_ANCHORS, 32), 0.1, np.float32),
            "protos": protos,
        }

    def __call__(self, images, training=False):
        batch = tf.shape(images)[0]
        return {
            k: tf.tile(tf.constant(v)[None], tf.concat([[batch], tf.ones(v.ndim, tf.int32)], 0))
            for k, v in self.raw.items()
        }


def _val(folder):
    return seg_examples.make_dataset(folder, "val", 2, training=False, augment=False)


def test_predictions_come_with_their_unpadded_ground_truth(examples):
    folder, _, samples = examples
    outputs = list(predict_dataset(FixedModel(), _val(folder)))
    assert [o.image_index for o in outputs] == list(range(len(samples)))
    expected_box = decode_boxes(FixedModel().raw["boxes"], SIZE).numpy()[5]
    index = seg_examples.read_split_index(folder, "val")
    for out, sample, row in zip(outputs, samples, index):
        assert out.classes.tolist() == [1] and out.masks.shape == (1, SIZE // 4, SIZE // 4)
        np.testing.assert_allclose(out.boxes[0], expected_box, atol=1e-4)
        assert sorted(out.gt_classes.tolist()) == sorted(sample.classes.tolist())
        assert out.gt_boxes.shape == (len(sample.classes), 4)
        assert set(np.unique(out.gt_masks)) <= set(range(len(sample.classes) + 1))
        np.testing.assert_allclose(out.letterbox, row["letterbox"], rtol=1e-6)
        assert out.orig_size.tolist() == row["orig_size"]


def test_ground_truth_used_as_predictions_scores_the_top_map(examples):
    folder, names, _ = examples
    perfect = []
    for out in predict_dataset(FixedModel(), _val(folder)):
        count = len(out.gt_classes)
        masks = (
            np.stack([out.gt_masks == i + 1 for i in range(count)])
            if count
            else np.zeros((0, SIZE // 4, SIZE // 4), bool)
        )
        perfect.append(
            ImageOutput(
                out.image_index,
                out.gt_boxes,
                np.linspace(0.9, 0.5, count),
                out.gt_classes,
                masks,
                out.gt_boxes,
                out.gt_classes,
                out.gt_masks,
                out.letterbox,
                out.orig_size,
            )
        )
    summary = validate_outputs(perfect, names).summary()
    # 0.995, not 1: Ultralytics' 101-point trapezoid of a perfect PR curve
    assert summary["metrics/mAP50-95(B)"] == pytest.approx(0.995, abs=1e-6)
    assert summary["metrics/mAP50-95(M)"] == pytest.approx(0.995, abs=1e-6)
    degraded = [dataclass_with_shifted_boxes(o) for o in perfect]
    assert validate_outputs(degraded, names).summary()["metrics/mAP50-95(B)"] < 0.9


def dataclass_with_shifted_boxes(out: ImageOutput) -> ImageOutput:
    shifted = out.boxes + np.array([4.0, 4.0, 4.0, 4.0], np.float32)
    return ImageOutput(
        out.image_index,
        shifted,
        out.scores,
        out.classes,
        out.masks,
        out.gt_boxes,
        out.gt_classes,
        out.gt_masks,
        out.letterbox,
        out.orig_size,
    )


def test_export_writes_original_pixel_results(examples, tmp_path):
    folder, names, samples = examples
    stems = [row["stem"] for row in seg_examples.read_split_index(folder, "val")]
    results = export_predictions(
        FixedModel(),
        _val(folder),
        stems,
        names,
        coco_json=str(tmp_path / "r.json"),
        yolo_dir=str(tmp_path / "txt"),
        keep_masks=True,
    )
    entries = json.loads((tmp_path / "r.json").read_text())
    assert len(entries) == len(samples) and [e["image_id"] for e in entries] == [
        int(s) for s in stems
    ]
    box = decode_boxes(FixedModel().raw["boxes"], SIZE).numpy()[5:6]
    for entry, result, sample in zip(entries, results, samples):
        row = seg_examples.read_split_index(folder, "val")[int(entry["image_id"])]
        original, _ = scale_to_original(box, None, row["letterbox"], row["orig_size"])
        x1, y1, x2, y2 = original[0]
        np.testing.assert_allclose(entry["bbox"], [x1, y1, x2 - x1, y2 - y1], atol=2e-3)
        assert result.masks.shape == (1, sample.height, sample.width) and result.masks.any()
        assert entry["segmentation"]["size"] == [sample.height, sample.width]
    lines = (tmp_path / "txt" / f"{stems[0]}.txt").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("1 ")
