"""Time of the segmentation metrics (SegValidator) at COCO-val scale, against pycocotools.

Synthetic validation set: `--images` images (default 5,000), each with a Poisson(`--gt`) number
of ground-truth instances over `--classes` classes and exactly `--dets` detections (default
100): jittered copies of the ground truth (some with the wrong class) and random false
positives, distinct scores. Masks are axis-aligned ellipses at `--mask_size` (160 = the S/4
prototypes of a 640 input) inside each box.

Measured in one run, same data for both sides:
- boxes: `SegValidator(masks=False)` (update per image + table) over all images, against
  pycocotools `COCOeval(iouType="bbox")` (loadRes + evaluate + accumulate) on the same boxes;
- masks: `SegValidator` with masks on the first `--ref_images` images (default 500), against
  `COCOeval(iouType="segm")` on the same masks as compressed RLEs (RLE encoding not timed),
  and `SegValidator` with masks over all images (absolute time).
Mask generation is never timed. Prints seconds, images/s and the ratios COCOeval / ours.

    nice -n 10 .venv/bin/python benchmarks/seg_metrics.py
    nice -n 10 .venv/bin/python benchmarks/seg_metrics.py --images=1000 --ref_images=200
"""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np
from absl import app, flags
from benchmark_flags import define_seed

flags.DEFINE_integer("images", 5000, "Validation images.")
flags.DEFINE_integer("dets", 100, "Detections per image.")
flags.DEFINE_float("gt", 7.3, "Mean ground-truth instances per image (COCO val: 7.3).")
flags.DEFINE_integer("classes", 80, "Classes.")
flags.DEFINE_integer("mask_size", 160, "Mask side in pixels (boxes live in the same square).")
flags.DEFINE_integer("ref_images", 500, "Images for the timed mask comparison with COCOeval.")
define_seed(0, "the synthetic data")

FLAGS = flags.FLAGS


def make_image(rng: np.random.Generator, size: int, dets: int, mean_gt: float, classes: int):
    """(gt boxes, gt classes, det boxes, det scores, det classes), boxes xyxy in [0, size]."""
    m = max(0, rng.poisson(mean_gt))
    centre = rng.uniform(0.1, 0.9, (m, 2)) * size
    half = rng.uniform(0.03, 0.25, (m, 2)) * size
    gt = np.clip(np.concatenate([centre - half, centre + half], 1), 0, size)
    gt_cls = rng.integers(0, classes, m)
    copies = min(dets, 3 * m)
    source = rng.integers(0, max(m, 1), copies)
    det = np.zeros((dets, 4))
    det_cls = rng.integers(0, classes, dets)
    if m:
        width = (gt[source, 2:] - gt[source, :2]).repeat(2, 0).reshape(copies, 4)
        det[:copies] = gt[source] + rng.normal(0, 0.08, (copies, 4)) * width
        same = rng.uniform(size=copies) < 0.9
        det_cls[:copies] = np.where(same, gt_cls[source], det_cls[:copies])
    else:
        copies = 0
    centre = rng.uniform(0.1, 0.9, (dets - copies, 2)) * size
    half = rng.uniform(0.02, 0.2, (dets - copies, 2)) * size
    det[copies:] = np.concatenate([centre - half, centre + half], 1)
    det = np.clip(np.sort(det.reshape(-1, 2, 2), axis=1).reshape(-1, 4), 0, size)
    scores = rng.permutation(rng.uniform(0.001, 1.0, dets))
    return gt, gt_cls, det, scores, det_cls


def ellipse_masks(boxes: np.ndarray, size: int) -> np.ndarray:
    """bool [N, size, size]: the ellipse inscribed in each xyxy box (pixel centres)."""
    centres = np.arange(size) + 0.5
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    rx = np.maximum((boxes[:, 2] - boxes[:, 0]) / 2, 0.5)
    ry = np.maximum((boxes[:, 3] - boxes[:, 1]) / 2, 0.5)
    dx = ((centres[None, :] - cx[:, None]) / rx[:, None]) ** 2  # [N, W]
    dy = ((centres[None, :] - cy[:, None]) / ry[:, None]) ** 2  # [N, H]
    return dy[:, :, None] + dx[:, None, :] <= 1.0


def run_ours(data, masks: bool, size: int, names: list[str]) -> float:
    from poison_tf.metrics.seg_validation import SegValidator

    validator = SegValidator(names, masks=masks)
    seconds = 0.0
    for gt, gt_cls, det, scores, det_cls in data:
        pred_masks = ellipse_masks(det, size) if masks else None
        gt_masks = ellipse_masks(gt, size) if masks else None
        start = time.perf_counter()
        validator.update(det, scores, det_cls, pred_masks, gt, gt_cls, gt_masks)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    validator.table()
    return seconds + time.perf_counter() - start


def _rles(boxes: np.ndarray, size: int) -> list[dict]:
    from pycocotools import mask as mask_utils

    masks = ellipse_masks(boxes, size).transpose(1, 2, 0).astype(np.uint8)
    return mask_utils.encode(np.asfortranarray(masks))


def run_cocoeval(data, masks: bool, size: int, classes: int) -> float:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    annotations, results = [], []
    for i, (gt, gt_cls, det, scores, det_cls) in enumerate(data):
        gt_rles = _rles(gt, size) if masks and len(gt) else []
        det_rles = _rles(det, size) if masks else []
        for j, (box, c) in enumerate(zip(gt, gt_cls)):
            wh = box[2:] - box[:2]
            ann = {"id": len(annotations) + 1, "image_id": i, "category_id": int(c) + 1,
                   "bbox": [*box[:2], *wh], "area": float(wh.prod()), "iscrowd": 0}  # fmt: skip
            if masks:
                ann["segmentation"] = gt_rles[j]
                ann["area"] = float(mask_utils.area(gt_rles[j]))
            annotations.append(ann)
        for j, (box, s, c) in enumerate(zip(det, scores, det_cls)):
            entry = {"image_id": i, "category_id": int(c) + 1, "score": float(s),
                     "bbox": [*box[:2], *(box[2:] - box[:2])]}  # fmt: skip
            if masks:
                entry["segmentation"] = det_rles[j]
            results.append(entry)
    gt_api = COCO()
    gt_api.dataset = {
        "images": [{"id": i, "height": size, "width": size} for i in range(len(data))],
        "annotations": annotations,
        "categories": [{"id": c + 1, "name": str(c)} for c in range(classes)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt_api.createIndex()
        start = time.perf_counter()
        evaluator = COCOeval(gt_api, gt_api.loadRes(results), "segm" if masks else "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    del argv
    rng = np.random.default_rng(FLAGS.seed)
    size, names = FLAGS.mask_size, [str(c) for c in range(FLAGS.classes)]
    data = [make_image(rng, size, FLAGS.dets, FLAGS.gt, FLAGS.classes) for _ in range(FLAGS.images)]
    n_gt = sum(len(d[0]) for d in data)
    print(
        f"{FLAGS.images} images, {FLAGS.dets} detections each, {n_gt} ground truths, "
        f"{FLAGS.classes} classes, masks {size}x{size}"
    )

    ours_box = run_ours(data, False, size, names)
    coco_box = run_cocoeval(data, False, size, FLAGS.classes)
    _report(f"boxes, {len(data)} images", len(data), ours_box, "bbox", coco_box)
    subset = data[: FLAGS.ref_images]
    ours_mask = run_ours(subset, True, size, names)
    coco_mask = run_cocoeval(subset, True, size, FLAGS.classes)
    _report(f"boxes + masks, {len(subset)} images", len(subset), ours_mask, "segm", coco_mask)
    _report(f"boxes + masks, {len(data)} images", len(data), run_ours(data, True, size, names))


def _report(what: str, images: int, ours: float, kind: str = "", coco: float = 0.0) -> None:
    line = f"{what}: ours {ours:.2f} s ({images / ours:.0f} img/s)"
    if kind:
        line += f", COCOeval {kind} {coco:.2f} s; ratio COCOeval/ours = {coco / ours:.1f}x"
    print(line)


if __name__ == "__main__":
    app.run(main)
