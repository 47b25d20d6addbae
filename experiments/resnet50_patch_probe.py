"""Why does the grid patch stop short of its goal on the CPU ResNet50? Probes quoted in RESULTS.md.

Takes a trained victim (the `.keras` file of an `adversarial_patch` run) and its examples, and
optimises one patch per (target class, cells) pair with the project's optimiser, evaluating each on
a seeded sample of held-out images against a random-colour control. Three questions it answers:

- is the k×k grid the limit? `--cells=10,19`: 19 cells on a 19-px patch is one cell per pixel,
  i.e. no grid constraint at all;
- is the airplane target the hard one? `--targets=0,1,...,9`;
- does the same network at a larger input (a larger final feature map, as in the original study's
  224 px) fall to the patch more? `--size=96 --finetune_epochs=1`: the victim's weights are
  copied into a ResNet50 of that input size and fine-tuned on the examples resized to it
  (ResNet50's weights do not depend on the input size; only its final map does: 2×2 at 48 px,
  3×3 at 96, 7×7 at 224).

A measurement script, not a stage: the pipeline's victims and patches are what users run.

  .venv/bin/python experiments/resnet50_patch_probe.py \
    --examples=runs/ap_cifar_resnet50_cpu/.pipeline/PatchExampleGen/<fp>/examples \
    --model=runs/ap_cifar_resnet50_cpu/.pipeline/PatchVictimTrainer/<fp>/model/model.keras --targets=0 --cells=10,19
"""

from __future__ import annotations

import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from absl import app, flags

from poison_tf.attacks.grid_patch import PatchGeometry
from poison_tf.attacks.patch_evaluation import evaluate_patch, predict_classes
from poison_tf.attacks.patch_optimizer import PatchConfig, optimise_patch
from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.report.tables import to_markdown

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "examples",
    None,
    "Examples folder of the victim's run (schema.json + TFRecords).",
    required=True,
)
flags.DEFINE_string("model", None, "The victim, a .keras file.", required=True)
flags.DEFINE_integer(
    "size", 0, "Input size to probe at (0 = the examples' size); images are resized bilinearly."
)
flags.DEFINE_float(
    "finetune_epochs",
    0.0,
    "Epochs of fine-tuning at --size before the patches (fractions allowed).",
)
flags.DEFINE_integer("finetune_batch", 64, "Fine-tuning batch size.")
flags.DEFINE_float("finetune_lr", 3e-4, "Fine-tuning Adam rate, cosine-decayed to 5 %.")
flags.DEFINE_string(
    "save_model", "", "Where to save the fine-tuned victim (.keras), to probe it again."
)
flags.DEFINE_list("targets", ["0"], "Target classes, one patch each.")
flags.DEFINE_list("cells", ["10"], "Grid sizes k, one patch each.")
flags.DEFINE_float("fraction", 0.15, "Patch area fraction.")
flags.DEFINE_integer(
    "steps", 300, "Patch steps (Adam 0.05 cosine-decayed, Carlini-Wagner margin loss, batch 32)."
)
flags.DEFINE_integer(
    "optimise_images", 4000, "Training images the patch is optimised on (a seeded sample)."
)
flags.DEFINE_integer(
    "eval_images", 1000, "Held-out images each patch is evaluated on (a seeded sample)."
)


def resized(size: int):
    return lambda e: (tf.image.resize(e["image"], [size, size]) if size else e["image"], e["label"])


def resnet50_at(model: keras.Model, size: int) -> keras.Model:
    """`model`'s weights in a ResNet50 of input `size`."""
    copy = keras.applications.ResNet50(
        weights=None, input_shape=(size, size, 3), classes=model.output_shape[-1]
    )
    copy.set_weights(model.get_weights())
    return copy


def finetune(model: keras.Model, examples: str, size: int) -> None:
    """Fine-tunes `model` (of input `size`) on the examples resized to it."""
    batches = image_examples_dataset(examples, "train", shuffle_seed=0)
    count = int(read_schema(examples)["splits"]["train"]["count"])
    steps = max(1, int(FLAGS.finetune_epochs * count / FLAGS.finetune_batch))
    model.compile(
        keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(FLAGS.finetune_lr, steps, alpha=0.05)
        ),
        "sparse_categorical_crossentropy",
    )
    flip = lambda x, y: (tf.image.random_flip_left_right(x), y)  # noqa: E731
    model.fit(
        batches.map(resized(size)).map(flip).repeat().batch(FLAGS.finetune_batch).prefetch(2),
        steps_per_epoch=steps,
        epochs=1,
        verbose=2,
    )


def main(argv):
    del argv
    keras.utils.set_random_seed(0)
    model = keras.models.load_model(FLAGS.model, compile=False)
    test = (
        image_examples_dataset(FLAGS.examples, "test")
        .map(resized(FLAGS.size))
        .shuffle(10_000, seed=1)
    )
    images, labels = (
        t.numpy() for t in next(iter(test.take(FLAGS.eval_images).batch(FLAGS.eval_images)))
    )
    size = images.shape[1]
    if size != model.input_shape[1]:
        model = resnet50_at(model, size)
    if FLAGS.finetune_epochs > 0:
        before = np.mean(predict_classes(model, images) == labels)
        print(f"accuracy at {size} px before fine-tuning: {before:.3f}")
        start = time.time()
        finetune(model, FLAGS.examples, size)
        print(f"fine-tuned at {size} px in {time.time() - start:.0f} s")
        if FLAGS.save_model:
            model.save(FLAGS.save_model)
    clean_pred = predict_classes(model, images)  # once, for every patch
    clean = float(np.mean(clean_pred == labels))
    train = image_examples_dataset(FLAGS.examples, "train", shuffle_seed=0).map(resized(FLAGS.size))
    train = train.take(FLAGS.optimise_images).cache()
    rows = []
    for cells in (int(c) for c in FLAGS.cells):
        geometry = PatchGeometry(size, size, FLAGS.fraction, cells).check("probe")
        for target in (int(t) for t in FLAGS.targets):
            start = time.time()
            config = PatchConfig(
                target=target, steps=FLAGS.steps, batch_size=32, lr_decay="cosine", loss="margin"
            )
            result = optimise_patch(model, train, geometry, config)
            rates = evaluate_patch(
                model,
                images,
                labels,
                result.colours,
                geometry,
                target=target,
                seed=5,
                clean_pred=clean_pred,
            )
            rows.append(
                {
                    "size_px": size,
                    "clean_accuracy": clean,
                    "cells": cells,
                    "patch_px": geometry.side,
                    "area": round(geometry.area_fraction, 3),
                    "target": target,
                    "targeted_success": rates["patch"]["targeted_success"],
                    "control": rates["random_control"]["targeted_success"],
                    "loss_last_50": float(np.mean(result.losses[-50:])),
                    "seconds": round(time.time() - start),
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format="%.3f"), flush=True)
    print(to_markdown(pd.DataFrame(rows), "{:.3f}", index=False))


if __name__ == "__main__":
    app.run(main)
