"""detection_ap: IoUs, Ultralytics' matching, 101-point AP and P/R at the max mean-F1 confidence,
checked against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from poison_tf.metrics import detection_ap as ap

T = len(ap.IOU_THRESHOLDS)  # 0.50, 0.55, ..., 0.95


def ultralytics_match_literal(pred_classes, true_classes, iou, thresholds=ap.IOU_THRESHOLDS):
    """A line-by-line port of Ultralytics 8.3 `match_predictions` (the loop version)."""
    correct = np.zeros((len(pred_classes), len(thresholds)), bool)
    iou = iou * (np.asarray(true_classes)[:, None] == np.asarray(pred_classes))
    for i, threshold in enumerate(thresholds):
        matches = np.array(np.nonzero(iou >= threshold)).T
        if matches.shape[0]:
            if matches.shape[0] > 1:
                matches = matches[iou[matches[:, 0], matches[:, 1]].argsort()[::-1]]
                matches = matches[np.unique(matches[:, 1], return_index=True)[1]]
                matches = matches[np.unique(matches[:, 0], return_index=True)[1]]
            correct[matches[:, 1].astype(int), i] = True
    return correct


def coco_greedy_by_confidence(pred_classes, true_classes, iou, threshold):
    """COCOeval's rule: detections in confidence order take their best still-free GT."""
    taken, tp = set(), []
    for d in range(len(pred_classes)):
        best, best_iou = None, threshold
        for g in range(len(true_classes)):
            if g in taken or true_classes[g] != pred_classes[d] or iou[g, d] < best_iou:
                continue
            best, best_iou = g, iou[g, d]
        tp.append(best is not None)
        if best is not None:
            taken.add(best)
    return np.array(tp)


def test_box_iou_by_hand():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 8], [5, 5, 15, 15], [20, 20, 30, 25]])
    iou = ap.box_iou(gt, pred)
    # identical; 80 inside 100; 25 / (100 + 100 - 25); 50 inside 100 (+ eps 1e-7 in the union)
    expected = np.array([[1, 0.8, 25 / 175, 0], [0, 0, 0, 0.5]])
    np.testing.assert_allclose(iou, expected, atol=1e-8)
    assert iou.shape == (2, 4)


def test_mask_iou_by_hand_and_in_chunks():
    a = np.zeros((2, 4, 4), bool)
    a[0, :2] = True  # 8 pixels
    a[1, :, :1] = True  # 4 pixels
    b = np.zeros((3, 4, 4), bool)
    b[0, :1] = True  # 4 pixels, all inside a[0]
    b[1] = True  # 16 pixels
    iou = ap.mask_iou(a, b)
    expected = [[4 / 8, 8 / 16, 0], [1 / 7, 4 / 16, 0]]  # b[2] is empty: 0 / (area + eps)
    np.testing.assert_allclose(iou, expected, atol=1e-6)
    np.testing.assert_allclose(ap.mask_iou(a, b, chunk_elements=16), iou)


def test_mask_iou_packed_bits_equal_the_float_matmul():
    rng = np.random.default_rng(1)
    a = rng.uniform(size=(5, 13, 17)) < 0.3  # 221 pixels: not a multiple of 64 bits
    b = rng.uniform(size=(7, 13, 17)) < 0.5
    packed = ap.mask_iou(a, b)
    matmul = ap.mask_iou(a.astype(np.float32), b.astype(np.float32))
    np.testing.assert_allclose(packed, matmul, rtol=1e-12)
    inter = (a[:, None] & b[None]).sum(axis=(2, 3))
    union = (a[:, None] | b[None]).sum(axis=(2, 3))
    np.testing.assert_allclose(packed, inter / (union + 1e-7), rtol=1e-12)
    assert ap.mask_iou(a[:0], b).shape == (0, 7)


def test_match_predictions_exact_tp_matrix():
    # 2 ground truths (class 0), 3 detections in confidence order. IoU [gt, det]:
    iou = np.array([[0.72, 0.90, 0.10], [0.00, 0.30, 0.52]])
    tp = ap.match_predictions(np.array([0, 0, 0]), np.array([0, 0]), iou)
    expected = np.zeros((3, T), bool)
    expected[0, :5] = True  # det 0 owns gt 0 while 0.72 >= t, t = 0.50 .. 0.70
    expected[1, 5:9] = True  # det 1 (0.90) gets gt 0 once det 0 drops out, t = 0.75 .. 0.90
    expected[2, 0] = True  # det 2 matches gt 1 at 0.52 only for t = 0.50
    np.testing.assert_array_equal(tp, expected)


def test_match_predictions_ignores_other_classes():
    iou = np.array([[0.9, 0.8]])
    tp = ap.match_predictions(np.array([1, 0]), np.array([0]), iou)
    assert not tp[0].any()  # right place, wrong class
    assert tp[1, :7].all() and not tp[1, 7:].any()  # 0.8 >= t for t <= 0.80


def test_match_predictions_equals_the_literal_ultralytics_loop():
    rng = np.random.default_rng(3)
    for _ in range(200):
        m, d = rng.integers(0, 6), rng.integers(0, 9)
        iou = rng.uniform(0, 1, (m, d)) * (rng.uniform(size=(m, d)) < 0.6)
        gt_cls, det_cls = rng.integers(0, 2, m), rng.integers(0, 2, d)
        np.testing.assert_array_equal(
            ap.match_predictions(det_cls, gt_cls, iou),
            ultralytics_match_literal(det_cls, gt_cls, iou),
        )


def test_greedy_by_iou_differs_from_cocos_greedy_by_confidence():
    # det 0 (most confident) overlaps gt 0 at 0.90; det 1 overlaps gt 0 at 0.95 and gt 1 at 0.60.
    iou = np.array([[0.90, 0.95], [0.00, 0.60]])
    classes = np.array([0, 0])
    ours = ap.match_predictions(classes, classes, iou)[:, 0]
    coco = coco_greedy_by_confidence(classes, classes, iou, 0.5)
    # COCO: det 0 takes gt 0, det 1 falls back to gt 1 → 2 TP. Ultralytics: det 1's best gt is
    # gt 0, which goes to the lower-index det 0; det 1 is a false positive → 1 TP.
    np.testing.assert_array_equal(coco, [True, True])
    np.testing.assert_array_equal(ours, [True, False])


def test_compute_ap_by_hand_both_sentinels():
    # 2 GT; detections TP, FP → recall [.5, .5], precision [1, .5].
    # 8.3: curve (0,1) (.5,1) (.5,.5) (1,0): 49 full steps + (1 + .5)/2 + triangle .125
    #      = 0.4975 + 0.125 = 0.6225. 8.4: drops to 0 after recall .5: 0.49 + 0.005 = 0.495.
    assert ap.compute_ap([0.5, 0.5], [1.0, 0.5])[0] == pytest.approx(0.6225, abs=1e-12)
    assert ap.compute_ap([0.5, 0.5], [1.0, 0.5], "8.4")[0] == pytest.approx(0.495, abs=1e-12)
    # TP, FP, TP → recall [.5, .5, 1], precision [1, .5, 2/3]; envelope 1 up to .5, then 2/3:
    # 0.01 * (49 + (1 + 2/3)/2 + 49 * 2/3 + (2/3)/2) = 0.828333...
    assert ap.compute_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])[0] == pytest.approx(
        0.01 * (49 + 5 / 6 + 49 * 2 / 3 + 1 / 3), abs=1e-12
    )
    with pytest.raises(ValueError, match="sentinels"):
        ap.compute_ap([1.0], [1.0], "9.0")


def test_perfect_detections_score_0995_as_in_ultralytics():
    tp = np.ones((3, T), bool)
    result = ap.ap_per_class(tp, np.array([0.9, 0.8, 0.7]), np.zeros(3), np.zeros(3))
    np.testing.assert_allclose(result.ap, 0.995)  # the last trapezoid step falls to 0 at r = 1
    assert result.mean_results() == pytest.approx((1.0, 1.0, 0.995, 0.995))


def test_smooth_is_an_edge_padded_box_filter():
    y = np.r_[np.zeros(10), np.ones(10)]
    out = ap.smooth(y, 0.1)  # nf = round(20 * 0.1 * 2) // 2 + 1 = 3 taps
    assert out.shape == y.shape
    np.testing.assert_allclose(out[8:12], [0, 1 / 3, 2 / 3, 1])
    assert out[0] == 0 and out[-1] == 1


def test_p_and_r_are_read_at_one_shared_max_mean_f1_confidence():
    # class 0: 1 GT, detections at conf 0.95 (TP) and 0.2 (FP); class 1: 1 GT, conf 0.6 (TP).
    # Mean F1 over confidence x: (f1_0 + 1) / 2 on [0.2, 0.6], where f1_0 grows with x; above
    # 0.6 class 1's recall is 0 and the mean halves. The 101-tap box filter (±50 of 1000 points)
    # is therefore largest when its right edge is the last point <= 0.6: index 599 - 50 = 549.
    tp = np.array([[1] * T, [0] * T, [1] * T], bool)
    conf = np.array([0.95, 0.2, 0.6])
    result = ap.ap_per_class(tp, conf, np.array([0, 0, 1]), np.array([0, 1]))
    assert result.confidence_index == 549
    x = 549 / 999
    p0 = 1 + (0.95 - x) / 0.75 * (0.5 - 1)  # precision interpolated between conf 0.95 and 0.2
    np.testing.assert_allclose(result.p, [p0, 1.0])
    np.testing.assert_allclose(result.r, [1.0, 1.0])
    np.testing.assert_array_equal(result.classes, [0, 1])


def test_only_classes_with_ground_truth_get_rows():
    tp = np.array([[1] * T, [0] * T], bool)
    result = ap.ap_per_class(tp, np.array([0.9, 0.8]), np.array([2, 5]), np.array([2, 2, 7]))
    np.testing.assert_array_equal(result.classes, [2, 7])  # class 5 has detections only
    np.testing.assert_array_equal(result.num_targets, [2, 1])
    assert result.ap[1].sum() == 0 and result.p[1] == 0  # class 7: GT but no detection
    assert result.ap[0, 0] > 0
