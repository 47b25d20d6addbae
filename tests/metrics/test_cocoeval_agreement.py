"""Agreement with pycocotools' COCOeval where the two definitions coincide.

The cases: one class, no crowd, distinct scores, at most 100 detections per image, every
detection overlapping at most one ground truth (so greedy-by-confidence and Ultralytics'
matching pick the same pairs) with IoUs midway between thresholds (0.525, 0.575, ...), plus
far-away false positives and duplicates. Then
- the TP matrices are identical to COCOeval's `dtMatches`;
- AP differs only by the integration: COCOeval averages the precision envelope at 101 recall
  points as a step function, ours integrates its linear interpolation with the trapezoid rule.
  With 72 ground truths that is within 0.006 per threshold, with the "8.4" sentinels always and
  with the default "8.3" ones when every ground truth is found at every threshold. When recall
  stays below 1, the "8.3" sentinel adds the area under a line from the last point to (1, 0),
  which COCOeval does not count: there "8.3" is higher (measured +0.06 .. +0.1 here).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from poison_tf.metrics import detection_ap as ap

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

TOLERANCE = 0.006
MIDWAY_IOUS = np.arange(0.525, 1.0, 0.05)


def make_case(seed: int, all_found: bool, n_images: int = 12, gt_per_image: int = 6):
    """[(gt boxes [M, 4], [(det box, score), ...])] per image; boxes xyxy."""
    rng = np.random.default_rng(seed)
    scores = rng.permutation(np.linspace(0.01, 0.99, n_images * gt_per_image * 3))
    images, k = [], 0
    for i in range(n_images):
        gts, dets = [], []
        for g in range(gt_per_image):
            x, y = 100.0 * g, 100.0 * (i % 3)
            gts.append([x, y, x + 60, y + 40])
            for _ in range(1 if all_found else rng.integers(0, 3)):
                iou = 0.975 if all_found else rng.choice(MIDWAY_IOUS)
                dets.append(([x, y, x + 60 * iou, y + 40], scores[k]))  # inside: IoU = width ratio
                k += 1
            if rng.uniform() < 0.5:
                dets.append(([x, y + 1000, x + 50, y + 1040], scores[k]))
                k += 1
        images.append((np.array(gts), dets))
    return images


def ours(images, sentinels: str):
    """(per-image TP matrices in descending-score order, AP per threshold)."""
    tps, confs = [], []
    for gts, dets in images:
        boxes = np.array([d[0] for d in dets]).reshape(-1, 4)
        conf = np.array([d[1] for d in dets])
        order = np.argsort(-conf)
        iou = ap.box_iou(gts, boxes[order])
        tps.append(ap.match_predictions(np.zeros(len(conf)), np.zeros(len(gts)), iou))
        confs.append(conf[order])
    tp, conf = np.concatenate(tps), np.concatenate(confs)
    total = sum(len(gts) for gts, _ in images)
    result = ap.ap_per_class(tp, conf, np.zeros(len(conf)), np.zeros(total), sentinels)
    return tps, result.ap[0]


def coco(images):
    """(per-image dtMatches > 0 transposed to [D, T], AP per threshold) from COCOeval."""
    annotations, results = [], []
    for i, (gts, dets) in enumerate(images):
        for g in gts:
            w, h = g[2] - g[0], g[3] - g[1]
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i, "category_id": 1,
                 "bbox": [g[0], g[1], w, h], "area": w * h, "iscrowd": 0}
            )  # fmt: skip
        for b, s in dets:
            bbox = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
            results.append({"image_id": i, "category_id": 1, "bbox": bbox, "score": float(s)})
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i, "height": 2000, "width": 2000} for i in range(len(images))],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "thing"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
    matches = [e["dtMatches"].T > 0 for e in evaluator.evalImgs[: len(images)]]  # areaRng "all"
    precision = evaluator.eval["precision"][:, :, 0, 0, 2]  # [T, 101] class 0, all areas, 100
    return matches, np.array([row[row > -1].mean() for row in precision])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tp_and_ap_agree_with_cocoeval_when_recall_can_stay_below_one(seed):
    images = make_case(seed, all_found=False)
    coco_tp, coco_ap = coco(images)
    our_tp, our_ap = ours(images, "8.4")
    for mine, theirs in zip(our_tp, coco_tp):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_allclose(our_ap, coco_ap, atol=TOLERANCE)
    assert abs(our_ap.mean() - coco_ap.mean()) <= TOLERANCE
    _, classic = ours(images, "8.3")
    assert (classic > coco_ap + 0.02).any()  # the 8.3 tail beyond the largest recall


@pytest.mark.parametrize("seed", [3, 4])
def test_both_sentinels_agree_with_cocoeval_when_every_gt_is_found(seed):
    images = make_case(seed, all_found=True)
    _, coco_ap = coco(images)
    for sentinels in ("8.3", "8.4"):
        _, our_ap = ours(images, sentinels)
        np.testing.assert_allclose(our_ap, coco_ap, atol=TOLERANCE)
    assert coco_ap.std() < 1e-12  # IoU 0.975 clears every threshold: one curve for all ten
