"""The Model-Garden-style Task: everything a study defines about training one model.

A Task is a single-replica view of training: the loop (`poison_tf.train.loop`) owns strategy,
checkpoints, summaries and progress, and calls the Task's methods inside `strategy.run`. So the
same Task trains on one CPU, several GPUs, several machines or a TPU.

Conventions:
- `build_inputs(split, epoch)` returns a dataset batched with the GLOBAL batch size that yields
  `(features, labels)`; its order depends only on (seed, epoch), so a resumed run can skip the
  batches it already saw.
- `train_step` returns logs whose SUM over replicas is the global value
  (`global_batch_mean` has that property, also for a last batch split unevenly).
- `validation_step` returns per-example values [B]; the loop averages them over the split,
  unless `validation_metrics(model)` returns a dict (whole-split metrics such as mAP).
- Opt-in: `ema_decay` > 0 makes the loop keep an EMA of the weights (Ultralytics: 0.9999),
  used for validation and for the returned model; `poison_tf.train.schedules.WarmupDecay` gives
  `build_optimizer` a warm-up then cosine/linear decay.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def as_float32(outputs):
    """Casts floating model outputs to float32 (mixed-precision models compute in 16 bits)."""
    return tf.nest.map_structure(
        lambda t: tf.cast(t, tf.float32) if t.dtype.is_floating else t, outputs
    )


def global_batch_mean(per_example: tf.Tensor) -> tf.Tensor:
    """This replica's share of the mean over the GLOBAL batch: sum here / examples everywhere.

    The SUM over replicas is the global-batch mean however the batch was split.
    `tf.nn.compute_average_loss` without `global_batch_size` divides by this replica's size times
    the replica count instead, which mis-weights a last batch split unevenly (5 examples on 2
    replicas as 3 + 2 gives sum0/6 + sum1/4, not (sum0 + sum1)/5), so results would depend on
    the replica count. With one replica the two are the same ops.
    """
    total = tf.reduce_sum(per_example)
    count = tf.cast(tf.shape(per_example)[0], per_example.dtype)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return tf.math.divide_no_nan(total, count)


class Task:
    """Subclasses implement `build_model`, `build_inputs` and `build_losses`."""

    ema_decay: float = 0.0  # 0: no weight EMA (the default for every study but the segmenter)
    ema_tau: float = 2000.0

    def __init__(self, learning_rate: float = 1e-3, seed: int = 17):
        self.learning_rate = learning_rate
        self.seed = seed

    def build_model(self) -> keras.Model:
        raise NotImplementedError

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        raise NotImplementedError

    def epochs_share_pipeline(self) -> bool:
        """Whether `build_inputs("train", epoch)` also takes `epoch` as an int64 scalar tensor.

        If it does, the loop builds one training pipeline for the rest of the run
        (`Dataset.range(epochs).flat_map(...)`, the same batches in the same order) instead of
        one per epoch: tf.data instantiates every function of a new pipeline anew, about 0.1 s of
        CPU per pipeline for the head-pose Task and more with a poison plan (BENCHMARKS §1). A
        Task may say yes when the epoch only reaches its pipeline as a tensor (a shuffle seed, a
        stateless random seed); not when Python decides something per epoch (the segmenter's
        mosaic schedule) or the pipeline keeps state from one epoch to the next (WaNet's kept
        rows, `poison_tf.poison.kept_rows`).
        """
        return False

    def build_losses(self, labels, outputs) -> tf.Tensor:
        """The per-example training loss, shape [B]."""
        raise NotImplementedError

    def build_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adam(self.learning_rate)

    def num_examples(self, split: str) -> int | None:
        """Examples in a split when known, so the progress bar can show an ETA."""
        return None

    def train_step(self, inputs, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> dict:
        features, labels = inputs
        with tf.GradientTape() as tape:
            outputs = as_float32(model(features, training=True))
            per_example = tf.cast(self.build_losses(labels, outputs), tf.float32)
            loss = global_batch_mean(per_example)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    def validation_metrics(self, model: keras.Model) -> dict | None:
        """Whole-split validation metrics, or None to average `validation_step` over the split."""
        return None

    def validation_step(self, inputs, model: keras.Model) -> dict:
        features, labels = inputs
        outputs = as_float32(model(features, training=False))
        return {"loss": tf.cast(self.build_losses(labels, outputs), tf.float32)}
