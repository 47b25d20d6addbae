"""images/s of the project's strategy loop (`poison_tf.train.loop.fit`) vs Keras `model.fit`.

Same model (`build_resnet18_regressor(--input_size, --width)` via the head-pose Task), same data
(the Task's training pipeline, `build_inputs("train", epoch)`, which yields `(x, y)` batches of
`--batch_size`; for model.fit with its length declared by `assert_cardinality`), same optimizer (the Task's Adam, lr 1e-3), same L1 loss (`l1_per_example`,
averaged over the batch), same number of steps, same `--jit_compile` / `--mixed_precision`.
Both run without validation and without a progress bar; our loop writes a TensorBoard scalar
every 10 steps (its default) and saves a checkpoint at the end of every epoch, which is part of
its cost and is counted (the benchmark also reports what one save costs); `model.fit` saves
nothing.

The two run epoch by epoch in turn, in one process, so drift on a shared machine hits both
alike: our `fit` calls `task.build_inputs("train", e)` at the start of every epoch, before it
starts its epoch timer, and the benchmark's Task runs `model.fit(..., epochs=1)` epochs on the
same epochs' data right there (the order alternating: K0 O0 O1 K1 K2 O2 ...). The first epoch of each (tracing / compilation) is a warm-up
and is not timed; `--epochs` further epochs are. Each side is timed from outside (wall and CPU
seconds of the process); our loop's own `images_per_second` from history.json is shown too.
The headline ratio is what a reader computes from the two throughputs: each side's total
images over its total time (all timed epochs), ours / model.fit. Beside it is the median over
epochs of the per-epoch ratio (ours / model.fit on the same epoch's data), which resists a
burst of load from other programs in one epoch; CPU seconds resist load better than wall
seconds.

    .venv/bin/python benchmarks/train_loop.py
    .venv/bin/python benchmarks/train_loop.py --input_size=100 --width=1 --num_examples=4096
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from absl import app, flags
from benchmark_flags import define_seed

flags.DEFINE_integer("input_size", 48, "Image side in pixels.")
flags.DEFINE_float("width", 0.25, "ResNet18 width multiplier (stages 2-4).")
flags.DEFINE_integer("batch_size", 64, "Global batch size (both loops).")
flags.DEFINE_integer("num_examples", 1024, "Training images (a multiple of --batch_size is exact).")
flags.DEFINE_integer("epochs", 6, "Timed epochs of each loop, after one warm-up epoch.")
flags.DEFINE_boolean("jit_compile", False, "XLA-compile the train step (both loops).")
flags.DEFINE_boolean("mixed_precision", False, "Mixed precision (bfloat16 on CPU, float16 on GPU).")
flags.DEFINE_boolean("interleave", True, "Alternate the loops epoch by epoch (else ours first).")
define_seed(17, "the data and of both models")

FLAGS = flags.FLAGS


def make_examples(folder: str, num: int, size: int, seed: int) -> None:
    """Writes a train split of `num` rendered heads and a small test split."""
    from poison_tf.components.headpose.head_pose_example_gen import write_headpose_examples
    from poison_tf.data.synthetic_heads import render_heads

    train = render_heads(num, size, seed)
    write_headpose_examples(folder, train, render_heads(16, size, seed + 1), "synthetic_heads", 2)


class Clock:
    """Wall and process-CPU seconds and images of each timed epoch of one loop."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.images: list[int] = []
        self._start: tuple[float, float] | None = None

    def start(self) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def stop(self, images: int, timed: bool) -> None:
        wall, cpu = self._start
        self._start = None
        if timed:
            self.wall.append(time.perf_counter() - wall)
            self.cpu.append(time.process_time() - cpu)
            self.images.append(images)

    def rates(self) -> tuple[float, float]:
        """images/s and images/CPU-s over all timed epochs."""
        return sum(self.images) / sum(self.wall), sum(self.images) / sum(self.cpu)

    def per_epoch(self, kind: str) -> list[float]:
        return [n / t for n, t in zip(self.images, getattr(self, kind))]


def paired_ratio(ours: Clock, theirs: Clock, kind: str) -> float:
    """Median over epochs of ours/theirs, each epoch of ours next to model.fit's same epoch."""
    import statistics

    return statistics.median(a / b for a, b in zip(ours.per_epoch(kind), theirs.per_epoch(kind)))


def build_keras_model(task, jit_compile: bool, mixed_precision: bool, policy: str):
    """The same model, optimizer and loss as the Task, compiled for `model.fit`."""
    import keras

    from poison_tf.tasks.headpose_regression import l1_per_example

    previous = keras.mixed_precision.global_policy()
    if mixed_precision:
        keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(FLAGS.seed)
        model = task.build_model()
        optimizer = task.build_optimizer()
        if mixed_precision and policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss=l1_per_example, jit_compile=jit_compile)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return model


def checkpoint_save_ms(model, folder: str, repeats: int = 5) -> float:
    """Median wall ms of one `CheckpointManager.save` of `model` + its optimizer (the same
    variables our loop saves at each epoch end)."""
    import statistics

    import tensorflow as tf

    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    manager = tf.train.CheckpointManager(checkpoint, folder, max_to_keep=2)
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        manager.save()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times[1:])


def main(argv: list[str]) -> None:
    del argv
    import tensorflow as tf

    from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask
    from poison_tf.train import loop as loop_module

    policy = loop_module._mixed_policy()
    with tempfile.TemporaryDirectory(prefix="train_loop_bench_") as folder:
        examples = os.path.join(folder, "examples")
        os.makedirs(examples)
        make_examples(examples, FLAGS.num_examples, FLAGS.input_size, FLAGS.seed)
        keras_task = HeadPoseRegressionTask(
            examples, width=FLAGS.width, global_batch_size=FLAGS.batch_size, seed=FLAGS.seed
        )
        keras_model = build_keras_model(
            keras_task, FLAGS.jit_compile, FLAGS.mixed_precision, policy
        )
        ours, theirs = Clock(), Clock()
        total_epochs = 1 + FLAGS.epochs

        steps_per_epoch = -(-FLAGS.num_examples // FLAGS.batch_size)

        def keras_epoch(epoch: int) -> None:
            theirs.start()
            # Declaring the (true) length spares model.fit one failing step per epoch at the end
            # of an unknown-length dataset (which also bumps optimizer.iterations once).
            dataset = keras_task.build_inputs("train", epoch)
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps_per_epoch))
            keras_model.fit(dataset, epochs=1, verbose=0)
            theirs.stop(FLAGS.num_examples, timed=epoch > 0)

        class BenchTask(HeadPoseRegressionTask):
            """Ends our loop's previous epoch and runs model.fit's epochs in the gaps: an even
            epoch of model.fit runs just before ours, an odd one just after ours (K0 O0 O1 K1
            K2 O2 ...), so neither loop always follows the other."""

            def build_inputs(self, split: str, epoch: int = 0):
                if split != "train":
                    return super().build_inputs(split, epoch)
                if epoch > 0:
                    ours.stop(FLAGS.num_examples, timed=epoch > 1)
                    if FLAGS.interleave and (epoch - 1) % 2 == 1:
                        keras_epoch(epoch - 1)
                if FLAGS.interleave and epoch % 2 == 0:
                    keras_epoch(epoch)
                dataset = super().build_inputs(split, epoch)
                ours.start()
                return dataset

        task = BenchTask(
            examples, width=FLAGS.width, global_batch_size=FLAGS.batch_size, seed=FLAGS.seed
        )
        model_dir = os.path.join(folder, "ours")
        config = loop_module.TrainerConfig(
            model_dir=model_dir,
            epochs=total_epochs,
            mixed_precision=FLAGS.mixed_precision,
            jit_compile=FLAGS.jit_compile,
            seed=FLAGS.seed,
            validate=False,
            progress=False,
        )
        ours_model = loop_module.fit(task, config)
        ours.stop(FLAGS.num_examples, timed=total_epochs > 1)
        if FLAGS.interleave and (total_epochs - 1) % 2 == 1:
            keras_epoch(total_epochs - 1)
        if not FLAGS.interleave:
            for epoch in range(total_epochs):
                keras_epoch(epoch)
        with open(os.path.join(model_dir, "history.json")) as stream:
            history = json.load(stream)
        save_ms = checkpoint_save_ms(keras_model, os.path.join(folder, "save_probe"))
        steps = int(keras_model.optimizer.iterations.numpy())
        assert steps == total_epochs * steps_per_epoch, (steps, total_epochs, steps_per_epoch)
        assert len(history) == total_epochs, history

    ours_wall, ours_cpu = ours.rates()
    keras_wall, keras_cpu = theirs.rates()
    gpus = len(tf.config.list_physical_devices("GPU"))
    print(
        f"\nmachine: {os.cpu_count()} CPU cores, {gpus} GPU. ResNet18 regressor "
        f"{FLAGS.input_size}px width {FLAGS.width:g} ({ours_model.count_params():,} params), "
        f"batch {FLAGS.batch_size}, {FLAGS.num_examples} images = {steps_per_epoch} steps/epoch, "
        f"1 warm-up + {FLAGS.epochs} timed epochs each, jit_compile={FLAGS.jit_compile}, "
        f"mixed_precision={FLAGS.mixed_precision}, interleaved={FLAGS.interleave}; "
        f"steps per loop {steps}"
    )

    def epochs(values: list[float]) -> str:
        return " ".join(f"{v:.0f}" for v in values)

    for name, clock, wall, cpu in (
        ("ours (loop.fit)", ours, ours_wall, ours_cpu),
        ("keras model.fit", theirs, keras_wall, keras_cpu),
    ):
        print(
            f"  {name:16s} {wall:7.1f} images/s  {cpu:7.1f} images/CPU-s  "
            f"(per epoch: {epochs(clock.per_epoch('wall'))} images/s)"
        )
    print(
        "  ours, history.json images_per_second of the timed epochs: "
        + epochs(h["images_per_second"] for h in history[1:])
    )
    print(
        f"  one epoch-end checkpoint save: {save_ms:.0f} ms "
        f"({save_ms / 1e3 * ours_wall / FLAGS.num_examples * 100:.1f} % of one epoch of ours)"
    )
    verdict = "meets" if ours_wall / keras_wall >= 1.0 else "below"
    print(
        f"RATIO ours/model.fit, total images / total time: {ours_wall / keras_wall:.3f} images/s "
        f"(goal >= 1.0: {verdict}), {ours_cpu / keras_cpu:.3f} images/CPU-s;  median of "
        f"{FLAGS.epochs} paired epochs: {paired_ratio(ours, theirs, 'wall'):.3f} images/s, "
        f"{paired_ratio(ours, theirs, 'cpu'):.3f} images/CPU-s"
    )


if __name__ == "__main__":
    app.run(main)
