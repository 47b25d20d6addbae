"""Epochs that share one pipeline: the loop builds it once and trains as with one per epoch.

`Task.epochs_share_pipeline` lets the loop build one `Dataset.range(epochs).flat_map(...)` for
the run instead of a pipeline per epoch (each new pipeline instantiates every tf.data function
anew). The promise is the same batches in the same order, so the same weights bit for bit; and
the Tasks that say yes must give, with the epoch as a tensor, what they give with a Python int.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from tiny_task import TinyRegressionTask

from poison_tf.components.headpose.head_pose_example_gen import write_headpose_examples
from poison_tf.data import image_examples
from poison_tf.data.synthetic_faces import render_faces
from poison_tf.data.synthetic_heads import render_heads
from poison_tf.poison import label_rules, selection, triggers
from poison_tf.poison.benchmark_attacks import attack_plan
from poison_tf.poison.plan import PoisonPlan
from poison_tf.tasks.face_classification import FaceClassificationTask
from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask
from poison_tf.tasks.image_classification import ImageClassificationTask
from poison_tf.train.loop import TrainerConfig, fit


def _weights_and_builds(tmp_path, share: bool, epochs: int = 3, seed: int = 17) -> tuple:
    task = TinyRegressionTask(num_examples=250, share_pipeline=share)  # batch 16: a short last
    builds = []
    build = task.build_inputs
    task.build_inputs = lambda split, epoch=0: builds.append(split) or build(split, epoch)
    config = TrainerConfig(
        model_dir=str(tmp_path / f"share_{share}"),
        epochs=epochs,
        progress=False,
        deterministic=True,
        validate=False,
        seed=seed,
    )
    return fit(task, config).get_weights(), builds.count("train")


def test_shared_pipeline_is_built_once_and_trains_bit_identically(tmp_path):
    shared, shared_builds = _weights_and_builds(tmp_path, share=True)
    separate, separate_builds = _weights_and_builds(tmp_path, share=False)
    assert (shared_builds, separate_builds) == (1, 3)
    for a, b in zip(shared, separate, strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_a_run_with_global_seed_zero_builds_a_pipeline_per_epoch(tmp_path):
    # TF's get_seed cannot take a tensor shuffle seed when the global seed is 0
    weights, builds = _weights_and_builds(tmp_path, share=True, seed=0)
    assert builds == 3 and len(weights) == 4


def test_shared_pipeline_resumes_at_the_restored_epoch(tmp_path):
    task = TinyRegressionTask(num_examples=250)
    config = dict(progress=False, deterministic=True, validate=False)
    fit(task, TrainerConfig(model_dir=str(tmp_path / "a"), epochs=2, **config))
    resumed = fit(task, TrainerConfig(model_dir=str(tmp_path / "a"), epochs=4, **config))
    straight = fit(task, TrainerConfig(model_dir=str(tmp_path / "b"), epochs=4, **config))
    for a, b in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def _one_pipeline(task, first: int, last: int):
    return tf.data.Dataset.range(first, last).flat_map(lambda e: task.build_inputs("train", e))


def _per_epoch(task, first: int, last: int):
    for epoch in range(first, last):
        yield from task.build_inputs("train", epoch)


def _assert_same(shared, separate) -> int:
    count = 0
    for (x, y), (x0, y0) in zip(shared, separate, strict=True):
        np.testing.assert_array_equal(x.numpy(), x0.numpy())
        np.testing.assert_array_equal(y.numpy(), y0.numpy())
        count += 1
    return count


def _faces(folder: str) -> str:
    os.makedirs(folder)
    images, labels = render_faces(4, 12, seed=3)
    splits = {
        "train": image_examples.write_split(folder, "train", images, labels, 2),
        "test": image_examples.write_split(folder, "test", images[:8], labels[:8], 1),
    }
    label = {"kind": "class", "dim": 1, "num_classes": 4, "names": list("abcd")}
    image_examples.write_schema(folder, splits, images.shape[1:3], label, "test")
    return folder


def _heads(folder: str) -> str:
    os.makedirs(folder)
    write_headpose_examples(folder, render_heads(40, 32, 1), render_heads(8, 32, 2), "test", 2)
    return folder


def _tasks(tmp_path) -> dict:
    faces, heads = _faces(str(tmp_path / "faces")), _heads(str(tmp_path / "heads"))
    face_plan = PoisonPlan(
        triggers.checkerboard(5, 3),
        label_rules.all_to_one(0),
        selection.select_examples(48, 0.25, seed=5),
        48,
        0.25,
        5,
    )
    head_plan = PoisonPlan(
        triggers.checkerboard(6, 4),
        label_rules.regression_target((90, 0, 0)),
        selection.select_examples(40, 0.2, seed=17),
        40,
        0.2,
        17,
    )
    return {
        "faces, poisoned": FaceClassificationTask(faces, plan=face_plan, global_batch_size=10),
        "heads, poisoned": HeadPoseRegressionTask(heads, plan=head_plan, global_batch_size=16),
        "image classification, flips": ImageClassificationTask(
            faces, global_batch_size=10, flip=True
        ),
    }


@pytest.mark.parametrize(
    "name", ["faces, poisoned", "heads, poisoned", "image classification, flips"]
)
def test_tasks_that_share_give_the_same_batches_with_a_tensor_epoch(tmp_path, name):
    tf.random.set_seed(17)  # as `fit(deterministic=True)` sets it: the shuffle seeds then pair
    task = _tasks(tmp_path)[name]
    assert task.epochs_share_pipeline()
    batches = _assert_same(_one_pipeline(task, 1, 4), _per_epoch(task, 1, 4))
    assert batches == 3 * -(-task.num_examples("train") // task.global_batch_size)


def test_a_wanet_plan_keeps_its_per_epoch_pipelines(tmp_path):
    folder = _faces(str(tmp_path / "faces"))
    _, labels = render_faces(4, 12, seed=3)
    plan = attack_plan("wanet", labels, 0.1, target=0, image_size=32)
    assert not FaceClassificationTask(folder, plan=plan).epochs_share_pipeline()
    assert FaceClassificationTask(folder, plan=None).epochs_share_pipeline()
