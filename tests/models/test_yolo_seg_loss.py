"""The YOLOv8-seg loss terms on hand-made inputs, the background case and replica sums."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.errors import UserInputError
from poison_tf.models.yolo_box_ops import ciou, num_anchors
from poison_tf.models.yolo_seg_loss import YoloSegLoss, dfl_loss, mask_loss_per_anchor

SIZE, NC = 64, 3
A = num_anchors(SIZE)


def test_ciou_is_one_for_identical_boxes_and_lower_otherwise():
    boxes = tf.constant([[1.0, 2.0, 5.0, 9.0], [10.0, 10.0, 30.0, 20.0]])
    np.testing.assert_allclose(ciou(boxes, boxes), [1.0, 1.0], atol=1e-6)
    shifted = boxes + tf.constant([1.0, 0.0, 1.0, 0.0])
    assert (np.asarray(ciou(boxes, shifted)) < 1.0).all()
    far = tf.constant([[100.0, 100.0, 104.0, 107.0], [60.0, 60.0, 80.0, 70.0]])
    assert (np.asarray(ciou(boxes, far)) < 0.0).all()  # disjoint: negative (clamped in TAL)


def test_dfl_is_minimal_for_the_two_bin_distribution_of_the_target():
    target = tf.constant([[3.3, 0.0, 7.75, 14.99]])
    probs = np.zeros((4, 16), np.float32)
    for side, t in enumerate([3.3, 0.0, 7.75, 14.99]):
        left = int(np.floor(t))
        probs[side, left] += left + 1 - t
        probs[side, left + 1] += t - left
    perfect = tf.Variable(np.log(np.maximum(probs, 1e-12)).reshape(1, 64))
    with tf.GradientTape() as tape:
        best = dfl_loss(perfect, target)
    np.testing.assert_allclose(tape.gradient(best, perfect), 0.0, atol=1e-5)  # a stationary point
    rng = np.random.default_rng(0)
    for _ in range(5):
        other = perfect + rng.normal(0, 1, (1, 64)).astype(np.float32)
        assert float(dfl_loss(other, target)[0]) > float(best[0])


def _mask_case():
    h = w = SIZE // 4
    gt = np.zeros((1, h, w), np.int32)
    gt[0, 2:8, 3:9] = 1
    gt[0, 6:12, 6:14] = 2  # painted later: overlaps instance 1
    boxes = np.array([[[12, 8, 36, 32], [24, 24, 56, 48]]], np.float32)  # input pixels
    protos = np.zeros((1, h, w, 2), np.float32)
    protos[..., 0] = np.where(gt[0] == 1, 1.0, -1.0)
    protos[..., 1] = np.where(gt[0] == 2, 1.0, -1.0)
    return gt, boxes, protos


def test_mask_loss_is_near_zero_for_perfect_logits_and_ignores_pixels_outside_the_box():
    gt, boxes, protos = _mask_case()
    perfect = np.array([[[20.0, 0.0], [0.0, 20.0]]], np.float32)
    loss = np.asarray(mask_loss_per_anchor(perfect, protos, gt, np.array([[0, 1]]), boxes, SIZE))
    assert (loss < 1e-6).all()
    wrong = np.asarray(mask_loss_per_anchor(-perfect, protos, gt, np.array([[0, 1]]), boxes, SIZE))
    assert (wrong > 10).all()
    # protos changed only outside instance 0's box [3:9) x [2:8): its loss does not move
    noisy = protos.copy()
    outside = np.ones(gt.shape[1:], bool)
    outside[2:8, 3:9] = False
    noisy[0, outside, 0] = np.random.default_rng(1).normal(0, 5, outside.sum())
    again = np.asarray(mask_loss_per_anchor(perfect, noisy, gt, np.array([[0, 1]]), boxes, SIZE))
    np.testing.assert_allclose(again[0, 0], loss[0, 0], atol=1e-7)
    # ... while a change inside the box does
    noisy[0, 4, 4, 0] = -1.0
    inside = np.asarray(mask_loss_per_anchor(perfect, noisy, gt, np.array([[0, 1]]), boxes, SIZE))
    assert inside[0, 0] > loss[0, 0] + 1.0 / 36 * 10


def _random_outputs(batch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "boxes": tf.constant(rng.normal(0, 1, (batch, A, 64)), tf.float32),
        "classes": tf.constant(rng.normal(-3, 1, (batch, A, NC)), tf.float32),
        "coefficients": tf.constant(rng.normal(0, 1, (batch, A, 32)), tf.float32),
        "protos": tf.constant(rng.normal(0, 1, (batch, SIZE // 4, SIZE // 4, 32)), tf.float32),
    }


def _labels(batch: int, seed: int = 0, max_instances: int = 6) -> dict:
    rng = np.random.default_rng(seed)
    classes = np.full((batch, max_instances), -1, np.int32)
    boxes = np.zeros((batch, max_instances, 4), np.float32)
    masks = np.zeros((batch, SIZE // 4, SIZE // 4), np.int32)
    for b in range(batch):
        for i in range(b % 3 + 1):  # 1..3 instances, padding after them
            x1, y1 = rng.integers(0, 36, 2)
            x2, y2 = x1 + rng.integers(12, 28), y1 + rng.integers(12, 28)
            classes[b, i], boxes[b, i] = rng.integers(0, NC), [x1, y1, x2, y2]
            masks[b, y1 // 4 : y2 // 4, x1 // 4 : x2 // 4] = i + 1
    return {"classes": classes, "boxes": boxes, "masks": masks}


def test_background_images_give_a_finite_loss_and_gradient():
    outputs = {k: tf.Variable(v) for k, v in _random_outputs(2).items()}
    empty = {
        "classes": np.full((2, 5), -1, np.int32),
        "boxes": np.zeros((2, 5, 4), np.float32),
        "masks": np.zeros((2, SIZE // 4, SIZE // 4), np.int32),
    }
    with tf.GradientTape() as tape:
        terms = YoloSegLoss(NC, SIZE)(empty, outputs)
    assert float(terms["box"]) == float(terms["seg"]) == float(terms["dfl"]) == 0.0
    assert float(terms["cls"]) > 0 and np.isfinite(float(terms["total"]))
    grads = tape.gradient(terms["total"], list(outputs.values()))
    assert all(g is None or np.isfinite(np.asarray(g)).all() for g in grads)


def test_all_terms_positive_finite_and_gradients_finite_with_objects():
    outputs = {k: tf.Variable(v) for k, v in _random_outputs(3).items()}
    with tf.GradientTape() as tape:
        terms = YoloSegLoss(NC, SIZE)(_labels(3), outputs)
    assert all(float(terms[k]) > 0 for k in ("box", "seg", "cls", "dfl"))
    expected = 7.5 * terms["box"] + 7.5 * terms["seg"] + 0.5 * terms["cls"] + 1.5 * terms["dfl"]
    np.testing.assert_allclose(terms["total"], expected, rtol=1e-6)
    for grad in tape.gradient(terms["total"], list(outputs.values())):
        assert np.isfinite(np.asarray(grad)).all() and np.abs(np.asarray(grad)).sum() > 0


def test_trimming_padding_and_capping_mask_anchors_do_not_change_the_loss():
    labels, outputs = _labels(3, seed=2), _random_outputs(3, seed=2)
    padded = {
        "classes": np.pad(labels["classes"], ((0, 0), (0, 20)), constant_values=-1),
        "boxes": np.pad(labels["boxes"], ((0, 0), (0, 20), (0, 0))),
        "masks": labels["masks"],
    }
    base = YoloSegLoss(NC, SIZE)(labels, outputs)
    untrimmed = YoloSegLoss(NC, SIZE, trim_padding=False)(padded, outputs)
    capped = YoloSegLoss(NC, SIZE, max_mask_anchors=30)(padded, outputs)  # >= 10 per GT x 3
    for key in base:
        np.testing.assert_allclose(untrimmed[key], base[key], rtol=1e-5)
        np.testing.assert_allclose(capped[key], base[key], rtol=1e-5)


def test_replica_sum_equals_the_single_device_loss_of_the_global_batch(two_cpu_strategy):
    labels, outputs = _labels(4, seed=5), _random_outputs(4, seed=5)
    single = YoloSegLoss(NC, SIZE)(labels, outputs)
    loss = YoloSegLoss(NC, SIZE)

    def shard(ctx):
        part = slice(2 * ctx.replica_id_in_sync_group, 2 * ctx.replica_id_in_sync_group + 2)
        return (
            {k: tf.constant(v[part]) for k, v in labels.items()},
            {k: v[part] for k, v in outputs.items()},
        )

    per_replica = two_cpu_strategy.experimental_distribute_values_from_function(shard)
    terms = two_cpu_strategy.run(tf.function(lambda x: loss(*x)), args=(per_replica,))
    for key, value in single.items():
        total = two_cpu_strategy.reduce(tf.distribute.ReduceOp.SUM, terms[key], axis=None)
        np.testing.assert_allclose(total, value, rtol=1e-5)


def test_mask_resolution_mismatch_is_a_user_error():
    labels = _labels(1)
    labels["masks"] = np.zeros((1, SIZE // 2, SIZE // 2), np.int32)
    with pytest.raises(UserInputError, match="masks"):
        YoloSegLoss(NC, SIZE)(labels, _random_outputs(1))


def test_loss_compiles_with_xla_when_padding_is_kept():
    labels, outputs = _labels(2, seed=4), _random_outputs(2, seed=4)
    eager = YoloSegLoss(NC, SIZE)(labels, outputs)
    compiled = tf.function(YoloSegLoss(NC, SIZE, trim_padding=False).__call__, jit_compile=True)
    xla = compiled({k: tf.constant(v) for k, v in labels.items()}, outputs)
    for key, value in eager.items():
        np.testing.assert_allclose(xla[key], value, rtol=1e-4)
