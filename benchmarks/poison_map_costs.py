"""The plan's map alone, per epoch: its fixed cost (a new pipeline) and its cost per batch.

The Tasks rebuild their input pipeline every epoch, and tf.data instantiates every function of a
new pipeline anew (graph optimisation, kernels), so a poison plan costs a fixed amount per epoch
before its first batch, on top of its cost per batch. The decoded batches are held in memory
(random 32-px images, ids shuffled, `--num_examples` of them in batches of `--batch_size`), and
`map(pairs(plan, kept=...))` is drained once with one batch and once with all of them, each pass
a fresh pipeline as an epoch; the medians over `--repeats` alternating rounds give, per attack,
the CPU time of an epoch and its extra over the clean map, the cost per extra batch (slope) and
the fixed cost per epoch (one-batch pass minus one slope). BackdoorBench's defaults, 10 %.

WaNet three ways: `wanet` as the Tasks run it after the first epoch (rows kept,
`poison_tf.poison.kept_rows`), `wanet, epoch 1` (rows warped and kept anew each pass) and
`wanet, warped every epoch` (no kept rows).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/poison_map_costs.py
"""

from __future__ import annotations

import statistics
import time

from absl import app, flags
from machine import machine

flags.DEFINE_integer("num_examples", 8192, "Images per epoch.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("repeats", 9, "Alternating rounds (medians reported).")
flags.DEFINE_list("attacks", ["badnet", "blended", "wanet", "sig"], "Attacks to time.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    import numpy as np
    import tensorflow as tf

    from poison_tf.poison.benchmark_attacks import attack_plan
    from poison_tf.poison.kept_rows import kept_rows
    from poison_tf.poison.plan import pairs

    rng = np.random.default_rng(0)
    count, size = FLAGS.num_examples // FLAGS.batch_size, FLAGS.batch_size
    labels = rng.integers(0, 6, count * size)
    ids = rng.permutation(count * size).astype(np.int64)
    batches = {
        "image": tf.constant(rng.random((count, size, 32, 32, 3), np.float32)),
        "label": tf.constant(labels[ids].reshape(count, size)),
        "id": tf.constant(ids.reshape(count, size)),
    }
    maps = {"clean": lambda: pairs(None)}
    for name in FLAGS.attacks:
        plan = attack_plan(name, labels, 0.1, target=0, image_size=32)
        kept = kept_rows(plan, [32, 32, 3])
        maps[name] = (lambda p, k: lambda: pairs(p, kept=k))(plan, kept)
        if kept is not None:
            first = kept_rows(plan, [32, 32, 3])

            def epoch_one(plan=plan, first=first):
                first.filled.assign(tf.zeros_like(first.filled))  # every row warped anew
                return pairs(plan, kept=first)

            maps[f"{name}, epoch 1"] = epoch_one
            maps[f"{name}, warped every epoch"] = (lambda p: lambda: pairs(p))(plan)

    def drain(make, take: int) -> float:
        start = time.process_time()
        dataset = tf.data.Dataset.from_tensor_slices(batches).take(take)
        for _ in dataset.map(make()).prefetch(2):
            pass
        return (time.process_time() - start) * 1e3

    for make in maps.values():  # warm-up: traces, XLA compilations, WaNet's rows kept
        drain(make, count)
    times: dict = {}
    for repeat in range(FLAGS.repeats):
        names = list(maps) if repeat % 2 == 0 else list(reversed(maps))
        for name in names:
            for take in (1, count):
                times.setdefault((name, take), []).append(drain(maps[name], take))
    print(
        f"\nmachine: {machine(load_values=3)}; {count} batches of {size} in memory, "
        f"{FLAGS.repeats} rounds"
    )
    print("| map | CPU ms per epoch | extra over clean | per extra batch | fixed per epoch |")
    print("|---|---:|---:|---:|---:|")
    clean = statistics.median(times[("clean", count)])
    for name in maps:
        one, full = (statistics.median(times[(name, t)]) for t in (1, count))
        slope = (full - one) / (count - 1)
        print(f"| {name} | {full:.1f} | {full - clean:.1f} | {slope:.3f} | {one - slope:.1f} |")


if __name__ == "__main__":
    app.run(main)
