"""The image-classification Task of `adversarial_patch`: the victim classifier, sparse cross-entropy.

`arch`: `small` (the 32-px residual CNN of `poison_tf.models.small_classifier`) or `resnet50`
(`keras.applications.ResNet50(weights=None or a local file, input_shape, classes)`). Inputs are
images in [0, 1]; ResNet50 gets them as they are (a model trained here learns on that scale).
Training flips images left-right when `flip` is set. Validation reports accuracy.
`lr_decay="cosine"` decays Adam's rate to 5 % over the run: with a constant rate, a ResNet50
trained 5 epochs from scratch ended on a noisy iterate that predicted airplane for 2 of 1,000
test images (mean probability 0.014), which no patch could then reach as a target (2 % at 15 %
area, while a target the model favoured reached 85 % in 100 steps).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from poison_tf.data.image_examples import image_examples_dataset
from poison_tf.errors import UserInputError
from poison_tf.models.small_classifier import build_small_classifier
from poison_tf.tasks.classification import ClassificationTask
from poison_tf.train.schedules import DECAYS, adam_over_run

ARCHS = ("small", "resnet50")


class ImageClassificationTask(ClassificationTask):
    def __init__(
        self,
        examples_dir: str,
        arch: str = "small",
        weights: str = "",
        filters: int = 16,
        pooling: str = "avg",
        flip: bool = False,
        global_batch_size: int = 32,
        learning_rate: float = 1e-3,
        seed: int = 0,
        epochs: int = 0,
        lr_decay: str = "constant",
    ):
        if arch not in ARCHS:
            raise UserInputError(f"--arch={arch!r}: choose one of {', '.join(ARCHS)}")
        if lr_decay not in DECAYS:
            raise UserInputError(f"--lr_decay={lr_decay!r}: choose one of {', '.join(DECAYS)}")
        super().__init__(examples_dir, global_batch_size, learning_rate, seed)
        self.arch, self.weights, self.filters, self.pooling, self.flip = (
            arch,
            weights,
            filters,
            pooling,
            flip,
        )
        self.epochs, self.lr_decay = epochs, lr_decay

    def build_optimizer(self) -> keras.optimizers.Optimizer:
        steps_per_epoch = -(-self.num_examples("train") // self.global_batch_size)
        return adam_over_run(self.learning_rate, self.epochs, steps_per_epoch, self.lr_decay)

    def build_model(self) -> keras.Model:
        if self.arch == "resnet50":
            try:
                return keras.applications.ResNet50(
                    weights=self.weights or None,
                    input_shape=self.input_shape,
                    classes=self.num_classes,
                )
            except ValueError as error:
                raise UserInputError(f"ResNet50 on {self.input_shape} images: {error}") from None
        return build_small_classifier(
            self.input_shape, self.num_classes, self.filters, pooling=self.pooling
        )

    def epochs_share_pipeline(self) -> bool:
        """Yes: the epoch only seeds the shuffle and the flips."""
        return True

    def build_inputs(self, split: str, epoch: int = 0) -> tf.data.Dataset:
        training = split == "train"
        dataset = image_examples_dataset(
            self.examples_dir,
            "train" if training else "test",
            shuffle_seed=self.seed + epoch if training else None,
        )
        if training and self.flip:  # per example and epoch, reproducibly
            dataset = dataset.map(
                lambda e: (
                    e
                    | {
                        "image": tf.image.stateless_random_flip_left_right(
                            e["image"],
                            tf.stack(
                                [tf.cast(e["id"], tf.int32), tf.cast(self.seed + epoch, tf.int32)]
                            ),
                        )
                    }
                )
            )
        dataset = dataset.map(lambda e: (e["image"], e["label"]))
        return dataset.batch(self.global_batch_size).prefetch(tf.data.AUTOTUNE)
