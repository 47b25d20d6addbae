"""Where our training loop spends its CPU: cProfile (CPU-time clock) of `loop.fit` epochs.

The model and data are train_loop.py's (ResNet18 regressor, 48 px, width 0.25, batch 64, 1024
synthetic heads). One warm-up `fit` epoch traces the step; a second `fit` resumes it for
`--epochs` more epochs under the profiler. Printed: the CPU and wall seconds, how often the
train step was traced, the loop's own Python time, and the functions that matter for the
comparison with `model.fit` (checkpoint saves, summaries, input set-up), then the CPU and wall
cost of single `CheckpointManager.save` calls of the same variables.

    .venv/bin/python benchmarks/profile_train_loop.py --profiled_epochs=4
"""

from __future__ import annotations

import cProfile
import os
import pstats
import tempfile
import time

from absl import app, flags

flags.DEFINE_integer("profiled_epochs", 4, "Profiled epochs after the warm-up epoch.")
FLAGS = flags.FLAGS

SHOWN = (
    r"loop.py:\d+\((run_epoch|_distribute)\)|checkpoint_management.py:\d+\(save\)"
    r"|summary_ops_v2.py:\d+\(scalar\)|build_inputs|polymorphic_function.py:\d+\(__call__\)"
)


def main(argv: list[str]) -> None:
    del argv
    from train_loop import make_examples

    from poison_tf.tasks.headpose_regression import HeadPoseRegressionTask
    from poison_tf.train import loop as loop_module

    folder = tempfile.mkdtemp(prefix="profile_train_loop_")
    examples = os.path.join(folder, "examples")
    os.makedirs(examples)
    make_examples(examples, 1024, 48, 17)
    task = HeadPoseRegressionTask(examples, width=0.25, global_batch_size=64, seed=17)
    config = loop_module.TrainerConfig(
        model_dir=os.path.join(folder, "model"), epochs=1, validate=False, progress=False
    )
    loop_module.fit(task, config)  # warm-up: traces the step
    config.epochs = 1 + FLAGS.profiled_epochs
    traces = []
    original = loop_module._Loop._make_train_fn

    def counting(self):
        train_fn = original(self)
        traces.append((self, train_fn))
        return train_fn

    loop_module._Loop._make_train_fn = counting
    profiler = cProfile.Profile(time.process_time)
    wall, cpu = time.perf_counter(), time.process_time()
    profiler.enable()
    loop_module.fit(task, config)
    profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"\n{FLAGS.profiled_epochs} epochs of 16 steps: {cpu:.1f} CPU s, {wall:.1f} wall s")
    traced = traces[0][0].train_fn.experimental_get_tracing_count()  # compiled at the first epoch
    print(f"train step traced {traced} time(s) in this fit")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(SHOWN)

    import tensorflow as tf

    loop = traces[0][0]
    checkpoint = tf.train.Checkpoint(model=loop.model, optimizer=loop.optimizer)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(folder, "probe"), 2)
    for index in range(4):
        wall, cpu = time.perf_counter(), time.process_time()
        manager.save()
        print(
            f"CheckpointManager.save #{index + 1}: {time.process_time() - cpu:.3f} CPU s, "
            f"{time.perf_counter() - wall:.3f} wall s"
        )


if __name__ == "__main__":
    app.run(main)
