"""What each WaNet fast path buys: the reference and the fast form of each step, per batch.

The WaNet rows of a training batch cost three things (`poison_tf.poison.wanet`): the fixed warp
of the poisoned rows (`apply`: sparse product vs `apply_reference`: four gathers per image), the
per-id noise of the noise-mode rows (`hash_uniform_fast`: uint32, constant id-free part vs
`hash_uniform`: int64 with masks) and their noisy warp (`apply_noise` vs `apply_noise(...,
reference=True)`: uncompiled, int64 hash; the fast one is XLA-compiled and row-padded). Each pair runs as a `tf.function` on the same
tensors, alternating, `--repeats` rounds of `--calls` calls; the medians of wall and CPU
milliseconds per call are printed with the ratio fast / reference. Row counts default to a
128-image batch at BackdoorBench's rates (10 % poisoned = 13 rows, cross ratio 2 = 26 rows).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/wanet_paths.py
"""

from __future__ import annotations

import statistics
import time

from absl import app, flags
from benchmark_flags import define_repeats

flags.DEFINE_integer("size", 32, "Image side.")
flags.DEFINE_integer("poisoned_rows", 13, "Rows warped with the fixed grid per batch.")
flags.DEFINE_integer("noise_rows", 26, "Noise-mode rows per batch.")
flags.DEFINE_integer("calls", 200, "Calls per timed round.")
define_repeats(5, "Timed rounds per function")
FLAGS = flags.FLAGS


def timed(function, args, calls: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per call of `function(*args)` over `calls` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        out = function(*args)
    _ = [t.numpy() for t in (out if isinstance(out, tuple | list) else [out])]
    return (
        (time.perf_counter() - wall) * 1e3 / calls,
        (time.process_time() - cpu) * 1e3 / calls,
    )


def main(argv: list[str]) -> None:
    del argv
    import tensorflow as tf

    from poison_tf.poison import wanet

    trigger = wanet.wanet(FLAGS.size, seed=0)
    images = tf.random.uniform([FLAGS.poisoned_rows, FLAGS.size, FLAGS.size, 3], seed=1)
    noisy = tf.random.uniform([FLAGS.noise_rows, FLAGS.size, FLAGS.size, 3], seed=2)
    ids = tf.range(1000, 1000 + FLAGS.noise_rows, dtype=tf.int64)
    count = FLAGS.size * FLAGS.size * 2
    pairs = {
        "fixed warp of the poisoned rows": (
            (trigger.apply_reference, (images,)),
            (trigger.apply, (images,)),
        ),
        "noise hash of the noise-mode rows": (
            (lambda i: wanet.hash_uniform(i, count, trigger.seed), (ids,)),
            (lambda i: wanet.hash_uniform_fast(i, trigger._offsets), (ids,)),
        ),
        "noisy warp of the noise-mode rows (hash + taps + gathers)": (
            (lambda x, i: trigger.apply_noise(x, i, reference=True), (noisy, ids)),
            (trigger.apply_noise, (noisy, ids)),
        ),
    }
    print(
        f"\n| step ({FLAGS.size} px) | reference ms (wall / CPU) | fast ms (wall / CPU) | CPU ratio |"
    )
    print("|---|---:|---:|---:|")
    for name, ((ref, ref_args), (fast, fast_args)) in pairs.items():
        ref, fast = tf.function(ref), tf.function(fast)
        ref(*ref_args), fast(*fast_args)  # trace
        times = {"ref": [], "fast": []}
        for repeat in range(FLAGS.repeats):
            order = [("ref", ref, ref_args), ("fast", fast, fast_args)]
            for key, function, args in order if repeat % 2 == 0 else order[::-1]:
                times[key].append(timed(function, args, FLAGS.calls))
        (rw, rc), (fw, fc) = (
            tuple(statistics.median(t[i] for t in times[k]) for i in (0, 1))
            for k in ("ref", "fast")
        )
        print(f"| {name} | {rw:.3f} / {rc:.3f} | {fw:.3f} / {fc:.3f} | {fc / rc:.2f} |")


if __name__ == "__main__":
    app.run(main)
