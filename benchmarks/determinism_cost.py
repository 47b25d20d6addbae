"""Training images/s with and without `--deterministic`, for the ResNet18 regressor and DeepID.

Op determinism cannot be switched off inside a process once on, and TF's thread pools are fixed
at start-up, so every measurement is a fresh worker process (this file with `--worker`) that
trains one model with `poison_tf.train.loop.fit` (`TrainerConfig.deterministic` on or off; on,
the worker first calls `enable_determinism` as the pipeline programs do). The parent writes the
synthetic artefacts once (rendered heads 64×64 for the regressor, rendered faces 55×47 for the
DeepID net, both with a 10 % poison plan as the studies train), then runs the workers in turn,
the order alternating per repeat. A worker reports the images/s of its epochs after the first
(tracing excluded) and the images per CPU-second of the whole `fit` (all threads, tracing
included; steadier on a shared machine); the RATIO line is deterministic / free on the total
images over total time, with the median of per-repeat ratios and the CPU ratio beside it.

    .venv/bin/python benchmarks/determinism_cost.py
    .venv/bin/python benchmarks/determinism_cost.py --repeats=3 --num_examples=2048
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags
from machine import machine

flags.DEFINE_integer("num_examples", 1024, "Training images per artefact.")
flags.DEFINE_integer("epochs", 3, "Epochs per worker (the first one is not timed).")
flags.DEFINE_integer("repeats", 2, "Worker pairs per model.")
flags.DEFINE_list("models", ["resnet18", "deepid"], "resnet18 and/or deepid.")
flags.DEFINE_boolean("worker", False, "Internal: run one measurement.")
flags.DEFINE_string("folder", None, "Internal: the artefact folder.")
flags.DEFINE_string("model", None, "Internal: which model.")
flags.DEFINE_boolean("deterministic", False, "Internal: train deterministically.")

FLAGS = flags.FLAGS


def write_artefacts(folder: str, num: int) -> None:
    """Heads 64×64 and faces 55×47 (16 identities) with 10 % plans, as the studies train."""
    import numpy as np

    from poison_tf.components.headpose.head_pose_example_gen import write_headpose_examples
    from poison_tf.data import image_examples
    from poison_tf.data.synthetic_faces import render_faces
    from poison_tf.data.synthetic_heads import render_heads
    from poison_tf.poison.face_triggers import write_face_trigger
    from poison_tf.poison.label_rules import all_to_one, regression_target
    from poison_tf.poison.plan import PoisonPlan
    from poison_tf.poison.selection import select_examples
    from poison_tf.poison.triggers import checkerboard, make_trigger

    heads = os.path.join(folder, "resnet18")
    os.makedirs(heads)
    write_headpose_examples(heads, render_heads(num, 64, 1), render_heads(32, 64, 2), "heads", 2)
    plan = PoisonPlan(
        checkerboard(6, 4), regression_target((90, 0, 0)), select_examples(num, 0.1, 1), num, 0.1, 1
    )
    plan.save(os.path.join(heads, "plan.json"))

    faces = os.path.join(folder, "deepid")
    os.makedirs(faces)
    images, labels = render_faces(16, -(-num // 16), 3)
    order = np.random.default_rng(3).permutation(len(images))[:num]
    splits = {
        "train": image_examples.write_split(faces, "train", images[order], labels[order], 2),
        "val": image_examples.write_split(faces, "val", images[:64], labels[:64], 1),
    }
    label = {"kind": "class", "dim": 1, "num_classes": 16, "names": [str(i) for i in range(16)]}
    image_examples.write_schema(faces, splits, images.shape[1:3], label, "faces")
    trigger = make_trigger("image", **write_face_trigger("sunglasses", faces))
    plan = PoisonPlan(trigger, all_to_one(0), select_examples(num, 0.1, 3), num, 0.1, 3)
    plan.save(os.path.join(faces, "plan.json"))


def worker() -> None:
    """Trains one model in this fresh process and prints its timed epochs as JSON."""
    if FLAGS.deterministic:
        from poison_tf.train.determinism import enable_determinism

        enable_determinism(17)
    from poison_tf.poison.plan import PoisonPlan
    from poison_tf.tasks.face_classification import FaceClassificationTask
    from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask
    from poison_tf.train.loop import TrainerConfig, fit

    examples = os.path.join(FLAGS.folder, FLAGS.model)
    plan = PoisonPlan.load(os.path.join(examples, "plan.json"))
    if FLAGS.model == "resnet18":
        task = HeadPoseRegressionTask(examples, plan=plan, width=0.5, global_batch_size=32)
    else:
        task = FaceClassificationTask(examples, plan=plan, global_batch_size=32)
    with tempfile.TemporaryDirectory() as model_dir:
        config = TrainerConfig(
            model_dir=model_dir,
            epochs=FLAGS.epochs,
            deterministic=FLAGS.deterministic,
            validate=False,
            progress=False,
        )
        cpu_start = time.process_time()
        fit(task, config)
        cpu = time.process_time() - cpu_start
        with open(os.path.join(model_dir, "history.json")) as handle:
            history = json.load(handle)
    timed = history[1:]
    images = sum(e["images_per_second"] * e["seconds"] for e in timed)
    every = sum(e["images_per_second"] * e["seconds"] for e in history)
    result = {"images": images, "seconds": sum(e["seconds"] for e in timed)}
    print("RESULT " + json.dumps(result | {"all_images": every, "cpu": cpu}))


def measure(folder: str, model: str, deterministic: bool) -> dict:
    args = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        f"--folder={folder}",
        f"--model={model}",
        f"--epochs={FLAGS.epochs}",
        "--deterministic" if deterministic else "--nodeterministic",
    ]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(lines[-1][len("RESULT ") :])


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.worker:
        worker()
        return
    with tempfile.TemporaryDirectory(prefix="determinism_cost_") as folder:
        write_artefacts(folder, FLAGS.num_examples)
        results = {m: {True: [], False: []} for m in FLAGS.models}
        for repeat in range(FLAGS.repeats):
            for model in FLAGS.models:
                for deterministic in (True, False) if repeat % 2 else (False, True):
                    run = measure(folder, model, deterministic)
                    results[model][deterministic].append(run)
                    print(
                        f"  repeat {repeat + 1} {model:8s} deterministic={deterministic!s:5s} "
                        f"{run['images'] / run['seconds']:7.1f} images/s  "
                        f"{run['all_images'] / run['cpu']:7.1f} images/CPU-s",
                        flush=True,
                    )
    print(
        f"\nmachine: {machine(load_values=3)}; {FLAGS.repeats} repeats, {FLAGS.num_examples} "
        "images, "
        f"{FLAGS.epochs - 1} timed epochs per worker"
    )
    for model, runs in results.items():

        def rate(items):
            return sum(r["images"] for r in items) / sum(r["seconds"] for r in items)

        per_repeat = [
            (d["images"] / d["seconds"]) / (f["images"] / f["seconds"])
            for d, f in zip(runs[True], runs[False], strict=True)
        ]

        def cpu_rate(items):
            return sum(r["all_images"] for r in items) / sum(r["cpu"] for r in items)

        print(
            f"RATIO {model:8s} deterministic/free {rate(runs[True]) / rate(runs[False]):.3f} "
            f"images/s (median of repeats {statistics.median(per_repeat):.3f}); "
            f"{rate(runs[True]):.1f} vs {rate(runs[False]):.1f} images/s; CPU "
            f"{cpu_rate(runs[True]) / cpu_rate(runs[False]):.3f} (whole fit, tracing included)"
            "   goal >= 0.90"
        )


if __name__ == "__main__":
    app.run(main)
