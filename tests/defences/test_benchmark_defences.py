"""Spectral signatures, activation clustering, Neural Cleanse and ABL on a real tiny BadNet."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from benchmark_fixture import nine_class_world, poisoned_world
from defences_fixtures import NUM_CLASSES, TARGET, build_cnn

from poison_tf.defences import features, training
from poison_tf.defences.abl import AntiBackdoorLearning
from poison_tf.defences.activation_clustering import activation_clustering
from poison_tf.defences.neural_cleanse import NeuralCleanse, trigger_image
from poison_tf.defences.spectral import spectral_filter
from poison_tf.errors import UserInputError
from poison_tf.metrics import backdoorbench as bb


def test_the_fixture_is_really_backdoored():
    world = poisoned_world()
    assert world.before["clean_acc"] > 0.9 and world.before["asr"] > 0.9


def test_spectral_signatures_find_the_poisoned_examples():
    world = poisoned_world()
    feats = features.extract(world.model, world.train_x)
    result = spectral_filter(feats, world.train_y, percentile=85)
    scores = bb.filter_scores(result["removed"], world.plan.poisoned_ids, len(world.train_y))
    # removing 15 % of every class at random finds 15 % of the poison; 15 % of the target class
    # is at most 0.15 * 278 / 80 = 52 % of it, since 80 poisoned examples sit in class 0
    assert scores["recall"] > 0.4, scores
    in_target = np.intersect1d(result["removed"], np.flatnonzero(world.train_y == TARGET))
    assert np.isin(in_target, world.plan.poisoned_ids).mean() > 0.9


def test_activation_clustering_isolates_the_poisoned_examples():
    world = poisoned_world()
    feats = features.extract(world.model, world.train_x)
    # "smaller" (BackdoorBench) removes a cluster in every class; in the target class it is poison
    result = activation_clustering(feats, world.train_y, cluster_analysis="smaller")
    scores = bb.filter_scores(result["removed"], world.plan.poisoned_ids, len(world.train_y))
    assert scores["recall"] > 0.5, scores
    in_target = np.intersect1d(result["removed"], np.flatnonzero(world.train_y == TARGET))
    assert np.isin(in_target, world.plan.poisoned_ids).mean() > 0.9
    sized = activation_clustering(feats, world.train_y, cluster_analysis="relative_size")
    sized_scores = bb.filter_scores(sized["removed"], world.plan.poisoned_ids, len(world.train_y))
    assert sized_scores["precision"] > 0.9 and sized_scores["recall"] > 0.5, sized_scores
    silhouette = activation_clustering(feats, world.train_y, cluster_analysis="silhouette")
    assert silhouette["classes"][TARGET]["flagged"]
    assert max(c["silhouette"] for c in silhouette["classes"].values()) == pytest.approx(
        silhouette["classes"][TARGET]["silhouette"]
    )


def test_neural_cleanse_flags_the_target_and_unlearning_removes_the_backdoor():
    world = nine_class_world()  # a MAD over 4 mask norms cannot reach 2; NC used >= 10 labels
    nc = NeuralCleanse(world.model, epochs=30, batch_size=135, unlearning_epochs=5, seed=0)
    detection = nc.detect(world.clean_x)
    assert detection["detected"] == TARGET, detection["l1"]
    assert detection["anomaly_index"][TARGET] > 2
    assert trigger_image(detection["triggers"][TARGET]).shape == (16, 16, 3)
    assert detection["l1"][TARGET] < 9  # smaller than the 3x3 trigger itself
    repaired = nc.unlearn(world.clean_x, world.clean_y, detection)
    after = bb.evaluate(repaired, world.test_x, world.test_y, world.bd_x, world.bd_y, TARGET)
    assert after["asr"] < 0.5 * world.before["asr"], after
    assert after["clean_acc"] > world.before["clean_acc"] - 0.1, after
    assert bb.defence_row(world.before, after)["der"] > 0.7


def test_abl_isolates_the_lowest_loss_examples():
    world = poisoned_world()
    abl = AntiBackdoorLearning(
        build_cnn, tuning_epochs=1, isolation_ratio=0.05, learning_rate=3e-3, optimizer="adam"
    )
    model, isolated = abl.isolate(world.train_x, world.train_y)
    losses = training.per_example_loss(model, world.train_x, world.train_y)
    assert len(isolated) == 40
    assert losses[isolated].max() <= np.delete(losses, isolated).min()


def test_abl_unlearning_removes_the_backdoor_of_the_isolated_examples():
    # Step 4 alone, given the isolated set: on this toy world the clean stripes are learnt before
    # the 3x3 trigger, so step 2's lowest-loss examples are clean ones (ABL's premise, that the
    # backdoor is learnt first, does not hold here); the unlearning itself must still work.
    # Unbounded gradient ascent is touchy: 14 steps at 3e-3 remove the backdoor and keep the
    # clean accuracy; 16 steps already cost 26 points of it (seen while writing this test).
    world = poisoned_world()
    abl = AntiBackdoorLearning(build_cnn, unlearning_epochs=7, unlearning_lr=3e-3, batch_size=20)
    model = abl.unlearn(
        training.clone(world.model), world.train_x, world.train_y, world.plan.poisoned_ids[:40]
    )
    after = bb.evaluate(model, world.test_x, world.test_y, world.bd_x, world.bd_y, TARGET)
    assert after["asr"] < 0.5 * world.before["asr"], after
    assert after["clean_acc"] > 0.8, after


def test_a_model_without_a_penultimate_layer_is_a_user_error():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(NUM_CLASSES, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    no_dense = keras.Model(inputs, keras.layers.Softmax()(x), name="no_dense")
    with pytest.raises(UserInputError, match="no_dense.*penultimate"):
        features.extract(no_dense, np.zeros((2, 16, 16, 3), np.float32))
    flat = keras.Input((8,))
    direct = keras.Model(flat, keras.layers.Dense(2)(flat), name="direct_head")
    with pytest.raises(UserInputError, match="direct_head"):
        features.feature_layer(direct)
