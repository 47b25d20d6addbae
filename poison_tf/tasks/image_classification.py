"""The image-classification Task of `adversarial_patch`: the victim classifier, sparse cross-entropy.

`arch`: `small` (the 32-px residual CNN of `poison_tf.models.small_classifier`) or `resnet50`
(`keras.applications.ResNet50(weights=None or a local file, input_shape, classes)`). Inputs are
images in [0, 1]; ResNet50 gets them as they are (a model trained here learns on that scale).
Training flips images left-right when `flip` is set. Validation reports accuracy.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from poison_tf.data.image_examples import image_examples_dataset, read_schema
from poison_tf.errors import UserInputError
from poison_tf.models.small_classifier import build_small_classifier
from poison_tf.train.task import Task, as_float32

ARCHS = ("small", "resnet50")


class ImageClassificationTask(Task):
    def __init__(self, examples_dir: str, arch: str = "small", weights: str = "", width: int = 16,
                 pooling: str = "avg", flip: bool = False, global_batch_size: int = 32,
                 learning_rate: float = 1e-3, seed: int = 0):
        super().__init__(learning_rate=learning_rate, seed=seed)
        if arch not in ARCHS:
            raise UserInputError(f"--arch={arch!r}: choose one of {', '.join(ARCHS)}")
        self.examples_dir = examples_dir
        self.schema = read_schema(examples_dir)
        self.arch, self.weights, self.width, self.pooling, self.flip = arch, weights, width, pooling, flip
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
        if self.arch == "resnet50":
            try:
                return keras.applications.ResNet50(weights=self.weights or None, input_shape=self.input_shape,
                                                   classes=self.num_classes)
            except ValueError as error:
                raise UserInputError(f"ResNet50 on {self.input_shape} images: {error}") from None
        return build_small_classifier(self.input_shape, self.num_classes, self.width, pooling=self.pooling)

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        training = split == "train"
        dataset = image_examples_dataset(self.examples_dir, "train" if training else "test",
                                         shuffle_seed=self.seed + epoch if training else None)
        if training and self.flip:  # per example and epoch, reproducibly
            dataset = dataset.map(lambda e: e | {"image": tf.image.stateless_random_flip_left_right(
                e["image"], tf.stack([tf.cast(e["id"], tf.int32), self.seed + epoch]))})
        dataset = dataset.map(lambda e: (e["image"], e["label"]))
        return dataset.batch(self.global_batch_size).prefetch(tf.data.AUTOTUNE)

    def build_losses(self, labels, outputs) -> tf.Tensor:
        return keras.losses.sparse_categorical_crossentropy(labels, outputs)

    def validation_step(self, inputs, model: keras.Model) -> dict:
        features, labels = inputs
        outputs = as_float32(model(features, training=False))
        correct = tf.cast(tf.equal(tf.argmax(outputs, axis=-1), tf.cast(labels, tf.int64)), tf.float32)
        return {"loss": tf.cast(self.build_losses(labels, outputs), tf.float32), "accuracy": correct}
