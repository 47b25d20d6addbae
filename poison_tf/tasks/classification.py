"""What every image-classification Task shares: the schema, sparse cross-entropy, accuracy.

Subclasses (the DeepID face task, the patch study's victim task) choose the model and the
input pipeline; the loss and the validation metrics stay one definition.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from poison_tf.data.image_examples import read_schema
from poison_tf.train.task import Task, as_float32


class ClassificationTask(Task):
    """Reads `examples_dir`'s schema (image size, `num_classes`, split counts)."""

    def __init__(self, examples_dir: str, global_batch_size: int, learning_rate: float, seed: int):
        super().__init__(learning_rate=learning_rate, seed=seed)
        self.examples_dir = examples_dir
        self.schema = read_schema(examples_dir)
        self.global_batch_size = global_batch_size

    @property
    def num_classes(self) -> int:
        return int(self.schema["label"]["num_classes"])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        height, width = self.schema["image_size"]
        return int(height), int(width), 3

    def num_examples(self, split: str) -> int:
        return int(self.schema["splits"][split]["count"])

    def build_losses(self, labels, outputs) -> tf.Tensor:
        return keras.losses.sparse_categorical_crossentropy(labels, outputs)

    def validation_step(self, inputs, model: keras.Model) -> dict:
        features, labels = inputs
        outputs = as_float32(model(features, training=False))
        correct = tf.cast(
            tf.equal(tf.argmax(outputs, axis=-1), tf.cast(labels, tf.int64)), tf.float32
        )
        return {
            "loss": tf.cast(self.build_losses(labels, outputs), tf.float32),
            "accuracy": correct,
        }
