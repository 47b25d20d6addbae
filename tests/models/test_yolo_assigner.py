"""Task-aligned assignment on hand-made boxes: candidates, top-k, ties between GTs, targets."""

from __future__ import annotations

import numpy as np
import pytest

from poison_tf.models.task_aligned_assigner import TaskAlignedAssigner
from poison_tf.models.yolo_box_ops import make_anchors

SIZE = 64
POINTS, STRIDES = make_anchors(SIZE)
ANCHORS = POINTS * STRIDES[:, None]  # pixels
A = len(ANCHORS)


def _boxes_around_anchors(half: float = 6.0) -> np.ndarray:
    return np.concatenate([ANCHORS - half, ANCHORS + half], axis=-1)[None].astype(np.float32)


def _assign(gt_boxes, gt_labels, pred_boxes=None, pred_scores=None, num_classes=3, topk=10):
    gt_boxes = np.asarray(gt_boxes, np.float32)[None]
    gt_labels = np.asarray(gt_labels, np.int32)[None]
    if pred_boxes is None:
        pred_boxes = _boxes_around_anchors()
    if pred_scores is None:
        pred_scores = np.full((1, A, num_classes), 0.5, np.float32)
    out = TaskAlignedAssigner(num_classes, topk=topk)(
        pred_scores, pred_boxes, ANCHORS, gt_labels, gt_boxes, gt_labels >= 0
    )
    return {
        k: np.asarray(getattr(out, k))[0]
        for k in ("target_labels", "target_boxes", "target_scores", "fg_mask", "target_gt_idx")
    }


def _inside(box, points):
    return (
        (points[:, 0] > box[0])
        & (points[:, 0] < box[2])
        & (points[:, 1] > box[1])
        & (points[:, 1] < box[3])
    )


def test_anchors_outside_every_box_are_never_positive():
    rng = np.random.default_rng(0)
    for _ in range(3):
        xy = rng.uniform(0, 40, (3, 2))
        gt = np.concatenate([xy, xy + rng.uniform(8, 24, (3, 2))], axis=1)
        pred = _boxes_around_anchors() + rng.normal(0, 2, (1, A, 4)).astype(np.float32)
        out = _assign(gt, [0, 1, 2], pred_boxes=pred)
        inside_any = np.any([_inside(b, ANCHORS) for b in gt], axis=0)
        assert out["fg_mask"].any()
        assert not (out["fg_mask"] & ~inside_any).any()
        for anchor in np.flatnonzero(out["fg_mask"]):  # and inside the GT it is assigned to
            assert _inside(gt[out["target_gt_idx"][anchor]], ANCHORS[anchor : anchor + 1])[0]


@pytest.mark.parametrize("topk", [3, 10])
def test_at_most_topk_positives_per_gt(topk):
    out = _assign([[0, 0, 64, 64]], [1], topk=topk)  # every anchor centre is inside
    assert out["fg_mask"].sum() == topk
    assert (out["target_labels"][out["fg_mask"]] == 1).all()


def test_anchor_claimed_by_two_gts_goes_to_the_higher_iou_one():
    anchor = 27  # P3 cell (3, 3): centre (28, 28)
    cx, cy = ANCHORS[anchor]
    loose = [cx - 20, cy - 20, cx + 20, cy + 20]
    tight = [cx - 5, cy - 5, cx + 6, cy + 6]
    pred = np.tile(np.array([[[0, 0, 1, 1]]], np.float32), (1, A, 1))  # poor everywhere else
    pred[0, anchor] = tight
    for order in ([loose, tight], [tight, loose]):
        out = _assign(order, [0, 2], pred_boxes=pred)
        assert out["fg_mask"][anchor]
        assert order[out["target_gt_idx"][anchor]] == tight
        np.testing.assert_allclose(out["target_boxes"][anchor], tight)
        assert out["target_labels"][anchor] == [0, 2][out["target_gt_idx"][anchor]]


def test_targets_point_at_the_right_gt_and_padding_is_never_assigned():
    gt = [[2, 2, 30, 30], [0, 0, 0, 0], [34, 34, 62, 62], [0, 0, 0, 0]]
    labels = [2, -1, 0, -1]
    out = _assign(gt, labels)
    fg = out["fg_mask"]
    assert set(out["target_gt_idx"][fg].tolist()) == {0, 2}
    for anchor in np.flatnonzero(fg):
        row = out["target_gt_idx"][anchor]
        np.testing.assert_allclose(out["target_boxes"][anchor], gt[row])
        assert np.argmax(out["target_scores"][anchor]) == labels[row]
    assert (out["target_scores"][~fg] == 0).all()


def test_target_scores_are_normalised_to_the_best_iou_of_each_gt():
    rng = np.random.default_rng(3)
    gt = np.array([[4, 4, 40, 36], [20, 24, 60, 60]], np.float32)
    pred = _boxes_around_anchors(12.0) + rng.normal(0, 3, (1, A, 4)).astype(np.float32)
    scores = rng.uniform(0.05, 0.9, (1, A, 3)).astype(np.float32)
    out = _assign(gt, [1, 2], pred_boxes=pred, pred_scores=scores)
    from poison_tf.models.yolo_box_ops import ciou

    for row, label in enumerate([1, 2]):
        mine = out["fg_mask"] & (out["target_gt_idx"] == row)
        assert mine.any()
        ious = np.maximum(np.asarray(ciou(gt[row][None], pred[0][mine])), 0)
        got = out["target_scores"][mine][:, label]
        # Ultralytics: the best-aligned positive gets the GT's best IoU, the others less
        np.testing.assert_allclose(got.max(), ious.max(), rtol=1e-4)
        assert (got <= ious.max() + 1e-6).all() and (got > 0).all()


def test_no_gt_gives_no_positive():
    out = _assign([[0, 0, 0, 0]], [-1])
    assert not out["fg_mask"].any() and (out["target_scores"] == 0).all()
