"""t-SNE pair selection: the closest classes rank first; plot, table and projector files."""

import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from poison_tf.attacks import tsne_pairs
from poison_tf.attacks.class_pairs import parse_pairs
from poison_tf.errors import UserInputError

NAMES = ["car", "bus", "truck", "person", "traffic light"]


def clustered_features(seed=0, per_class=(12, 8, 10, 6, 9), dim=12):
    """Class centres far apart, except truck placed next to car."""
    rng = np.random.default_rng(seed)
    centres = np.eye(5, dim) * 6.0
    centres[2] = centres[0] + np.r_[0.4, 0.4, np.zeros(dim - 2)]
    classes = np.repeat(np.arange(5), per_class)
    return centres[classes] + rng.normal(scale=0.3, size=(len(classes), dim)), classes


@pytest.fixture(scope="module")
def embedding():
    features, classes = clustered_features()
    return tsne_pairs.embed_classes(
        features,
        classes,
        NAMES,
        seed=3,
        max_points_per_class=8,
        instance_ids=np.arange(len(classes)) + 100,
        max_iter=250,
    )


def test_closest_classes_rank_first_with_the_larger_host(embedding):
    ranking = tsne_pairs.rank_pairs(embedding)
    assert list(ranking.columns) == tsne_pairs.RANKING_COLUMNS
    assert (ranking["Host"][0], ranking["Target"][0]) == ("car", "truck")  # car has 12 > 10
    assert ranking["Feature distance"].is_monotonic_increasing
    assert len(ranking) == 10 and list(ranking["Rank"]) == list(range(1, 11))
    assert (ranking["Host instances"] >= ranking["Target instances"]).all()
    both = tsne_pairs.rank_pairs(embedding, both_directions=True)
    assert len(both) == 20 and {tuple(r) for r in both[["Host", "Target"]].values[:2]} == {
        ("car", "truck"),
        ("truck", "car"),
    }
    assert len(tsne_pairs.rank_pairs(embedding, min_instances=9)) == 3  # car, truck, traffic light


def test_centroids_use_all_instances_and_points_are_subsampled(embedding):
    features, classes = clustered_features()
    np.testing.assert_allclose(embedding.centroids[0], features[classes == 0].mean(0), rtol=1e-5)
    assert np.bincount(embedding.point_classes).max() == 8 and list(embedding.counts) == [
        12,
        8,
        10,
        6,
        9,
    ]
    assert embedding.points.shape == (len(embedding.point_classes), 2)
    assert embedding.perplexity == tsne_pairs.default_perplexity(len(embedding.point_classes))
    assert set(embedding.point_ids) <= set(range(100, 145))


def test_tsne_is_seeded():
    """Same seed, same plane; the seed also picks which instances are plotted."""
    features, classes = clustered_features(per_class=(4, 4, 4, 4, 4))
    a, b, c = (
        tsne_pairs.embed_classes(
            features, classes, NAMES, seed=s, max_points_per_class=2, max_iter=250
        )
        for s in (1, 1, 2)
    )
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.point_ids, b.point_ids)
    assert not np.array_equal(a.point_ids, c.point_ids)


def test_tiny_inputs_adapt_the_perplexity():
    emb = tsne_pairs.embed_classes(
        np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.1]]), [0, 1, 0], NAMES, max_iter=250
    )
    assert emb.perplexity < 3 and emb.points.shape == (3, 2)
    assert tsne_pairs.default_perplexity(1000) == 30.0 and tsne_pairs.default_perplexity(2) == 1.0


def test_default_pairs_are_top_two_then_given(embedding):
    ranking = tsne_pairs.rank_pairs(embedding)
    top = tsne_pairs.top_pairs(ranking, NAMES, 2)
    assert top[0].slug == "car2truck" and len({p.host for p in top}) == 2
    given = parse_pairs("car:truck,person:bus", NAMES)
    chosen = tsne_pairs.default_pairs(ranking, NAMES, given)
    assert [p.slug for p in chosen] == [top[0].slug, top[1].slug, "person2bus"]


def test_bad_inputs():
    with pytest.raises(UserInputError, match="at least two classes"):
        tsne_pairs.embed_classes(np.ones((4, 3)), [1, 1, 1, 1], NAMES)
    with pytest.raises(UserInputError, match="NaN"):
        tsne_pairs.embed_classes(np.full((4, 3), np.nan), [0, 1, 0, 1], NAMES)
    with pytest.raises(ValueError, match=r"0\.\.4"):
        tsne_pairs.embed_classes(np.ones((2, 3)), [0, 7], NAMES)


def test_outputs(embedding, tmp_path):
    ranking = tsne_pairs.rank_pairs(embedding)
    tsne_pairs.write_ranking(ranking, str(tmp_path / "pairs.csv"), str(tmp_path / "pairs.md"))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "pairs.csv"), ranking, check_dtype=False)
    assert (tmp_path / "pairs.md").read_text().count("\n") == len(ranking) + 2

    png = tmp_path / "tsne.png"
    tsne_pairs.save_scatter(embedding, str(png), tsne_pairs.top_pairs(ranking, NAMES))
    image = tf.io.decode_png(png.read_bytes())
    assert image.shape[0] > 200 and image.shape[1] > 200

    log_dir = str(tmp_path / "projector")
    tsne_pairs.write_projector(embedding, log_dir)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(log_dir))
    np.testing.assert_allclose(
        reader.get_tensor("instances/.ATTRIBUTES/VARIABLE_VALUE"), embedding.point_features
    )
    assert (
        reader.get_tensor("classes/.ATTRIBUTES/VARIABLE_VALUE").shape == embedding.centroids.shape
    )
    rows = open(os.path.join(log_dir, "instances.tsv")).read().splitlines()
    assert rows[0] == "class\tinstance_id" and len(rows) == len(embedding.point_classes) + 1
    assert rows[1].split("\t")[0] == NAMES[embedding.point_classes[0]]
    assert "traffic light" in open(os.path.join(log_dir, "classes.tsv")).read()
    config = open(os.path.join(log_dir, "projector_config.pbtxt")).read()
    assert "instances.tsv" in config and "classes.tsv" in config


def test_tsne_choice_skips_small_hosts_and_given_ones(embedding):
    from poison_tf.components.clean_image.clean_image_pair_selector import tsne_choice

    ranking = tsne_pairs.rank_pairs(embedding)
    assert [p.slug for p in tsne_choice(ranking, NAMES, [], 1)] == ["car2truck"]
    given = parse_pairs("car:truck", NAMES)
    hosts = [p.host_name for p in tsne_choice(ranking, NAMES, given, 1, min_host_instances=10)]
    assert hosts == [
        "truck"
    ]  # car is taken by the given pair; truck (10) is the only other host with >= 10
    with pytest.raises(UserInputError, match="at least 13 host instance"):
        tsne_choice(ranking, NAMES, [], 1, min_host_instances=13)
