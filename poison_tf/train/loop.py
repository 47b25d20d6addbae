"""One strategy-agnostic custom training loop for every Task.

Keras 3 `fit` does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585), so every
study trains through this loop: `strategy.run` over a distributed dataset, summed replica logs,
`tf.train.CheckpointManager` with exact resume, TensorBoard scalars and a progress bar with ETA.

Exact resume: the checkpoint holds the model, the optimizer, the epoch and the step inside the
epoch. A Task's input order depends only on (seed, epoch), so a resumed run rebuilds the epoch's
dataset, skips the batches it already trained on, and ends with the weights an uninterrupted
run would have (bit-exact on CPU with `deterministic=True`).

Opt-in per Task (off by default, so other studies train exactly as before): a weight EMA
(`Task.ema_decay` > 0, `poison_tf.train.ema`), updated after every step, saved in the checkpoint,
used for validation and put into the returned model; and a whole-split validation hook
(`Task.validation_metrics`) for metrics that are not per-example means (mAP).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import os
import shutil
import time
from collections.abc import Callable

import keras
import tensorflow as tf
from absl import logging

from poison_tf.io.atomic import read_json, write_json
from poison_tf.train.determinism import enable_determinism
from poison_tf.train.ema import ModelEMA
from poison_tf.train.shared_pipeline import (
    SharedPipeline,
    shared_train_pipeline,
    tensor_shuffle_seeds_work,
)
from poison_tf.train.strategy import is_chief, resolve_strategy, worker_dir
from poison_tf.train.sync_batch_norm import synchronized_batch_norm
from poison_tf.train.task import Task


@dataclasses.dataclass
class TrainerConfig:
    """How to train; what to train is the Task's business."""

    model_dir: str
    epochs: int = 1
    strategy: str = "default"
    mixed_precision: bool = False
    jit_compile: bool = False
    seed: int = 17
    checkpoint_every_steps: int = 0  # 0: at the end of every epoch only
    max_checkpoints: int = 2
    log_every_steps: int = 10
    tensorboard_dir: str | None = None  # default: <model_dir>/tensorboard
    validate: bool = True
    deterministic: bool = False
    progress: bool = True
    # run on the chief after each checkpoint, once the logs that go with it are written: a
    # runner's ExecutorContext.work_saved (copies the model_dir to a URI root); None: nothing
    on_checkpoint: Callable[[], None] | None = None


def _mixed_policy() -> str:
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


def _distribute(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


class _Loop:
    """The state of one `fit` call: strategy, model, optimizer, checkpoint and writers."""

    def __init__(self, task: Task, config: TrainerConfig, strategy: tf.distribute.Strategy):
        self.task, self.config, self.strategy = task, config, strategy
        self.chief = is_chief()
        with strategy.scope():
            self.model = task.build_model()
            optimizer = task.build_optimizer()
            if (
                config.mixed_precision
                and keras.mixed_precision.global_policy().name == "mixed_float16"
            ):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(self.model.trainable_variables)
            self.optimizer = optimizer
            self.ema = (
                ModelEMA(self.model, task.ema_decay, task.ema_tau) if task.ema_decay else None
            )
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            **(self.ema.checkpoint_items() if self.ema else {}),
        )
        self.checkpoint_dir = worker_dir(os.path.join(config.model_dir, "checkpoints"))
        self.manager = tf.train.CheckpointManager(
            checkpoint, self.checkpoint_dir, config.max_checkpoints
        )
        if self.manager.latest_checkpoint:
            checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            logging.info(
                "resumed from %s (epoch %d, step %d)",
                self.manager.latest_checkpoint,
                int(self.epoch.numpy()),
                int(self.step_in_epoch.numpy()),
            )
        tb_root = config.tensorboard_dir or os.path.join(config.model_dir, "tensorboard")
        if self.chief:
            self.train_writer = tf.summary.create_file_writer(os.path.join(tb_root, "train"))
            self.val_writer = tf.summary.create_file_writer(os.path.join(tb_root, "validation"))
        else:
            self.train_writer = self.val_writer = tf.summary.create_noop_writer()
        self.train_fn = self._make_train_fn()
        self.val_fn = self._make_val_fn()
        self._shared: SharedPipeline | None = None

    @staticmethod
    def _compiled(step, dataset, short_last_batch: bool):
        """`step` as the tf.function that runs it on `dataset`'s batches, made once per loop.

        A function traced from the first batch is traced again for a short last batch (a second
        trace of the whole model, seconds on a CPU; the BadNets demo's 9 fine-tunes paid it 18
        times). When only the batch size varies and a short batch comes, the function gets one
        trace for the dataset's element spec (batch dimension None). Otherwise it keeps the
        trace of its first batch's shapes, because the graph optimiser specialises on static
        shapes and rounds differently (weights differ in the last bits): trainings with even
        batches, or with other varying dimensions, stay bit-identical to those before.
        """
        if isinstance(step, tf.types.experimental.GenericFunction):
            return step
        specs = tf.nest.flatten(dataset.element_spec, expand_composites=True)
        only_batch_varies = all(
            isinstance(spec, tf.TensorSpec)
            and spec.shape.rank
            and spec.shape[0] is None
            and spec.shape[1:].is_fully_defined()
            for spec in specs
        )
        if short_last_batch and only_batch_varies:
            return tf.function(step, input_signature=[dataset.element_spec])
        return tf.function(step, reduce_retracing=True)

    def _short_last_batch(self, split: str) -> bool:
        """Whether `split`'s last batch is short (True when its size is unknown)."""
        try:
            count = self.task.num_examples(split)
        except KeyError:  # "val" is another split's name in most Tasks
            count = None
        batch = getattr(self.task, "global_batch_size", 0)
        return not (count and batch and count % batch == 0)

    def _make_train_fn(self):
        task, model, optimizer, strategy, ema = (
            self.task,
            self.model,
            self.optimizer,
            self.strategy,
            self.ema,
        )

        def replica_step(batch):
            return task.train_step(batch, model, optimizer)

        if self.config.jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True, reduce_retracing=True)

        def train_fn(batch):
            logs = strategy.run(replica_step, args=(batch,))
            if ema is not None:
                ema.update()
            return {
                k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in logs.items()
            }

        return train_fn

    def _make_val_fn(self):
        task, model, strategy = self.task, self.model, self.strategy

        def replica_step(batch):
            values = task.validation_step(batch, model)
            sums = {k: tf.reduce_sum(v) for k, v in values.items()}
            sums["_count"] = tf.cast(tf.size(next(iter(values.values()))), tf.float32)
            return sums

        def val_fn(batch):
            sums = strategy.run(replica_step, args=(batch,))
            return {
                k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in sums.items()
            }

        return val_fn

    def steps_per_epoch(self) -> int | None:
        count = self.task.num_examples("train")
        batch = getattr(self.task, "global_batch_size", None)
        return math.ceil(count / batch) if count and batch else None

    def _train_batches(self, epoch: int, skip: int):
        """(The distributed training dataset, this epoch's batches in it from `skip` on).

        A Task whose epochs share a pipeline (`Task.epochs_share_pipeline`) gets one for the
        rest of the run at its first epoch (after a resume: at the restored epoch, `skip`
        batches into it), read `steps_per_epoch` batches an epoch; any other Task a new
        pipeline each epoch. Both give the same batches in the same order.
        """
        steps = self.steps_per_epoch()
        if not (steps and self.task.epochs_share_pipeline() and tensor_shuffle_seeds_work()):
            dataset = self.task.build_inputs("train", epoch)
            distributed = _distribute(self.strategy, dataset.skip(skip) if skip else dataset)
            return distributed, distributed
        shared = self._shared
        if shared is None or shared.next_epoch != epoch:
            dataset = shared_train_pipeline(self.task, epoch, self.config.epochs, skip)
            distributed = _distribute(self.strategy, dataset)
            shared = self._shared = SharedPipeline(epoch, distributed, iter(distributed))
        shared.next_epoch = epoch + 1
        return shared.distributed, itertools.islice(shared.iterator, steps - skip)

    def run_epoch(self, epoch: int) -> dict:
        """One epoch from `step_in_epoch` on. Host syncs per step are kept to the loss read for
        the progress bar: the global step is counted in Python and `step_in_epoch` is written
        only right before a checkpoint (benchmarks/train_loop.py measured +32 % per step on a
        small model with both updated every step)."""
        skip = int(self.step_in_epoch.numpy())
        distributed, batches = self._train_batches(epoch, skip)
        total = self.steps_per_epoch()
        batch_size = getattr(self.task, "global_batch_size", 0)
        bar = (
            keras.utils.Progbar(total, stateful_metrics=["loss", "img/s"], verbose=1)
            if (self.chief and self.config.progress)
            else None
        )
        if bar is not None:
            print(f"epoch {epoch + 1}/{self.config.epochs}", flush=True)
        sums: dict[str, float] = {}
        steps, started = 0, time.perf_counter()
        global_step = int(self.optimizer.iterations.numpy())
        self.train_fn = self._compiled(self.train_fn, distributed, self._short_last_batch("train"))
        for batch in batches:
            logs = self.train_fn(batch)
            steps += 1
            global_step += 1
            values = {k: float(v) for k, v in logs.items()}
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            if self.config.log_every_steps and global_step % self.config.log_every_steps == 0:
                with self.train_writer.as_default(step=global_step):
                    for k, v in values.items():
                        tf.summary.scalar(k, v)
            if (
                self.config.checkpoint_every_steps
                and global_step % self.config.checkpoint_every_steps == 0
            ):
                self.step_in_epoch.assign(skip + steps)
                self.manager.save(checkpoint_number=global_step)
                self.checkpoint_complete()
            if bar is not None:
                rate = steps * batch_size / max(time.perf_counter() - started, 1e-9)
                bar.update(skip + steps, [("loss", values.get("loss", 0.0)), ("img/s", rate)])
        if self._shared is not None and skip + steps != total:
            raise RuntimeError(
                f"epoch {epoch + 1}: the shared training pipeline gave {skip + steps} batches, "
                f"not {total}: a Task whose epochs share a pipeline must batch without dropping"
            )
        self.epoch.assign(epoch + 1)
        self.step_in_epoch.assign(0)
        self.manager.save(checkpoint_number=int(self.optimizer.iterations.numpy()))
        seconds = time.perf_counter() - started
        images = steps * batch_size
        count = self.task.num_examples("train")
        if count and batch_size:  # the last batch of an epoch may be short
            images = min(images, count - skip * batch_size)
        result = {k: v / max(steps, 1) for k, v in sums.items()}
        result["seconds"] = seconds
        result["images_per_second"] = images / max(seconds, 1e-9)
        with self.train_writer.as_default(step=epoch + 1):
            tf.summary.scalar("epoch_loss", result.get("loss", 0.0))
            tf.summary.scalar("images_per_second", result["images_per_second"])
        return result

    def checkpoint_complete(self) -> None:
        """Runs `config.on_checkpoint` (chief only), its summaries flushed first. The epoch's
        own checkpoint is announced by `_train` after `history.json` has that epoch, so the
        state handed on is a consistent pair of checkpoint and history."""
        if self.config.on_checkpoint is None or not self.chief:
            return
        self.train_writer.flush()
        self.val_writer.flush()
        self.config.on_checkpoint()

    def weights_for_evaluation(self):
        """The EMA weights while evaluating when the Task keeps an EMA, else the raw ones."""
        return self.ema.applied() if self.ema else contextlib.nullcontext()

    def validate(self, epoch: int) -> dict:
        with self.weights_for_evaluation(), self.val_writer.as_default(step=epoch + 1):
            custom = self.task.validation_metrics(
                self.model
            )  # may write its own summaries (images)
            if custom is not None:
                result = {f"val_{k}": float(v) for k, v in custom.items()}
            else:
                result = self._mean_validation_values()
        with self.val_writer.as_default(step=epoch + 1):
            for k, v in result.items():
                tf.summary.scalar(k, v)
        return result

    def _mean_validation_values(self) -> dict:
        totals: dict[str, float] = {}
        distributed = _distribute(self.strategy, self.task.build_inputs("val", 0))
        self.val_fn = self._compiled(self.val_fn, distributed, self._short_last_batch("val"))
        for batch in distributed:
            for k, v in self.val_fn(batch).items():
                totals[k] = totals.get(k, 0.0) + float(v)
        count = totals.pop("_count", 0.0)
        return {f"val_{k}": v / max(count, 1.0) for k, v in totals.items()}


def fit(
    task: Task, config: TrainerConfig, strategy: tf.distribute.Strategy | None = None
) -> keras.Model:
    """Trains `task` as `config` says (resuming from `model_dir` if a checkpoint is there).

    With more than one replica, BatchNorm layers use cross-replica moments while training
    (`poison_tf.train.sync_batch_norm`), so the result does not depend on the replica count.
    """
    strategy = strategy or resolve_strategy(config.strategy)
    if config.deterministic:
        enable_determinism(config.seed)  # seeds, op determinism, thread pools if still free
    else:
        keras.utils.set_random_seed(config.seed)
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(_mixed_policy())
    try:
        loop = _Loop(task, config, strategy)
        with synchronized_batch_norm(loop.model, strategy):  # before the steps are traced
            return _train(loop, config)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train(loop: _Loop, config: TrainerConfig) -> keras.Model:
    """The epochs from the restored one on, validation, history and the final model."""
    history_path = os.path.join(config.model_dir, "history.json")
    history = read_json(history_path) if os.path.isfile(history_path) else []
    for epoch in range(int(loop.epoch.numpy()), config.epochs):
        logs = loop.run_epoch(epoch)
        if config.validate:
            logs |= loop.validate(epoch)
        logs["epoch"] = epoch + 1
        history.append(logs)
        logging.info("epoch %d: %s", epoch + 1, logs)
        if loop.chief:
            write_json(history_path, history)
        loop.checkpoint_complete()  # the epoch's checkpoint (run_epoch saved it), its history
    if not loop.chief:
        shutil.rmtree(loop.checkpoint_dir, ignore_errors=True)
    loop.train_writer.flush()
    loop.val_writer.flush()
    if loop.ema is not None:
        loop.ema.copy_to_model()  # export and later evaluation use the averaged weights
    return loop.model
