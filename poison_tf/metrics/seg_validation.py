"""`SegValidator`: Ultralytics' SegmentationValidator statistics and table, without torch.

Feed it one image at a time (`update`), then read the table (`table`, `print`, `write_csv`) or
the summary numbers (`summary`, for TensorBoard). It follows Ultralytics 8.3.x `val`:

- detections are sorted by confidence (as NMS leaves them) and matched with
  `detection_ap.match_predictions`; box TP from box IoU, mask TP from mask IoU, same detections;
- boxes are compared in original-image pixels when a letterbox (ratio, pad_x, pad_y) and the
  original size are given (both predictions and ground truth go through `scale_boxes`);
- masks are compared at the predictions' resolution (the S/4 prototypes for our model);
  ground-truth masks of another size are resized bilinearly and thresholded at 0.5;
- an image without detections still counts its ground truth; every image counts in the `all`
  row's Images, background images included;
- if no detection is a box TP at any threshold, every metric (box and mask) is 0, as in
  Ultralytics, which then skips `metrics.process`. Ultralytics then prints no class rows; this
  table still lists the classes with ground truth, with zeros, so tables keep their shape;
- with `masks=False` (detections without segmentation) the Mask columns are NaN (empty cells
  in the CSV, "nan" in the printout) and the summary has no mask keys.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

import numpy as np
import pandas as pd

from poison_tf.metrics import detection_ap
from poison_tf.metrics.seg_masks import overlap_to_instances, resize_masks, unletterbox_boxes
from poison_tf.report.tables import write_csv

COLUMNS = (
    "Class", "Images", "Instances",
    "Box(P)", "Box(R)", "Box(mAP50)", "Box(mAP50-95)",
    "Mask(P)", "Mask(R)", "Mask(mAP50)", "Mask(mAP50-95)",
)  # fmt: skip
ROW_FORMAT = "%22s" + "%11i" * 2 + "%11.3g" * 8
HEADER = ("%22s" + "%11s" * 10) % (
    "Class", "Images", "Instances", "Box(P", "R", "mAP50", "mAP50-95)",
    "Mask(P", "R", "mAP50", "mAP50-95)",
)  # fmt: skip
_SUMMARY_KEYS = ("precision", "recall", "mAP50", "mAP50-95")


class SegValidator:
    """Accumulates per-image matches; computes Ultralytics' Box and Mask metrics on demand."""

    def __init__(
        self,
        names: Sequence[str] | Mapping[int, str],
        masks: bool = True,
        sentinels: str = "8.3",
        thresholds: np.ndarray = detection_ap.IOU_THRESHOLDS,
    ) -> None:
        if isinstance(names, Mapping):
            names = [names[i] for i in range(len(names))]
        if sentinels not in detection_ap.SENTINELS:
            raise ValueError(f"sentinels={sentinels!r}: expected one of {detection_ap.SENTINELS}")
        self.names = list(names)
        self.masks = masks
        self.sentinels = sentinels
        self.thresholds = np.asarray(thresholds, np.float64)
        self.seen = 0
        self._tp, self._tp_m, self._conf, self._pred_cls = [], [], [], []
        self._target_cls, self._target_img = [], []

    def update(
        self,
        pred_boxes: np.ndarray,
        pred_scores: np.ndarray,
        pred_classes: np.ndarray,
        pred_masks: np.ndarray | None,
        gt_boxes: np.ndarray,
        gt_classes: np.ndarray,
        gt_masks: np.ndarray | None,
        letterbox: Sequence[float] | None = None,
        orig_size: Sequence[int] | None = None,
    ) -> None:
        """Adds one image.

        pred_boxes [D, 4] xyxy, pred_scores [D], pred_classes [D], pred_masks bool [D, h, w];
        gt_boxes [M, 4] xyxy, gt_classes [M], gt_masks bool [M, h', w'] or an overlap map
        [h', w'] (0 = background, i + 1 = instance i). Boxes are in the same pixel space;
        with `letterbox` = (ratio, pad_x, pad_y) and `orig_size` = (h, w) both are mapped to
        original-image pixels first. Masks are ignored when the validator has masks=False.
        """
        pred_scores = np.asarray(pred_scores, np.float64).reshape(-1)
        pred_classes = np.asarray(pred_classes, np.int64).reshape(-1)
        gt_classes = np.asarray(gt_classes, np.int64).reshape(-1)
        num_det, num_gt = len(pred_scores), len(gt_classes)
        self.seen += 1
        self._target_cls.append(gt_classes)
        self._target_img.append(np.unique(gt_classes))
        if num_det == 0:
            return
        order = np.argsort(-pred_scores, kind="stable")  # NMS output order
        pred_scores, pred_classes = pred_scores[order], pred_classes[order]
        pred_boxes = np.asarray(pred_boxes, np.float64).reshape(-1, 4)[order]
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        if letterbox is not None:
            if orig_size is None:
                raise ValueError("letterbox given without orig_size (h, w) to clip to")
            pred_boxes = unletterbox_boxes(pred_boxes, letterbox, orig_size)
            gt_boxes = unletterbox_boxes(gt_boxes, letterbox, orig_size)
        tp = np.zeros((num_det, len(self.thresholds)), bool)
        tp_m = tp.copy()
        if num_gt:
            iou = detection_ap.box_iou(gt_boxes, pred_boxes)
            tp = detection_ap.match_predictions(pred_classes, gt_classes, iou, self.thresholds)
            if self.masks:
                # only same-class pairs can match: skip the mask IoU of the other detections
                relevant = np.flatnonzero(np.isin(pred_classes, gt_classes))
                gt_masks, pred_masks = self._masks_to_compare(
                    pred_masks, gt_masks, order[relevant], num_det
                )
                iou_m = np.zeros((num_gt, num_det))
                iou_m[:, relevant] = detection_ap.mask_iou(gt_masks, pred_masks)
                tp_m = detection_ap.match_predictions(
                    pred_classes, gt_classes, iou_m, self.thresholds
                )
        self._tp.append(tp)
        self._tp_m.append(tp_m)
        self._conf.append(pred_scores)
        self._pred_cls.append(pred_classes)

    def _masks_to_compare(
        self, pred_masks, gt_masks, order, num_det
    ) -> tuple[np.ndarray, np.ndarray]:
        if pred_masks is None or gt_masks is None:
            raise ValueError("this validator compares masks: give pred_masks and gt_masks")
        pred_masks = np.asarray(pred_masks)
        if len(pred_masks) != num_det:
            raise ValueError(f"{len(pred_masks)} masks for {num_det} detections")
        pred_masks = pred_masks[order]
        num_gt = len(self._target_cls[-1])
        gt_masks = np.asarray(gt_masks)
        if gt_masks.ndim == 3 and gt_masks.shape[0] not in (num_gt, 1):
            raise ValueError(f"{len(gt_masks)} ground-truth masks for {num_gt} instances")
        if gt_masks.ndim == 2 or (gt_masks.ndim == 3 and gt_masks.shape[0] == 1 and num_gt > 1):
            gt_masks = overlap_to_instances(gt_masks, num_gt)
        if gt_masks.shape[1:] != pred_masks.shape[1:]:
            gt_masks = resize_masks(gt_masks, *pred_masks.shape[1:])
        # 0/1 masks of any dtype → bool, which mask_iou compares as packed bits
        return np.asarray(gt_masks) > 0.5, np.asarray(pred_masks) > 0.5

    # ------------------------------------------------------------------ results

    def _stats(self) -> dict[str, np.ndarray]:
        t = len(self.thresholds)
        return {
            "tp": np.concatenate(self._tp) if self._tp else np.zeros((0, t), bool),
            "tp_m": np.concatenate(self._tp_m) if self._tp_m else np.zeros((0, t), bool),
            "conf": np.concatenate(self._conf) if self._conf else np.zeros(0),
            "pred_cls": np.concatenate(self._pred_cls) if self._pred_cls else np.zeros(0, int),
            "target_cls": np.concatenate(self._target_cls),
            "target_img": np.concatenate(self._target_img),
        }

    def results(self) -> tuple[detection_ap.APResult, detection_ap.APResult | None]:
        """(box, mask) per-class results; mask is None with masks=False."""
        stats = self._stats() if self.seen else None
        if stats is None:
            empty = detection_ap.zero_result(np.zeros(0, np.int64), len(self.thresholds))
            return empty, (empty if self.masks else None)
        if not stats["tp"].any():  # Ultralytics skips metrics.process: everything is 0
            zero = detection_ap.zero_result(stats["target_cls"], len(self.thresholds))
            return zero, (zero if self.masks else None)
        args = (stats["conf"], stats["pred_cls"], stats["target_cls"], self.sentinels)
        box = detection_ap.ap_per_class(stats["tp"], *args)
        mask = detection_ap.ap_per_class(stats["tp_m"], *args) if self.masks else None
        return box, mask

    def table(self) -> pd.DataFrame:
        """One row per class with ground truth (ascending index) after the `all` row."""
        box, mask = self.results()
        if self.seen:
            stats = self._stats()
            nc = max(len(self.names), int(stats["target_cls"].max(initial=-1)) + 1)
            per_class = np.bincount(stats["target_cls"], minlength=nc)
            per_image = np.bincount(stats["target_img"], minlength=nc)
        else:
            per_class = per_image = np.zeros(len(self.names), np.int64)
        nan4 = (math.nan,) * 4
        rows = [
            ("all", self.seen, int(per_class.sum()), *box.mean_results(),
             *(mask.mean_results() if mask is not None else nan4)),
        ]  # fmt: skip
        for i, c in enumerate(box.classes):
            box_row = (box.p[i], box.r[i], box.ap50[i], box.ap50_95[i])
            mask_row = (mask.p[i], mask.r[i], mask.ap50[i], mask.ap50_95[i]) if mask else nan4
            name = self.names[c] if c < len(self.names) else str(c)
            rows.append((name, int(per_image[c]), int(per_class[c]), *box_row, *mask_row))
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        for column in COLUMNS[3:]:
            frame[column] = frame[column].astype(np.float64)
        return frame

    def format(self, verbose: bool = True) -> str:
        """Ultralytics' printout: header, `all`, then class rows when there is more than one
        class name (as `val` with verbose=True)."""
        frame = self.table()
        rows = frame.itertuples(index=False)
        lines = [HEADER]
        for i, row in enumerate(rows):
            if i == 0 or (verbose and len(self.names) > 1):
                lines.append(ROW_FORMAT % tuple(row))
        return "\n".join(lines)

    def print(self, file: TextIO | None = None, verbose: bool = True) -> None:
        print(self.format(verbose), file=file or sys.stdout)

    def write_csv(self, path: str) -> None:
        """The table as CSV (atomic; NaN mask cells stay empty)."""
        write_csv(self.table(), path, index=False)

    def summary(self) -> dict[str, float]:
        """Ultralytics' results_dict keys: metrics/{precision,recall,mAP50,mAP50-95}(B) and (M),
        fitness (box + mask)."""
        box, mask = self.results()
        out = {f"metrics/{k}(B)": v for k, v in zip(_SUMMARY_KEYS, box.mean_results())}
        fitness = box.fitness()
        if mask is not None:
            out.update({f"metrics/{k}(M)": v for k, v in zip(_SUMMARY_KEYS, mask.mean_results())})
            fitness += mask.fitness()
        out["fitness"] = fitness
        return out
