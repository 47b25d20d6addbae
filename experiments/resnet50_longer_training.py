"""Does a longer-trained CPU ResNet50 fall to the grid patch more, or less? Victims quoted in RESULTS.md.

Continues a trained victim (the `.keras` file of an `adversarial_patch` run) on its own examples
for `--epochs` more epochs (Adam, cosine-decayed to 5 %, flips, batch 64, reshuffled each epoch),
saving a snapshot every `--snapshot_every` epochs, so that `resnet50_patch_probe.py` can measure
the patch on each snapshot and the success-vs-training curve comes from one run. Validation
accuracy on the full test split is printed every epoch.

A measurement script, not a stage: the pipeline's PatchVictimTrainer is what users run.

  .venv/bin/python experiments/resnet50_longer_training.py \
    --examples=runs/ap_cifar_resnet50_cpu/.pipeline/PatchExampleGen/<fp>/examples \
    --model=runs/ap_cifar_resnet50_cpu/.pipeline/PatchVictimTrainer/<fp>/model/model.keras --epochs=10 --out=runs/r50_longer
"""

from __future__ import annotations

import os
import time

import keras
import tensorflow as tf
from absl import app, flags

from poison_tf.data.image_examples import image_examples_dataset, read_schema

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "examples",
    None,
    "Examples folder of the victim's run (schema.json + TFRecords).",
    required=True,
)
flags.DEFINE_string("model", None, "The victim to continue, a .keras file.", required=True)
flags.DEFINE_string("out", None, "Folder for the snapshots (plus<epoch>.keras).", required=True)
flags.DEFINE_integer("epochs", 10, "More epochs to train.")
flags.DEFINE_integer("snapshot_every", 2, "Save a snapshot every this many epochs.")
flags.DEFINE_float("lr", 3e-4, "Adam rate, cosine-decayed to 5 % over all the epochs.")
flags.DEFINE_integer("batch", 64, "Batch size.")


class Snapshots(keras.callbacks.Callback):
    """Saves the model every `FLAGS.snapshot_every` epochs, named by the epochs trained here."""

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % FLAGS.snapshot_every == 0:
            path = os.path.join(FLAGS.out, f"plus{epoch + 1}.keras")
            self.model.save(path)
            print("saved", path, flush=True)


def main(argv):
    del argv
    keras.utils.set_random_seed(0)
    os.makedirs(FLAGS.out, exist_ok=True)
    model = keras.models.load_model(FLAGS.model, compile=False)
    steps = int(read_schema(FLAGS.examples)["splits"]["train"]["count"]) // FLAGS.batch
    schedule = keras.optimizers.schedules.CosineDecay(FLAGS.lr, steps * FLAGS.epochs, alpha=0.05)
    model.compile(
        keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    train = image_examples_dataset(FLAGS.examples, "train", shuffle_seed=0)
    train = train.map(lambda e: (tf.image.random_flip_left_right(e["image"]), e["label"]))
    train = train.shuffle(4096, seed=1).batch(FLAGS.batch, drop_remainder=True).prefetch(2)
    test = (
        image_examples_dataset(FLAGS.examples, "test")
        .map(lambda e: (e["image"], e["label"]))
        .batch(256)
    )
    start = time.time()
    model.fit(train, epochs=FLAGS.epochs, validation_data=test, verbose=2, callbacks=[Snapshots()])
    print("trained in", round(time.time() - start), "s")


if __name__ == "__main__":
    app.run(main)
