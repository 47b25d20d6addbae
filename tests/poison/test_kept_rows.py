"""WaNet rows kept after the first epoch: the Tasks' batches stay bit-identical to warping."""

import numpy as np
import pytest
import tensorflow as tf

from poison_tf.data import image_examples
from poison_tf.data.synthetic_classes import synthetic_classes
from poison_tf.poison import kept_rows as kept_module
from poison_tf.poison.benchmark_attacks import attack_plan
from poison_tf.poison.kept_rows import kept_rows
from poison_tf.poison.plan import pairs
from poison_tf.tasks.face_classification import FaceClassificationTask
from poison_tf.train import loop

SIZE = 16


def _examples(folder: str, count: int = 90) -> np.ndarray:
    images, labels = synthetic_classes(count, SIZE, 3, seed=0)
    splits = {"train": image_examples.write_split(folder, "train", images, labels, 2)}
    label = {"kind": "class", "dim": 1, "num_classes": 3, "names": list("abc")}
    image_examples.write_schema(folder, splits, (SIZE, SIZE), label, "test")
    return labels


def _warped_every_epoch(task, epoch: int):
    """The Task's pipeline without kept rows: the plan warps every batch."""
    dataset = image_examples.image_examples_dataset(
        task.examples_dir, "train", shuffle_seed=task.seed + epoch
    ).batch(task.global_batch_size)
    return dataset.map(pairs(task.plan))


def _same(new, old) -> int:
    count = 0
    for (x_new, y_new), (x_old, y_old) in zip(new, old, strict=True):
        np.testing.assert_array_equal(x_new.numpy().view(np.uint32), x_old.numpy().view(np.uint32))
        np.testing.assert_array_equal(y_new.numpy(), y_old.numpy())
        count += int(x_new.shape[0])
    return count


def test_task_keeps_wanet_rows_after_the_first_epoch_bit_for_bit(tmp_path):
    labels = _examples(str(tmp_path))
    plan = attack_plan("wanet", labels, 0.1, image_size=SIZE)
    task = FaceClassificationTask(str(tmp_path), plan=plan, global_batch_size=16)
    assert _same(task.build_inputs("train", 0), _warped_every_epoch(task, 0)) == 90
    assert task.kept is not None and task.kept.complete()  # 9 poisoned + 18 noise-mode rows
    assert int(tf.reduce_sum(tf.cast(task.kept.filled, tf.int32))) == 27
    for epoch in (1, 2):  # later epochs look the rows up, other shuffles
        assert _same(task.build_inputs("train", epoch), _warped_every_epoch(task, epoch)) == 90
    assert any(key[-1] is True for key in task.kept.functions)
    poisoned = FaceClassificationTask(str(tmp_path), plan=plan, global_batch_size=90)
    clean = FaceClassificationTask(str(tmp_path), plan=None, global_batch_size=90)
    for epoch in (0, 1):  # warped, then looked up
        (x, y), (x0, y0) = (next(iter(t.build_inputs("train", epoch))) for t in (poisoned, clean))
        assert (x.numpy() != x0.numpy()).any(axis=(1, 2, 3)).sum() == 27  # not vacuous
        assert (y.numpy() != y0.numpy()).sum() > 0


def test_a_partial_first_epoch_keeps_warping_until_every_row_is_kept(tmp_path):
    labels = _examples(str(tmp_path))
    plan = attack_plan("wanet", labels, 0.1, image_size=SIZE)
    task = FaceClassificationTask(str(tmp_path), plan=plan, global_batch_size=16)
    next(iter(task.build_inputs("train", 0)))  # one batch of six
    kept = int(tf.reduce_sum(tf.cast(task.kept.filled, tf.int32)))
    assert 0 < kept < 27 and not task.kept.complete()
    assert _same(task.build_inputs("train", 1), _warped_every_epoch(task, 1)) == 90
    assert task.kept.complete()
    assert _same(task.build_inputs("train", 2), _warped_every_epoch(task, 2)) == 90


def test_kept_rows_under_mirrored_on_two_logical_cpus(tmp_path, two_cpu_strategy):
    labels = _examples(str(tmp_path))
    plan = attack_plan("wanet", labels, 0.1, image_size=SIZE)
    task = FaceClassificationTask(str(tmp_path), plan=plan, global_batch_size=16)
    for epoch in (0, 1):
        rows = 0
        for x, _ in loop._distribute(two_cpu_strategy, task.build_inputs("train", epoch)):
            rows += sum(int(t.shape[0]) for t in two_cpu_strategy.experimental_local_results(x))
        assert rows == 90 and task.kept.complete()


def test_rows_are_kept_only_for_warps_that_fit(monkeypatch, two_cpu_strategy):
    labels = np.arange(100) % 2
    wanet = attack_plan("wanet", labels, 0.1, image_size=SIZE)
    assert kept_rows(wanet, [SIZE, SIZE, 3]).count == 30
    assert kept_rows(wanet, tf.TensorShape([SIZE, SIZE, None])) is None
    for attack in ("badnet", "blended", "sig"):
        assert kept_rows(attack_plan(attack, labels, 0.1, image_size=SIZE), [SIZE, SIZE, 3]) is None
    with two_cpu_strategy.scope():  # its variables would be distributed ones
        assert kept_rows(wanet, [SIZE, SIZE, 3]) is None
    monkeypatch.setattr(kept_module, "KEEP_LIMIT_BYTES", 30 * SIZE * SIZE * 3 * 4 - 1)
    assert kept_rows(wanet, [SIZE, SIZE, 3]) is None


@pytest.mark.parametrize("batch", [7, 100])
def test_kept_rows_stamp_what_warping_stamps(batch):
    labels = np.arange(100) % 2
    plan = attack_plan("wanet", labels, 0.1, image_size=SIZE)
    images = np.random.default_rng(1).random((100, SIZE, SIZE, 3)).astype(np.float32)
    order = np.random.default_rng(2).permutation(100)

    def run(kept):
        data = {"image": images[order], "label": labels[order], "id": order}
        dataset = tf.data.Dataset.from_tensor_slices(data).batch(batch)
        return np.concatenate(
            [x for x, _ in dataset.map(pairs(plan, kept=kept)).as_numpy_iterator()]
        )

    kept = kept_rows(plan, [SIZE, SIZE, 3])
    warped = run(None)
    np.testing.assert_array_equal(run(kept).view(np.uint32), warped.view(np.uint32))  # fills
    assert kept.complete()
    np.testing.assert_array_equal(run(kept).view(np.uint32), warped.view(np.uint32))  # looks up


def test_slots_of_planned_ids_and_minus_one_for_every_other_id():
    labels = np.arange(40) % 4
    plan = attack_plan("wanet", labels, 0.1, target=0, image_size=SIZE)
    kept = kept_rows(plan, [SIZE, SIZE, 3])
    planned = np.concatenate([plan.poisoned_ids, plan.noise_ids])
    np.testing.assert_array_equal(
        kept.slots_of(tf.constant(planned, tf.int64)), np.arange(len(planned))
    )
    size = len(plan.role_mask())
    other = [i for i in range(size) if i not in set(planned.tolist())][:3]
    outside = [-5, -1, size, size + 7]
    assert kept.slots_of(tf.constant(other + outside, tf.int64)).numpy().tolist() == [-1] * 7
