"""Raw segmenter outputs → Ultralytics-style detections with instance masks.

The validator's numbers are only comparable to Ultralytics' if the post-processing is the same
(notes/yolo_seg.md §2.3), so this module follows `ultralytics/utils/ops.py` step by step:

- boxes: DFL expectation (softmax over 16 bins · [0..15]) → ltrb in stride units → xyxy around
  the anchor centre → × stride (input pixels), with the formulas the loss uses
  (`yolo_box_ops`: anchors in Ultralytics `make_anchors` / keras-cv `get_anchors` order);
- scores: sigmoid of the class logits;
- NMS: candidates with score > conf (every (anchor, class) pair when `multi_label` and nc > 1,
  else the best class), the `max_nms` best kept, class-aware through a `cls · 7680` box offset,
  `tf.image.non_max_suppression` at IoU 0.7, `max_det` kept. Unlike keras-cv's layer it returns
  the kept ANCHOR INDICES, so each detection's mask coefficients can be gathered;
- masks: `coef @ protos` logits at proto resolution, zeroed outside the box scaled to proto
  coordinates (`x1 <= c < x2`, `y1 <= r < y2`), thresholded at logit > 0 (`process_mask`);
  `process_mask_native` upsamples the logits to the input size (bilinear, half-pixel centres
  like torch's `align_corners=False`) before cropping, for export.

One image is processed per call of a `tf.function` with fixed input shapes (one trace per input
size) and dynamic-size outputs, so no padding is needed (`SegPostprocessor`; eager execution
is the `compiled=False` option, measured in benchmarks/seg_train.py).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from poison_tf.models.yolo_box_ops import dfl_expectation, dist2bbox, make_anchors

MAX_WH = 7680  # Ultralytics' class offset for class-aware NMS in one call


@dataclasses.dataclass(frozen=True)
class NmsConfig:
    """Ultralytics `non_max_suppression` settings.

    Attributes:
        conf: the lowest class score kept.
        iou: boxes overlapping a better one of the same class by more are dropped.
        max_det: the most detections per image.
        multi_label: one candidate per (anchor, class) above conf, not per anchor.
        max_nms: the most candidates passed to NMS (best first).
        agnostic: NMS across classes.
    """

    conf: float = 0.001
    iou: float = 0.7
    max_det: int = 300
    multi_label: bool = True
    max_nms: int = 30000
    agnostic: bool = False


VALIDATION = NmsConfig()  # what `yolo val` uses
PREDICTION = NmsConfig(conf=0.25, multi_label=False)  # what `yolo predict` uses (for drawing)


def decode_boxes(box_logits: tf.Tensor, image_size: int) -> tf.Tensor:
    """DFL logits [..., A, 64] of an S×S input → boxes [..., A, 4] xyxy in input pixels.

    Args:
        box_logits: [..., A, 64] DFL logits of the box head.
        image_size: S of the S×S input.

    Returns:
        [..., A, 4] xyxy boxes in input pixels.
    """
    anchors, strides = make_anchors(image_size)
    ltrb = dfl_expectation(tf.convert_to_tensor(box_logits, tf.float32))
    return dist2bbox(ltrb, anchors) * strides[:, None]


def non_max_suppression(
    boxes: tf.Tensor, scores: tf.Tensor, config: NmsConfig = VALIDATION
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One image: boxes [A, 4] xyxy, scores [A, nc] in 0..1 → (anchor indices [D] int64,
    classes [D] int64, scores [D]), best score first.

    Args:
        boxes: [A, 4] xyxy boxes of one image.
        scores: [A, nc] class probabilities.
        config: thresholds and limits.

    Returns:
        (anchor indices [D] int64, classes [D] int64, scores [D]), best score first.
    """
    num_classes = scores.shape[-1]
    if config.multi_label and num_classes > 1:
        candidates = tf.where(scores > config.conf)  # (anchor, class) pairs, row-major
        anchor_index, classes = candidates[:, 0], candidates[:, 1]
        confidence = tf.gather_nd(scores, candidates)
    else:
        best = tf.reduce_max(scores, axis=-1)
        anchor_index = tf.where(best > config.conf)[:, 0]
        confidence = tf.gather(best, anchor_index)
        classes = tf.gather(tf.argmax(scores, axis=-1), anchor_index)
    count = tf.minimum(tf.size(confidence), config.max_nms)
    confidence, order = tf.math.top_k(confidence, k=count)
    anchor_index, classes = tf.gather(anchor_index, order), tf.gather(classes, order)
    candidate_boxes = tf.gather(boxes, anchor_index)
    if not config.agnostic:
        candidate_boxes += tf.cast(classes, tf.float32)[:, None] * MAX_WH
    keep = tf.image.non_max_suppression(candidate_boxes, confidence, config.max_det, config.iou)
    return tf.gather(anchor_index, keep), tf.gather(classes, keep), tf.gather(confidence, keep)


def crop_masks(masks: tf.Tensor, boxes: tf.Tensor) -> tf.Tensor:
    """Zeroes masks [D, h, w] outside boxes [D, 4] given in mask pixels (Ultralytics crop_mask).

    Args:
        masks: [D, h, w] masks or logits.
        boxes: [D, 4] xyxy boxes in mask pixels.

    Returns:
        The masks, zero outside their box.
    """
    height, width = tf.shape(masks)[1], tf.shape(masks)[2]
    cols = tf.cast(tf.range(width), masks.dtype)[None, None, :]
    rows = tf.cast(tf.range(height), masks.dtype)[None, :, None]
    x1, y1, x2, y2 = (tf.cast(boxes[:, i, None, None], masks.dtype) for i in range(4))
    inside = (cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2)
    return tf.where(inside, masks, tf.zeros_like(masks))


def mask_logits(protos: tf.Tensor, coefficients: tf.Tensor) -> tf.Tensor:
    """protos [h, w, 32], coefficients [D, 32] → logits [D, h, w].

    Args:
        protos: [h, w, 32] prototypes of one image.
        coefficients: [D, 32] coefficients of its detections.

    Returns:
        [D, h, w] mask logits.
    """
    return tf.einsum("dc,hwc->dhw", coefficients, protos)


def process_mask(protos, coefficients, boxes, image_size: tuple[int, int]) -> tf.Tensor:
    """Masks at proto resolution, cropped to the boxes (input px) scaled there: bool [D, h, w].

    Args:
        protos: [h, w, 32] prototypes of one image.
        coefficients: [D, 32] coefficients of its detections.
        boxes: [D, 4] xyxy boxes in input pixels.
        image_size: (height, width) of the input.

    Returns:
        bool [D, h, w] masks.
    """
    logits = mask_logits(protos, coefficients)
    scale_y = tf.cast(tf.shape(protos)[0], tf.float32) / image_size[0]
    scale_x = tf.cast(tf.shape(protos)[1], tf.float32) / image_size[1]
    return crop_masks(logits, boxes * tf.stack([scale_x, scale_y, scale_x, scale_y])) > 0


def process_mask_native(protos, coefficients, boxes, image_size: tuple[int, int]) -> tf.Tensor:
    """Masks upsampled to the input size, then cropped to the boxes: bool [D, H, W].

    Args:
        protos, coefficients, boxes, image_size: as for `process_mask`.

    Returns:
        bool [D, H, W] masks (H, W = image_size).
    """
    logits = tf.transpose(mask_logits(protos, coefficients), [1, 2, 0])
    logits = tf.image.resize(logits, image_size, method="bilinear")
    return crop_masks(tf.transpose(logits, [2, 0, 1]), boxes) > 0


def scale_to_original(
    boxes: np.ndarray, masks: np.ndarray | None, letterbox, orig_size
) -> tuple[np.ndarray, np.ndarray | None]:
    """Undoes the letterbox: boxes [D, 4] input px → original px (clipped, Ultralytics
    `scale_boxes`); masks [D, h, w] at any resolution of the S×S input → bool [D, H0, W0]
    (padding cropped, bilinear resize, > 0.5, like `scale_image`).

    Args:
        boxes: [D, 4] xyxy boxes in input pixels.
        masks: [D, h, w] masks, or None.
        letterbox: (ratio, pad_x, pad_y) of the image's letterbox.
        orig_size: (height, width) of the original image.

    Returns:
        (boxes float32 [D, 4] in original pixels, masks bool [D, H0, W0] or None).
    """
    ratio, pad_x, pad_y = (float(v) for v in letterbox)
    height, width = (int(v) for v in orig_size)
    out = (np.asarray(boxes, np.float32).reshape(-1, 4) - [pad_x, pad_y, pad_x, pad_y]) / ratio
    out = np.clip(out, 0, [width, height, width, height]).astype(np.float32)
    if masks is None:
        return out, None
    masks = np.asarray(masks)
    if masks.shape[0] == 0:
        return out, np.zeros((0, height, width), bool)
    mask_h, mask_w = masks.shape[1:]
    input_h, input_w = height * ratio + 2 * pad_y, width * ratio + 2 * pad_x  # S, S
    top, left = int(pad_y * mask_h / input_h), int(pad_x * mask_w / input_w)
    bottom, right = int(mask_h - pad_y * mask_h / input_h), int(mask_w - pad_x * mask_w / input_w)
    cropped = np.transpose(masks[:, top:bottom, left:right], (1, 2, 0)).astype(np.float32)
    resized = tf.image.resize(cropped, (height, width), method="bilinear").numpy()
    return out, np.transpose(resized > 0.5, (2, 0, 1))


def postprocess_image(
    box_logits,
    class_logits,
    coefficients,
    protos,
    config: NmsConfig = VALIDATION,
    native: bool = False,
) -> dict[str, tf.Tensor]:
    """One image's raw outputs ([A, 64], [A, nc], [A, 32], [h, w, 32]) → the contract's
    predictions: boxes [D, 4] input px, scores [D], classes [D] int64, masks bool [D, h, w]
    (or [D, H, W] when `native`), plus `anchor_indices` [D] and `coefficients` [D, 32].

    Args:
        box_logits: [A, 64] DFL logits.
        class_logits: [A, nc] class logits.
        coefficients: [A, 32] mask coefficients.
        protos: [h, w, 32] prototypes.
        config: NMS thresholds and limits.
        native: masks at the input size rather than the proto size.

    Returns:
        {"boxes", "scores", "classes", "masks", "anchor_indices", "coefficients"} tensors.
    """
    image_size = (int(protos.shape[0]) * 4, int(protos.shape[1]) * 4)
    boxes = decode_boxes(box_logits, image_size[0])
    scores = tf.sigmoid(tf.cast(class_logits, tf.float32))
    anchor_index, classes, confidence = non_max_suppression(boxes, scores, config)
    kept_boxes = tf.gather(boxes, anchor_index)
    kept_coefficients = tf.gather(tf.cast(coefficients, tf.float32), anchor_index)
    process = process_mask_native if native else process_mask
    masks = process(tf.cast(protos, tf.float32), kept_coefficients, kept_boxes, image_size)
    return {
        "boxes": kept_boxes,
        "scores": confidence,
        "classes": classes,
        "masks": masks,
        "anchor_indices": anchor_index,
        "coefficients": kept_coefficients,
    }


class SegPostprocessor:
    """Applies `postprocess_image` to every image of a batch of model outputs.

    `compiled=True` runs each image through one `tf.function` (traced once per input shape);
    `False` runs eagerly. Results are numpy arrays.

    Args:
        config: NMS thresholds and limits.
        native: masks at the input size rather than the proto size.
        compiled: run each image through one `tf.function`.
    """

    def __init__(self, config: NmsConfig = VALIDATION, native: bool = False, compiled: bool = True):
        self.config, self.native = config, native
        one = functools.partial(postprocess_image, config=config, native=native)
        self._one = tf.function(one, reduce_retracing=True) if compiled else one

    def __call__(self, outputs: dict) -> list[dict[str, np.ndarray]]:
        results = []
        for i in range(int(outputs["boxes"].shape[0])):
            result = self._one(
                outputs["boxes"][i],
                outputs["classes"][i],
                outputs["coefficients"][i],
                outputs["protos"][i],
            )
            results.append({k: np.asarray(v) for k, v in result.items()})
        return results
