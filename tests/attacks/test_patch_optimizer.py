"""Patch optimisation on a tiny CNN: the targeted patch must beat a random-colour control."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from poison_tf.attacks.grid_patch import PatchGeometry
from poison_tf.attacks.patch_evaluation import evaluate_patch, predict_classes
from poison_tf.attacks.patch_optimizer import (
    PatchConfig,
    check_classifier,
    optimise_patch,
    paste_with_eot,
    patch_loss,
    step_size,
)
from poison_tf.data.synthetic_classes import synthetic_classes
from poison_tf.errors import UserInputError


def tiny_cnn(classes: int = 4, size: int = 32, softmax: bool = False) -> keras.Model:
    inputs = keras.Input([size, size, 3])
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax" if softmax else None)(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def victim():
    keras.utils.set_random_seed(1)
    images, labels = synthetic_classes(800, 32, 4, seed=1)
    images = images.astype(np.float32) / 255.0
    model = tiny_cnn(softmax=True)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(images[:600], labels[:600], epochs=12, batch_size=32, verbose=0)
    return model, images[600:], labels[600:]


@pytest.mark.parametrize(
    "optimizer,eot,loss,decay",
    [
        ("adam", False, "ce", "constant"),
        ("signed", True, "ce", "constant"),
        ("adam", False, "margin", "cosine"),
    ],
)
def test_targeted_patch_succeeds(victim, optimizer, eot, loss, decay):
    model, images, labels = victim
    geometry = PatchGeometry(32, 32, 0.2, cells=4).check()
    config = PatchConfig(
        target=2,
        steps=60,
        batch_size=32,
        optimizer=optimizer,
        eot=eot,
        loss=loss,
        lr_decay=decay,
        learning_rate=0.05 if optimizer == "adam" else 0.02,
    )
    dataset = tf.data.Dataset.from_tensor_slices((images[:100], labels[:100]))
    result = optimise_patch(model, dataset, geometry, config)
    assert result.colours.shape == (4, 4, 3)
    assert result.colours.min() >= 0.0 and result.colours.max() <= 1.0
    assert np.mean(result.losses[-10:]) < np.mean(result.losses[:5])
    metrics = evaluate_patch(
        model,
        images[100:],
        labels[100:],
        result.colours,
        geometry,
        target=2,
        seed=5,
        eot=config if eot else None,
    )
    assert metrics["patch"]["clean_accuracy"] > 0.7  # the victim itself works
    assert metrics["patch"]["targeted_success"] >= 0.8
    assert (
        metrics["patch"]["targeted_success"] > metrics["random_control"]["targeted_success"] + 0.3
    )
    assert ("patch_eot" in metrics) == eot
    if eot:  # a patch optimised under EOT keeps working under the same transformations
        assert metrics["patch_eot"]["targeted_success"] >= 0.7
        assert (
            metrics["patch_eot"]["targeted_success"]
            > metrics["random_control_eot"]["targeted_success"] + 0.3
        )


def test_step_size_decays_to_five_percent_and_margin_loss_saturates():
    cosine = PatchConfig(steps=11, learning_rate=0.1, lr_decay="cosine")
    assert [round(step_size(cosine, i), 6) for i in (0, 5, 10)] == [0.1, 0.0525, 0.005]
    assert step_size(PatchConfig(steps=11, learning_rate=0.1), 10) == pytest.approx(0.1)
    model = keras.Sequential([keras.Input([2]), keras.layers.Softmax()])
    logits = tf.constant([[0.0, 1.0], [9.0, 0.0]])  # image 2 is already class 0 by 9 nats
    margin = patch_loss(
        model, logits, tf.constant([1, 1]), 0, probabilities=True, kind="margin"
    ).numpy()
    np.testing.assert_allclose(margin, [1.0, -5.0], atol=1e-5)  # best other − target, floored at −5
    untargeted = patch_loss(
        model, logits, tf.constant([1, 1]), None, probabilities=True, kind="margin"
    ).numpy()
    np.testing.assert_allclose(untargeted, [1.0, -5.0], atol=1e-5)  # true − best other, floored
    with pytest.raises(UserInputError, match="--patch_loss"):
        optimise_patch(
            model,
            tf.data.Dataset.from_tensors((tf.zeros([2]), 0)),
            PatchGeometry(4, 4, 0.5, 1),
            PatchConfig(loss="hinge"),
        )


def test_eot_pasting_with_identity_transforms_is_plain_pasting():
    geometry = PatchGeometry(32, 32, 0.2, cells=4)
    images = tf.zeros([64, 32, 32, 3])
    patch = tf.ones([geometry.side, geometry.side, 3])
    identity = PatchConfig(
        eot=True, max_rotation_deg=0.0, scale_range=(1.0, 1.0), brightness=0.0, contrast=0.0
    )
    pasted = paste_with_eot(images, patch, geometry, identity, tf.constant([3, 4])).numpy()
    np.testing.assert_allclose(pasted.sum(axis=(1, 2, 3)), 3 * geometry.side**2, rtol=1e-5)
    assert set(np.unique(pasted.round(5))) <= {0.0, 1.0}
    moved = PatchConfig(
        eot=True, max_rotation_deg=45.0, scale_range=(0.5, 0.6), brightness=0.0, contrast=0.0
    )
    shrunk = paste_with_eot(images, patch, geometry, moved, tf.constant([3, 4])).numpy()
    assert (
        shrunk.sum(axis=(1, 2, 3)) < 0.5 * 3 * geometry.side**2
    ).all()  # scaled to at most 0.6² of the area


def test_untargeted_patch_under_mirrored_strategy(victim, two_cpu_strategy):
    model, images, labels = victim
    strategy = two_cpu_strategy
    geometry = PatchGeometry(32, 32, 0.2, cells=4)
    config = PatchConfig(target=None, steps=40, batch_size=32)
    dataset = tf.data.Dataset.from_tensor_slices((images[:100], labels[:100]))
    result = optimise_patch(model, dataset, geometry, config, strategy=strategy)
    metrics = evaluate_patch(
        model, images[100:], labels[100:], result.colours, geometry, target=None
    )
    assert metrics["patch"]["untargeted_success"] > metrics["random_control"]["untargeted_success"]


def test_bad_target_and_input_shape():
    model = tiny_cnn(classes=4)
    with pytest.raises(UserInputError, match="out of range"):
        check_classifier(model, (32, 32, 3), 4, "PatchOptimizer")
    with pytest.raises(UserInputError, match="out of range"):
        check_classifier(model, (32, 32, 3), -1, "PatchOptimizer")
    with pytest.raises(UserInputError, match="takes inputs"):
        check_classifier(model, (64, 64, 3), 0, "PatchOptimizer")
    assert check_classifier(model, (32, 32, 3), 3, "PatchOptimizer") == 4


def test_predict_classes_calls_the_model_in_small_batches():
    """Eager batches of 128 ResNet50 images at 224 px took a 24 GB machine out of memory."""
    seen = []

    def model(images, training=False):
        seen.append(len(images))
        return tf.one_hot(tf.fill([len(images)], 2), 3)

    classes = predict_classes(model, np.zeros([70, 4, 4, 3], np.float32))
    assert seen == [32, 32, 6]
    assert classes.tolist() == [2] * 70
