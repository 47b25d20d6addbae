"""Runs a YOLOv8-seg model over a dataset: per-image predictions, validation, result files.

The one place where model outputs meet the metrics and the exporters, so the Task's
validation, the `--weights` path of the seg-val program and the study's evaluator produce the
same numbers:
- `predict_dataset` yields, per image, the contract's predictions (post-processed by
  `yolo_seg_postprocess`, Ultralytics `val` settings by default) with the image's ground truth
  (boxes, classes and the S/4 overlap map, padding removed) and its letterbox;
- `validate_model` feeds them to `SegValidator` (boxes compared in original pixels, masks at the
  S/4 proto resolution, as Ultralytics `val` does);
- `export_predictions` writes the COCO results JSON and YOLO txt files through
  `poison_tf.data.coco_results` (boxes and masks mapped back to original pixels; masks
  upsampled to the input size first, Ultralytics' `process_mask_native` path for save_json).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from poison_tf.data.coco_results import (
    ImagePredictions,
    coco_results_entries,
    image_id_from_stem,
    write_coco_entries,
    write_yolo_lines,
    yolo_txt_lines,
)
from poison_tf.metrics.seg_validation import SegValidator
from poison_tf.models.yolo_seg_postprocess import (
    VALIDATION,
    NmsConfig,
    SegPostprocessor,
    scale_to_original,
)


@dataclasses.dataclass
class ImageOutput:
    """One image's predictions (input pixels) and ground truth, as the validator takes them.

    Attributes:
        image_index: the example's `id` within its split.
        boxes: float32 [D, 4] xyxy input pixels.
        scores: float32 [D].
        classes: int64 [D].
        masks: bool [D, S/4, S/4] (or [D, S, S] with native masks).
        gt_boxes: float32 [n, 4] xyxy input pixels.
        gt_classes: int64 [n].
        gt_masks: int [S/4, S/4] overlap map (0 background, i + 1 = instance i).
        letterbox: [ratio, pad_x, pad_y].
        orig_size: [h, w].
    """

    image_index: int  # the example's `id` within its split
    boxes: np.ndarray  # float32 [D, 4] xyxy input pixels
    scores: np.ndarray  # float32 [D]
    classes: np.ndarray  # int64 [D]
    masks: np.ndarray  # bool [D, S/4, S/4] (or [D, S, S] with native masks)
    gt_boxes: np.ndarray  # float32 [n, 4] xyxy input pixels
    gt_classes: np.ndarray  # int64 [n]
    gt_masks: np.ndarray  # int [S/4, S/4] overlap map (0 background, i + 1 = instance i)
    letterbox: np.ndarray  # [ratio, pad_x, pad_y]
    orig_size: np.ndarray  # [h, w]


def forward_fn(model: keras.Model):
    """The model's inference call as one traced function (float32 outputs).

    Args:
        model: a YOLOv8-seg model.

    Returns:
        A `tf.function` images → {output name: float32 tensor}.
    """

    @tf.function(reduce_retracing=True)
    def forward(images):
        outputs = model(images, training=False)
        return {k: tf.cast(v, tf.float32) for k, v in outputs.items()}

    return forward


class SegPredictor:
    """A model's traced forward pass + post-processing, kept so that repeated validations (one
    per epoch) do not trace again.

    Args:
        model: a YOLOv8-seg model.
        config: NMS thresholds and limits.
        native: masks at the input size rather than the proto size.
        compiled: post-process through one `tf.function`.
    """

    def __init__(
        self,
        model: keras.Model,
        config: NmsConfig = VALIDATION,
        native: bool = False,
        compiled: bool = True,
    ):
        self.model = model
        self.forward = forward_fn(model)
        self.postprocess = SegPostprocessor(config, native=native, compiled=compiled)

    def __call__(self, dataset: tf.data.Dataset) -> Iterator[ImageOutput]:
        """Per-image predictions + ground truth of `seg_examples.make_dataset(...,
        training=False)` batches (labels must carry `image_id`, `orig_size`, `letterbox`)."""
        for features, labels in dataset:
            predictions = self.postprocess(self.forward(features["images"]))
            labels = {k: np.asarray(v) for k, v in labels.items()}
            for i, p in enumerate(predictions):
                count = int(np.sum(labels["classes"][i] >= 0))
                yield ImageOutput(
                    image_index=int(labels["image_id"][i]),
                    boxes=p["boxes"],
                    scores=p["scores"],
                    classes=p["classes"],
                    masks=p["masks"],
                    gt_boxes=labels["boxes"][i, :count],
                    gt_classes=labels["classes"][i, :count],
                    gt_masks=labels["masks"][i],
                    letterbox=labels["letterbox"][i],
                    orig_size=labels["orig_size"][i],
                )


def predict_dataset(
    model: keras.Model,
    dataset: tf.data.Dataset,
    config: NmsConfig = VALIDATION,
    native: bool = False,
    compiled: bool = True,
) -> Iterator[ImageOutput]:
    """`SegPredictor(model, ...)(dataset)`: per-image predictions with their ground truth.

    Args:
        model: a YOLOv8-seg model.
        dataset: `seg_examples.make_dataset(..., training=False)` batches.
        config: NMS thresholds and limits.
        native: masks at the input size rather than the proto size.
        compiled: post-process through one `tf.function`.

    Returns:
        An iterator of `ImageOutput`, one per image.
    """
    return SegPredictor(model, config, native, compiled)(dataset)


def validate_outputs(
    outputs: Iterable[ImageOutput], names: Sequence[str], sentinels: str = "8.3"
) -> SegValidator:
    """Ultralytics `val` statistics of per-image outputs.

    Args:
        outputs: per-image predictions with their ground truth.
        names: the class names.
        sentinels: Ultralytics' AP sentinel convention ("8.3" or "8.4").

    Returns:
        The filled validator (`.table()`, `.summary()`).
    """
    validator = SegValidator(names, sentinels=sentinels)
    for out in outputs:
        validator.update(
            out.boxes,
            out.scores,
            out.classes,
            out.masks,
            out.gt_boxes,
            out.gt_classes,
            out.gt_masks,
            letterbox=out.letterbox,
            orig_size=out.orig_size,
        )
    return validator


def validate_model(
    model: keras.Model | SegPredictor,
    dataset: tf.data.Dataset,
    names: Sequence[str],
    config: NmsConfig = VALIDATION,
) -> SegValidator:
    """Runs `model` (or a kept `SegPredictor`) over `dataset`; returns the filled validator
    (`.table()`, `.summary()`).

    Args:
        model: a YOLOv8-seg model, or a kept `SegPredictor`.
        dataset: `seg_examples.make_dataset(..., training=False)` batches.
        names: the class names.
        config: NMS thresholds and limits (when `model` is a model).

    Returns:
        The filled `SegValidator`.
    """
    predictor = model if isinstance(model, SegPredictor) else SegPredictor(model, config)
    return validate_outputs(predictor(dataset), names)


def to_original(out: ImageOutput, stem: str) -> ImagePredictions:
    """An image's detections in original-image pixels, ready for the result writers.

    Args:
        out: one image's predictions.
        stem: the image's file stem (its COCO image id when numeric).

    Returns:
        The detections in original pixels.
    """
    boxes, masks = scale_to_original(out.boxes, out.masks, out.letterbox, out.orig_size)
    height, width = (int(v) for v in out.orig_size)
    return ImagePredictions(
        image_id=image_id_from_stem(stem),
        boxes=boxes,
        scores=out.scores,
        classes=out.classes,
        masks=masks,
        height=height,
        width=width,
        stem=stem,
    )


def export_predictions(
    model: keras.Model,
    dataset: tf.data.Dataset,
    stems: Sequence[str],
    names: Sequence[str],
    coco_json: str | None = None,
    yolo_dir: str | None = None,
    config: NmsConfig = VALIDATION,
    keep_masks: bool = False,
) -> list[ImagePredictions]:
    """Predicts every image of `dataset` with native-resolution masks, maps them to original
    pixels and writes the COCO results JSON and/or YOLO txt folder. `stems[id]` names the
    image of example `id` (`seg_examples.read_split_index`).

    Streams: each image's masks are encoded (RLE, polygon) as they come and then dropped from
    the returned predictions unless `keep_masks` — at conf 0.001 an image keeps up to 300
    full-resolution masks (~90 MB at 640×480), so a whole split's would not fit in memory.

    Args:
        model: a YOLOv8-seg model.
        dataset: `seg_examples.make_dataset(..., training=False)` batches.
        stems: image file stems by example id.
        names: the class names.
        coco_json: where to write the COCO results JSON (None: not written).
        yolo_dir: where to write one YOLO txt file per image (None: not written).
        config: NMS thresholds and limits.
        keep_masks: keep each image's masks in the returned predictions.

    Returns:
        One `ImagePredictions` per image, in original pixels.
    """
    results, entries, lines = [], [], []
    for out in predict_dataset(model, dataset, config, native=True):
        result = to_original(out, stems[out.image_index])
        if coco_json:
            entries.extend(coco_results_entries(result, len(names)))
        if yolo_dir:
            lines.append((result.stem, yolo_txt_lines(result)))
        results.append(result if keep_masks else dataclasses.replace(result, masks=None))
    if coco_json:
        write_coco_entries(coco_json, entries)
    if yolo_dir:
        write_yolo_lines(yolo_dir, lines)
    return results
