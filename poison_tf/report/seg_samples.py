"""Sample validation images with ground truth and predictions: for report figures and TensorBoard.

The same few images (those holding a chosen class first, e.g. the clean-image backdoor's host)
are drawn by the reports (base vs poisoned side by side) and, after every validation, into
TensorBoard as `predictions`, so a run's progress can be watched as masks, not only numbers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from poison_tf.data.seg_examples import make_dataset
from poison_tf.models.yolo_seg_postprocess import PREDICTION, SegPostprocessor
from poison_tf.models.yolo_seg_predict import forward_fn
from poison_tf.report.seg_figures import save_prediction_grid


def sample_batch(
    examples: str, count: int, prefer_class: int = -1
) -> tuple[np.ndarray, list[dict]]:
    """`count` validation images (those holding `prefer_class` first) and their ground truth."""
    preferred, others = [], []
    for features, labels in make_dataset(examples, "val", 8, training=False):
        for i in range(len(features["images"])):
            classes = labels["classes"][i].numpy()
            n = int((classes >= 0).sum())
            overlap = labels["masks"][i].numpy()
            item = (
                features["images"][i].numpy().astype(np.uint8),
                {
                    "boxes": labels["boxes"][i, :n].numpy(),
                    "classes": classes[:n],
                    "masks": overlap[None] == np.arange(1, n + 1)[:, None, None],
                },
            )
            (preferred if prefer_class < 0 or prefer_class in classes[:n] else others).append(item)
        if len(preferred) >= count:
            break
    chosen = (preferred + others)[:count]
    return np.stack([image for image, _ in chosen]), [truth for _, truth in chosen]


def predict_samples(model: keras.Model, images: np.ndarray) -> list[dict]:
    """Predictions as `yolo predict` draws them (conf 0.25, one label per box)."""
    return SegPostprocessor(PREDICTION)(forward_fn(model)(images.astype(np.float32)))


def log_prediction_images(
    model: keras.Model,
    images: np.ndarray,
    truth: Sequence[dict],
    names: Sequence[str],
    step: int | None = None,
) -> None:
    """Writes the ground-truth / prediction grid as the `predictions` image of the default writer."""
    buffer = io.BytesIO()
    save_prediction_grid(
        buffer, images, truth, {"prediction": predict_samples(model, images)}, names
    )
    image = tf.io.decode_png(buffer.getvalue(), channels=3)
    tf.summary.image("predictions", image[None], step=step)
