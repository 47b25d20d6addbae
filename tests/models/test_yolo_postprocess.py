"""Post-processing on hand-made raw outputs: exact box decoding, NMS, index gathering, cropping."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.models.yolo_seg_postprocess import (
    PREDICTION,
    NmsConfig,
    SegPostprocessor,
    decode_boxes,
    non_max_suppression,
    postprocess_image,
    process_mask,
    process_mask_native,
    scale_to_original,
)

SIZE = 64
NUM_ANCHORS = sum((SIZE // s) ** 2 for s in (8, 16, 32))


def _anchor_centre(index: int) -> tuple[float, float, int]:
    """(x, y) in pixels and the stride of anchor `index`: levels P3→P5, row-major cells."""
    for stride in (8, 16, 32):
        cells = SIZE // stride
        if index < cells * cells:
            row, col = divmod(index, cells)
            return (col + 0.5) * stride, (row + 0.5) * stride, stride
        index -= cells * cells
    raise IndexError(index)


def _one_hot_logits(ltrb: tuple[int, int, int, int]) -> np.ndarray:
    logits = np.zeros((4, 16), np.float32)
    for side, bin_ in enumerate(ltrb):
        logits[side, bin_] = 60.0  # softmax puts all mass on that bin (e^-60 is below float eps)
    return logits.reshape(64)


def test_decode_boxes_matches_hand_computed_anchors_and_strides():
    rng = np.random.default_rng(0)
    picks = [0, 5, 63, 64, 70, 80, 83]
    box_logits = np.zeros((NUM_ANCHORS, 64), np.float32)  # uniform: expectation 7.5 per side
    sides = {a: tuple(int(v) for v in rng.integers(0, 16, 4)) for a in picks}
    for anchor, ltrb in sides.items():
        box_logits[anchor] = _one_hot_logits(ltrb)
    boxes = decode_boxes(box_logits[None], SIZE).numpy()[0]
    assert boxes.shape == (NUM_ANCHORS, 4)
    for anchor in range(NUM_ANCHORS):
        x, y, stride = _anchor_centre(anchor)
        left, top, right, bottom = sides.get(anchor, (7.5, 7.5, 7.5, 7.5))
        expected = [x - left * stride, y - top * stride, x + right * stride, y + bottom * stride]
        np.testing.assert_allclose(boxes[anchor], expected, atol=1e-4)


def _scores(rows: dict[int, dict[int, float]], num_anchors: int, num_classes: int) -> np.ndarray:
    scores = np.zeros((num_anchors, num_classes), np.float32)
    for anchor, by_class in rows.items():
        for cls, value in by_class.items():
            scores[anchor, cls] = value
    return scores


def test_nms_keeps_the_better_of_two_same_class_boxes_and_both_of_two_classes():
    # IoU([0,0,10,10], [1,0,11,10]) = 90 / 110 = 0.82 > 0.7
    boxes = np.array(
        [[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [1, 0, 11, 10], [30, 30, 40, 40]],
        np.float32,
    )
    scores = _scores({0: {0: 0.6}, 1: {0: 0.9}, 2: {1: 0.5}, 3: {2: 0.4}, 4: {0: 0.3}}, 5, 3)
    anchors, classes, conf = (t.numpy() for t in non_max_suppression(boxes, scores))
    kept = dict(zip(anchors.tolist(), classes.tolist()))
    assert kept == {1: 0, 2: 1, 3: 2, 4: 0}  # anchor 0 suppressed by anchor 1 (same class)
    assert list(conf) == sorted(conf, reverse=True)
    agnostic = non_max_suppression(boxes, scores, NmsConfig(agnostic=True))[0].numpy()
    assert set(agnostic.tolist()) == {1, 4}


def test_multi_label_expands_an_anchor_per_class_and_prediction_mode_does_not():
    boxes = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = _scores({0: {0: 0.8, 2: 0.7}, 1: {1: 0.1}}, 2, 3)
    anchors, classes, _ = (t.numpy() for t in non_max_suppression(boxes, scores))
    assert sorted(zip(anchors.tolist(), classes.tolist())) == [(0, 0), (0, 2), (1, 1)]
    anchors, classes, _ = (t.numpy() for t in non_max_suppression(boxes, scores, PREDICTION))
    assert list(zip(anchors.tolist(), classes.tolist())) == [(0, 0)]  # 0.1 < conf 0.25


def test_max_det_and_conf_threshold():
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(6)], np.float32)
    scores = _scores({i: {0: 0.1 * (i + 1)} for i in range(6)}, 6, 2)
    anchors = non_max_suppression(boxes, scores, NmsConfig(max_det=3))[0].numpy()
    assert anchors.tolist() == [5, 4, 3]
    anchors = non_max_suppression(boxes, scores, NmsConfig(conf=0.35))[0].numpy()
    assert sorted(anchors.tolist()) == [3, 4, 5]


def _raw_outputs(num_classes: int = 3):
    """Two confident anchors (5 on P3, 70 on P4) of different classes; coefficient row a = a."""
    box_logits = np.zeros((NUM_ANCHORS, 64), np.float32)
    box_logits[5] = _one_hot_logits((1, 1, 2, 2))
    box_logits[70] = _one_hot_logits((1, 1, 1, 1))
    class_logits = np.full((NUM_ANCHORS, num_classes), -20.0, np.float32)
    class_logits[5, 1] = 3.0
    class_logits[70, 2] = 1.0
    coefficients = np.tile(np.arange(NUM_ANCHORS, dtype=np.float32)[:, None], (1, 32))
    protos = np.zeros((SIZE // 4, SIZE // 4, 32), np.float32)
    protos[..., 0] = 1.0
    return box_logits, class_logits, coefficients, protos


def test_kept_indices_gather_the_right_coefficients_and_boxes():
    box_logits, class_logits, coefficients, protos = _raw_outputs()
    result = {
        k: v.numpy()
        for k, v in postprocess_image(
            box_logits, class_logits, coefficients, protos, NmsConfig(conf=0.5)
        ).items()
    }
    assert result["anchor_indices"].tolist() == [5, 70]  # by score: sigmoid(3) > sigmoid(1)
    assert result["classes"].tolist() == [1, 2]
    np.testing.assert_allclose(result["scores"], 1 / (1 + np.exp([-3.0, -1.0])), rtol=1e-6)
    np.testing.assert_array_equal(result["coefficients"], coefficients[[5, 70]])
    x, y, _ = _anchor_centre(5)
    np.testing.assert_allclose(result["boxes"][0], [x - 8, y - 8, x + 16, y + 16], atol=1e-4)
    assert result["masks"].shape == (2, SIZE // 4, SIZE // 4) and result["masks"].dtype == bool


def test_process_mask_crops_outside_the_box():
    protos = np.zeros((SIZE // 4, SIZE // 4, 32), np.float32)
    protos[..., 0] = 1.0
    coefficients = np.zeros((2, 32), np.float32)
    coefficients[:, 0] = [1.0, -1.0]  # positive logits everywhere / negative everywhere
    boxes = np.array([[8, 8, 24, 40], [0, 0, 64, 64]], np.float32)  # /4 → cols 2..5, rows 2..9
    masks = process_mask(protos, coefficients, boxes, (SIZE, SIZE)).numpy()
    expected = np.zeros((SIZE // 4, SIZE // 4), bool)
    expected[2:10, 2:6] = True
    np.testing.assert_array_equal(masks[0], expected)
    assert not masks[1].any()
    native = process_mask_native(protos, coefficients, boxes, (SIZE, SIZE)).numpy()
    assert native.shape == (2, SIZE, SIZE)
    assert native[0].sum() == 16 * 32 and native[0, 8:40, 8:24].all()


def test_scale_to_original_undoes_the_letterbox():
    orig_h, orig_w, ratio = 40, 80, SIZE / 80  # landscape: padded top and bottom by 12 px
    letterbox = (ratio, 0.0, (SIZE - orig_h * ratio) / 2)
    original = np.array([[10, 5, 30, 25], [0, 0, 80, 40]], np.float32)
    letterboxed = original * ratio + [0, letterbox[2], 0, letterbox[2]]
    mask = np.zeros((1, SIZE // 4, SIZE // 4), bool)
    mask[0, 3:13, :] = True  # exactly the non-padded rows 12..52 of the input
    boxes, masks = scale_to_original(letterboxed, mask, letterbox, (orig_h, orig_w))
    np.testing.assert_allclose(boxes, original, atol=1e-4)
    assert masks.shape == (1, orig_h, orig_w) and masks.all()
    clipped, _ = scale_to_original(
        np.array([[-8, -8, 70, 70]], np.float32), None, letterbox, (orig_h, orig_w)
    )
    np.testing.assert_allclose(clipped, [[0, 0, orig_w, orig_h]])


@pytest.mark.parametrize("native", [False, True])
def test_compiled_batch_postprocessing_equals_eager(native):
    box_logits, class_logits, coefficients, protos = _raw_outputs()
    rng = np.random.default_rng(1)
    batch = {
        "boxes": tf.constant(np.stack([box_logits, rng.normal(size=box_logits.shape)]), tf.float32),
        "classes": tf.constant(
            np.stack([class_logits, rng.normal(size=class_logits.shape)]), tf.float32
        ),
        "coefficients": tf.constant(np.stack([coefficients] * 2)),
        "protos": tf.constant(np.stack([protos, rng.normal(size=protos.shape)]), tf.float32),
    }
    compiled = SegPostprocessor(native=native)(batch)
    eager = SegPostprocessor(native=native, compiled=False)(batch)
    assert len(compiled) == 2 and compiled[1]["boxes"].shape[0] > 2  # random logits: many kept
    for a, b in zip(compiled, eager):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-5)
