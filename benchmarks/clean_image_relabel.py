"""Planning + relabelling a clean-image backdoor on 100k instances vs a plain Python loop.

Generates `--num_images` YOLO-seg label files holding `--num_instances` instances in all
(polygon lines, classes 0..9) in a temporary folder, then times, in one run, for the pair
0 → 1 at `--ratio`:

- baseline: a plain Python loop over the label files, the way a one-off script does it: read
  every file, collect the host lines, pick round(r · N_host) of them with `random.sample`,
  then read every file again and write the poisoned copy of the folder;
- plan + tf.data: `plan_relabel` on the per-instance arrays (which ExampleGen already holds;
  reading them from the files is timed separately) and the plan's `relabel_fn` mapped over
  the whole split as padded [B, M] batches of (classes, instance_ids), drained;
- plan + label files: `plan_relabel` and `write_poisoned_labels` (copy of the folder with the
  planned lines rewritten), the output for users of other training tools.

The tf.data path runs once untimed first (imports, tf.function tracing); then the methods take
turns, `--repeats` rounds with the order rotating (median wall and CPU seconds). Both file-writing methods create one
file per image, so on a slow file system they are bound by file creation alike. Prints the times and the ratios
baseline / ours (above 1 = ours is faster) and checks that every method changes exactly
round(r · N_host) instances.

    .venv/bin/python benchmarks/clean_image_relabel.py
    .venv/bin/python benchmarks/clean_image_relabel.py --num_instances=1000000 --num_images=50000
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time

import numpy as np
from absl import app, flags
from benchmark_flags import define_repeats, define_seed

flags.DEFINE_integer("num_instances", 100_000, "Instances in the synthetic label folder.")
flags.DEFINE_integer("num_images", 10_000, "Label files the instances are spread over.")
flags.DEFINE_integer("points", 12, "Polygon points per instance line.")
flags.DEFINE_float("ratio", 0.5, "Share of host instances relabelled.")
flags.DEFINE_integer("batch_size", 64, "Images per tf.data batch.")
define_repeats(3, "Timed runs per method")
define_seed(0, "the generator and of the selection")

FLAGS = flags.FLAGS
NUM_CLASSES = 10
HOST, TARGET = 0, 1


def write_label_folder(
    folder: str, num_instances: int, num_images: int, points: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    per_image = np.bincount(rng.integers(0, num_images, num_instances), minlength=num_images)
    os.makedirs(folder)
    for image, count in enumerate(per_image):
        classes = rng.integers(0, NUM_CLASSES, count)
        coords = rng.uniform(0, 1, (count, 2 * points))
        text = "".join(
            f"{c} " + " ".join(f"{v:.5f}" for v in row) + "\n" for c, row in zip(classes, coords)
        )
        with open(os.path.join(folder, f"{image:07d}.txt"), "w") as handle:
            handle.write(text)


def read_instance_arrays(folder: str):
    """The per-instance arrays (id, class, stem, line) and padded per-image rows."""
    from poison_tf.poison.relabel_plan import InstanceTable

    stems, classes, lines = [], [], []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as handle:
            for number, line in enumerate(handle, start=1):
                stems.append(name[:-4])
                classes.append(int(line.split(" ", 1)[0]))
                lines.append(number)
    return InstanceTable(np.arange(len(classes)), classes, stems, lines)


def padded_rows(table, max_instances: int):
    """[images, M] classes and instance ids, -1 padded, as the training batches carry them."""
    _, starts, counts = np.unique(table.stems, return_index=True, return_counts=True)
    classes = np.full((len(starts), max_instances), -1, np.int32)
    ids = np.full((len(starts), max_instances), -1, np.int64)
    for row, (start, count) in enumerate(zip(starts, counts)):
        classes[row, :count] = table.classes[start : start + count]
        ids[row, :count] = table.instance_ids[start : start + count]
    return classes, ids


def baseline_loop(folder: str, out: str, ratio: float, seed: int) -> int:
    names = sorted(os.listdir(folder))
    hosts = []
    for name in names:
        with open(os.path.join(folder, name)) as handle:
            for number, line in enumerate(handle):
                if int(line.split(" ", 1)[0]) == HOST:
                    hosts.append((name, number))
    chosen: dict[str, set[int]] = {}
    for name, number in random.Random(seed).sample(hosts, round(ratio * len(hosts))):
        chosen.setdefault(name, set()).add(number)
    os.makedirs(out)
    for name in names:
        with open(os.path.join(folder, name)) as handle:
            lines = handle.readlines()
        for number in chosen.get(name, ()):
            lines[number] = f"{TARGET}" + lines[number][lines[number].index(" ") :]
        with open(os.path.join(out, name), "w") as handle:
            handle.writelines(lines)
    return sum(len(v) for v in chosen.values())


def plan_and_tf_data(table, rows, ratio: float, seed: int, batch_size: int) -> int:
    import tensorflow as tf

    from poison_tf.attacks.class_pairs import make_pair
    from poison_tf.poison.relabel_plan import plan_relabel

    names = [str(i) for i in range(NUM_CLASSES)]
    plan = plan_relabel(table, make_pair(HOST, TARGET, names), ratio, seed)
    relabel = plan.relabel_fn()
    dataset = tf.data.Dataset.from_tensor_slices(rows).batch(batch_size)
    dataset = dataset.map(lambda c, i: (relabel(c, i), c), num_parallel_calls=tf.data.AUTOTUNE)
    changed = 0
    for new, old in dataset.as_numpy_iterator():
        changed += int((new != old).sum())
    return changed


def plan_and_files(table, folder: str, out: str, ratio: float, seed: int) -> int:
    from poison_tf.attacks.class_pairs import make_pair
    from poison_tf.attacks.clean_image_labels import write_poisoned_labels
    from poison_tf.poison.relabel_plan import plan_relabel

    names = [str(i) for i in range(NUM_CLASSES)]
    plan = plan_relabel(table, make_pair(HOST, TARGET, names), ratio, seed)
    return write_poisoned_labels(plan, folder, out)


def time_once(fn, cleanup=lambda: None) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of one call after `cleanup`."""
    cleanup()
    start, start_cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - start, time.process_time() - start_cpu, result


def interleaved(methods: dict, repeats: int) -> dict:
    """name → (median wall, median CPU, last result); methods take turns each repeat (the order
    rotating) so that load drift on a shared machine hits them alike."""
    samples: dict = {name: [] for name in methods}
    names = list(methods)
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            samples[name].append(time_once(*methods[name]))
    return {
        name: (
            statistics.median(s[0] for s in runs),
            statistics.median(s[1] for s in runs),
            runs[-1][2],
        )
        for name, runs in samples.items()
    }


def main(argv):
    del argv
    import poison_tf.attacks.clean_image_labels  # noqa: F401  (imports stay out of the timings)

    root = tempfile.mkdtemp(prefix="clean_image_relabel_")
    try:
        folder, out = os.path.join(root, "labels"), os.path.join(root, "out")
        write_label_folder(folder, FLAGS.num_instances, FLAGS.num_images, FLAGS.points, FLAGS.seed)
        remove_out = lambda: shutil.rmtree(out, ignore_errors=True)  # noqa: E731

        read = time_once(lambda: read_instance_arrays(folder))
        table = read[2]
        rows = padded_rows(
            table, int(np.bincount(np.unique(table.stems, return_inverse=True)[1]).max())
        )
        expected = round(FLAGS.ratio * int((table.classes == HOST).sum()))
        ratio, seed = FLAGS.ratio, FLAGS.seed
        tf_data = (lambda: plan_and_tf_data(table, rows, ratio, seed, FLAGS.batch_size),)
        tf_data[0]()  # warm-up: imports, tf.function tracing
        runs = interleaved(
            {
                "baseline: plain Python loop over the label files": (
                    lambda: baseline_loop(folder, out, ratio, seed),
                    remove_out,
                ),
                "plan + relabel_fn over the split in tf.data": tf_data,
                "plan + poisoned copy of the label folder": (
                    lambda: plan_and_files(table, folder, out, ratio, seed),
                    remove_out,
                ),
            },
            FLAGS.repeats,
        )
        counts = [result for _, _, result in runs.values()]
        assert counts == [expected] * 3, (counts, expected)

        print(
            f"{len(table)} instances in {FLAGS.num_images} label files; host 0 → target 1 at "
            f"ratio {FLAGS.ratio:g}: {expected} relabelled; median of {FLAGS.repeats} runs"
        )
        print(f"  {'method':58s} {'wall s':>8s} {'CPU s':>8s}")
        print(
            f"  {'reading label files into arrays (once, ExampleGen job)':58s} {read[0]:8.3f} {read[1]:8.3f}"
        )
        for name, (wall, cpu, _) in runs.items():
            print(f"  {name:58s} {wall:8.3f} {cpu:8.3f}")
        (base_wall, base_cpu, _), *ours = runs.values()
        for name, (wall, cpu, _) in zip(list(runs)[1:], ours):
            print(
                f"ratio baseline / ({name}): wall {base_wall / wall:7.2f}, CPU {base_cpu / cpu:7.2f}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    app.run(main)
