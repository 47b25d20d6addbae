"""t-SNE pair selection for the clean-image backdoor: which classes sit close to each other.

Input: one feature vector per ground-truth instance (the caller pools the base model's
features under each instance's mask or box) and the instance classes. Each class is embedded
as the mean of its instance features (its centroid); t-SNE (scikit-learn, seeded) maps the
instance points to a plane for the plot and the TensorBoard projector.

Closeness is the cosine distance between class centroids *in feature space*, and the t-SNE
plane is for display. t-SNE keeps neighbourhoods but not distances between clusters (their
gaps and sizes depend on perplexity and seed, and change from run to run), so a ranking read
off the plane would be unstable; the centroid distance is deterministic and is what the
plot's clusters approximate. The distance between the classes' centres in the t-SNE plane is
still reported beside it (and can be used with `space="tsne"`). Distance is symmetric; a pair
is directed host → target with the class that has more training instances as the host, since
a larger host gives the attack more relabelled instances at the same ratio (the study's
bridge → parking sign). Perplexity adapts to small data: min(30, max(1, (N − 1) / 3)). Up to
`EXACT_TSNE_POINTS` points the exact t-SNE gradient is used: it is cheaper there than
Barnes-Hut, whose OpenMP threads also stall on a busy machine (7 s instead of 0.3 s for 10
points on 2 shared cores).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from poison_tf.attacks.class_pairs import ClassPair, make_pair, merge_pairs
from poison_tf.errors import UserInputError
from poison_tf.io.atomic import atomic_dir, atomic_file, save_figure
from poison_tf.report.clean_image_tables import github_table
from poison_tf.report.tables import write_csv

EXACT_TSNE_POINTS = 500
RANKING_COLUMNS = [
    "Rank",
    "Host",
    "Target",
    "Feature distance",
    "t-SNE distance",
    "Host instances",
    "Target instances",
]


@dataclasses.dataclass
class ClassEmbedding:
    """Instance points (subsampled per class) in feature space and in the t-SNE plane, plus
    per-class centroids computed from *all* instances.

    Attributes:
        names: the data set's class names.
        point_classes: int64 [P], class of each point.
        point_features: float32 [P, D].
        points: float32 [P, 2] t-SNE coordinates.
        point_ids: int64 [P] instance ids (or row numbers).
        present: int64 [K] classes with instances.
        centroids: float32 [K, D] mean instance feature of each present class.
        centroid_points: float32 [K, 2] mean t-SNE point of each present class.
        counts: int64 [K] instances of each present class.
        perplexity: the t-SNE perplexity used.
    """

    names: list[str]
    point_classes: np.ndarray  # int64 [P]
    point_features: np.ndarray  # float32 [P, D]
    points: np.ndarray  # float32 [P, 2] t-SNE coordinates
    point_ids: np.ndarray  # int64 [P] instance ids (or row numbers)
    present: np.ndarray  # int64 [K] classes with instances
    centroids: np.ndarray  # float32 [K, D] mean instance feature of each present class
    centroid_points: np.ndarray  # float32 [K, 2] mean t-SNE point of each present class
    counts: np.ndarray  # int64 [K] instances of each present class
    perplexity: float


def default_perplexity(num_points: int) -> float:
    """min(30, max(1, (N − 1) / 3)): scikit-learn needs perplexity < N, small sets get less.

    Args:
        num_points: N, the points t-SNE embeds.

    Returns:
        The perplexity.
    """
    return float(min(30.0, max(1.0, (num_points - 1) / 3.0)))


def embed_classes(
    features: np.ndarray,
    classes: np.ndarray,
    names: Sequence[str],
    seed: int = 0,
    max_points_per_class: int = 200,
    perplexity: float | None = None,
    instance_ids: np.ndarray | None = None,
    max_iter: int = 1000,
) -> ClassEmbedding:
    """Class centroids and a seeded t-SNE of (at most `max_points_per_class`) instance points.

    Args:
        features: float32 [N, D], one vector per instance.
        classes: int [N], each instance's class.
        names: the data set's class names.
        seed: seeds the subsample and t-SNE.
        max_points_per_class: instance points kept per class for t-SNE (centroids use all).
        perplexity: t-SNE perplexity (None: `default_perplexity`).
        instance_ids: [N] ids recorded with the points (None: row numbers).
        max_iter: t-SNE iterations.

    Returns:
        The embedding.

    Raises:
        ValueError: shapes that do not match or classes out of range (a programming error).
        UserInputError: NaN / inf features, or fewer than two classes with instances.
    """
    from sklearn.manifold import TSNE

    features = np.asarray(features, np.float32)
    classes = np.asarray(classes, np.int64).reshape(-1)
    if features.ndim != 2 or len(features) != len(classes):
        raise ValueError(
            f"features must be [N, D] with N = len(classes); got {features.shape}, {len(classes)}"
        )
    if len(classes) and (classes.min() < 0 or classes.max() >= len(names)):
        raise ValueError(f"instance classes must lie in 0..{len(names) - 1}")
    if not np.isfinite(features).all():
        raise UserInputError("t-SNE pair selection: the instance features contain NaN or inf")
    ids = np.arange(len(classes)) if instance_ids is None else np.asarray(instance_ids, np.int64)
    present, counts = np.unique(classes, return_counts=True)
    if len(present) < 2:
        raise UserInputError(
            f"t-SNE pair selection needs instances of at least two classes; found {len(present)}"
        )
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [
            np.sort(rng.permutation(rows)[:max_points_per_class])
            for rows in (np.flatnonzero(classes == c) for c in present)
        ]
    )
    perplexity = default_perplexity(len(keep)) if perplexity is None else float(perplexity)
    init = "pca" if min(len(keep), features.shape[1]) >= 2 else "random"
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init=init,
        random_state=seed,
        learning_rate="auto",
        max_iter=max_iter,
        method="exact" if len(keep) <= EXACT_TSNE_POINTS else "barnes_hut",
    )
    points = tsne.fit_transform(features[keep].astype(np.float64)).astype(np.float32)
    point_classes = classes[keep]
    return ClassEmbedding(
        names=list(names),
        point_classes=point_classes,
        point_features=features[keep],
        points=points,
        point_ids=ids[keep],
        present=present,
        centroids=np.stack([features[classes == c].mean(0) for c in present]),
        centroid_points=np.stack([points[point_classes == c].mean(0) for c in present]),
        counts=counts,
        perplexity=perplexity,
    )


def _cosine_distances(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - unit @ unit.T, 0.0, 2.0)


def rank_pairs(
    embedding: ClassEmbedding,
    space: str = "features",
    min_instances: int = 1,
    both_directions: bool = False,
) -> pd.DataFrame:
    """Host→target pairs, closest first (columns RANKING_COLUMNS; see module docstring).

    Args:
        embedding: the class embedding.
        space: rank by "features" (cosine distance of centroids) or "tsne" (plane distance).
        min_instances: only classes with at least this many instances are paired.
        both_directions: list each pair both ways, not only with the larger class as host.

    Returns:
        The ranking, one row per directed pair (empty when fewer than two classes qualify).

    Raises:
        UserInputError: an unknown space.
    """
    if space not in ("features", "tsne"):
        raise UserInputError(f"--tsne_space: unknown space {space!r}; choose features or tsne")
    feature_distance = _cosine_distances(embedding.centroids.astype(np.float64))
    delta = embedding.centroid_points[:, None, :] - embedding.centroid_points[None, :, :]
    plane_distance = np.linalg.norm(delta.astype(np.float64), axis=-1)
    key = feature_distance if space == "features" else plane_distance
    eligible = np.flatnonzero(embedding.counts >= min_instances)
    rows = []
    for a_pos, i in enumerate(eligible):
        for j in eligible[a_pos + 1 :]:
            # host = more instances; ties → lower class index
            ordered = sorted((i, j), key=lambda k: (-embedding.counts[k], embedding.present[k]))
            directions = [ordered, ordered[::-1]] if both_directions else [ordered]
            for host, target in directions:
                rows.append(
                    (
                        key[host, target],
                        embedding.present[host],
                        embedding.present[target],
                        feature_distance[host, target],
                        plane_distance[host, target],
                        embedding.counts[host],
                        embedding.counts[target],
                    )
                )
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    names = embedding.names
    frame = pd.DataFrame(
        [
            (rank + 1, names[h], names[t], float(fd), float(pd_), int(hc), int(tc))
            for rank, (_, h, t, fd, pd_, hc, tc) in enumerate(rows)
        ],
        columns=RANKING_COLUMNS,
    )
    return frame


def top_pairs(ranking: pd.DataFrame, names: Sequence[str], count: int = 2) -> list[ClassPair]:
    """The first `count` ranked pairs, each class at most once as a host (so two pairs do
    not poison the same class).

    Args:
        ranking: the output of `rank_pairs`.
        names: the data set's class names.
        count: how many pairs.

    Returns:
        At most `count` pairs.
    """
    pairs: list[ClassPair] = []
    hosts: set[str] = set()
    for host, target in zip(ranking["Host"], ranking["Target"]):
        if len(pairs) == count:
            break
        if host not in hosts:
            hosts.add(host)
            pairs.append(make_pair(list(names).index(host), list(names).index(target), names))
    return pairs


def default_pairs(
    ranking: pd.DataFrame, names: Sequence[str], given: Sequence[ClassPair] = (), count: int = 2
) -> list[ClassPair]:
    """The study's default: the top `count` t-SNE pairs, then the hand-given ones (no repeats).

    Args:
        ranking: the output of `rank_pairs`.
        names: the data set's class names.
        given: the hand-picked pairs.
        count: how many t-SNE pairs.

    Returns:
        The pairs, t-SNE ones first.
    """
    return merge_pairs(top_pairs(ranking, names, count), given)


def write_ranking(ranking: pd.DataFrame, csv_path: str, markdown_path: str | None = None) -> None:
    """Writes the ranking as CSV (and as a Markdown table), each file atomically.

    Args:
        ranking: the output of `rank_pairs`.
        csv_path: the CSV file.
        markdown_path: the Markdown file, or None.
    """
    write_csv(ranking, csv_path, index=False)
    if markdown_path:
        with atomic_file(markdown_path) as handle:
            handle.write(github_table(ranking, floatfmt=".4g") + "\n")


def save_scatter(
    embedding: ClassEmbedding,
    path: str,
    pairs: Sequence[ClassPair] = (),
    title: str = "t-SNE of class instances",
) -> None:
    """The labelled scatter plot (PNG): instance points per class, class names at their
    centres, an arrow host → target for each pair.

    Args:
        embedding: the class embedding.
        path: the PNG file (written atomically).
        pairs: pairs drawn as arrows.
        title: the plot's title (the perplexity is appended).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 8))
    colours = plt.get_cmap("tab20")
    for k, cls in enumerate(embedding.present):
        xy = embedding.points[embedding.point_classes == cls]
        axes.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.5, color=colours(k % 20))
        cx, cy = embedding.centroid_points[k]
        axes.annotate(embedding.names[cls], (cx, cy), fontsize=8, ha="center", weight="bold")
    position = {int(c): k for k, c in enumerate(embedding.present)}
    for pair in pairs:
        if pair.host in position and pair.target in position:
            start = embedding.centroid_points[position[pair.host]]
            end = embedding.centroid_points[position[pair.target]]
            axes.annotate(
                "", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "red", "lw": 1.5}
            )
    axes.set_title(f"{title} (perplexity {embedding.perplexity:g})")
    axes.set_xticks([])
    axes.set_yticks([])
    save_figure(figure, path, dpi=120, bbox_inches="tight")


def write_projector(embedding: ClassEmbedding, log_dir: str) -> None:
    """TensorBoard projector files in `log_dir`: the instance features (metadata: class,
    instance id) and the class centroids (metadata: class name), in one checkpoint.

    Args:
        embedding: the class embedding.
        log_dir: the TensorBoard log folder.
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    with atomic_dir(log_dir) as tmp:
        with open(os.path.join(tmp, "instances.tsv"), "w") as handle:
            handle.write("class\tinstance_id\n")
            for cls, ident in zip(embedding.point_classes, embedding.point_ids):
                handle.write(f"{_tsv(embedding.names[cls])}\t{int(ident)}\n")
        with open(os.path.join(tmp, "classes.tsv"), "w") as handle:
            handle.write("".join(f"{_tsv(embedding.names[c])}\n" for c in embedding.present))
        checkpoint = tf.train.Checkpoint(
            instances=tf.Variable(embedding.point_features),
            classes=tf.Variable(embedding.centroids),
        )
        checkpoint.save(os.path.join(tmp, "embedding.ckpt"))
        config = projector.ProjectorConfig()
        for name, metadata in (("instances", "instances.tsv"), ("classes", "classes.tsv")):
            entry = config.embeddings.add()
            entry.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
            entry.metadata_path = metadata
        projector.visualize_embeddings(tmp, config)


def _tsv(text: str) -> str:
    return " ".join(str(text).split())
