"""Activation clustering (Chen et al., SafeAI 2019): split each class's features in two.

A poisoned class holds two populations (its own images and the triggered images of other
classes), which 2-means on a low-dimensional projection of the penultimate features separates.
Follows `defense/ac.py` of SCLBD/BackdoorBench @ f02e353 (from ART's `ActivationDefence`):
PCA to `nb_dims` 10, KMeans with `nb_clusters` 2, `cluster_analysis: smaller`
(`config/defense/ac/cifar10.yaml`): in every class the smaller cluster is judged poisonous
and removed, then the model is retrained on the rest. Also offered: "relative_size" (the
smaller cluster only when it holds at most `size_threshold` 35 % of its class, Chen et al.'s
rule, ART's `ex_re_threshold`-free variant) and "silhouette" (only when the 2-cluster
silhouette score is above `silhouette_threshold` 0.1, Chen et al.'s other test), so that clean
classes keep their data. Difference: BackdoorBench clusters per loader batch (a side effect of
its loop); here each class is clustered once over the whole training set, as in the paper.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from poison_tf.errors import require

ANALYSES = ("smaller", "relative_size", "silhouette")


def activation_clustering(
    features: np.ndarray,
    labels: np.ndarray,
    nb_dims: int = 10,
    nb_clusters: int = 2,
    cluster_analysis: str = "smaller",
    size_threshold: float = 0.35,
    silhouette_threshold: float = 0.1,
    seed: int = 0,
) -> dict:
    """Ids to remove, and per class the cluster sizes and silhouette score.

    Args:
        features: penultimate features [N, D] of the training set (ids = positions).
        labels: training labels [N].
        nb_dims: PCA components (BackdoorBench: 10).
        nb_clusters: KMeans clusters (2).
        cluster_analysis: "smaller" (BackdoorBench), "relative_size" or "silhouette".
        size_threshold: relative_size: largest share of its class a poisonous cluster may hold.
        silhouette_threshold: silhouette: smallest score at which a class is judged poisoned.
        seed: KMeans seed.

    Returns:
        {"removed": sorted ids, "classes": {label: {"sizes", "silhouette", "flagged"}}}.
    """
    require(
        cluster_analysis in ANALYSES,
        f"activation clustering: cluster_analysis {cluster_analysis!r} is not one of "
        f"{', '.join(ANALYSES)}",
    )
    labels = np.asarray(labels)
    removed, report = [], {}
    for label in np.unique(labels):
        index = np.flatnonzero(labels == label)
        if len(index) <= nb_clusters:
            continue
        x = features[index]
        dims = min(nb_dims, x.shape[1], len(index) - 1)
        reduced = (
            PCA(n_components=dims, random_state=seed).fit_transform(x) if dims < x.shape[1] else x
        )
        clusters = KMeans(nb_clusters, n_init=10, random_state=seed).fit_predict(reduced)
        sizes = np.bincount(clusters, minlength=nb_clusters)
        smallest = int(np.argmin(sizes))
        score = float(silhouette_score(reduced, clusters)) if len(set(clusters)) > 1 else 0.0
        flagged = {
            "smaller": True,
            "relative_size": sizes[smallest] / len(index) <= size_threshold,
            "silhouette": score > silhouette_threshold,
        }[cluster_analysis]
        if flagged:
            removed.append(index[clusters == smallest])
        report[int(label)] = {
            "sizes": sizes.tolist(),
            "silhouette": score,
            "flagged": bool(flagged),
        }
    removed_ids = np.sort(np.concatenate(removed)) if removed else np.zeros(0, np.int64)
    return {"removed": removed_ids.astype(np.int64), "classes": report}
