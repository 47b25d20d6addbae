"""YOLOv8-seg training images/s on this machine, and what the loop's extras cost per step.

Measured in one process on the same batches (synthetic street scenes at --image_size, Ultralytics
augmentation, batches held in memory so the input pipeline is not what is timed):

1. `loop`: the project's training step as `poison_tf.train.loop` runs it: `strategy.run` of the
   Task's step, the replica-sum of the logs and the weight-EMA update (the segmenter's opt-in).
2. `plain`: the same Task step on the same model and optimizer in a bare `tf.function`: what a
   hand-written loop would do. The ratio loop/plain (images/s) is the price of the strategy
   wrapper and the EMA; the two run in alternating rounds and the headline is the median of
   the per-round ratios, so bursts of load from other programs hit both alike.
3. post-processing (NMS + masks at Ultralytics `val` settings) per image, one `tf.function` per
   image vs eager, on the model's outputs for one batch: why `SegPostprocessor` compiles.

    .venv/bin/python benchmarks/seg_train.py --size=tiny
    .venv/bin/python benchmarks/seg_train.py --size=n --image_size=320 --batch_size=8
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from absl import app, flags
from benchmark_flags import define_seed

flags.DEFINE_string("size", "n", "Model size (tiny, n, s, ...).")
flags.DEFINE_integer("image_size", 320, "Square input side S.")
flags.DEFINE_integer("batch_size", 8, "Global batch size.")
flags.DEFINE_integer("rounds", 5, "Alternating timed rounds of each variant.")
flags.DEFINE_integer("steps", 3, "Steps per round and variant.")
define_seed(17, "the scenes and the model")
FLAGS = flags.FLAGS


def write_examples(folder: str, num_train: int, size: int, seed: int) -> str:
    from poison_tf.data import seg_examples
    from poison_tf.data.synthetic_streets import write_synthetic_streets
    from poison_tf.data.yolo_seg import load_split

    data_yaml = write_synthetic_streets(os.path.join(folder, "yolo"), num_train, 4, size, seed)
    examples = os.path.join(folder, "examples")
    os.makedirs(examples)
    splits = {}
    for split in ("train", "val"):
        names, samples = load_split(data_yaml, split)
        splits[split] = seg_examples.write_seg_split(examples, split, samples, size, num_shards=1)
    seg_examples.write_seg_schema(examples, splits, size, names, "synthetic_streets", 100)
    return examples


def timed(fn, batches) -> tuple[float, float]:
    """(wall, process CPU) seconds of one pass over `batches`."""
    started, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        logs = fn(batch)
    float(logs["loss"])  # wait for the last step
    return time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str]) -> None:
    del argv
    import keras
    import tensorflow as tf

    from poison_tf.models.yolo_seg_postprocess import SegPostprocessor
    from poison_tf.tasks.yolo_segmentation import YoloSegmentationTask
    from poison_tf.train.loop import TrainerConfig, _Loop

    steps, batch = FLAGS.steps, FLAGS.batch_size
    with tempfile.TemporaryDirectory(prefix="seg_train_bench_") as folder:
        examples = write_examples(folder, steps * batch, FLAGS.image_size, FLAGS.seed)
        task = YoloSegmentationTask(
            examples, size=FLAGS.size, global_batch_size=batch, epochs=10, seed=FLAGS.seed
        )
        batches = list(task.build_inputs("train", 0).take(steps))
        keras.utils.set_random_seed(FLAGS.seed)
        loop = _Loop(
            task,
            TrainerConfig(model_dir=os.path.join(folder, "model"), progress=False),
            tf.distribute.get_strategy(),
        )
        plain = tf.function(
            lambda b: task.train_step(b, loop.model, loop.optimizer), reduce_retracing=True
        )
        # The loop compiles its step at the first epoch; the YOLO batches all have one shape.
        compiled = loop._compiled(loop.train_fn, task.build_inputs("train", 0), False)
        variants = {"loop": compiled, "plain": plain}
        traced = {}
        for name, fn in variants.items():  # tracing, not timed
            traced[name] = timed(fn, batches[:1])[0]
        seconds = {name: [] for name in variants}
        for round_index in range(FLAGS.rounds):
            order = list(variants) if round_index % 2 == 0 else list(variants)[::-1]
            for name in order:
                seconds[name].append(timed(variants[name], batches))
        rates = {name: [steps * batch / s[0] for s in values] for name, values in seconds.items()}
        cpu_rates = {
            name: [steps * batch / s[1] for s in values] for name, values in seconds.items()
        }
        ratio = statistics.median(a / b for a, b in zip(rates["loop"], rates["plain"]))
        cpu_ratio = statistics.median(a / b for a, b in zip(cpu_rates["loop"], cpu_rates["plain"]))

        outputs = loop.model(batches[0][0]["images"], training=False)
        post = {}
        for compiled in (True, False):
            processor = SegPostprocessor(compiled=compiled)
            processor(outputs)  # warm-up / trace
            started = time.perf_counter()
            for _ in range(3):
                detections = processor(outputs)
            post[compiled] = (time.perf_counter() - started) / (3 * batch)

    params = loop.model.count_params()
    print(
        f"YOLOv8-seg {FLAGS.size}, S={FLAGS.image_size}, batch {batch}, {params:,} parameters, "
        f"{len(os.sched_getaffinity(0))} CPUs; {FLAGS.rounds} rounds x {steps} steps each"
    )
    print(f"first call (trace) s: loop {traced['loop']:.1f}, plain {traced['plain']:.1f}")
    for name in variants:
        print(
            f"{name:>6}: median {statistics.median(rates[name]):.2f} images/s, "
            f"{statistics.median(cpu_rates[name]):.2f} images/CPU-s "
            f"(rounds, wall: {', '.join(f'{r:.2f}' for r in rates[name])})"
        )
    print(
        f"ratio loop (strategy.run + EMA) / plain tf.function step, images/s: wall {ratio:.3f}x, "
        f"CPU {cpu_ratio:.3f}x (medians of per-round ratios)"
    )
    kept = sum(len(d["scores"]) for d in detections) / batch
    print(
        f"post-processing per image ({kept:.0f} detections kept on average, untrained model, "
        f"conf 0.001): tf.function {1e3 * post[True]:.1f} ms, eager {1e3 * post[False]:.1f} ms, "
        f"eager/compiled {post[False] / post[True]:.2f}x"
    )


if __name__ == "__main__":
    app.run(main)
