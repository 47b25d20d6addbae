"""Ties decided as Ultralytics decides them: IoUs and confidences on a coarse grid, where equal
values are common, against a literal port of `match_predictions` and against Ultralytics' own
`BaseValidator.match_predictions` and `ap_per_class` (ultralytics 8.3.40, called directly; its
validator and metrics modules import without torchvision).

Why a grid: with continuous IoUs no two values are equal, and any sort order agrees
(test_detection_ap.py covers that case); here a detection's best IoU is often shared by several
ground truths, which Ultralytics' unstable `argsort` decides (see detection_ap's docstring).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from test_detection_ap import ultralytics_match_literal

from poison_tf.metrics import detection_ap as ap

CASES = 3000


def _case(rng: np.random.Generator, dtype=np.float64):
    """Classes 0..1, IoUs rounded to 0.05 (30 % zero), 1-7 ground truths, 1-9 detections."""
    num_gt, num_det = int(rng.integers(1, 8)), int(rng.integers(1, 10))
    true_classes = rng.integers(0, 2, num_gt)
    pred_classes = rng.integers(0, 2, num_det)
    iou = np.round(rng.uniform(0.45, 1.0, (num_gt, num_det)) / 0.05) * 0.05
    iou[rng.uniform(size=iou.shape) < 0.3] = 0.0
    return pred_classes, true_classes, iou.astype(dtype)


def _has_tie(pred_classes, true_classes, iou, lowest=0.5):
    same = iou * (true_classes[:, None] == pred_classes[None, :])
    best = same.max(axis=0)
    return bool((((same == best).sum(axis=0) > 1) & (best >= lowest)).any())


def test_quantised_ious_match_the_literal_port_exactly():
    rng = np.random.default_rng(2024)
    disagreements, tied = [], 0
    for case in range(CASES):
        pred_classes, true_classes, iou = _case(rng)
        tied += _has_tie(pred_classes, true_classes, iou)
        ours = ap.match_predictions(pred_classes, true_classes, iou)
        theirs = ultralytics_match_literal(pred_classes, true_classes, iou)
        if not np.array_equal(ours, theirs):
            disagreements.append(case)
    assert tied > CASES // 10, f"only {tied} cases with a tie: the grid does not test ties"
    assert disagreements == [], (
        f"{len(disagreements)} of {CASES} cases differ: {disagreements[:10]}"
    )


def test_quantised_ious_match_ultralytics_own_function_exactly():
    torch = pytest.importorskip("torch")
    validator = pytest.importorskip("ultralytics.engine.validator")
    stub = types.SimpleNamespace(iouv=torch.linspace(0.5, 0.95, 10))  # as BaseValidator's
    thresholds = stub.iouv.numpy().astype(np.float64)
    rng = np.random.default_rng(7)
    disagreements = []
    for case in range(CASES):
        pred_classes, true_classes, iou = _case(rng, np.float32)  # Ultralytics' IoUs are float32
        theirs = validator.BaseValidator.match_predictions(
            stub, torch.from_numpy(pred_classes), torch.from_numpy(true_classes),
            torch.from_numpy(iou),
        ).numpy()  # fmt: skip
        ours = ap.match_predictions(pred_classes, true_classes, iou, thresholds)
        if not np.array_equal(ours, theirs):
            disagreements.append(case)
    assert disagreements == [], (
        f"{len(disagreements)} of {CASES} cases differ: {disagreements[:10]}"
    )


def test_tied_confidences_give_ultralytics_own_ap_p_and_r(monkeypatch):
    metrics = pytest.importorskip("ultralytics.utils.metrics")
    # ultralytics 8.3.40 calls np.trapz, which numpy 2.4 removed; np.trapezoid is the same rule
    monkeypatch.setattr(np, "trapz", np.trapezoid, raising=False)
    rng = np.random.default_rng(11)
    for _ in range(300):
        n = int(rng.integers(5, 60))
        conf = (np.round(rng.uniform(0, 1, n) / 0.1) * 0.1).astype(np.float32)  # many ties
        pred_cls = rng.integers(0, 3, n)
        target_cls = rng.integers(0, 3, int(rng.integers(1, 30)))
        tp = rng.uniform(size=(n, 10)) < np.linspace(0.7, 0.2, 10)
        _, _, p, r, f1, their_ap, classes, *_ = metrics.ap_per_class(tp, conf, pred_cls, target_cls)
        ours = ap.ap_per_class(tp, conf, pred_cls, target_cls)
        np.testing.assert_array_equal(ours.classes, classes)
        np.testing.assert_allclose(ours.ap, their_ap, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours.p, p, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours.r, r, rtol=0, atol=1e-12)
