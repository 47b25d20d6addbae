"""Anti-backdoor learning (Li et al., NeurIPS 2021): isolate the examples learnt too fast, then
unlearn them.

Backdoored examples are learnt much faster than clean ones, so after a few epochs with a loss
that stops descending below a floor, their loss is the lowest. Follows `defense/abl.py` of
SCLBD/BackdoorBench @ f02e353 and `config/defense/abl/cifar10.yaml`:
1. train a fresh model on the (poisoned) training set for `tuning_epochs` (20) with the
   flooding loss |CE − `flooding`| + `flooding` (`gradient_ascent_type: Flooding`, 0.5), lr 0.01;
2. isolate the `isolation_ratio` (1 %) examples with the lowest CE under that model;
3. `finetuning_ascent_model: True`: fine-tune on the other examples for `finetuning_epochs`
   (60; lr 0.01, then 0.001 from epoch 40, `learning_rate_finetuning`);
4. unlearn: `unlearning_epochs` (20) of gradient *ascent* on the isolated examples' CE,
   lr 1e-4 (`learning_rate_unlearning`).
The isolated ids are scored against the plan like a training-set filter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np

from poison_tf.defences import training
from poison_tf.errors import require


def flooding_loss(flooding: float = 0.5) -> Callable:
    """|mean CE − b| + b: gradient descent above the flood level b, ascent below it.

    Args:
        flooding: the flood level b.

    Returns:
        A Keras loss (labels, probabilities) → scalar.
    """

    def loss(labels, probs):
        ce = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, probs))
        return keras.ops.abs(ce - flooding) + flooding

    return loss


def ascent_loss(labels, probs):
    """−CE: minimising it un-learns the examples (ABL's `(-loss_ascent).backward()`).

    Args:
        labels: int labels [B].
        probs: softmax outputs [B, C].

    Returns:
        The scalar loss.
    """
    return -keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, probs))


@dataclasses.dataclass
class AntiBackdoorLearning:
    """Trains a model from `build_model()` the ABL way on a possibly poisoned training set.

    Attributes:
        build_model: builds a fresh, uncompiled softmax classifier.
        tuning_epochs: epochs of flooding training before isolation.
        isolation_ratio: share of the lowest-loss examples isolated, in (0, 1).
        finetuning_epochs: epochs of training on the other examples.
        unlearning_epochs: epochs of gradient ascent on the isolated ones.
        flooding: the flood level of the first epochs' loss.
        learning_rate: rate of the tuning and fine-tuning epochs.
        unlearning_lr: the constant rate of unlearning.
        batch_size: mini-batch size.
        optimizer: "sgd" or "adam".
        seed: shuffling and augmentation seed.
    """

    build_model: Callable[[], keras.Model]
    tuning_epochs: int = 20
    isolation_ratio: float = 0.01
    finetuning_epochs: int = 60
    unlearning_epochs: int = 20
    flooding: float = 0.5
    learning_rate: float = 0.01
    unlearning_lr: float = 1e-4
    batch_size: int = 128
    optimizer: str = "sgd"
    seed: int = 0

    def _fit(self) -> dict:
        return dict(batch_size=self.batch_size, seed=self.seed, optimizer=self.optimizer)

    def isolate(self, images: np.ndarray, labels: np.ndarray) -> tuple[keras.Model, np.ndarray]:
        """Steps 1-2: the flooding-trained model and the sorted ids of the lowest-loss examples.

        Args:
            images: float images [N, H, W, C] in [0, 1].
            labels: int labels [N] (possibly poisoned).

        Returns:
            (the trained model, sorted ids of the isolated examples).

        Raises:
            UserInputError: isolation_ratio outside (0, 1).
        """
        require(
            0.0 < self.isolation_ratio < 1.0,
            f"abl: isolation_ratio must be in (0, 1), got {self.isolation_ratio}",
        )
        model = self.build_model()
        training.train(
            model,
            images,
            labels,
            self.tuning_epochs,
            self.learning_rate,
            loss=flooding_loss(self.flooding),
            **self._fit(),
        )
        losses = training.per_example_loss(model, images, labels)
        count = max(1, int(round(self.isolation_ratio * len(labels))))
        return model, np.sort(np.argsort(losses, kind="stable")[:count]).astype(np.int64)

    def unlearn(
        self, model: keras.Model, images: np.ndarray, labels: np.ndarray, isolated: np.ndarray
    ) -> keras.Model:
        """Step 4: gradient ascent on the isolated examples' CE at a small constant rate.

        Args:
            model: the model to un-train (in place).
            images: float images [N, H, W, C] in [0, 1].
            labels: int labels [N].
            isolated: ids of the isolated examples.

        Returns:
            `model`.
        """
        if self.unlearning_epochs > 0 and len(isolated):
            model.compile(
                optimizer=keras.optimizers.SGD(self.unlearning_lr, momentum=0.9),
                loss=ascent_loss,
            )
            keras.utils.set_random_seed(self.seed)
            model.fit(
                training.dataset(images[isolated], labels[isolated], self.batch_size, self.seed),
                epochs=self.unlearning_epochs,
                verbose=0,
            )
        return model

    def run(self, images: np.ndarray, labels: np.ndarray) -> dict:
        """{"model": the unlearnt model, "isolated": sorted ids} for a (poisoned) training set.

        Args:
            images: float images [N, H, W, C] in [0, 1].
            labels: int labels [N] (possibly poisoned).

        Returns:
            {"model", "isolated"}.
        """
        model, isolated = self.isolate(images, labels)
        others = np.setdiff1d(np.arange(len(labels)), isolated)
        # 3. fine-tune on the rest: lr 0.01 for the first 2/3 of the epochs, then 0.001
        first = int(round(self.finetuning_epochs * 2 / 3))
        for epochs, lr in ((first, self.learning_rate), (self.finetuning_epochs - first, 1e-3)):
            training.train(model, images[others], labels[others], epochs, lr, **self._fit())
        model = self.unlearn(model, images, labels, isolated)
        return {"model": model, "isolated": isolated}
