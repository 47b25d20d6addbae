"""The YOLOv8-seg training loss: CIoU box + DFL + BCE class + per-instance mask BCE.

The terms and normalisations of Ultralytics `v8SegmentationLoss` (../shared/notes/yolo_seg.md
§2.2): with tss = max(sum of target scores, 1),
- cls = sum BCE-with-logits(class logits, target scores) / tss;
- box = sum_fg (1 - CIoU(pred, target)) * w / tss, w = the anchor's target-score sum;
- dfl = sum_fg DFL(ltrb logits, target ltrb clipped to [0, 14.99]) * w / tss;
- seg = sum_fg [sum of BCE(coef @ protos, overlap_map == gt_idx + 1) over the pixels of the
  target box] / (H * W) / normalised box area, divided by the number of positive anchors;
- total = 7.5 box + 7.5 seg + 0.5 cls + 1.5 dfl (Ultralytics uses `hyp.box` for seg too).

The terms equal Ultralytics' logged `loss_items`; Ultralytics back-propagates `total * batch`
(irrelevant for Adam, a batch-size factor for SGD).

Memory: mask logits are formed only for K anchors per image (the positives first; K = the
largest positive count of an image in the batch, or the static bound topk x M without
trimming, since each GT has at most topk positives), never for all B x A x H x W. With
`trim_padding` (default) the padded GT rows beyond the batch's largest image are also dropped
before assignment, which keeps [B, M, A] small but gives dynamic shapes; pass
`trim_padding=False` (and optionally `max_mask_anchors`, which keeps the best-aligned positives)
for XLA.

Distribution: the batch normalisers (tss and the positive count) are summed over replicas with
the replica context's all-reduce before dividing, so each replica returns its share of the
GLOBAL loss and the sum over replicas equals the single-device loss of the global batch (the
Task convention of poison_tf/train/task.py). Gradients summed over replicas are then exactly the
global-batch gradient; no division by the number of replicas is needed.
"""

from __future__ import annotations

import tensorflow as tf

from poison_tf.errors import require
from poison_tf.models.task_aligned_assigner import TaskAlignedAssigner
from poison_tf.models.yolo_box_ops import (
    REG_MAX,
    bbox2dist,
    ciou,
    dfl_expectation,
    dist2bbox,
    make_anchors,
)

GAINS = {"box": 7.5, "seg": 7.5, "cls": 0.5, "dfl": 1.5}


def _global_sum(value: tf.Tensor) -> tf.Tensor:
    """Sum over replicas inside `strategy.run`; the identity elsewhere."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def dfl_loss(box_logits: tf.Tensor, target_ltrb: tf.Tensor, reg_max: int = REG_MAX) -> tf.Tensor:
    """Distribution focal loss [...]: [..., 4 * reg_max] logits vs [..., 4] targets in bins.

    Cross-entropy at the two bins around the target, weighted linearly, mean over the 4 sides.

    Args:
        box_logits: [..., 4 * reg_max] logits of the box head.
        target_ltrb: [..., 4] target distances in bins (in [0, reg_max - 1)).
        reg_max: DFL bins per box side.

    Returns:
        The loss per anchor, [...].
    """
    shape = tf.concat([tf.shape(box_logits)[:-1], [4, reg_max]], axis=0)
    log_probs = tf.nn.log_softmax(tf.reshape(box_logits, shape), axis=-1)
    left = tf.floor(target_ltrb)
    weight_left = left + 1.0 - target_ltrb
    left_idx = tf.cast(left, tf.int32)
    ce_left = -tf.gather(log_probs, left_idx[..., None], batch_dims=len(left.shape))[..., 0]
    ce_right = -tf.gather(log_probs, left_idx[..., None] + 1, batch_dims=len(left.shape))[..., 0]
    return tf.reduce_mean(ce_left * weight_left + ce_right * (1.0 - weight_left), axis=-1)


def mask_loss_per_anchor(coefficients, protos, gt_masks, gt_index, boxes, image_size: int):
    """Ultralytics `single_mask_loss` for [B, K] selected anchors -> [B, K].

    coefficients [B, K, nm]; protos [B, H, W, nm]; gt_masks [B, H, W] overlap map (i + 1 =
    instance i); gt_index [B, K] int; boxes [B, K, 4] xyxy in input pixels. BCE over the pixels
    with x1 <= col < x2 and y1 <= row < y2 of the box at mask scale, / (H * W) / box area / S^2.

    Args:
        coefficients: [B, K, nm] mask coefficients of the selected anchors.
        protos: [B, H, W, nm] prototypes.
        gt_masks: [B, H, W] overlap map (i + 1 = instance i).
        gt_index: [B, K] int, the GT instance assigned to each anchor.
        boxes: [B, K, 4] xyxy target boxes in input pixels.
        image_size: S of the S×S input.

    Returns:
        The normalised mask BCE per selected anchor, [B, K].
    """
    height, width = protos.shape[1], protos.shape[2]
    logits = tf.einsum("bkc,bhwc->bkhw", coefficients, protos)
    target = tf.cast(tf.equal(gt_masks[:, None], gt_index[:, :, None, None] + 1), tf.float32)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits)
    scaled = boxes * tf.constant([width, height, width, height], tf.float32) / image_size
    x1, y1, x2, y2 = (scaled[..., i, None] for i in range(4))
    cols = tf.range(width, dtype=tf.float32)[None, None]
    rows = tf.range(height, dtype=tf.float32)[None, None]
    col_in = tf.cast((cols >= x1) & (cols < x2), tf.float32)  # [B, K, W]
    row_in = tf.cast((rows >= y1) & (rows < y2), tf.float32)  # [B, K, H]
    inside = tf.einsum("bkhw,bkh,bkw->bk", bce, row_in, col_in)
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]) / image_size**2
    area = tf.where(area > 0, area, 1.0)  # background rows (masked later) must not make NaN grads
    return inside / float(height * width) / area


class YoloSegLoss:
    """Callable `(labels, outputs) -> {"box", "seg", "cls", "dfl", "total"}` scalar float32.

    labels: the training batch's dict (classes [B, M] int, -1 padding; boxes [B, M, 4] xyxy input
    pixels; masks [B, S/4, S/4] overlap map). outputs: the model's dict.

    Args:
        num_classes: classes of the class head.
        image_size: S of the S×S input.
        topk: candidate anchors per GT box of the task-aligned assigner.
        trim_padding: drop padded GT rows beyond the batch's largest image (dynamic shapes); False
            for XLA.
        max_mask_anchors: with trim_padding=False, the most positive anchors per image whose masks
            are formed (None = topk x M).
        gains: weights of the terms, over GAINS ({"box", "seg", "cls", "dfl"}).
    """

    def __init__(
        self,
        num_classes: int,
        image_size: int,
        topk: int = 10,
        trim_padding: bool = True,
        max_mask_anchors: int | None = None,
        gains: dict | None = None,
    ):
        self.num_classes = num_classes
        self.image_size = image_size
        self.topk = topk
        self.trim_padding = trim_padding
        self.max_mask_anchors = max_mask_anchors
        self.gains = dict(GAINS, **(gains or {}))
        self.assigner = TaskAlignedAssigner(num_classes, topk=topk)
        anchors, strides = make_anchors(image_size)
        self.anchors = tf.constant(anchors)  # stride units
        self.strides = tf.constant(strides)[:, None]

    def __call__(self, labels: dict, outputs: dict) -> dict:
        box_logits = tf.cast(outputs["boxes"], tf.float32)
        cls_logits = tf.cast(outputs["classes"], tf.float32)
        gt_classes = tf.cast(labels["classes"], tf.int32)
        gt_boxes = tf.cast(labels["boxes"], tf.float32)
        if self.trim_padding:
            rows = tf.maximum(
                tf.reduce_max(tf.reduce_sum(tf.cast(gt_classes >= 0, tf.int32), 1)), 1
            )
            gt_classes, gt_boxes = gt_classes[:, :rows], gt_boxes[:, :rows]

        pred_boxes = dist2bbox(dfl_expectation(box_logits), self.anchors)  # stride units
        assigned = self.assigner(
            tf.sigmoid(cls_logits),
            pred_boxes * self.strides,
            self.anchors * self.strides,
            gt_classes,
            gt_boxes,
            gt_classes >= 0,
        )
        fg = tf.cast(assigned.fg_mask, tf.float32)
        target_scores = assigned.target_scores
        tss = tf.maximum(_global_sum(tf.reduce_sum(target_scores)), 1.0)
        num_fg = tf.maximum(_global_sum(tf.reduce_sum(fg)), 1.0)

        cls = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=target_scores, logits=cls_logits)
        )
        weight = tf.reduce_sum(target_scores, axis=-1) * fg  # [B, A]
        target_boxes = assigned.target_boxes / self.strides
        box = tf.reduce_sum((1.0 - ciou(pred_boxes, target_boxes)) * weight)
        target_ltrb = bbox2dist(self.anchors, target_boxes, REG_MAX - 1 - 0.01)
        dfl = tf.reduce_sum(dfl_loss(box_logits, target_ltrb) * weight)
        seg = self._mask_loss(outputs, labels, assigned, gt_classes)

        terms = {"box": box / tss, "seg": seg / num_fg, "cls": cls / tss, "dfl": dfl / tss}
        terms["total"] = tf.add_n([self.gains[name] * value for name, value in terms.items()])
        return terms

    def _mask_loss(self, outputs, labels, assigned, gt_classes) -> tf.Tensor:
        """Sum over positive anchors of the per-instance mask loss (gathered, not all A)."""
        coefficients = tf.cast(outputs["coefficients"], tf.float32)
        protos = tf.cast(outputs["protos"], tf.float32)
        masks = tf.cast(labels["masks"], tf.int32)
        require(
            masks.shape[1:].is_compatible_with(protos.shape[1:3]),
            f"labels['masks'] has shape {masks.shape[1:]}; "
            f"the model's protos need {protos.shape[1:3]} (S / 4)",
        )
        fg = tf.cast(assigned.fg_mask, tf.float32)
        if self.trim_padding:  # dynamic: the largest positive count of an image in the batch
            k = tf.maximum(tf.cast(tf.reduce_max(tf.reduce_sum(fg, axis=1)), tf.int32), 1)
        else:  # static bound: each GT has at most topk positives
            num_anchors = coefficients.shape[1] or tf.shape(coefficients)[1]
            k = tf.minimum(self.topk * tf.shape(gt_classes)[1], num_anchors)
        if self.max_mask_anchors:
            k = tf.minimum(k, self.max_mask_anchors)
        priority = fg * (1.0 + tf.reduce_sum(assigned.target_scores, axis=-1))
        _, chosen = tf.math.top_k(priority, k=k)  # positives first  [B, K]
        valid = tf.gather(fg, chosen, batch_dims=1)
        per_anchor = mask_loss_per_anchor(
            tf.gather(coefficients, chosen, batch_dims=1),
            protos,
            masks,
            tf.gather(assigned.target_gt_idx, chosen, batch_dims=1),
            tf.gather(assigned.target_boxes, chosen, batch_dims=1),
            self.image_size,
        )
        return tf.reduce_sum(tf.where(valid > 0, per_anchor, 0.0))
