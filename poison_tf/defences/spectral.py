"""Spectral signatures (Tran, Li & Madry, NeurIPS 2018): a training-set filter on features.

Within one class, poisoned examples shift the features along one direction, so their
projection on the top singular vector of the centred class features is large. Follows
`defense/spectral.py` of SCLBD/BackdoorBench @ f02e353: for every label (all labels unless a
target is given), features = the input of the last linear layer; `u, s, v = svd(features -
mean)`; score = |features · v[0]| (the *uncentred* features projected, as there); remove the
examples whose score is above the `percentile` (85, `config/defense/spectral/cifar10.yaml`)
of their class; then retrain from scratch on what is left (the caller's job, see
`poison_tf.components.benchmark`). 85 % removes 15 % of every class, 1.5× the 10 % poison rate,
Tran et al.'s 1.5ε rule.
"""

from __future__ import annotations

import numpy as np

from poison_tf.errors import require


def spectral_scores(features: np.ndarray) -> np.ndarray:
    """|features · v1| with v1 the top right singular vector of the centred features.

    Args:
        features: [N, D] features of one class.

    Returns:
        [N] outlier scores.
    """
    centred = features - features.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return np.abs(features @ vt[0])


def spectral_filter(
    features: np.ndarray,
    labels: np.ndarray,
    percentile: float = 85.0,
    classes: list[int] | None = None,
) -> dict:
    """Ids to remove and the per-example scores.

    Args:
        features: penultimate features [N, D] of the training set (ids = positions).
        labels: training labels [N] (the possibly poisoned ones the model was trained on).
        percentile: per-class score percentile above which examples are removed.
        classes: labels to inspect; all present labels by default (BackdoorBench's default).

    Returns:
        {"removed": sorted ids, "scores": [N] (NaN for uninspected classes)}.
    """
    require(0.0 < percentile < 100.0, f"spectral: percentile must be in (0, 100), got {percentile}")
    labels = np.asarray(labels)
    scores = np.full(len(labels), np.nan)
    removed = []
    for label in np.unique(labels) if classes is None else classes:
        index = np.flatnonzero(labels == label)
        if len(index) < 2:
            continue
        class_scores = spectral_scores(features[index])
        scores[index] = class_scores
        removed.append(index[class_scores > np.percentile(class_scores, percentile)])
    removed_ids = np.sort(np.concatenate(removed)) if removed else np.zeros(0, np.int64)
    return {"removed": removed_ids.astype(np.int64), "scores": scores}
