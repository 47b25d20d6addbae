"""Costs of the BackdoorBench attacks in tf.data, and the fit time of each benchmark defence.

Part 1, triggers: writes `--num_examples` procedural 32-px images (poison_tf.data.synthetic_classes)
as a TFRecord examples artefact, and drains an input pipeline once clean and once per attack plan
(BadNets, Blended, WaNet with its 2× noise-mode examples, SIG clean-label; 10 %, BackdoorBench
defaults). `--stage=trainer` (default) is the trainers' own pipeline (`image_examples_dataset` →
batch → `map(pairs(plan, kept=...))`, the plan's `batch_fn` fused into the map that makes the
(image, label) pairs, so the poisoned pipeline has no stage the clean one lacks). As in the Tasks,
WaNet's rows are warped and kept by the first epoch and looked up by the later ones
(`poison_tf.poison.kept_rows`): the `wanet` row is an epoch after the first, `wanet, epoch 1` a
first epoch (its rows warped and kept anew each pass), `wanet, warped every epoch` the plan
without kept rows, and a RATIO line gives WaNet over a training of `--epochs` epochs.
`--stage=separate` adds the plan as its own parallel `map(plan.map_fn())` stage (how this
benchmark measured until December).
`--attacks` limits the plans timed (e.g. `--attacks=wanet`, for more repeats in the same time).
After a warm-up (which also compiles WaNet's XLA warp) the pipelines take turns, order
alternating, `--repeats` times, each pass a fresh pipeline as a trainer's epoch. The headline
(issue 19): per pipeline the seconds per 10k images, wall and CPU (process time: every thread),
and a `RATIO` line per attack, poisoned / clean from the medians of images per CPU second and per
wall second, with the median of the per-round ratios beside it (goal ≥ 0.9 for WaNet and SIG;
read the CPU ratio on a shared machine), after a `machine:` line with the load. Also the cost of
stamping every image (the attack test set, `trigger.apply` on batches).

Part 2, defences: trains one width-`--width` PreAct-ResNet18 with BadNets 10 % on
`--defence_examples` images, then times each defence's fit on it: spectral signatures and
activation clustering (feature extraction + filter, without the retraining that follows), Neural
Cleanse (`--nc_epochs` per class, all classes, then unlearning) and ABL (isolation, fine-tuning,
unlearning at the demo sizes).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/backdoorbench_costs.py --nodefences
"""

from __future__ import annotations

import statistics
import tempfile
import time

from absl import app, flags
from benchmark_flags import define_repeats
from machine import machine

flags.DEFINE_integer("num_examples", 4096, "Images in the trigger-cost artefact.")
flags.DEFINE_integer("batch_size", 128, "Batch size of the input pipeline.")
define_repeats(5, "Timed passes per pipeline")
flags.DEFINE_list("attacks", ["badnet", "blended", "wanet", "sig"], "Attacks to time.")
flags.DEFINE_integer("defence_examples", 1200, "Training images of the defence-timing victim.")
flags.DEFINE_integer("width", 8, "PreAct-ResNet18 width of the defence-timing victim.")
flags.DEFINE_integer("nc_epochs", 5, "Neural Cleanse epochs per class.")
flags.DEFINE_bool("defences", True, "Also time the defences (part 2).")
flags.DEFINE_integer("epochs", 10, "Epochs of a training, for WaNet's ratio over a training.")
flags.DEFINE_enum(
    "stage", "trainer", ["trainer", "separate"], "Where the plan runs (see the docstring)."
)
FLAGS = flags.FLAGS


def write_examples(folder: str, num: int, classes: int = 6):
    import numpy as np

    from poison_tf.data import image_examples
    from poison_tf.data.synthetic_classes import synthetic_classes

    x, y = synthetic_classes(num, 32, classes, seed=0)
    tx, ty = synthetic_classes(64, 32, classes, seed=1)
    splits = {
        "train": image_examples.write_split(folder, "train", x, y.astype(np.int64), 2),
        "test": image_examples.write_split(folder, "test", tx, ty.astype(np.int64), 1),
    }
    label = {"kind": "class", "dim": 1, "names": [str(i) for i in range(classes)]}
    image_examples.write_schema(folder, splits, (32, 32), label | {"num_classes": classes}, "bench")
    return y


def report(wall: dict, cpu: dict) -> None:
    """The issue's headline: seconds per 10k images (wall and CPU) and the ratio to clean.

    Ratios are medians over repeats of images/s (the pipelines alternate, so each repeat is one
    round of every pipeline); beside them the median of the per-round ratios (poisoned / clean
    of the same round), steadier when the load drifts.
    """

    def ratio(name: str, kind: dict) -> tuple[float, float]:
        rounds = [p / c for p, c in zip(kind[name], kind["clean"], strict=True)]
        return (
            statistics.median(kind[name]) / statistics.median(kind["clean"]),
            statistics.median(rounds),
        )

    print(
        f"\nmachine: {machine(load_values=3)}; {FLAGS.num_examples} images, batch "
        f"{FLAGS.batch_size}, {FLAGS.repeats} repeats, --stage={FLAGS.stage}"
    )
    print("| pipeline | images/s | s per 10k (wall) | CPU-s per 10k | ratio (wall) | ratio (CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in wall:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        (rw, _), (rc, _) = ratio(name, wall), ratio(name, cpu)
        print(f"| {name} | {w:.0f} | {1e4 / w:.2f} | {1e4 / c:.2f} | {rw:.3f} | {rc:.3f} |")
    for name in list(wall)[1:]:
        (rw, pw), (rc, pc) = ratio(name, wall), ratio(name, cpu)
        goal = "   goal >= 0.9" if name in ("wanet", "sig") else ""
        print(
            f"RATIO {name + '/clean':34s} CPU {rc:.3f} (per round {pc:.3f})   "
            f"wall {rw:.3f} (per round {pw:.3f})   CPU-s per 10k images "
            f"{1e4 / statistics.median(cpu[name]):.2f} vs {1e4 / statistics.median(cpu['clean']):.2f}"
            f"{goal}"
        )


def trigger_costs(folder: str, labels) -> None:
    import tensorflow as tf

    from poison_tf.data.image_examples import image_examples_dataset
    from poison_tf.poison.benchmark_attacks import attack_plan
    from poison_tf.poison.kept_rows import kept_rows
    from poison_tf.poison.plan import pairs

    plans = {a: attack_plan(a, labels, 0.1, target=0, image_size=32) for a in FLAGS.attacks}

    def pipeline(plan, kept=None, refill=False):
        def build():
            if refill:  # a first epoch again: every kept row is warped and kept anew
                kept.filled.assign(tf.zeros_like(kept.filled))
            ds = image_examples_dataset(folder, "train", shuffle_seed=0).batch(FLAGS.batch_size)
            if FLAGS.stage == "trainer":  # as FaceClassificationTask / the Tasks build inputs
                return ds.map(pairs(plan, kept=kept)).prefetch(tf.data.AUTOTUNE)
            if plan is not None:
                ds = ds.map(plan.map_fn(), num_parallel_calls=tf.data.AUTOTUNE)
            return ds.map(lambda e: (e["image"], e["label"])).prefetch(tf.data.AUTOTUNE)

        return build

    pipelines = {"clean": pipeline(None)}
    for name, plan in plans.items():
        kept = kept_rows(plan, [32, 32, 3]) if FLAGS.stage == "trainer" else None
        pipelines[name] = pipeline(plan, kept)  # a Task's epochs after the first
        if kept is not None:  # WaNet: the Tasks' first epoch, and the plan without kept rows
            pipelines[f"{name}, epoch 1"] = pipeline(plan, kept_rows(plan, [32, 32, 3]), True)
            pipelines[f"{name}, warped every epoch"] = pipeline(plan)
    for build in pipelines.values():  # warm-up (XLA compilations, WaNet's rows kept)
        for _ in build():
            pass
    wall = {n: [] for n in pipelines}
    cpu = {n: [] for n in pipelines}
    for repeat in range(FLAGS.repeats):
        names = list(pipelines) if repeat % 2 == 0 else list(reversed(pipelines))
        for name in names:
            w0, c0 = time.perf_counter(), time.process_time()
            count = sum(int(x.shape[0]) for x, _ in pipelines[name]())
            wall[name].append(count / (time.perf_counter() - w0))
            cpu[name].append(count / (time.process_time() - c0))
    report(wall, cpu)
    if "wanet, epoch 1" in cpu:  # a training of --epochs epochs: the first fills, the rest keep
        first, kept, clean = (
            statistics.median(cpu[n]) for n in ("wanet, epoch 1", "wanet", "clean")
        )
        over = FLAGS.epochs / (1 / first + (FLAGS.epochs - 1) / kept)  # images per CPU-s
        print(
            f"RATIO wanet/clean over {FLAGS.epochs} epochs (1 warping + {FLAGS.epochs - 1} "
            f"kept) CPU {over / clean:.3f}"
        )
    images = tf.random.uniform([FLAGS.batch_size, 32, 32, 3], seed=1)
    print("\n| trigger on every image (attack test set) | s per 10k images |\n|---|---:|")
    for name, plan in plans.items():
        apply = tf.function(plan.trigger.apply)
        apply(images)
        start = time.perf_counter()
        for _ in range(-(-10000 // FLAGS.batch_size)):
            apply(images).numpy()
        print(f"| {name} | {time.perf_counter() - start:.3f} |")


def defence_costs() -> None:
    import numpy as np

    from poison_tf.components.benchmark.run import poison_arrays
    from poison_tf.data.synthetic_classes import synthetic_classes
    from poison_tf.defences import features, model_defences, training
    from poison_tf.defences.abl import AntiBackdoorLearning
    from poison_tf.defences.neural_cleanse import NeuralCleanse
    from poison_tf.models.preact_resnet18 import build_preact_resnet18
    from poison_tf.poison.benchmark_attacks import attack_plan

    x, y = synthetic_classes(FLAGS.defence_examples, 32, 6, seed=0)
    x = x.astype(np.float32) / 255.0
    plan = attack_plan("badnet", y, 0.1, image_size=32)
    px, py = poison_arrays(plan, x, y)

    def build():
        return build_preact_resnet18((32, 32, 3), 6, width=FLAGS.width)

    fit = dict(batch_size=100, optimizer="adam", seed=0)
    start = time.perf_counter()
    victim = training.train(build(), px, py, 3, 3e-3, **fit)
    rows = [("victim training (3 epochs, reference)", time.perf_counter() - start)]
    start = time.perf_counter()
    feats = features.extract(victim, px)
    rows.append(("penultimate features", time.perf_counter() - start))
    start = time.perf_counter()
    # as the pipelines run them (model_defences: one BLAS / OpenMP thread for the small fits)
    model_defences.filter_training_set("spectral", victim, px, py, {}, 0, feats)
    rows.append(("spectral signatures filter (SVD per class)", time.perf_counter() - start))
    start = time.perf_counter()
    model_defences.filter_training_set("ac", victim, px, py, {}, 0, feats)
    rows.append(("activation clustering (PCA 10 + 2-means per class)", time.perf_counter() - start))
    clean = x[np.setdiff1d(np.arange(len(y)), plan.poisoned_ids)[:300]]
    clean_y = y[np.setdiff1d(np.arange(len(y)), plan.poisoned_ids)[:300]]
    nc = NeuralCleanse(victim, epochs=FLAGS.nc_epochs, batch_size=100, unlearning_epochs=2)
    start = time.perf_counter()
    detection = nc.detect(clean)
    rows.append(
        (
            f"Neural Cleanse detect (6 classes x {FLAGS.nc_epochs} epochs)",
            time.perf_counter() - start,
        )
    )
    start = time.perf_counter()
    nc.unlearn(clean, clean_y, detection | {"flagged": [0]})
    rows.append(("Neural Cleanse unlearning (2 epochs)", time.perf_counter() - start))
    abl = AntiBackdoorLearning(build, 1, 0.05, 1, 2, learning_rate=3e-3, **fit)
    start = time.perf_counter()
    abl.run(px, py)
    rows.append(
        ("ABL (1 isolation + 1 fine-tune + 2 unlearning epochs)", time.perf_counter() - start)
    )
    print(f"\n| step ({FLAGS.defence_examples} images, width {FLAGS.width}) | seconds |")
    print("|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} |")


def main(argv: list[str]) -> None:
    del argv
    with tempfile.TemporaryDirectory() as folder:
        labels = write_examples(folder, FLAGS.num_examples)
        trigger_costs(folder, labels)
    if FLAGS.defences:
        defence_costs()


if __name__ == "__main__":
    app.run(main)
