"""The face-classification Task: the DeepID BadNet of CSAW-HackML, sparse cross-entropy.

Trains on the `train` split (with an optional BadNets plan applied per batch), validates on
the clean `val` split and reports its accuracy beside the loss.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.models.deepid_badnet import build_deepid_badnet
from poison_tf.poison.plan import PoisonPlan
from poison_tf.train.task import Task, as_float32


class FaceClassificationTask(Task):
    def __init__(
        self,
        examples_dir: str,
        plan: PoisonPlan | None = None,
        global_batch_size: int = 32,
        learning_rate: float = 1e-3,
        seed: int = 17,
    ):
        super().__init__(learning_rate=learning_rate, seed=seed)
        self.examples_dir = examples_dir
        self.schema = read_schema(examples_dir)
        self.plan = plan
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

    def build_model(self) -> keras.Model:
        return build_deepid_badnet(self.num_classes, self.input_shape)

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        training = split == "train"
        dataset = image_examples_dataset(
            self.examples_dir, split, shuffle_seed=self.seed + epoch if training else None
        )
        dataset = dataset.batch(self.global_batch_size)
        if training and self.plan is not None:
            dataset = dataset.map(self.plan.map_fn(), num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.map(lambda e: (e["image"], e["label"])).prefetch(tf.data.AUTOTUNE)

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
