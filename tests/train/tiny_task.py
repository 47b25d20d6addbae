"""A tiny regression Task (and a worker program) for the training-loop tests.

Run as a program it trains the task and saves the final weights as .npz, which is how the
multi-worker and kill-and-resume tests compare runs.
"""

from __future__ import annotations

import sys

import keras
import numpy as np
import tensorflow as tf

from poison_tf.train.task import Task


class TinyRegressionTask(Task):
    """y = x · w + noise, learned by a 2-layer MLP; order depends only on (seed, epoch)."""

    def __init__(self, num_examples: int = 256, global_batch_size: int = 16, seed: int = 17):
        super().__init__(learning_rate=1e-2, seed=seed)
        self.global_batch_size = global_batch_size
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(num_examples, 4)).astype(np.float32)
        self.y = (self.x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)).astype(np.float32)

    def build_model(self) -> keras.Model:
        return keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
        )

    def num_examples(self, split: str) -> int:
        return len(self.x)

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((self.x, self.y))
        if split == "train":
            ds = ds.shuffle(len(self.x), seed=self.seed + epoch, reshuffle_each_iteration=False)
        return ds.batch(self.global_batch_size)

    def build_losses(self, labels, outputs):
        return tf.reduce_mean(tf.abs(labels - outputs), axis=-1)


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


if __name__ == "__main__":
    main(sys.argv)
