"""One training pipeline for a whole run, for Tasks whose epochs can share it.

tf.data instantiates every function of a new pipeline anew (about 0.1 s of CPU for the head-pose
Task, more with a poison plan: BENCHMARKS §1), so the loop (`poison_tf.train.loop`) builds one
pipeline for the rest of a run where the Task allows it (`Task.epochs_share_pipeline`) and reads
each epoch's batches from one iterator, instead of building a pipeline per epoch. The batches
and their order are the same either way.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from poison_tf.train.task import Task


def shared_train_pipeline(
    task: Task, first_epoch: int, end_epoch: int, skip: int = 0
) -> tf.data.Dataset:
    """One training pipeline for epochs [`first_epoch`, `end_epoch`) of a Task whose epochs
    share one (`Task.epochs_share_pipeline`).

    Args:
        task: the Task; its `build_inputs("train", epoch)` gets `epoch` as an int64 tensor.
        first_epoch: the first epoch (the restored one after a resume).
        end_epoch: one past the last epoch.
        skip: batches of the first epoch already trained on (a resume mid-epoch).

    Returns:
        Each epoch's batches in turn, as `build_inputs` gives them, less the first `skip`.
    """

    def epoch_batches(epoch):
        skipped = tf.where(tf.equal(epoch, first_epoch), tf.constant(skip, tf.int64), 0)
        return task.build_inputs("train", epoch).skip(skipped)

    dataset = tf.data.Dataset.range(first_epoch, end_epoch).flat_map(epoch_batches)
    return dataset.prefetch(tf.data.AUTOTUNE)


def tensor_shuffle_seeds_work() -> bool:
    """Whether tf.data takes a tensor op seed (a shared pipeline's per-epoch shuffle seed) now.

    TF's `get_seed` compares the (global, op) seed pair with (0, 0) in Python, which fails on a
    tensor op seed when the global seed is 0 (a run with `seed=0`); such runs build a pipeline
    per epoch instead, with the same batches.

    Returns:
        False when the global seed is 0.
    """
    return tf.compat.v1.random.get_seed(1)[0] != 0


@dataclasses.dataclass
class SharedPipeline:
    """The one training pipeline of a run whose epochs share it, and where its iterator is.

    Args:
        next_epoch: the epoch the iterator's next batch belongs to.
        distributed: the distributed dataset (the loop traces its step for its element spec).
        iterator: the iterator over it that every epoch reads on from.
    """

    next_epoch: int
    distributed: tf.distribute.DistributedDataset
    iterator: object
