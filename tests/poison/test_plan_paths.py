"""The optimised poison path gives bit-identical examples to the path the studies were run with.

`reference_map_fn` is the previous Task path verbatim in behaviour (hash-table membership, the
trigger's layers padded at run time, a separate map after `batch`); the Tasks now poison inside
their (image, label) map through `poison_tf.poison.plan.pairs`. Ids, pixels and labels must not
move by one bit: RESULTS.md's numbers and tests/poison depend on them.
"""

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.components.headpose.head_pose_example_gen import write_headpose_examples
from poison_tf.data import image_examples
from poison_tf.data.synthetic_faces import render_faces
from poison_tf.data.synthetic_heads import render_heads
from poison_tf.poison import label_rules, selection, triggers
from poison_tf.poison.face_triggers import face_trigger
from poison_tf.poison.plan import PoisonPlan, pairs
from poison_tf.poison.reference_map import reference_map_fn
from poison_tf.tasks.face_classification import FaceClassificationTask
from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask


def old_inputs(task, epoch: int):
    dataset = image_examples.image_examples_dataset(
        task.examples_dir, "train", shuffle_seed=task.seed + epoch
    ).batch(task.global_batch_size)
    dataset = dataset.map(reference_map_fn(task.plan))
    return dataset.map(lambda e: (e["image"], e["label"]))


def assert_same_batches(new, old):
    count = 0
    for (x_new, y_new), (x_old, y_old) in zip(new, old, strict=True):
        assert x_new.dtype == x_old.dtype and y_new.dtype == y_old.dtype
        np.testing.assert_array_equal(x_new.numpy().view(np.uint32), x_old.numpy().view(np.uint32))
        np.testing.assert_array_equal(y_new.numpy(), y_old.numpy())
        count += int(x_new.shape[0])
    return count


TRIGGERS = {
    "checkerboard": lambda: triggers.checkerboard(5, 3),
    "point": lambda: triggers.point(2, (0.2, 0.9, 0.4), corner="top_left"),
    "random": lambda: triggers.random_pattern(4, seed=3, corner="center"),
    "blend": lambda: triggers.blend(0.13, seed=5, size=8),
    "lipstick (fractional alpha)": lambda: face_trigger("lipstick"),
}


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_faces_task_inputs_bit_identical_to_old_path(tmp_path, name):
    images, labels = render_faces(4, 12, seed=3)
    splits = {"train": image_examples.write_split(str(tmp_path), "train", images, labels, 2)}
    label = {"kind": "class", "dim": 1, "num_classes": 4, "names": list("abcd")}
    image_examples.write_schema(str(tmp_path), splits, images.shape[1:3], label, "test")
    ids = selection.select_examples(48, 0.25, seed=5)
    plan = PoisonPlan(TRIGGERS[name](), label_rules.all_to_one(0), ids, 48, 0.25, 5)
    task = FaceClassificationTask(str(tmp_path), plan=plan, global_batch_size=10)
    for epoch in (0, 1):  # the second epoch reuses the plan's traced function
        assert assert_same_batches(task.build_inputs("train", epoch), old_inputs(task, epoch)) == 48
    poisoned = FaceClassificationTask(str(tmp_path), plan=plan, global_batch_size=48)
    clean = FaceClassificationTask(str(tmp_path), plan=None, global_batch_size=48)
    (x, y), (x0, y0) = (
        next(iter(poisoned.build_inputs("train"))),
        next(iter(clean.build_inputs("train"))),
    )
    changed = np.flatnonzero((x.numpy() != x0.numpy()).any(axis=(1, 2, 3)) | (y != y0).numpy())
    assert len(changed) == len(ids)  # the comparison above is not vacuous


def test_headpose_task_inputs_bit_identical_to_old_path(tmp_path):
    write_headpose_examples(
        str(tmp_path), render_heads(40, 32, 1), render_heads(8, 32, 2), "test", 2
    )
    ids = selection.select_examples(40, 0.2, seed=17)
    plan = PoisonPlan(
        triggers.checkerboard(6, 4), label_rules.regression_target((90, 0, 0)), ids, 40, 0.2, 17
    )
    task = HeadPoseRegressionTask(str(tmp_path), plan=plan, global_batch_size=16)
    assert assert_same_batches(task.build_inputs("train", 3), old_inputs(task, 3)) == 40
    labels = np.concatenate([y.numpy() for _, y in task.build_inputs("train", 3)])
    assert int((labels == [90, 0, 0]).all(axis=1).sum()) == len(ids)


def test_batch_fn_on_raw_batches_matches_old_map_and_ignores_unknown_ids():
    n = 12
    batch = {
        "image": tf.random.stateless_uniform((n, 9, 9, 3), seed=(1, 2)),
        "label": tf.constant(np.arange(n) % 3, tf.int64),
        "id": tf.constant([0, 3, 5, 7, 11, -1, 40, 2, 8, 9, 1, 6], tf.int64),
    }
    plan = PoisonPlan(
        triggers.random_pattern(3, seed=1),
        label_rules.all_to_all(3),
        np.array([3, 7, 8, 40]),
        12,
        0.3,
        0,
    )
    new = pairs(plan)(batch)
    old = reference_map_fn(plan)(batch)
    np.testing.assert_array_equal(
        new[0].numpy().view(np.uint32), old["image"].numpy().view(np.uint32)
    )
    np.testing.assert_array_equal(new[1].numpy(), old["label"].numpy())
    assert plan.is_poisoned(batch["id"]).numpy().tolist() == [
        False, True, False, True, False, False, True, False, True, False, False, False
    ]  # fmt: skip


def test_ids_outside_the_plan_are_clean_even_beside_poisoned_edges():
    """Ids below 0 or past the mask are clipped to its ends for the gather: with ids 0 and 40
    (the mask's last) planned, a wrong clip would poison -1 and 41 too."""
    plan = PoisonPlan(
        triggers.random_pattern(3, seed=1),
        label_rules.all_to_all(3),
        np.array([0, 40]),
        12,
        0.3,
        0,
        noise_ids=np.array([39]),
    )
    ids = tf.constant([-1, -7, 0, 40, 41, 100, 39, 5], tf.int64)
    assert plan.is_poisoned(ids).numpy().tolist() == [
        False, False, True, True, False, False, False, False
    ]  # fmt: skip
    assert plan.roles(ids).numpy().tolist() == [0, 0, 1, 1, 0, 0, 2, 0]
