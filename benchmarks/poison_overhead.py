"""tf.data throughput of the head-pose training input pipeline with and without the poison map.

Builds a synthetic examples artefact (rendered heads → PNG TFRecords + schema) in a temporary
folder, a BadNets PoisonPlan (checkerboard trigger, regression target (90, 0, 0), 10 % of the
training split by default) and two `HeadPoseRegressionTask`s over the same examples: one clean,
one with the plan. Each timed measurement builds `task.build_inputs("train", epoch)` for
each of `--epochs` epochs and drains it (building the dataset is part of the cost, as in the
training loop, which rebuilds it every epoch). After one warm-up epoch of each, the pipelines
take turns epoch by epoch, the order alternating, on the same epochs (same shuffles), so that
drift on a shared machine hits them alike; each of `--repeats` repeats gives one images/s per
pipeline and the medians are compared.

Optionally (`--per_example`) also times the plan mapped per example, before `batch`
(`PoisonPlan.map_fn` accepts single examples as well as batches), against the same clean runs.

Prints images/s (wall) and images per CPU second of each pipeline, and the ratios
poisoned/clean (goal >= 0.95). On a shared machine the CPU-second ratio is the steadier one.

    .venv/bin/python benchmarks/poison_overhead.py
    .venv/bin/python benchmarks/poison_overhead.py --num_examples=8192 --repeats=5
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from absl import app, flags

flags.DEFINE_integer("num_examples", 2048, "Training images in the synthetic artefact.")
flags.DEFINE_integer("image_size", 100, "Image side in pixels (the study uses 100).")
flags.DEFINE_integer("batch_size", 64, "Global batch size of the Task.")
flags.DEFINE_integer("epochs", 2, "Epochs per pipeline and repeat.")
flags.DEFINE_integer("repeats", 5, "Timed measurements per pipeline (median is reported).")
flags.DEFINE_float("rate_percent", 10.0, "Poison rate, percent of the training split.")
flags.DEFINE_integer("trigger_size", 10, "Checkerboard side in pixels.")
flags.DEFINE_boolean("per_example", True, "Also time the plan mapped per example (before batch).")
flags.DEFINE_integer("seed", 17, "Seed of the rendering and of the poison selection.")

FLAGS = flags.FLAGS


def make_examples(folder: str, num: int, size: int, seed: int) -> None:
    """Writes a train split of `num` rendered heads and a small test split."""
    from poison_tf.components.headpose.head_pose_example_gen import write_headpose_examples
    from poison_tf.data.synthetic_heads import render_heads

    train = render_heads(num, size, seed)
    write_headpose_examples(
        folder, train, render_heads(max(8, num // 16), size, seed + 1), "synthetic_heads", 2
    )


def make_plan(num: int, rate: float, seed: int, trigger_size: int):
    from poison_tf.poison.label_rules import regression_target
    from poison_tf.poison.plan import PoisonPlan
    from poison_tf.poison.selection import select_examples
    from poison_tf.poison.triggers import make_trigger

    trigger = make_trigger("checkerboard", size=trigger_size, cells=4)
    ids = select_examples(num, rate, seed)
    return PoisonPlan(trigger, regression_target((90, 0, 0)), ids, num, rate, seed)


def per_example_inputs(task, epoch: int):
    """Same as `HeadPoseRegressionTask.build_inputs("train")` but the plan mapped per example."""
    import tensorflow as tf

    from poison_tf.data.image_examples import image_examples_dataset

    dataset = image_examples_dataset(task.examples_dir, "train", shuffle_seed=task.seed + epoch)
    dataset = dataset.map(task.plan.map_fn(), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(task.global_batch_size)
    return dataset.map(lambda e: (e["image"], e["label"])).prefetch(tf.data.AUTOTUNE)


def drain(dataset) -> int:
    """Drains one epoch; returns the number of images."""
    images = 0
    for x, _ in dataset:
        images += int(x.shape[0])
    return images


def measure(pipelines: dict, repeats: int, epochs: int) -> dict[str, dict[str, list[float]]]:
    """Per pipeline and repeat: images per wall second and images per CPU second of this process.

    The pipelines take turns epoch by epoch (order alternating) on the same epochs, so drift on a
    shared machine spreads over all of them alike. CPU seconds (all threads of the process) are
    much less sensitive than wall seconds to other programs competing for the cores.
    """
    rates = {name: {"wall": [], "cpu": []} for name in pipelines}
    for repeat in range(repeats):
        wall = dict.fromkeys(pipelines, 0.0)
        cpu = dict.fromkeys(pipelines, 0.0)
        images = dict.fromkeys(pipelines, 0)
        for step in range(epochs):
            epoch = 1 + repeat * epochs + step
            names = list(pipelines)
            for name in names if (repeat * epochs + step) % 2 == 0 else reversed(names):
                wall_start, cpu_start = time.perf_counter(), time.process_time()
                images[name] += drain(pipelines[name](epoch))  # build + drain, as the loop does
                wall[name] += time.perf_counter() - wall_start
                cpu[name] += time.process_time() - cpu_start
        for name in pipelines:
            rates[name]["wall"].append(images[name] / wall[name])
            rates[name]["cpu"].append(images[name] / cpu[name])
            print(
                f"  repeat {repeat + 1} {name:28s} {rates[name]['wall'][-1]:7.0f} images/s  "
                f"{rates[name]['cpu'][-1]:7.0f} images/CPU-s  ({images[name]} images)"
            )
    return rates


def main(argv: list[str]) -> None:
    del argv
    import tensorflow as tf

    from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask

    rate = FLAGS.rate_percent / 100.0
    with tempfile.TemporaryDirectory(prefix="poison_overhead_") as folder:
        started = time.perf_counter()
        make_examples(folder, FLAGS.num_examples, FLAGS.image_size, FLAGS.seed)
        print(
            f"artefact: {FLAGS.num_examples} train images {FLAGS.image_size}x{FLAGS.image_size} "
            f"written in {time.perf_counter() - started:.1f} s"
        )
        plan = make_plan(FLAGS.num_examples, rate, FLAGS.seed, FLAGS.trigger_size)
        print(
            f"plan: checkerboard {FLAGS.trigger_size}px, target (90, 0, 0), "
            f"{plan.count}/{plan.num_examples} examples ({FLAGS.rate_percent:g} %)"
        )
        clean = HeadPoseRegressionTask(folder, plan=None, global_batch_size=FLAGS.batch_size)
        poisoned = HeadPoseRegressionTask(folder, plan=plan, global_batch_size=FLAGS.batch_size)

        # Sanity: the poisoned pipeline really relabels exactly the planned examples.
        relabelled = sum(
            int(tf.reduce_sum(tf.cast(tf.reduce_all(y == [90.0, 0.0, 0.0], -1), tf.int32)))
            for _, y in poisoned.build_inputs("train", 0)
        )
        assert relabelled == plan.count, (relabelled, plan.count)

        pipelines = {
            "clean": lambda e: clean.build_inputs("train", e),
            "poisoned (batched map)": lambda e: poisoned.build_inputs("train", e),
        }
        if FLAGS.per_example:
            pipelines["poisoned (per-example map)"] = lambda e: per_example_inputs(poisoned, e)

        for build in pipelines.values():  # warm-up: file cache, tracing, autotune
            drain(build(0))
        rates = measure(pipelines, FLAGS.repeats, FLAGS.epochs)

    gpus = len(tf.config.list_physical_devices("GPU"))
    print(
        f"\nmachine: {os.cpu_count()} CPU cores, {gpus} GPU; {FLAGS.repeats} repeats x "
        f"{FLAGS.epochs} epochs x {FLAGS.num_examples} images, batch {FLAGS.batch_size}; medians:"
    )
    medians = {
        name: {kind: statistics.median(values) for kind, values in per.items()}
        for name, per in rates.items()
    }
    for name, value in medians.items():
        print(f"  {name:28s} {value['wall']:7.0f} images/s  {value['cpu']:7.0f} images/CPU-s")
    base = medians["clean"]
    for name in list(pipelines)[1:]:
        label = f"poisoned/clean ({name.split('(')[1][:-1]})"
        print(
            f"RATIO {label:34s} {medians[name]['wall'] / base['wall']:.3f} images/s"
            f"   {medians[name]['cpu'] / base['cpu']:.3f} images/CPU-s   (goal >= 0.95)"
        )


if __name__ == "__main__":
    app.run(main)
