"""Moving YOLOv8-seg weights: another input size (same outputs), another class count (class
branch fresh and logged, everything else copied)."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

from poison_tf.errors import UserInputError
from poison_tf.models.yolo_seg_transfer import all_layers, initialise_from, with_image_size
from poison_tf.models.yolo_v8_seg import YoloV8Seg


def _randomised(model: keras.Model, seed: int) -> keras.Model:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def test_with_image_size_keeps_the_weights_and_the_outputs_per_pixel():
    small = _randomised(YoloV8Seg(num_classes=3, image_size=64, size="tiny"), 0)
    large = with_image_size(small, 96)
    assert large.image_size == 96 and large.count_params() == small.count_params()
    for ours, theirs in zip(large.get_weights(), small.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    image = np.zeros((1, 96, 96, 3), np.float32)
    assert large(image)["protos"].shape == (1, 24, 24, 32)


def test_other_class_count_reinitialises_only_the_class_branch(caplog):
    source = _randomised(YoloV8Seg(num_classes=3, image_size=64, size="tiny"), 1)
    fresh = YoloV8Seg(num_classes=120, image_size=64, size="tiny")  # cls hidden width changes too
    before = {
        name: [np.array(w) for w in layer.weights] for name, layer in all_layers(fresh).items()
    }
    with caplog.at_level(logging.WARNING):
        initialise_from(fresh, source, "source.keras")
    assert "3 classes, the data has 120: class head re-initialised" in caplog.text
    theirs = all_layers(source)
    for name, layer in all_layers(fresh).items():
        values = [np.array(w) for w in layer.weights]
        if name.startswith("cls"):
            for value, old in zip(values, before[name]):  # left at the fresh initialisation
                np.testing.assert_array_equal(value, old)
        else:
            for value, other in zip(values, theirs[name].weights):
                np.testing.assert_array_equal(value, np.array(other))


def test_other_size_is_refused():
    source = YoloV8Seg(num_classes=3, image_size=64, size="tiny")
    target = YoloV8Seg(num_classes=3, image_size=64, size="n")
    with pytest.raises(UserInputError, match="--model_size=tiny"):
        initialise_from(target, source, "source.keras")
