"""Optimising the grid patch against a Keras classifier: one `tf.function` step under a strategy.

Each step pastes the patch at a random position on every image of the batch (clear of the
geometry's keep-clear box), optionally under an expectation over transformations (rotation
and scale of the pasted patch about its centre, brightness and contrast of its pixels), and
descends a targeted loss (cross-entropy to the target class) or ascends an untargeted one
(cross-entropy to the true label). The step is Adam or the original study's per-cell
signed-gradient step; both keep the colours in [0, 1]. Gradients are computed per replica
with `strategy.run`, averaged, and applied once to the (mirrored) colour variable.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from poison_tf.attacks.grid_patch import (
    PatchGeometry,
    apply_patch,
    initial_colours,
    place,
    random_offsets,
    render,
)
from poison_tf.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class PatchConfig:
    """How the grid patch is optimised.

    Attributes:
        target: target class; None = untargeted.
        steps: optimisation steps.
        batch_size: images per step.
        optimizer: "adam" or "signed" (the study's per-cell sign step).
        learning_rate: step size.
        lr_decay: "constant" or "cosine" (to 5 % at the last step).
        loss: "ce" or "margin" (see `patch_loss`).
        eot: expectation over transformations while optimising.
        max_rotation_deg: EOT rotation range, ± degrees.
        scale_range: EOT scale range (low, high).
        brightness: EOT brightness shift, ± in [0, 1] units.
        contrast: EOT contrast factor, 1 ± this.
        seed: seeds the initial colours, data order and placements.
    """

    target: int | None = 0  # None: untargeted
    steps: int = 500
    batch_size: int = 32
    optimizer: str = "adam"  # adam | signed
    learning_rate: float = 0.05
    lr_decay: str = "constant"  # constant | cosine (to 5 % at the last step)
    loss: str = "ce"  # ce | margin (see patch_loss)
    eot: bool = False
    max_rotation_deg: float = 20.0
    scale_range: tuple[float, float] = (0.85, 1.0)
    brightness: float = 0.1
    contrast: float = 0.15
    seed: int = 0


def outputs_probabilities(model: keras.Model) -> bool:
    """True when the classifier ends in a softmax (keras.applications' default), so outputs are probabilities.

    Args:
        model: a Keras classifier.

    Returns:
        Whether its outputs are probabilities (else logits).
    """
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    return activation is keras.activations.softmax or isinstance(last, keras.layers.Softmax)


def check_classifier(
    model: keras.Model, image_shape: tuple[int, int, int], target: int | None, where: str
) -> int:
    """The number of classes; UserInputError when the model's input does not fit or the target is out of range.

    Args:
        model: a Keras classifier.
        image_shape: (height, width, channels) of the images it will see.
        target: the target class, or None.
        where: names the caller in error messages.

    Returns:
        The number of classes.

    Raises:
        UserInputError: the input shape does not fit, the output is not [batch, classes], or the
            target is out of range.
    """
    expected = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if (
        expected is None
        or len(expected) != 3
        or any(e is not None and e != g for e, g in zip(expected, image_shape))
    ):
        raise UserInputError(
            f"{where}: the model takes inputs {model.input_shape}, the images are {tuple(image_shape)}"
        )
    output_shape = model.output_shape
    if isinstance(output_shape, list) or len(output_shape) != 2 or output_shape[-1] is None:
        raise UserInputError(f"{where}: the model's output {output_shape} is not [batch, classes]")
    classes = int(output_shape[-1])
    if target is not None and not 0 <= target < classes:
        raise UserInputError(
            f"{where}: --target_class={target} is out of range for a model of {classes} classes"
        )
    return classes


def _rotation_scale_matrices(angles: tf.Tensor, scales: tf.Tensor, centres: tf.Tensor) -> tf.Tensor:
    """[B, 8] projective transforms mapping output to input pixels: rotate + scale about each centre."""
    cos, sin = tf.cos(angles) / scales, tf.sin(angles) / scales
    cy, cx = centres[:, 0], centres[:, 1]
    zeros = tf.zeros_like(cos)
    # input = R^-1 S^-1 (output - c) + c, in (x, y) order as ImageProjectiveTransform expects
    return tf.stack(
        [cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy, zeros, zeros],
        axis=1,
    )


def _transform(canvas: tf.Tensor, matrices: tf.Tensor) -> tf.Tensor:
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=canvas,
        transforms=matrices,
        output_shape=tf.shape(canvas)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def paste_with_eot(
    images: tf.Tensor,
    patch: tf.Tensor,
    geometry: PatchGeometry,
    config: PatchConfig,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Random placement, and with `config.eot` a random rotation/scale/brightness/contrast per image.

    Args:
        images: [B, H, W, 3] in [0, 1].
        patch: [s, s, 3] rendered patch.
        geometry: the patch geometry.
        config: the EOT switch and ranges.
        seed: a stateless seed [2].

    Returns:
        float32 [B, H, W, 3], the patched images.
    """
    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 6)
    offsets = random_offsets(batch, geometry, seeds[0])
    if not config.eot:
        return apply_patch(images, patch, offsets)
    height, width = geometry.height, geometry.width
    contrast = tf.random.stateless_uniform(
        [batch, 1, 1, 1], seeds[1], 1 - config.contrast, 1 + config.contrast
    )
    bright = tf.random.stateless_uniform(
        [batch, 1, 1, 1], seeds[2], -config.brightness, config.brightness
    )
    pixels, mask = place(patch, offsets, height, width)
    pixels = tf.clip_by_value((pixels - 0.5) * contrast + 0.5 + bright, 0.0, 1.0)
    limit = math.radians(config.max_rotation_deg)
    angles = tf.random.stateless_uniform([batch], seeds[3], -limit, limit)
    scales = tf.random.stateless_uniform([batch], seeds[4], *config.scale_range)
    centres = tf.cast(offsets, tf.float32) + (geometry.side - 1) / 2.0
    matrices = _rotation_scale_matrices(angles, scales, centres)
    moved = _transform(tf.concat([pixels * mask, mask], axis=-1), matrices)
    pixels, mask = moved[..., :3], moved[..., 3:]
    return tf.convert_to_tensor(images, tf.float32) * (1.0 - mask) + pixels


def patch_loss(
    model: keras.Model,
    images: tf.Tensor,
    labels: tf.Tensor,
    target: int | None,
    probabilities: bool,
    kind: str = "ce",
) -> tf.Tensor:
    """Per-image loss to minimise.

    `ce`: cross-entropy to the target (targeted) or minus cross-entropy to the true label.
    `margin`: the Carlini-Wagner margin on log-probabilities, max(best other − wanted, −5) for a
    target (true label − best other, for untargeted), so an image already fooled by 5 nats stops
    pulling the patch and the steps go to the images still resisting: it raises the success
    rate where the mean cross-entropy is dominated by images that are already won.

    Args:
        model: the victim classifier.
        images: [B, H, W, 3] patched images.
        labels: [B] true classes.
        target: the target class, or None (untargeted).
        probabilities: the model outputs probabilities (else logits).
        kind: "ce" or "margin".

    Returns:
        float32 [B].
    """
    outputs = tf.cast(model(images, training=False), tf.float32)
    wanted = (
        tf.fill(tf.shape(labels), tf.cast(target, labels.dtype)) if target is not None else labels
    )
    if kind == "margin":
        log_probs = (
            tf.math.log(tf.clip_by_value(outputs, 1e-12, 1.0))
            if probabilities
            else tf.nn.log_softmax(outputs)
        )
        chosen = tf.one_hot(tf.cast(wanted, tf.int32), tf.shape(log_probs)[-1])
        own = tf.reduce_sum(chosen * log_probs, axis=-1)
        other = tf.reduce_max(log_probs - chosen * 1e9, axis=-1)
        return (
            tf.maximum(other - own, -5.0) if target is not None else tf.maximum(own - other, -5.0)
        )
    cross_entropy = keras.losses.sparse_categorical_crossentropy(
        wanted, outputs, from_logits=not probabilities
    )
    return cross_entropy if target is not None else -cross_entropy


def step_size(config: PatchConfig, index: int) -> float:
    """The rate of step `index`: constant, or cosine from the full rate to 5 % at the last step.

    With a constant rate the loss of the last steps bounces with the rate's full step size;
    decaying it lets them settle. An option, not the default: on the CPU ResNet50 study
    targeted success stayed within 0.44-0.47 with or without it (RESULTS.md).

    Args:
        config: the learning rate, its decay and the step count.
        index: the step, from 0.

    Returns:
        The step's learning rate.
    """
    if config.lr_decay == "constant" or config.steps <= 1:
        return float(config.learning_rate)
    progress = index / (config.steps - 1)
    return float(config.learning_rate * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))))


@dataclasses.dataclass
class PatchResult:
    """What `optimise_patch` found.

    Attributes:
        colours: [k, k, 3] cell colours in [0, 1].
        losses: the mean loss of every step.
    """

    colours: np.ndarray  # [k, k, 3] in [0, 1]
    losses: list[float]


def optimise_patch(
    model: keras.Model,
    dataset: tf.data.Dataset,
    geometry: PatchGeometry,
    config: PatchConfig,
    strategy: tf.distribute.Strategy | None = None,
    on_step: Callable[[int, float, np.ndarray], None] | None = None,
) -> PatchResult:
    """Optimises the k×k colours on batches of (image [H, W, 3] in [0, 1], label) from `dataset`.

    `dataset` yields unbatched examples and is repeated and batched here. `on_step(step, loss,
    colours)` is called after every step (for TensorBoard scalars and images).

    Args:
        model: the victim classifier (its weights stay fixed).
        dataset: unbatched (image, label) examples.
        geometry: the patch geometry.
        config: the optimisation settings.
        strategy: the tf.distribute strategy (None: the default strategy).
        on_step: called as on_step(step, loss, colours) after every step.

    Returns:
        The colours and the loss per step.

    Raises:
        UserInputError: an unknown optimizer, loss or lr_decay in `config`.
    """
    if config.optimizer not in ("adam", "signed"):
        raise UserInputError(f"--patch_optimizer={config.optimizer!r}: choose adam or signed")
    if config.loss not in ("ce", "margin"):
        raise UserInputError(f"--patch_loss={config.loss!r}: choose ce or margin")
    if config.lr_decay not in ("constant", "cosine"):
        raise UserInputError(f"--patch_lr_decay={config.lr_decay!r}: choose constant or cosine")
    strategy = strategy or tf.distribute.get_strategy()
    probabilities = outputs_probabilities(model)
    side = geometry.side
    with strategy.scope():
        colours = tf.Variable(initial_colours(geometry.cells, config.seed), name="patch_colours")
        first = tf.Variable(tf.zeros_like(colours), name="adam_m")
        second = tf.Variable(tf.zeros_like(colours), name="adam_v")
        counter = tf.Variable(0.0, name="adam_t")
    batches = (
        dataset.repeat()
        .shuffle(1024, seed=config.seed)
        .batch(config.batch_size, drop_remainder=True)
    )
    iterator = iter(strategy.experimental_distribute_dataset(batches))

    def replica_step(images, labels, seed):
        seed = seed + tf.cast(
            tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int32
        )
        with tf.GradientTape() as tape:
            tape.watch(colours)
            patched = paste_with_eot(
                images, render(colours, side), geometry, config, tf.stack([seed, config.seed])
            )
            loss = tf.reduce_mean(
                patch_loss(model, patched, labels, config.target, probabilities, config.loss)
            )
        return tape.gradient(loss, colours), loss

    @tf.function
    def step(images, labels, seed, rate):
        grads, losses = strategy.run(replica_step, args=(images, labels, seed))
        grad = strategy.reduce(tf.distribute.ReduceOp.MEAN, grads, axis=None)
        loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)
        if config.optimizer == "signed":
            update = rate * tf.sign(grad)
        else:
            counter.assign_add(1.0)
            first.assign(0.9 * first + 0.1 * grad)
            second.assign(0.999 * second + 0.001 * tf.square(grad))
            m_hat = first / (1.0 - tf.pow(0.9, counter))
            v_hat = second / (1.0 - tf.pow(0.999, counter))
            update = rate * m_hat / (tf.sqrt(v_hat) + 1e-8)
        colours.assign(tf.clip_by_value(colours - update, 0.0, 1.0))
        return loss

    losses = []
    for index in range(config.steps):
        images, labels = next(iterator)
        loss = float(
            step(
                images,
                labels,
                tf.constant(index * 7919, tf.int32),
                tf.constant(step_size(config, index)),
            )
        )
        losses.append(loss)
        if on_step is not None:
            on_step(index, loss, colours.numpy())
    return PatchResult(colours=np.asarray(colours.numpy(), np.float32), losses=losses)
