"""Settings outside their meaning are refused in one place, for presets and stage flags alike."""

from __future__ import annotations

import importlib

import pytest

from poison_tf.errors import UserInputError
from poison_tf.io.flag_ranges import check_config, check_values

PIPELINES = [
    "badnets_regression", "backdoor_detection", "adversarial_patch", "instance_segmentation",
    "clean_image_backdoor",
]  # fmt: skip


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epochs": 0}, "--epochs=0: must be at least 1"),
        ({"learning_rate": -0.1}, "--learning_rate=-0.1: must be greater than 0"),
        ({"learning_rate": float("nan")}, "--learning_rate=nan: must be a finite number"),
        ({"global_batch_size": 0}, "--global_batch_size=0: must be at least 1"),
        ({"rates": ()}, "--rates=: needs at least one item"),
        ({"triggers": ()}, "--triggers=: needs at least one item"),
        ({"image_size": 100_000}, "--image_size=100000: must be at most 4096"),
        ({"seed": -1}, "--seed=-1: must be at least 0"),
        ({"num_train": -5}, "--num_train=-5: must be at least 1"),
        ({"num_test": 0}, "--num_test=0: must be at least 1"),
        ({"width": float("inf")}, "--width=inf: must be a finite number"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_out_of_range_values_name_the_flag(values, message):
    with pytest.raises(UserInputError, match=message.replace("(", r"\(")):
        check_values(values)


def test_zero_learning_rate_is_allowed_only_where_it_means_automatic():
    check_values({"learning_rate": 0.0}, {"learning_rate": 0.0})
    with pytest.raises(UserInputError):
        check_values({"learning_rate": 0.0}, {"learning_rate": 1e-3})


@pytest.mark.parametrize("name", PIPELINES)
def test_every_preset_is_in_range(name):
    module = importlib.import_module(f"pipelines.{name}")
    for preset in module.PRESETS.values():
        check_config(preset)
