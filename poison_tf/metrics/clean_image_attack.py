"""How well a clean-image backdoor worked, and what else it changed.

- `AttackSuccess`: the share of ground-truth *host* instances that the poisoned model predicts
  as the *target* class, with IoU >= 0.5 at confidence >= 0.25, for boxes and for masks
  separately. Matching is one-to-one and greedy by IoU (Ultralytics' `match_predictions`), so
  one prediction covering two hosts counts once. Boxes are compared in letterboxed input pixels
  (the letterbox is a uniform scale plus a shift, which leaves IoU unchanged) or, when the
  letterbox is given, in original pixels after clipping, like the validator. Masks are compared
  at the resolution given (proto resolution, like the validator). The share of hosts still
  predicted as the host class is reported beside it as the baseline.
- `comparison_table`: two per-class tables with the validator's columns (base, poisoned) →
  Δ = poisoned − base for every metric, host and target marked.
- `attack_summary`: host AP drop, target AP against the poisoned labels (the caller evaluates
  the poisoned model on relabelled validation labels and passes that table), mean |ΔAP| over
  the other classes (side effects), and `study_observation` checks the original study's claim.
  For the poisoned model the validator is run twice: on the clean validation labels (the
  comparison) and on validation labels relabelled by a plan of the same pair (the target AP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

METRIC_COLUMNS = [
    "Box(P)",
    "Box(R)",
    "Box(mAP50)",
    "Box(mAP50-95)",
    "Mask(P)",
    "Mask(R)",
    "Mask(mAP50)",
    "Mask(mAP50-95)",
]
SUMMARY_METRICS = ("Box(mAP50-95)", "Mask(mAP50-95)")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [len(a), len(b)] of xyxy boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-7)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boolean masks [n, h, w] × [m, h, w] (eps 1e-7 like Ultralytics)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    a = a.reshape(a.shape[0], int(np.prod(a.shape[1:]))).astype(np.float64)
    b = b.reshape(b.shape[0], int(np.prod(b.shape[1:]))).astype(np.float64)
    inter = a @ b.T
    return inter / (a.sum(1)[:, None] + b.sum(1)[None, :] - inter + 1e-7)


def split_overlap_map(overlap_map: np.ndarray, count: int) -> np.ndarray:
    """Overlap map [h, w] (0 = background, i+1 = instance i) → bool masks [count, h, w]."""
    overlap_map = np.asarray(overlap_map).squeeze()
    return overlap_map[None] == np.arange(1, count + 1)[:, None, None]


def greedy_matches(iou: np.ndarray, threshold: float) -> int:
    """Number of one-to-one pairs with IoU >= threshold, taken by IoU descending."""
    rows, cols = np.nonzero(iou >= threshold)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_rows, used_cols = set(), set()
    for r, c in zip(rows[order], cols[order]):
        if r not in used_rows and c not in used_cols:
            used_rows.add(r)
            used_cols.add(c)
    return len(used_rows)


class AttackSuccess:
    """Accumulates attack success over images; `update` takes the validator's arguments."""

    def __init__(
        self, host: int, target: int, iou_threshold: float = 0.5, conf_threshold: float = 0.25
    ):
        self.host, self.target = int(host), int(target)
        self.iou_threshold, self.conf_threshold = iou_threshold, conf_threshold
        self.host_instances = 0
        self.hits = {"box": 0, "mask": 0}
        self.kept = {"box": 0, "mask": 0}

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
        """One image, with `SegValidator.update`'s arguments. `gt_masks` is bool [n, h, w] or
        the overlap map [h, w]; masks may be None (then only boxes are counted). With
        `letterbox` and `orig_size` boxes are mapped to original pixels and clipped first, as
        the validator does (IoU changes only through the clipping)."""
        gt_classes = np.asarray(gt_classes).reshape(-1)
        is_host = gt_classes == self.host
        if not is_host.any():
            return
        self.host_instances += int(is_host.sum())
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)[is_host]
        scores = np.asarray(pred_scores).reshape(-1)
        classes = np.asarray(pred_classes).reshape(-1)
        confident = scores >= self.conf_threshold
        boxes = np.asarray(pred_boxes, np.float64).reshape(-1, 4)
        if letterbox is not None:
            from poison_tf.metrics.seg_masks import unletterbox_boxes

            if orig_size is None:
                raise ValueError("letterbox given without orig_size (h, w) to clip to")
            boxes = unletterbox_boxes(boxes, letterbox, orig_size)
            gt_boxes = unletterbox_boxes(gt_boxes, letterbox, orig_size)
        if gt_masks is not None and np.asarray(gt_masks).ndim == 2:
            gt_masks = split_overlap_map(gt_masks, len(gt_classes))
        for cls, counter in ((self.target, self.hits), (self.host, self.kept)):
            keep = confident & (classes == cls)
            counter["box"] += greedy_matches(box_iou(gt_boxes, boxes[keep]), self.iou_threshold)
            if pred_masks is not None and gt_masks is not None:
                gt = np.asarray(gt_masks, bool)[is_host]
                pred = np.asarray(pred_masks, bool)[keep]
                if pred.size and pred.shape[1:] != gt.shape[1:]:
                    raise ValueError(
                        f"mask sizes differ: predictions {pred.shape[1:]}, ground truth {gt.shape[1:]}"
                    )
                counter["mask"] += greedy_matches(mask_iou(gt, pred), self.iou_threshold)

    def result(self) -> dict[str, float | int]:
        n = self.host_instances
        share = (lambda k: k / n) if n else (lambda k: float("nan"))
        return {
            "host_instances": n,
            "box_hits": self.hits["box"],
            "mask_hits": self.hits["mask"],
            "box_success": share(self.hits["box"]),
            "mask_success": share(self.hits["mask"]),
            "box_host_kept": share(self.kept["box"]),
            "mask_host_kept": share(self.kept["mask"]),
        }


def _by_class(table: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ["Class", *METRIC_COLUMNS] if c not in table.columns]
    if missing:
        raise ValueError(f"per-class table lacks columns {missing}")
    return table.set_index("Class")


def comparison_table(
    base: pd.DataFrame, poisoned: pd.DataFrame, host: str, target: str
) -> pd.DataFrame:
    """Class, Role, Images, Instances, then Δ<metric> = poisoned − base for every metric column.

    Rows follow the base table (`all` first); Role is `host`, `target` or ''."""
    base_rows, poisoned_rows = _by_class(base), _by_class(poisoned).reindex(_by_class(base).index)
    frame = pd.DataFrame({"Class": base_rows.index})
    frame["Role"] = [{host: "host", target: "target"}.get(c, "") for c in base_rows.index]
    for column in ("Images", "Instances"):
        if column in base_rows.columns:
            frame[column] = base_rows[column].to_numpy()
    for column in METRIC_COLUMNS:
        delta = poisoned_rows[column].astype(float) - base_rows[column].astype(float)
        frame[f"Δ{column}"] = delta.to_numpy()
    return frame


def attack_summary(
    base: pd.DataFrame,
    poisoned: pd.DataFrame,
    host: str,
    target: str,
    poisoned_labels: pd.DataFrame | None = None,
    success: Mapping[str, float] | None = None,
    metrics: Sequence[str] = SUMMARY_METRICS,
) -> dict[str, float | str]:
    """One row of the attack table for a pair (see module docstring); drops are base − poisoned."""
    base_rows, poisoned_rows = _by_class(base), _by_class(poisoned)
    for name in (host, target):
        if name not in base_rows.index or name not in poisoned_rows.index:
            raise ValueError(f"class {name!r} has no row in the per-class tables")
    others = [
        c for c in base_rows.index if c not in ("all", host, target) and c in poisoned_rows.index
    ]
    summary: dict[str, float | str] = {"Host": host, "Target": target}
    for metric in metrics:
        delta = poisoned_rows[metric].astype(float) - base_rows[metric].reindex(
            poisoned_rows.index
        ).astype(float)
        if "all" in base_rows.index:
            summary[f"all Δ{metric}"] = float(delta["all"])
        summary[f"host drop {metric}"] = -float(delta[host])
        if poisoned_labels is not None:
            summary[f"target {metric} (poisoned labels)"] = float(
                _by_class(poisoned_labels).loc[target, metric]
            )
        summary[f"others mean |Δ{metric}|"] = (
            float(np.mean(np.abs(delta[others]))) if others else float("nan")
        )
    for metric in ("Box(P)", "Mask(P)"):
        summary[f"target Δ{metric}"] = float(
            poisoned_rows.loc[target, metric] - base_rows.loc[target, metric]
        )
    if success is not None:
        summary.update(
            {key: success[key] for key in ("box_success", "mask_success") if key in success}
        )
    return summary


def study_observation(summary: Mapping[str, float], tolerance: float = 0.02) -> tuple[bool, str]:
    """Does the original study's observation hold for this pair? Overall Box mAP50-95 moves by
    at most `tolerance`, the host loses Box AP, and the target's Box precision falls (false
    positives on clean labels). Returns (holds, one sentence saying which parts hold)."""
    overall = summary.get("all ΔBox(mAP50-95)", float("nan"))
    host_drop = summary.get("host drop Box(mAP50-95)", float("nan"))
    target_precision = summary.get("target ΔBox(P)", float("nan"))
    parts = {
        f"overall Box mAP50-95 moves by {overall:+.3f} (|Δ| <= {tolerance:g})": abs(overall)
        <= tolerance,
        f"host Box mAP50-95 drops by {host_drop:.3f}": host_drop > 0,
        f"target Box precision changes by {target_precision:+.3f} (false positives)": target_precision
        < 0,
    }
    holds = all(parts.values())
    text = "; ".join(f"{claim}: {'yes' if ok else 'no'}" for claim, ok in parts.items())
    return holds, f"{'holds' if holds else 'does not hold'} — {text}"
