"""Task-aligned assignment (TAL) of anchors to ground-truth boxes, as Ultralytics `utils/tal.py`.

keras-cv's `YOLOV8LabelEncoder` returns an all-ones foreground mask, no `target_gt_idx` (which
the mask loss needs) and does not clamp CIoU at 0, so this is our own batched version in TF ops
(no Python loop over GTs; XLA-compatible: static shapes, top-k + scatter instead of one-hot
[B, M, k, A]). Steps (../shared/notes/yolo_seg.md §2.2):

1. candidates: anchor centre strictly inside the GT box (min(l, t, r, b) > eps) and a real GT;
2. alignment = score(gt class)^alpha * max(CIoU(gt, pred), 0)^beta on candidates;
3. the top-k anchors by alignment per GT, kept when they are candidates;
4. an anchor claimed by several GTs keeps the one with the highest CIoU;
5. target scores = one-hot(class) * max_gt(align * max_iou_gt / max_align_gt) (Ultralytics norm).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from poison_tf.models.yolo_box_ops import ciou


@dataclasses.dataclass
class Assignment:
    """What the loss needs per anchor; [B, A] unless noted.

    Attributes:
        target_labels: int32 [B, A], class of the assigned GT (0 where background).
        target_boxes: float32 [B, A, 4] xyxy, in the GT boxes' units.
        target_scores: float32 [B, A, nc], normalised one-hot, 0 on background.
        fg_mask: bool [B, A], the anchor is positive.
        target_gt_idx: int32 [B, A], row of the assigned GT in the [B, M] labels.
    """

    target_labels: tf.Tensor  # int32, class of the assigned GT (0 where background)
    target_boxes: tf.Tensor  # float32 [B, A, 4] xyxy in the GT boxes' units
    target_scores: tf.Tensor  # float32 [B, A, nc], normalised one-hot, 0 on background
    fg_mask: tf.Tensor  # bool, anchor is positive
    target_gt_idx: tf.Tensor  # int32, row of the assigned GT in the [B, M] labels


class TaskAlignedAssigner:
    """Ultralytics `TaskAlignedAssigner(topk=10, alpha=0.5, beta=6.0, eps=1e-9)` in TF.

    Args:
        num_classes: classes of the score tensors.
        topk: candidate anchors per GT box (by alignment metric).
        alpha: exponent of the class score in the alignment metric.
        beta: exponent of the IoU in the alignment metric.
        eps: guards the normalisation against division by zero.
    """

    def __init__(
        self,
        num_classes: int,
        topk: int = 10,
        alpha: float = 0.5,
        beta: float = 6.0,
        eps: float = 1e-9,
    ):
        self.num_classes = num_classes
        self.topk = topk
        self.alpha = alpha
        self.beta = beta
        self.eps = eps

    def __call__(
        self, pred_scores, pred_boxes, anchors, gt_labels, gt_boxes, gt_valid
    ) -> Assignment:
        """Assigns anchors; gradients are stopped (TAL targets are constants).

        pred_scores: [B, A, nc] probabilities (sigmoid of the logits); pred_boxes: [B, A, 4] xyxy;
        anchors: [A, 2] centres (x, y) in the same units as the boxes; gt_labels: [B, M] int;
        gt_boxes: [B, M, 4] xyxy; gt_valid: [B, M] bool (False on padding rows).

        Args:
            pred_scores: [B, A, nc] probabilities (sigmoid of the logits).
            pred_boxes: [B, A, 4] xyxy.
            anchors: [A, 2] centres (x, y), in the boxes' units.
            gt_labels: [B, M] int.
            gt_boxes: [B, M, 4] xyxy.
            gt_valid: [B, M] bool (False on padding rows).

        Returns:
            The per-anchor targets (`Assignment`).
        """
        pred_scores = tf.stop_gradient(tf.cast(pred_scores, tf.float32))
        pred_boxes = tf.stop_gradient(tf.cast(pred_boxes, tf.float32))
        anchors = tf.cast(anchors, tf.float32)
        gt_boxes = tf.cast(gt_boxes, tf.float32)
        gt_labels = tf.maximum(tf.cast(gt_labels, tf.int32), 0)
        gt_valid = tf.cast(gt_valid, tf.bool)
        num_anchors = tf.shape(pred_scores)[1]

        in_gts = self._anchors_inside(anchors, gt_boxes)  # [B, M, A]
        candidates = in_gts & gt_valid[:, :, None]
        overlaps, align = self._alignment(pred_scores, pred_boxes, gt_labels, gt_boxes, candidates)

        k = tf.minimum(self.topk, num_anchors)
        _, top_idx = tf.math.top_k(align, k=k)  # [B, M, k], distinct indices per GT
        in_topk = self._scatter_topk(top_idx, num_anchors)
        mask_pos = in_topk & candidates  # [B, M, A]

        mask_pos = self._resolve_multiple(mask_pos, overlaps)
        fg_mask = tf.reduce_any(mask_pos, axis=1)  # [B, A]
        target_gt_idx = tf.argmax(tf.cast(mask_pos, tf.int32), axis=1, output_type=tf.int32)

        target_labels = tf.gather(gt_labels, target_gt_idx, batch_dims=1)
        target_boxes = tf.gather(gt_boxes, target_gt_idx, batch_dims=1)
        fg = tf.cast(fg_mask, tf.float32)
        one_hot = tf.one_hot(target_labels, self.num_classes, dtype=tf.float32) * fg[..., None]

        pos = tf.cast(mask_pos, tf.float32)
        align = align * pos
        max_align = tf.reduce_max(align, axis=-1, keepdims=True)  # [B, M, 1]
        max_overlap = tf.reduce_max(overlaps * pos, axis=-1, keepdims=True)
        norm = tf.reduce_max(align * max_overlap / (max_align + self.eps), axis=1)  # [B, A]
        return Assignment(
            target_labels=target_labels * tf.cast(fg_mask, tf.int32),
            target_boxes=target_boxes,
            target_scores=one_hot * norm[..., None],
            fg_mask=fg_mask,
            target_gt_idx=target_gt_idx,
        )

    def _anchors_inside(self, anchors, gt_boxes):
        """[B, M, A]: anchor centre strictly inside the box (`select_candidates_in_gts`)."""
        xy = anchors[None, None]  # [1, 1, A, 2]
        boxes = gt_boxes[:, :, None]  # [B, M, 1, 4]
        deltas = tf.concat([xy - boxes[..., :2], boxes[..., 2:] - xy], axis=-1)
        return tf.reduce_min(deltas, axis=-1) > self.eps

    def _alignment(self, pred_scores, pred_boxes, gt_labels, gt_boxes, candidates):
        """CIoU (clamped at 0) and score^alpha * CIoU^beta, both zero outside `candidates`."""
        mask = tf.cast(candidates, tf.float32)
        overlaps = tf.maximum(ciou(gt_boxes[:, :, None], pred_boxes[:, None]), 0.0) * mask
        scores_by_class = tf.transpose(pred_scores, [0, 2, 1])  # [B, nc, A]
        box_scores = tf.gather(scores_by_class, gt_labels, batch_dims=1) * mask  # [B, M, A]
        align = tf.pow(box_scores, self.alpha) * tf.pow(overlaps, self.beta)
        return overlaps, align

    @staticmethod
    def _scatter_topk(top_idx, num_anchors):
        """[B, M, k] anchor indices -> [B, M, A] membership mask, without a [B, M, k, A] one-hot."""
        shape = tf.shape(top_idx)
        batch, rows, k = shape[0], shape[1], shape[2]
        row_ids = tf.reshape(tf.range(batch * rows), [batch, rows, 1])
        flat = tf.reshape(row_ids * num_anchors + top_idx, [-1, 1])
        hits = tf.scatter_nd(
            flat, tf.ones([batch * rows * k], tf.int32), [batch * rows * num_anchors]
        )
        return tf.reshape(hits, [batch, rows, num_anchors]) > 0

    @staticmethod
    def _resolve_multiple(mask_pos, overlaps):
        """An anchor positive for several GTs keeps the one of highest CIoU (of all candidates)."""
        multi = tf.reduce_sum(tf.cast(mask_pos, tf.int32), axis=1, keepdims=True) > 1  # [B, 1, A]
        best = tf.argmax(overlaps, axis=1, output_type=tf.int32)  # [B, A]
        is_best = tf.one_hot(best, tf.shape(overlaps)[1], axis=1, on_value=True, off_value=False)
        return tf.where(multi, is_best, mask_pos)
