"""Box arithmetic shared by the YOLOv8-seg assigner, loss and post-processing.

One place for the formulas that must agree between training and inference: anchor centres
(Ultralytics `make_anchors` order), the DFL expectation, ltrb <-> xyxy conversion and CIoU as
Ultralytics `bbox_iou(..., CIoU=True)` computes it (eps 1e-7, height clamped to eps, the
aspect-ratio weight `alpha` outside the gradient). Plain TF ops, XLA-compatible.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

STRIDES = (8, 16, 32)
REG_MAX = 16  # DFL bins per box side; the box head predicts 4 * REG_MAX logits per anchor


def make_anchors(image_size: int, strides=STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Anchor centres in stride units [A, 2] (x, y) and the stride of each anchor [A].

    Cell centres (x + 0.5, y + 0.5), row-major (y outer, x inner), levels P3 -> P5: the order of
    Ultralytics `make_anchors` and keras-cv `get_anchors`, and of the head's concatenated outputs.

    Args:
        image_size: S of the S×S input.
        strides: the feature levels' strides.

    Returns:
        (anchor centres float32 [A, 2] in stride units, stride of each anchor float32 [A]).
    """
    points, stride_list = [], []
    for stride in strides:
        cells = image_size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()], axis=-1) + 0.5)
        stride_list.append(np.full(cells * cells, stride))
    return (
        np.concatenate(points).astype(np.float32),
        np.concatenate(stride_list).astype(np.float32),
    )


def num_anchors(image_size: int, strides=STRIDES) -> int:
    """A = sum over strides of (S / stride)^2.

    Args:
        image_size: S of the S×S input.
        strides: the feature levels' strides.

    Returns:
        The anchor count A.
    """
    return sum((image_size // s) ** 2 for s in strides)


def dfl_expectation(box_logits: tf.Tensor, reg_max: int = REG_MAX) -> tf.Tensor:
    """[..., 4 * reg_max] DFL logits -> [..., 4] expected ltrb distances (stride units).

    Args:
        box_logits: [..., 4 * reg_max] logits of the box head.
        reg_max: DFL bins per box side.

    Returns:
        [..., 4] expected (left, top, right, bottom) distances in stride units.
    """
    shape = tf.concat([tf.shape(box_logits)[:-1], [4, reg_max]], axis=0)
    probs = tf.nn.softmax(tf.reshape(box_logits, shape), axis=-1)
    return tf.reduce_sum(probs * tf.range(reg_max, dtype=probs.dtype), axis=-1)


def dist2bbox(ltrb: tf.Tensor, anchors: tf.Tensor) -> tf.Tensor:
    """ltrb distances from anchor centres -> xyxy boxes, in the units of the inputs.

    Args:
        ltrb: [..., 4] distances (left, top, right, bottom).
        anchors: [..., 2] anchor centres (x, y).

    Returns:
        [..., 4] xyxy boxes.
    """
    left_top, right_bottom = tf.split(ltrb, 2, axis=-1)
    return tf.concat([anchors - left_top, anchors + right_bottom], axis=-1)


def bbox2dist(anchors: tf.Tensor, boxes: tf.Tensor, max_dist: float) -> tf.Tensor:
    """xyxy boxes -> ltrb distances from anchor centres, clipped to [0, max_dist].

    Args:
        anchors: [..., 2] anchor centres (x, y).
        boxes: [..., 4] xyxy boxes, in the anchors' units.
        max_dist: the largest distance the DFL bins can express.

    Returns:
        [..., 4] (left, top, right, bottom) distances.
    """
    x1y1, x2y2 = tf.split(boxes, 2, axis=-1)
    return tf.clip_by_value(tf.concat([anchors - x1y1, x2y2 - anchors], axis=-1), 0.0, max_dist)


def ciou(box1: tf.Tensor, box2: tf.Tensor, eps: float = 1e-7) -> tf.Tensor:
    """Complete IoU of xyxy boxes (broadcasting over leading dims) -> [...]; 1 for identical boxes.

    Same formula as Ultralytics `bbox_iou(box1, box2, xywh=False, CIoU=True)`; can be negative.

    Args:
        box1: [..., 4] xyxy boxes.
        box2: [..., 4] xyxy boxes (broadcast against box1).
        eps: guards divisions by zero.

    Returns:
        The CIoU per box pair, [...] (at most 1).
    """
    b1x1, b1y1, b1x2, b1y2 = tf.unstack(box1, 4, axis=-1)
    b2x1, b2y1, b2x2, b2y2 = tf.unstack(box2, 4, axis=-1)
    w1, h1 = b1x2 - b1x1, tf.maximum(b1y2 - b1y1, eps)
    w2, h2 = b2x2 - b2x1, tf.maximum(b2y2 - b2y1, eps)
    inter = tf.maximum(tf.minimum(b1x2, b2x2) - tf.maximum(b1x1, b2x1), 0.0) * tf.maximum(
        tf.minimum(b1y2, b2y2) - tf.maximum(b1y1, b2y1), 0.0
    )
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = tf.maximum(b1x2, b2x2) - tf.minimum(b1x1, b2x1)
    ch = tf.maximum(b1y2, b2y2) - tf.minimum(b1y1, b2y1)
    c2 = cw**2 + ch**2 + eps
    rho2 = ((b2x1 + b2x2 - b1x1 - b1x2) ** 2 + (b2y1 + b2y2 - b1y1 - b1y2) ** 2) / 4.0
    v = (4.0 / math.pi**2) * (tf.atan(w2 / h2) - tf.atan(w1 / h1)) ** 2
    alpha = tf.stop_gradient(v / (v - iou + (1.0 + eps)))
    return iou - (rho2 / c2 + v * alpha)
