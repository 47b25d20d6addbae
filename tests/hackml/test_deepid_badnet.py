"""The rebuilt DeepID BadNet has the original's layer names, shapes and parameter count."""

from __future__ import annotations

import h5py
import pytest
from hackml_helpers import SHARED_HACKML

from poison_tf.models.deepid_badnet import WEIGHTED_LAYERS, build_deepid_badnet

# From architecture.py / ../shared/notes/hackml.md §4.
OUTPUT_SHAPES = {
    "input": (55, 47, 3),
    "conv_1": (52, 44, 20),
    "pool_1": (26, 22, 20),
    "conv_2": (24, 20, 40),
    "pool_2": (12, 10, 40),
    "conv_3": (10, 8, 60),
    "pool_3": (5, 4, 60),
    "flatten_1": (1200,),
    "fc_1": (160,),
    "conv_4": (4, 3, 80),
    "flatten_2": (960,),
    "fc_2": (160,),
    "add_1": (160,),
    "activation_1": (160,),
    "output": (1283,),
}
WEIGHT_FILES = [
    "sunglasses_bd_weights.h5",
    "anonymous_1_bd_weights.h5",
    "anonymous_2_bd_weights.h5",
    "multi_trigger_multi_target_bd_weights.h5",
    "lab3/bd_weights.h5",
]


@pytest.fixture(scope="module")
def net():
    return build_deepid_badnet()


def test_layer_names_and_output_shapes_are_the_originals(net):
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in net.layers}
    assert shapes == OUTPUT_SHAPES


def test_parameter_count_and_head(net):
    assert net.count_params() == 601_643
    assert net.get_layer("output").activation.__name__ == "softmax"
    assert net.get_layer("fc_1").activation.__name__ == "linear"
    small = build_deepid_badnet(num_classes=5)
    assert small.output.shape[-1] == 5 and small.count_params() == 601_643 - 161 * 1278


@pytest.mark.real_data
@pytest.mark.parametrize("name", WEIGHT_FILES)
def test_weight_shapes_equal_the_hackml_files(net, name):
    path = SHARED_HACKML / name
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    with h5py.File(path, "r") as handle:
        stored = {
            layer: [tuple(handle[layer][n].shape) for n in handle[layer].attrs["weight_names"]]
            for layer in WEIGHTED_LAYERS
        }
        total = sum(
            handle[layer][n].size
            for layer in WEIGHTED_LAYERS
            for n in handle[layer].attrs["weight_names"]
        )
    assert stored == {
        layer: [tuple(w.shape) for w in net.get_layer(layer).weights] for layer in WEIGHTED_LAYERS
    }
    assert total == net.count_params()
