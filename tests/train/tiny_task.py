"""A tiny regression Task (and a worker program) for the training-loop tests.

Run as a program it trains the task and saves the final weights as .npz, plus a .json beside
it with what the process did: the replica count its strategy reported, the global step it
started from, and which examples each replica trained on at each step (`record_steps`). The
multi-worker and kill-and-resume tests judge runs by those, not by the weights alone.
"""

from __future__ import annotations

import json
import sys

import keras
import numpy as np
import tensorflow as tf

from poison_tf.train.task import Task


class TinyRegressionTask(Task):
    """y = x · w + noise, learned by a 2-layer MLP; order depends only on (seed, epoch).

    `shard=(index, count)` trains on slice `index` of `count` of every global batch only, with
    no other replica: what one worker of a data-parallel job would learn if its gradients were
    never all-reduced (the tests' "worker alone" reference). Its epochs share one pipeline
    unless `share_pipeline=False` (`Task.epochs_share_pipeline`), so the loop, resume and
    multi-worker tests run the loop's shared path.
    """

    def __init__(
        self,
        num_examples: int = 256,
        global_batch_size: int = 16,
        seed: int = 17,
        shard: tuple[int, int] | None = None,
        share_pipeline: bool = True,
    ):
        super().__init__(learning_rate=1e-2, seed=seed)
        self.share_pipeline = share_pipeline
        self.global_batch_size = global_batch_size
        self.shard = shard
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(num_examples, 4)).astype(np.float32)
        self.y = (self.x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)).astype(np.float32)

    def build_model(self) -> keras.Model:
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
        )

    def num_examples(self, split: str) -> int:
        return len(self.x)

    def epochs_share_pipeline(self) -> bool:
        return self.share_pipeline

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((self.x, self.y))
        if split == "train":
            ds = ds.shuffle(len(self.x), seed=self.seed + epoch, reshuffle_each_iteration=False)
        ds = ds.batch(self.global_batch_size)
        if self.shard is not None:
            index, count = self.shard
            size = self.global_batch_size // count
            start, stop = index * size, (index + 1) * size
            ds = ds.map(lambda x, y: (x[start:stop], y[start:stop]))
        return ds

    def build_losses(self, labels, outputs):
        return tf.reduce_mean(tf.abs(labels - outputs), axis=-1)

    def example_ids(self, features: np.ndarray) -> list[int]:
        """Row numbers of `features` in `self.x` (column 0 is unique in this data)."""
        lookup = {float(v): i for i, v in enumerate(self.x[:, 0])}
        return [lookup[float(v)] for v in np.asarray(features).reshape(-1)]


def record_steps(task: Task) -> list[dict]:
    """Wraps `task.train_step` so every replica step appends {replica, iterations, ids}.

    `iterations` is the optimizer's step counter before the step (so the first record of a
    resumed run names the step it resumed from); `ids` are the examples that replica trained on.
    """
    records: list[dict] = []
    original = task.train_step

    def log(replica, iterations, first_column):
        ids = task.example_ids(first_column.numpy())
        records.append({"replica": int(replica), "iterations": int(iterations), "ids": ids})

    def recording_step(inputs, model, optimizer):
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        tf.py_function(log, [replica, optimizer.iterations, inputs[0][:, 0]], [])
        return original(inputs, model, optimizer)

    task.train_step = recording_step
    return records


def main(argv: list[str]) -> None:
    """argv: strategy model_dir out_npz epochs [checkpoint_every_steps] [sleep_per_step_s]."""
    strategy_name, model_dir, out_path, epochs = argv[1], argv[2], argv[3], int(argv[4])
    every = int(argv[5]) if len(argv) > 5 else 0
    from poison_tf.train.strategy import resolve_strategy

    strategy = resolve_strategy(strategy_name)  # first TF call (multi-worker needs that)
    from poison_tf.train.loop import TrainerConfig, fit

    task = TinyRegressionTask()
    if len(argv) > 6:
        delay = float(argv[6])
        original = task.train_step

        def slow_step(inputs, model, optimizer):
            tf.py_function(lambda: __import__("time").sleep(delay), [], [])
            return original(inputs, model, optimizer)

        task.train_step = slow_step
    records = record_steps(task)
    model = fit(
        task,
        TrainerConfig(
            model_dir=model_dir,
            epochs=epochs,
            strategy=strategy_name,
            checkpoint_every_steps=every,
            deterministic=True,
            progress=False,
            validate=False,
        ),
        strategy=strategy,
    )
    np.savez(out_path, *[w for w in model.get_weights()])
    with open(out_path[: -len(".npz")] + ".json", "w") as handle:
        json.dump({"replicas": strategy.num_replicas_in_sync, "steps": records}, handle)


if __name__ == "__main__":
    main(sys.argv)
