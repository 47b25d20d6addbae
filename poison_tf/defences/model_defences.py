"""The model-level defences as one call each: what the benchmark and the face study share.

BackdoorBench's training-set filters (spectral signatures, activation clustering) and Neural
Cleanse run the same way on any backdoored functional Keras classifier: the filters read its
penultimate features of the training set *as the victim saw it* (triggers stamped, labels
rewritten) and return the ids to remove; Neural Cleanse reverse-engineers a trigger per class
from the defender's clean images, flags outliers and unlearns them. The `backdoor_benchmark`
cells (`poison_tf.components.benchmark.run`) and the `backdoor_detection` study's
`ModelDefence` component both call these, so each defence is written once; what differs
between the studies (how a filtered set is retrained, which data is the defender's clean
share) stays with the caller.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np
from threadpoolctl import threadpool_limits

from poison_tf.defences import features
from poison_tf.defences.activation_clustering import activation_clustering
from poison_tf.defences.neural_cleanse import NeuralCleanse, trigger_image
from poison_tf.defences.spectral import spectral_filter
from poison_tf.errors import UserInputError

FILTERS = ("spectral", "ac")
MODEL_DEFENCES = (*FILTERS, "nc")


def check_names(names: Iterable[str], allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    """`names` as a tuple when every one is in `allowed`.

    Args:
        names: the defence names given.
        allowed: the names this pipeline knows.
        flag: the flag the names came from, for the error.

    Returns:
        The names, as a tuple.

    Raises:
        UserInputError: naming the flag, the unknown name and the choices.
    """
    names = tuple(names)
    for name in names:
        if name not in allowed:
            raise UserInputError(
                f"{flag}: unknown defence {name!r}; choose from {', '.join(allowed)}"
            )
    return names


def filter_training_set(
    name: str,
    victim: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    params: dict,
    seed: int,
    feats: np.ndarray | None = None,
) -> dict:
    """Runs a training-set filter on the victim's penultimate features.

    Args:
        name: "spectral" or "ac".
        victim: the backdoored classifier.
        images: the training images as the victim was trained on them (poisoned).
        labels: their (possibly rewritten) labels.
        params: keyword arguments of `spectral_filter` / `activation_clustering`.
        seed: activation clustering's KMeans seed.
        feats: the victim's penultimate features of `images`, when already extracted.

    Returns:
        The filter's result; "removed" holds the removed positions (sorted).
    """
    check_names([name], FILTERS, "filter")
    feats = features.extract(victim, images) if feats is None else feats
    # One BLAS / OpenMP thread: the per-class SVDs, PCAs and 2-means are tiny, and threads that
    # spin beside TensorFlow's on a shared CPU made activation clustering 20x slower (3 s → 0.1 s
    # for 16 classes of 48 examples, 2 cores).
    with threadpool_limits(limits=1):
        if name == "spectral":
            return spectral_filter(feats, labels, **params)
        return activation_clustering(feats, labels, seed=seed, **params)


def neural_cleanse(
    victim: keras.Model,
    clean_images: np.ndarray,
    clean_labels: np.ndarray,
    params: dict,
    seed: int,
    target: int | None = None,
) -> tuple[keras.Model, dict, np.ndarray]:
    """Neural Cleanse from the defender's clean data: detection, then unlearning.

    Args:
        victim: the backdoored classifier (left unchanged).
        clean_images: the defender's clean images (reverse engineering and unlearning).
        clean_labels: their labels.
        params: keyword arguments of `NeuralCleanse`.
        seed: its seed.
        target: the attack's target class when known (its anomaly index is reported).

    Returns:
        (the unlearned copy (the victim's weights when nothing is flagged), the detection
        summary: detected, flagged, min / target anomaly index, mask L1 norms; the recovered
        trigger image of the detected class (else of `target`, else of the smallest norm)).
    """
    nc = NeuralCleanse(victim, seed=seed, **params)
    detection = nc.detect(clean_images)
    defended = nc.unlearn(clean_images, clean_labels, detection)
    summary = {
        "detected": detection["detected"],
        "flagged": detection["flagged"],
        "min_anomaly_index": detection["min_anomaly_index"],
        "mask_l1": detection["l1"],
    }
    if target is not None and target in detection["classes"]:
        summary["target_anomaly_index"] = detection["anomaly_index"][
            detection["classes"].index(target)
        ]
    shown = detection["detected"]
    if shown is None:
        smallest = detection["classes"][int(np.argmin(detection["l1"]))]
        shown = target if target in detection["triggers"] else smallest
    return defended, summary, trigger_image(detection["triggers"][shown])
