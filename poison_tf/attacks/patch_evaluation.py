"""Measuring a grid patch on held-out images: clean / patched accuracy and success rates.

- clean accuracy and accuracy with the patch at a random position per image;
- targeted success: share of images whose true class is not the target that the patched
  model assigns to the target;
- untargeted success: share of the images the model gets right when clean that it gets wrong
  when patched.
The same numbers for a random-colour grid patch of the same size and cells are the control.
With an EOT config, both are also measured under the optimiser's expectation over
transformations (random rotation, scale, brightness and contrast of the pasted patch, on top of
the random position): a patch that only works pasted exactly as rendered shows it there.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from poison_tf.attacks.grid_patch import (
    PatchGeometry,
    apply_patch,
    initial_colours,
    random_offsets,
    render,
)
from poison_tf.attacks.patch_optimizer import PatchConfig, paste_with_eot


def predict_classes(model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Argmax classes, in eager batches of `batch_size`: one eager ResNet50 call on 128 images
    of 224 px needs more than 24 GB on a CPU (killed for memory; 5.9 GB peak in batches of 32).

    Args:
        model: a Keras classifier.
        images: [N, H, W, 3] images.
        batch_size: images per model call.

    Returns:
        int64 [N] predicted classes.
    """
    out = [
        np.argmax(np.asarray(model(images[i : i + batch_size], training=False)), axis=-1)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros([0], np.int64)


def patched_images(
    images: np.ndarray,
    colours: np.ndarray,
    geometry: PatchGeometry,
    seed: int,
    eot: PatchConfig | None = None,
) -> np.ndarray:
    """The patch at a random position per image; with `eot` also randomly rotated, scaled, relit.

    Args:
        images: [N, H, W, 3] in [0, 1].
        colours: [k, k, 3] cell colours.
        geometry: the patch geometry.
        seed: seeds the positions (and transformations).
        eot: the transformation ranges, or None for placement only.

    Returns:
        float32 [N, H, W, 3].
    """
    patch = render(colours, geometry.side)
    if eot is not None:
        return paste_with_eot(
            images, patch, geometry, dataclasses.replace(eot, eot=True), tf.constant([seed, 2])
        ).numpy()
    offsets = random_offsets(len(images), geometry, tf.constant([seed, 1]))
    return apply_patch(images, patch, offsets).numpy()


def success_rates(
    clean_pred: np.ndarray, patched_pred: np.ndarray, labels: np.ndarray, target: int | None
) -> dict:
    """Clean / patched accuracy and the attack's success on one set of images.

    Untargeted success counts the images the model got right that the patch turns wrong; targeted
    success counts the images not already of the target class that the patch sends there.

    Args:
        clean_pred: [N] predictions on the clean images.
        patched_pred: [N] predictions on the patched images.
        labels: [N] true classes.
        target: the target class, or None (untargeted).

    Returns:
        {"clean_accuracy", "patched_accuracy", "untargeted_success"} (+ "targeted_success").
    """
    labels = np.asarray(labels).reshape(-1)
    correct = clean_pred == labels
    result = {
        "clean_accuracy": float(correct.mean()),
        "patched_accuracy": float((patched_pred == labels).mean()),
        "untargeted_success": float((patched_pred[correct] != labels[correct]).mean())
        if correct.any()
        else 0.0,
    }
    if target is not None:
        others = labels != target
        result["targeted_success"] = (
            float((patched_pred[others] == target).mean()) if others.any() else 0.0
        )
    return result


def evaluate_patch(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    colours: np.ndarray,
    geometry: PatchGeometry,
    target: int | None,
    seed: int = 0,
    clean_pred: np.ndarray | None = None,
    eot: PatchConfig | None = None,
) -> dict:
    """{"patch": rates, "random_control": rates} for the optimised patch and a random-colour grid.

    With `eot` (its transformation ranges; its `eot` switch is ignored) also "patch_eot" and
    "random_control_eot": the same patches pasted under those random transformations.

    Args:
        model: a Keras classifier.
        images: [N, H, W, 3] in [0, 1].
        labels: [N] true classes.
        colours: [k, k, 3] optimised cell colours.
        geometry: the patch geometry.
        target: the target class, or None (untargeted).
        seed: seeds positions and the control patch.
        clean_pred: predictions on the clean images, when already known.
        eot: transformation ranges for the "_eot" rows, or None.

    Returns:
        The rates per patch (see `success_rates`), plus "area_fraction" and "side_px".
    """
    clean_pred = predict_classes(model, images) if clean_pred is None else clean_pred
    control = initial_colours(geometry.cells, seed + 10_007).numpy()
    result = {}
    for suffix, transforms in [("", None)] + ([("_eot", eot)] if eot is not None else []):
        for name, value in (("patch", colours), ("random_control", control)):
            patched = predict_classes(
                model, patched_images(images, value, geometry, seed, transforms)
            )
            result[name + suffix] = success_rates(clean_pred, patched, labels, target)
    result["area_fraction"] = geometry.area_fraction
    result["side_px"] = geometry.side
    return result
