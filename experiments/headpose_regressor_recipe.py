"""What makes the ResNet18 head-pose regressor learn the rendered heads on 2 CPU cores?

Trains `build_resnet18_regressor(--size, --width)` with Keras `model.fit` on `--ntrain` rendered
heads (seed 17; test set: `--ntest` heads, seed 99), L1 loss, Adam with a cosine decay to 2 % over
the run, and prints the clean test MAE (mean and yaw / pitch / roll, degrees) after every epoch
with the elapsed seconds. The training set is cached as `.npz` under `--cache_dir` (rendering
24k heads at 64 px takes a minute). The rows of RESULTS.md's "What makes the regressor learn"
table that are not pipeline runs come from this script:

  .venv/bin/python experiments/headpose_regressor_recipe.py --size=64 --ntrain=16000 --epochs=12
  .venv/bin/python experiments/headpose_regressor_recipe.py --size=48 --ntrain=4000 --epochs=10 \
      --batch=32

A measurement script, not a stage: the pipeline's HeadPoseTrainer is what users run (same model,
same loss, same schedule shape; the pipeline decays to 5 %).
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from poison_tf.data.synthetic_heads import render_heads
from poison_tf.models.resnet18_regressor import build_resnet18_regressor

FLAGS = flags.FLAGS
flags.DEFINE_integer("size", 64, "Image side in pixels.")
flags.DEFINE_float("width", 0.25, "ResNet18 width multiplier (stages 2-4).")
flags.DEFINE_integer("ntrain", 8000, "Training heads.")
flags.DEFINE_integer("ntest", 1000, "Test heads.")
flags.DEFINE_integer("epochs", 10, "Epochs.")
flags.DEFINE_integer("batch", 64, "Batch size.")
flags.DEFINE_float("lr", 2e-3, "Adam's peak learning rate.")
flags.DEFINE_string(
    "cache_dir", "runs/headpose_recipe", "Where the rendered training set is cached."
)


def rendered(num: int, size: int, seed: int, cache_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """`render_heads(num, size, seed)`, cached as an .npz file in `cache_dir`."""
    path = os.path.join(cache_dir, f"heads_{size}px_{num}_seed{seed}.npz")
    if os.path.isfile(path):
        data = np.load(path)
        return data["x"], data["y"]
    images, angles = render_heads(num, size, seed=seed)
    os.makedirs(cache_dir, exist_ok=True)
    np.savez(path, x=images, y=angles)
    return images, angles


def main(argv: list[str]) -> None:
    del argv
    keras.utils.set_random_seed(1)
    x_train, y_train = rendered(FLAGS.ntrain, FLAGS.size, 17, FLAGS.cache_dir)
    x_test, y_test = render_heads(FLAGS.ntest, FLAGS.size, seed=99)
    model = build_resnet18_regressor(FLAGS.size, FLAGS.width)
    steps = FLAGS.epochs * (FLAGS.ntrain // FLAGS.batch)
    model.compile(
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(FLAGS.lr, steps, alpha=0.02)),
        loss="mae",
    )

    def scaled(images, angles):
        return tf.cast(images, tf.float32) / 255.0, angles

    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(FLAGS.ntrain, seed=1)
    train = train.batch(FLAGS.batch, drop_remainder=True).map(scaled).prefetch(4)
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(256).map(scaled)
    start = time.time()
    for epoch in range(FLAGS.epochs):
        loss = model.fit(train, epochs=1, verbose=0).history["loss"][0]
        mae = np.abs(model.predict(test, verbose=0) - y_test).mean(axis=0)
        print(
            f"epoch {epoch + 1}: {time.time() - start:.0f} s, train L1 {loss:.2f}, "
            f"test MAE {mae.mean():.2f} (yaw {mae[0]:.2f}, pitch {mae[1]:.2f}, roll {mae[2]:.2f})",
            flush=True,
        )


if __name__ == "__main__":
    app.run(main)
