"""The tiny YOLOv8-seg overfits two drawn images: the loss and every term fall by a large factor."""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf

from poison_tf.models.yolo_seg_loss import YoloSegLoss
from poison_tf.models.yolo_v8_seg import build_yolo_v8_seg

SIZE, NC, STEPS = 64, 2, 80
COLOURS = {0: (230, 40, 40), 1: (40, 40, 230)}


@contextlib.contextmanager
def _without_grappler():
    """Grappler spends ~30 s optimising this graph on a loaded 2-core CPU; the test needs none."""
    saved = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options(saved)


def _drawn_batch():
    """Two images with rectangles of two classes, labels built as the data contract says."""
    scenes = [
        [(0, (6, 8, 38, 40)), (1, (30, 34, 58, 60))],
        [(1, (10, 4, 50, 28)), (0, (20, 24, 44, 56))],  # overlapping: the smaller is on top
    ]
    images = np.full((2, SIZE, SIZE, 3), 114, np.float32)
    classes = np.full((2, 4), -1, np.int32)
    boxes = np.zeros((2, 4, 4), np.float32)
    masks = np.zeros((2, SIZE // 4, SIZE // 4), np.int32)
    for b, scene in enumerate(scenes):
        area = [(x2 - x1) * (y2 - y1) for _, (x1, y1, x2, y2) in scene]
        for i, j in enumerate(np.argsort(area)[::-1]):  # area descending, i + 1 in the map
            cls, (x1, y1, x2, y2) = scene[j]
            images[b, y1:y2, x1:x2] = COLOURS[cls]
            classes[b, i], boxes[b, i] = cls, (x1, y1, x2, y2)
            masks[b, y1 // 4 : y2 // 4, x1 // 4 : x2 // 4] = i + 1
    return images, {"classes": classes, "boxes": boxes, "masks": masks}


def test_tiny_model_overfits_two_drawn_images():
    keras.utils.set_random_seed(0)
    images, labels = _drawn_batch()
    model = build_yolo_v8_seg(NC, SIZE, "tiny")
    loss_fn = YoloSegLoss(NC, SIZE)
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)  # slots made outside tf.function: one trace only

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            terms = loss_fn(y, model(x, training=True))
        grads = tape.gradient(terms["total"], model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return terms

    labels = {k: tf.constant(v) for k, v in labels.items()}
    with _without_grappler():
        history = [{k: float(v) for k, v in step(images, labels).items()} for _ in range(STEPS)]
    first = history[0]
    last = {k: np.mean([h[k] for h in history[-10:]]) for k in first}
    assert all(np.isfinite(h["total"]) for h in history)
    assert last["total"] < first["total"] / 10
    for term in ("box", "seg", "cls", "dfl"):
        assert last[term] < first[term] / 2, (term, first[term], last[term])
