"""Feature-space detector: Mahalanobis distance to the predicted class's clean Gaussian."""

from __future__ import annotations

import numpy as np
import pytest
from defences_fixtures import tiny_badnet

from poison_tf.defences import classifiers
from poison_tf.defences.base import load_detector
from poison_tf.defences.mahalanobis import MahalanobisDetector
from poison_tf.defences.metrics import detection_metrics
from poison_tf.models.deepid_badnet import build_deepid_badnet


@pytest.fixture(scope="module")
def fitted():
    world = tiny_badnet()
    return world, MahalanobisDetector(world.model).fit(world.val_x, world.val_y)


def test_default_layer_is_the_input_of_the_head(fitted):
    _, detector = fitted
    assert detector.layer == "fc"


def test_catches_the_trigger(fitted):
    world, detector = fitted
    metrics = detection_metrics(
        detector.score(world.test_x), detector.score(world.triggered_x), detector.threshold
    )
    print("Mahalanobis", metrics)
    assert metrics["roc_auc"] > 0.95
    assert metrics["detection_rate"] > 0.9 and metrics["frr"] < 0.2


def test_fits_without_labels(fitted):
    world, _ = fitted
    detector = MahalanobisDetector(world.model).fit(world.val_x)
    assert np.mean(detector.flag(world.triggered_x)) > 0.9


def test_save_load_gives_identical_scores(fitted, tmp_path):
    world, detector = fitted
    detector.save(tmp_path / "maha.h5")
    loaded = load_detector(tmp_path / "maha.h5")
    assert isinstance(loaded, MahalanobisDetector) and loaded.layer == "fc"
    np.testing.assert_array_equal(loaded.score(world.test_x), detector.score(world.test_x))


def test_deepid_graph_lookups():
    model = build_deepid_badnet(num_classes=5)
    assert classifiers.penultimate_layer(model) == "activation_1"
    assert classifiers.last_conv_layer(model) == "conv_4"
    assert classifiers.input_shape_of(model) == (55, 47, 3)
