"""Detection AP with Ultralytics `val` semantics (8.3.x), in vectorised numpy.

The clean-image backdoor study compares per-class Box and Mask P, R, mAP50 and mAP50-95 with
published YOLOv8 numbers, so these functions reproduce `ultralytics/utils/metrics.py` and
`engine/validator.py:match_predictions` (8.3.40) rather than COCOeval. The differences from
COCOeval that matter when comparing numbers:

- Matching (`match_predictions`) follows Ultralytics' code, which is not COCO's greedy-by-
  confidence: for each IoU threshold every detection takes its highest-IoU ground truth of the
  same class (IoU >= threshold), and a ground truth claimed by several detections keeps the one
  with the lowest index. A detection whose best ground truth went to another detection is a false
  positive even if a second ground truth would have matched it (COCO would match it there).
  After Ultralytics' NMS the detections are sorted by confidence, so "lowest index" means "most
  confident"; `SegValidator` sorts by confidence before matching for that reason. (The pairs are
  sorted by IoU first, but the `np.unique` that keeps one pair per detection re-orders them by
  detection index, so the per-ground-truth choice is not by IoU; Ultralytics left the re-sort
  commented out.)
- Ties, and which numpy sorts decide them (read in ultralytics 8.3.40 with numpy 2.4.6):
  * `np.nonzero(iou >= t)` lists (gt, det) pairs in row-major order: deterministic.
  * `iou[pairs].argsort()[::-1]` is the default `kind="quicksort"`, which is NOT stable: numpy
    2.x dispatches it to x86-simd-sort (AVX-512 / AVX2 sorting networks), so equal IoUs come out
    in an order that depends on the array's length, dtype and the CPU's SIMD level
    (`[.9, .9, .9, .9, .8, .6, .8]` → `[5 4 6 0 3 2 1]` here). When a detection's best IoU is
    shared by several ground truths, that order picks the ground truth, and it may pick a
    different one at each IoU threshold (the sorted array differs per threshold).
  * `np.unique(..., return_index=True)` (both calls) sorts with `kind="mergesort"` inside numpy
    (`_unique1d`), which IS stable, so it returns the first occurrence in the current order: the
    highest-IoU pair per detection (as ordered above), then the lowest detection index per gt.
  * `ap_per_class` orders detections by `np.argsort(-conf)`, again the unstable default; equal
    confidences keep whatever order that gives, which moves the P/R points inside a tie.
  So `match_predictions` makes the same calls as Ultralytics wherever a tie is possible (a
  detection whose best same-class IoU >= the lowest threshold is shared by several ground
  truths) and keeps the vectorised path elsewhere, where no sort order can change the result;
  `ap_per_class` sorts with the same `np.argsort(-conf)` on the caller's dtype. The results then
  equal Ultralytics' on the same numpy and CPU, ties included (tests/metrics/
  test_detection_ap_ties.py: 0 disagreements in 3000 seeded cases with IoUs on a 0.05 grid,
  against a literal port and against Ultralytics' own function). A stable sort would be
  reproducible across machines but would differ from Ultralytics in such ties.
- AP (`compute_ap`) is the 101-point interpolated area under the precision envelope, integrated
  with the trapezoid rule; COCOeval sums rectangles. `sentinels` picks the curve ends:
  "8.3" (default, Ultralytics <= 8.4.x before PR #24174, which most published YOLOv8 numbers use):
  recall [0, r..., 1], precision [1, p..., 0], i.e. a straight line from the last point to
  (1, 0); "8.4" (ultralytics 8.4.190): recall [0, r..., r_last, 1], precision [1, p..., 0, 0],
  i.e. precision drops to 0 right after the largest recall reached.
- P and R (`ap_per_class`) are read at one confidence shared by all classes: the argmax of the
  smoothed mean F1 curve over 1000 confidences; only classes that have ground truth count.
- `box_iou`/`mask_iou` give float64 (Ultralytics computes float32 tensors); this only matters
  for an IoU within ~1e-7 of a threshold or of another IoU. `match_predictions` keeps the dtype
  it is given and compares it with each threshold as a Python float, as Ultralytics does (NEP 50:
  a float32 array is compared in float32), so given float32 IoUs it reproduces Ultralytics.
"""

from __future__ import annotations

import dataclasses

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
SENTINELS = ("8.3", "8.4")
_CURVE_POINTS = 1000


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """[N, M] IoU of xyxy boxes: inter / (area1 + area2 - inter + eps), as Ultralytics."""
    a = np.asarray(boxes1, np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + eps)


def _packed(masks: np.ndarray) -> np.ndarray:
    """uint64 [N, words]: each row of bool [N, pixels] as a bit string (zero-padded)."""
    bits = np.packbits(masks, axis=1)
    bits = np.pad(bits, ((0, 0), (0, -bits.shape[1] % 8)))
    return bits.view(np.uint64)


def mask_iou(
    masks1: np.ndarray, masks2: np.ndarray, eps: float = 1e-7, chunk_elements: int = 1 << 22
) -> np.ndarray:
    """[N, M] IoU of masks [N, ...] and [M, ...] (flattened): inter / (area1 + area2 - inter + eps).

    Bool masks are compared as packed bits (AND + popcount, exact integer counts: the same
    numbers as Ultralytics' float matmul, without BLAS, whose threads stall on a busy machine);
    other dtypes (soft masks) by a float32 matmul as Ultralytics does. Work is split into chunks
    of `chunk_elements` so that 300 full-resolution masks need little memory.
    """
    a, b = np.asarray(masks1), np.asarray(masks2)
    n, m = len(a), len(b)
    a = a.reshape(n, int(np.prod(a.shape[1:])))
    b = b.reshape(m, int(np.prod(b.shape[1:])))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"mask sizes differ: {a.shape[1]} vs {b.shape[1]} pixels")
    out = np.zeros((n, m), np.float64)
    if not n or not m:
        return out
    binary = a.dtype == bool and b.dtype == bool
    if binary:
        a = _packed(a)
        area_a = np.bitwise_count(a).sum(axis=1, dtype=np.int64).astype(np.float64)
    else:
        a = a.astype(np.float32)
        area_a = a.sum(axis=1, dtype=np.float64)
    step = max(1, chunk_elements // max(1, n * a.shape[1]))
    for start in range(0, m, step):
        if binary:
            part = _packed(b[start : start + step])
            inter = np.bitwise_count(a[:, None, :] & part[None]).sum(axis=2, dtype=np.int64)
            area_b = np.bitwise_count(part).sum(axis=1, dtype=np.int64)
        else:
            part = b[start : start + step].astype(np.float32)
            inter = np.clip(a @ part.T, 0, None)
            area_b = part.sum(axis=1, dtype=np.float64)
        inter = inter.astype(np.float64)
        out[:, start : start + step] = inter / (area_a[:, None] + area_b[None, :] - inter + eps)
    return out


def _match_one_threshold(iou: np.ndarray, threshold: float) -> np.ndarray:
    """Detection indices that are TPs at `threshold`: Ultralytics' three lines, call for call."""
    matches = np.array(np.nonzero(iou >= threshold)).T
    if matches.shape[0] > 1:
        # default argsort (quicksort): NOT stable; reversed → highest IoU first
        matches = matches[iou[matches[:, 0], matches[:, 1]].argsort()[::-1]]
        # np.unique(return_index=True) sorts with mergesort: stable, first occurrence wins
        matches = matches[np.unique(matches[:, 1], return_index=True)[1]]
        matches = matches[np.unique(matches[:, 0], return_index=True)[1]]
    return matches[:, 1].astype(int)


def match_predictions(
    pred_classes: np.ndarray,
    true_classes: np.ndarray,
    iou: np.ndarray,
    thresholds: np.ndarray = IOU_THRESHOLDS,
) -> np.ndarray:
    """bool [D, T] true-positive matrix; `iou` is [M ground truths, D detections].

    Ultralytics' matching (see the module docstring), for all thresholds at once: a detection's
    candidate is its best same-class ground truth (the same at every threshold), kept while that
    IoU >= threshold; each ground truth then keeps its lowest-index candidate detection. When a
    detection's best IoU (>= the lowest threshold) is shared by several ground truths, the
    candidate depends on Ultralytics' unstable argsort, so the matrix is then computed with
    Ultralytics' own calls, threshold by threshold.
    """
    pred_classes = np.asarray(pred_classes).reshape(-1)
    true_classes = np.asarray(true_classes).reshape(-1)
    threshold_list = np.asarray(thresholds, np.float64).reshape(-1).tolist()
    num_gt, num_det = len(true_classes), len(pred_classes)
    correct = np.zeros((num_det, len(threshold_list)), bool)
    if num_gt == 0 or num_det == 0:
        return correct
    iou = np.asarray(iou)
    if not np.issubdtype(iou.dtype, np.floating):
        iou = iou.astype(np.float64)
    iou = iou.reshape(num_gt, num_det) * (true_classes[:, None] == pred_classes[None, :])
    # Python-float thresholds compare in the IoUs' dtype (NEP 50), as in Ultralytics
    limits = np.array(threshold_list).astype(iou.dtype)
    best_iou = iou.max(axis=0)
    tied = ((iou == best_iou[None, :]).sum(axis=0) > 1) & (best_iou >= limits.min())
    if tied.any():
        for i, threshold in enumerate(threshold_list):
            correct[_match_one_threshold(iou, threshold), i] = True
        return correct
    best = iou.argmax(axis=0)  # unique wherever it can matter
    candidate = best_iou[:, None] >= limits[None, :]  # [D, T]
    claims = (best[None, :] == np.arange(num_gt)[:, None])[:, :, None] & candidate[None]  # [M,D,T]
    first = claims.argmax(axis=1)  # [M, T] lowest detection index claiming each ground truth
    gt_index, threshold_index = np.nonzero(claims.any(axis=1))
    correct[first[gt_index, threshold_index], threshold_index] = True
    return correct


def smooth(y: np.ndarray, f: float = 0.05) -> np.ndarray:
    """Box filter over a fraction `f` of the points (odd width), edges padded with end values."""
    y = np.asarray(y, np.float64)
    nf = round(len(y) * f * 2) // 2 + 1
    pad = np.ones(nf // 2)
    padded = np.concatenate((pad * y[0], y, pad * y[-1]), 0)
    return np.convolve(padded, np.ones(nf) / nf, mode="valid")


def compute_ap(
    recall: np.ndarray, precision: np.ndarray, sentinels: str = "8.3"
) -> tuple[float, np.ndarray, np.ndarray]:
    """(AP, precision envelope, recall with sentinels): 101-point interpolation, trapezoid rule."""
    recall = np.asarray(recall, np.float64)
    precision = np.asarray(precision, np.float64)
    if sentinels == "8.3":
        mrec = np.concatenate(([0.0], recall, [1.0]))
        mpre = np.concatenate(([1.0], precision, [0.0]))
    elif sentinels == "8.4":
        last = recall[-1:] if len(recall) else np.zeros(1)
        mrec = np.concatenate(([0.0], recall, last, [1.0]))
        mpre = np.concatenate(([1.0], precision, [0.0, 0.0]))
    else:
        raise ValueError(f"sentinels={sentinels!r}: expected one of {SENTINELS}")
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    return float(np.trapezoid(np.interp(x, mrec, mpre), x)), mpre, mrec


@dataclasses.dataclass
class APResult:
    """Per-class results for the classes that have ground truth (`classes`, ascending)."""

    classes: np.ndarray  # int64 [C]
    num_targets: np.ndarray  # int64 [C] ground-truth instances per class
    p: np.ndarray  # [C] precision at the shared max-F1 confidence
    r: np.ndarray  # [C] recall at that confidence
    f1: np.ndarray  # [C]
    ap: np.ndarray  # [C, T] AP per IoU threshold
    p_curve: np.ndarray  # [C, 1000] precision against confidence linspace(0, 1, 1000)
    r_curve: np.ndarray  # [C, 1000]
    f1_curve: np.ndarray  # [C, 1000]
    confidence_index: int  # index into linspace(0, 1, 1000) where P and R were read

    @property
    def ap50(self) -> np.ndarray:
        return self.ap[:, 0]

    @property
    def ap50_95(self) -> np.ndarray:
        return self.ap.mean(axis=1)

    def mean_results(self) -> tuple[float, float, float, float]:
        """(mp, mr, map50, map): means over the classes that have ground truth (0 if none)."""
        if not len(self.classes):
            return 0.0, 0.0, 0.0, 0.0
        return (
            float(self.p.mean()),
            float(self.r.mean()),
            float(self.ap[:, 0].mean()),
            float(self.ap.mean()),
        )

    def fitness(self) -> float:
        """Ultralytics' model fitness: 0.1 mAP50 + 0.9 mAP50-95."""
        _, _, map50, map50_95 = self.mean_results()
        return 0.1 * map50 + 0.9 * map50_95


def zero_result(target_cls: np.ndarray, num_thresholds: int = len(IOU_THRESHOLDS)) -> APResult:
    """All-zero results for the classes in `target_cls` (Ultralytics' "no box TP at all" case)."""
    classes, counts = np.unique(np.asarray(target_cls, np.int64), return_counts=True)
    c = len(classes)
    zeros = np.zeros(c)
    curve = np.zeros((c, _CURVE_POINTS))
    return APResult(
        classes, counts, zeros, zeros.copy(), zeros.copy(), np.zeros((c, num_thresholds)),
        curve, curve.copy(), curve.copy(), 0,
    )  # fmt: skip


def ap_per_class(
    tp: np.ndarray,
    conf: np.ndarray,
    pred_cls: np.ndarray,
    target_cls: np.ndarray,
    sentinels: str = "8.3",
    eps: float = 1e-16,
) -> APResult:
    """Ultralytics' `ap_per_class`: tp [N, T], conf [N], pred_cls [N], target_cls [M].

    Only classes with ground truth get a row; a class with no detection stays at 0. Detections
    are ordered by `np.argsort(-conf)` in `conf`'s own dtype, Ultralytics' call: the default
    quicksort is not stable, and copying it keeps tied confidences in Ultralytics' order on the
    same numpy and CPU (give float32 scores, as Ultralytics has, to reproduce it exactly).
    """
    tp = np.asarray(tp, bool).reshape(len(conf), -1)
    conf = np.asarray(conf).reshape(-1)
    order = np.argsort(-conf)  # Ultralytics: `i = np.argsort(-conf)` (unstable, on purpose)
    conf = conf.astype(np.float64)
    pred_cls = np.asarray(pred_cls, np.int64).reshape(-1)
    result = zero_result(target_cls, tp.shape[1])
    tp, conf, pred_cls = tp[order], conf[order], pred_cls[order]
    x = np.linspace(0, 1, _CURVE_POINTS)
    for ci, c in enumerate(result.classes):
        selected = pred_cls == c
        if not selected.any():
            continue
        tpc = tp[selected].cumsum(axis=0)
        fpc = (~tp[selected]).cumsum(axis=0)
        recall = tpc / (result.num_targets[ci] + eps)
        precision = tpc / (tpc + fpc)
        result.r_curve[ci] = np.interp(-x, -conf[selected], recall[:, 0], left=0)
        result.p_curve[ci] = np.interp(-x, -conf[selected], precision[:, 0], left=1)
        for j in range(tp.shape[1]):
            result.ap[ci, j] = compute_ap(recall[:, j], precision[:, j], sentinels)[0]
    result.f1_curve = 2 * result.p_curve * result.r_curve / (result.p_curve + result.r_curve + eps)
    if len(result.classes):
        i = int(smooth(result.f1_curve.mean(axis=0), 0.1).argmax())
        result.confidence_index = i
        result.p, result.r, result.f1 = (
            result.p_curve[:, i], result.r_curve[:, i], result.f1_curve[:, i],
        )  # fmt: skip
    return result
