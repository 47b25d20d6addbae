"""tf.data throughput of the training input pipelines with and without the poison plan.

Two studies (`--studies`): `headpose` (rendered heads 100×100, checkerboard 10 px, regression
target (90, 0, 0), `HeadPoseRegressionTask`) and `faces` (rendered faces 55×47, the full-frame
`sunglasses` RGBA trigger, all-to-one → 0, `FaceClassificationTask`: the classification plans).
Each writes a synthetic examples artefact to a temporary folder and a 10 % plan.

Pipelines timed per study, each over `--epochs` epochs per repeat, building included (tracing
and instantiating the map functions are part of the cost):
- `clean`: the Task without a plan, one pipeline for all the epochs, as the loop runs a Task
  whose epochs share one (`poison_tf.train.shared_pipeline.shared_train_pipeline`: the head-pose and
  classification Tasks).
- `poisoned (now)`: the same with the plan: poisoned per batch inside the (image, label) map
  every Task has anyway, mask lookup by id, trigger layers as constants, the poison function a
  `tf.function` traced once per plan (`poison_tf.poison.plan.pairs`), the trigger's box written
  back in place (`poison_tf.poison.plan_rows.stamp_rows`).
- `clean, pipeline per epoch` and `poisoned, pipeline per epoch`: both rebuilt every epoch, as
  the loop ran them before (a new pipeline instantiates every tf.data function anew); their
  ratio is printed too.
- `old: extra map stage`: the previous Task path, reproduced: a separate parallel map after
  `batch` (hash-table lookup, trigger layers padded at run time, a `poisoned` flag), then the
  pairs map.
- `control: clean again` (`--steps`): a second clean Task, an A/A control: its ratio is the
  measurement's own bias and noise (1.000 on a quiet machine).
- `step 1: in pairs map` (`--steps`): the poison moved into the pairs map (no extra stage),
  mask lookup, constant trigger layers, whole rows stamped; re-traced every epoch.
- `step 2: traced once` (`--steps`): step 1 as a `tf.function` traced once per plan.
- now = step 2 + only the trigger's box read, blended and written back, in place.
- `alt: per example, cond` (`--steps`): the plan fused into the decode map, per example, with
  the trigger under `tf.cond` (the other place it could sit).
Each poisoned path is first checked to give bit-identical batches to the old one.

After one warm-up epoch of each, the pipelines take turns repeat by repeat (order rotating) on
the same epochs (same shuffles), so drift on a shared machine hits them alike. The control
shares its pipeline across the epochs as `clean` does; `old`, the steps and `alt` are rebuilt
every epoch, as they were measured when they were the Tasks' path. The headline RATIO of a
pipeline is its total images over total wall time divided by the clean pipeline's;
beside it the median of the per-repeat ratios and the same on CPU seconds (all threads of the
process, less sensitive to other programs on the cores). Goal: >= 0.95.

    .venv/bin/python benchmarks/poison_overhead.py
    .venv/bin/python benchmarks/poison_overhead.py --num_examples=8192 --repeats=7 --studies=faces
"""

from __future__ import annotations

import statistics
import tempfile
import time

from absl import app, flags
from benchmark_flags import define_seed
from machine import machine

flags.DEFINE_integer("num_examples", 2048, "Training images in each synthetic artefact.")
flags.DEFINE_integer("batch_size", 64, "Global batch size of the Tasks.")
flags.DEFINE_integer(
    "epochs", 10, "Epochs per repeat: one training run, one pipeline for the shared ones."
)
flags.DEFINE_integer("repeats", 3, "Timed repeats per pipeline (medians beside the totals).")
flags.DEFINE_float("rate_percent", 10.0, "Poison rate, percent of the training split.")
flags.DEFINE_list("studies", ["headpose", "faces"], "headpose and/or faces.")
flags.DEFINE_boolean("steps", True, "Also time the intermediate (fused, hash-table) variant.")
define_seed(17, "the rendering and of the poison selection")

FLAGS = flags.FLAGS


def headpose_setup(folder: str, num: int, rate: float, seed: int):
    """Rendered heads 100×100 and a checkerboard → (90, 0, 0) plan; returns (task class, plan)."""
    from poison_tf.components.headpose.head_pose_example_gen import write_headpose_examples
    from poison_tf.data.synthetic_heads import render_heads
    from poison_tf.poison.label_rules import regression_target
    from poison_tf.poison.plan import PoisonPlan
    from poison_tf.poison.selection import select_examples
    from poison_tf.poison.triggers import make_trigger
    from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask

    write_headpose_examples(
        folder, render_heads(num, 100, seed), render_heads(16, 100, seed + 1), "heads", 2
    )
    trigger = make_trigger("checkerboard", size=10, cells=4)
    ids = select_examples(num, rate, seed)
    return HeadPoseRegressionTask, PoisonPlan(
        trigger, regression_target((90, 0, 0)), ids, num, rate, seed
    )


def faces_setup(folder: str, num: int, rate: float, seed: int):
    """Rendered faces 55×47 (16 identities) and a sunglasses → class 0 plan."""
    import numpy as np

    from poison_tf.data import image_examples
    from poison_tf.data.synthetic_faces import render_faces
    from poison_tf.poison.face_triggers import face_trigger
    from poison_tf.poison.label_rules import all_to_one
    from poison_tf.poison.plan import PoisonPlan
    from poison_tf.poison.selection import select_examples
    from poison_tf.tasks.face_classification import FaceClassificationTask

    images, labels = render_faces(16, -(-num // 16), seed)
    order = np.random.default_rng(seed).permutation(len(images))[:num]
    splits = {
        "train": image_examples.write_split(folder, "train", images[order], labels[order], 2),
        "val": image_examples.write_split(folder, "val", images[:32], labels[:32], 1),
    }
    label = {"kind": "class", "dim": 1, "num_classes": 16, "names": [str(i) for i in range(16)]}
    image_examples.write_schema(folder, splits, images.shape[1:3], label, "faces")
    ids = select_examples(num, rate, seed)
    plan = PoisonPlan(face_trigger("sunglasses"), all_to_one(0), ids, num, rate, seed)
    return FaceClassificationTask, plan


def _decoded(task, epoch: int, transform=None):
    from poison_tf.data.image_examples import image_examples_dataset

    return image_examples_dataset(
        task.examples_dir, "train", shuffle_seed=task.seed + epoch, transform=transform
    ).batch(task.global_batch_size)


def old_inputs(task, epoch: int):
    """The previous Task path: a separate parallel map of `reference_map_fn` after `batch`."""
    import tensorflow as tf

    from poison_tf.poison.reference_map import reference_map_fn

    dataset = _decoded(task, epoch).map(
        reference_map_fn(task.plan), num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.map(lambda e: (e["image"], e["label"])).prefetch(tf.data.AUTOTUNE)


_WHOLE_ROWS: dict = {}


def whole_rows_fn(plan):
    """The poison of steps 1-2: mask lookup, constant layers, whole rows gathered / stamped /
    scattered; a `tf.function` built once per plan (its `python_function` re-traces)."""
    import tensorflow as tf

    if id(plan) not in _WHOLE_ROWS:

        @tf.function(reduce_retracing=True)
        def poison(example):
            rows = tf.where(plan.is_poisoned(example["id"]))
            image, label = example["image"], example["label"]
            image = tf.tensor_scatter_nd_update(
                image, rows, plan.trigger.apply(tf.gather_nd(image, rows))
            )
            label = tf.tensor_scatter_nd_update(
                label, rows, plan.label_rule.apply(tf.gather_nd(label, rows))
            )
            return image, label

        _WHOLE_ROWS[id(plan)] = poison
    return _WHOLE_ROWS[id(plan)]


def retraced_inputs(task, epoch: int):
    """Step 1: the poison moved into the pairs map (no extra stage), re-traced every epoch."""
    import tensorflow as tf

    return (
        _decoded(task, epoch)
        .map(whole_rows_fn(task.plan).python_function)
        .prefetch(tf.data.AUTOTUNE)
    )


def whole_rows_inputs(task, epoch: int):
    """Step 2: step 1 with the poison traced once per plan (the map calls the tf.function)."""
    import tensorflow as tf

    poison = whole_rows_fn(task.plan)
    return _decoded(task, epoch).map(lambda e: poison(e)).prefetch(tf.data.AUTOTUNE)


def per_example_inputs(task, epoch: int):
    """Alternative: per example inside the decode map, mask lookup, trigger under `tf.cond`."""
    import tensorflow as tf

    plan = task.plan

    def poison(example):
        example = dict(example)
        hit = plan.is_poisoned(example["id"])
        image, label = example["image"], example["label"]
        example["image"], example["label"] = tf.cond(
            hit,
            lambda: (plan.trigger.apply(image), plan.label_rule.apply(label)),
            lambda: (image, label),
        )
        return example

    dataset = _decoded(task, epoch, transform=poison)
    return dataset.map(lambda e: (e["image"], e["label"])).prefetch(tf.data.AUTOTUNE)


def drain(dataset) -> int:
    """Drains a dataset; returns the number of images."""
    images = 0
    for x, _ in dataset:
        images += int(x.shape[0])
    return images


def one_pipeline(task):
    """Runs `epochs` epochs from `first` through one pipeline, as the loop runs a Task whose
    epochs share one (`poison_tf.train.shared_pipeline.shared_train_pipeline`)."""
    from poison_tf.train.shared_pipeline import shared_train_pipeline

    return lambda first, epochs: drain(shared_train_pipeline(task, first, first + epochs))


def per_epoch(build):
    """Runs `epochs` epochs from `first`, building each epoch's pipeline with `build(epoch)`."""
    return lambda first, epochs: sum(drain(build(e)) for e in range(first, first + epochs))


def measure(pipelines: dict, repeats: int, epochs: int) -> dict[str, dict[str, list[float]]]:
    """Per pipeline and repeat: images, wall seconds and CPU seconds of this process.

    The pipelines take turns repeat by repeat (order rotating and reversing), each running the
    same `epochs` epochs, so drift on a shared machine spreads over all of them alike.
    """
    totals = {name: {"images": [], "wall": [], "cpu": []} for name in pipelines}
    names = list(pipelines)
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order if repeat % 2 == 0 else order[::-1]:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            images = pipelines[name](1 + repeat * epochs, epochs)
            wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
            for key, value in zip(("images", "wall", "cpu"), (images, wall, cpu), strict=True):
                totals[name][key].append(value)
            print(
                f"  repeat {repeat + 1} {name:30s} {images / wall:7.0f} images/s  "
                f"{images / cpu:7.0f} images/CPU-s"
            )
    return totals


def report(study: str, totals: dict) -> None:
    """Prints the total-over-total RATIO of each pipeline against `clean`, medians beside."""

    def rate(per: dict, kind: str, index: int | None = None) -> float:
        if index is None:
            return sum(per["images"]) / sum(per[kind])
        return per["images"][index] / per[kind][index]

    for name, per in totals.items():
        print(
            f"  {study:8s} {name:30s} {rate(per, 'wall'):7.0f} images/s  "
            f"{rate(per, 'cpu'):7.0f} images/CPU-s (totals)"
        )
    pairs = [(name, "clean") for name in list(totals)[1:]]
    pairs.append(("poisoned, pipeline per epoch", "clean, pipeline per epoch"))
    for name, base_name in pairs:
        per, base = totals[name], totals[base_name]
        medians = {
            kind: statistics.median(
                rate(per, kind, i) / rate(base, kind, i) for i in range(len(per["images"]))
            )
            for kind in ("wall", "cpu")
        }
        print(
            f"RATIO {study:8s} {name + '/' + base_name:55s} "
            f"{rate(per, 'wall') / rate(base, 'wall'):.3f} images/s (median of repeats "
            f"{medians['wall']:.3f})   CPU {rate(per, 'cpu') / rate(base, 'cpu'):.3f} "
            f"(median {medians['cpu']:.3f})   goal >= 0.95"
        )


def run_study(study: str, folder: str) -> dict:
    import tensorflow as tf

    setup = {"headpose": headpose_setup, "faces": faces_setup}[study]
    rate = FLAGS.rate_percent / 100.0
    task_class, plan = setup(folder, FLAGS.num_examples, rate, FLAGS.seed)
    clean = task_class(folder, plan=None, global_batch_size=FLAGS.batch_size)
    poisoned = task_class(folder, plan=plan, global_batch_size=FLAGS.batch_size)
    print(f"{study}: {plan.count}/{plan.num_examples} examples poisoned, {plan.trigger.config}")

    pipelines = {
        "clean": one_pipeline(clean),
        "poisoned (now)": one_pipeline(poisoned),
        "clean, pipeline per epoch": per_epoch(lambda e: clean.build_inputs("train", e)),
        "poisoned, pipeline per epoch": per_epoch(lambda e: poisoned.build_inputs("train", e)),
        "old: extra map stage": per_epoch(lambda e: old_inputs(poisoned, e)),
    }
    if FLAGS.steps:
        # A/A control: a second clean Task; its ratio shows the measurement's own bias and noise.
        again = task_class(folder, plan=None, global_batch_size=FLAGS.batch_size)
        pipelines["control: clean again"] = one_pipeline(again)
        pipelines["step 1: in pairs map"] = per_epoch(lambda e: retraced_inputs(poisoned, e))
        pipelines["step 2: traced once"] = per_epoch(lambda e: whole_rows_inputs(poisoned, e))
        pipelines["alt: per example, cond"] = per_epoch(lambda e: per_example_inputs(poisoned, e))
    # Sanity: every poisoned path gives bit-identical batches to the old one.
    paths = {"old": old_inputs, "step 1": retraced_inputs, "step 2": whole_rows_inputs}
    paths["alt"] = per_example_inputs
    for name, build in paths.items():
        for new, old in zip(poisoned.build_inputs("train", 0), build(poisoned, 0), strict=True):
            assert tf.reduce_all(new[0] == old[0]) and tf.reduce_all(new[1] == old[1]), name
    for run in pipelines.values():  # warm-up: file cache, autotune
        run(0, 1)
    return measure(pipelines, FLAGS.repeats, FLAGS.epochs)


def main(argv: list[str]) -> None:
    del argv
    import tensorflow as tf

    results = {}
    for study in FLAGS.studies:
        with tempfile.TemporaryDirectory(prefix=f"poison_overhead_{study}_") as folder:
            results[study] = run_study(study, folder)
    gpus = len(tf.config.list_physical_devices("GPU"))
    print(
        f"\nmachine: {machine(gpus, load_values=3)}; {FLAGS.repeats} repeats x {FLAGS.epochs} "
        f"epochs x {FLAGS.num_examples} images, batch {FLAGS.batch_size}:"
    )
    for study, totals in results.items():
        report(study, totals)


if __name__ == "__main__":
    app.run(main)
