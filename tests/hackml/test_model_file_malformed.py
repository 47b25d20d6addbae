"""Model and detector files that open but are malformed end in one UserInputError (issue 18)."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest

from poison_tf.defences.base import load_detector
from poison_tf.defences.h5store import read_model, write_model
from poison_tf.errors import UserInputError
from poison_tf.io.model_loading import load_hackml_model
from poison_tf.models.deepid_badnet import WEIGHTED_LAYERS, build_deepid_badnet


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A Keras-2 weights-only DeepID BadNet file (the HackML layout)."""
    path = tmp_path_factory.mktemp("m") / "model.h5"
    model = build_deepid_badnet(num_classes=3)
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([n.encode() for n in WEIGHTED_LAYERS])
        for name in WEIGHTED_LAYERS:
            group = handle.create_group(name)
            names = [f"{name}/kernel:0", f"{name}/bias:0"]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for weight_name, value in zip(names, model.get_layer(name).get_weights()):
                group.create_dataset(weight_name, data=value)
    return path


def _edited(tmp_path, source, edit):
    path = tmp_path / "model.h5"
    path.write_bytes(source.read_bytes())
    with h5py.File(path, "r+") as handle:
        edit(handle)
    return str(path)


def _replace(group, key, value):
    del group[key]
    group[key] = value


def test_the_valid_weights_file_loads(weights_file):
    assert load_hackml_model(str(weights_file)).output_shape == (None, 3)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h.attrs.__setitem__("layer_names", 5), "layer_names must be a list of names"),
        (lambda h: h["conv_1"].attrs.__setitem__("weight_names", 3), "must be a list of names"),
        (
            lambda h: _replace(h["conv_1"], "conv_1/bias:0", np.array([b"ab"] * 20)),
            "expected numbers",
        ),
        (
            lambda h: _replace(h["conv_1"], "conv_1/bias:0", h5py.Empty("f4")),
            "expected numbers",
        ),
        (
            lambda h: _replace(h["fc_1"], "fc_1/bias:0", np.full(160, np.nan, "f4")),
            "NaN or infinite",
        ),
    ],
    ids=["layer_names_int", "weight_names_int", "weight_strings", "weight_null", "weight_nan"],
)
def test_malformed_weights(tmp_path, weights_file, edit, message):
    with pytest.raises(UserInputError, match=message):
        load_hackml_model(_edited(tmp_path, weights_file, edit))


def _deep_layers(depth: int) -> str:
    text = '{"class_name": "Dense", "config": {"name": "d", "units": 2}}'
    for i in range(depth):
        text = f'{{"class_name": "TimeDistributed", "config": {{"name": "t{i}", "layer": {text}}}}}'
    return '{"class_name": "Functional", "config": {"layers": [' + text + "]}}"


@pytest.mark.parametrize(
    "config", ["[" * 100_000 + "]" * 100_000, _deep_layers(900)], ids=["json", "layers"]
)
def test_deeply_nested_model_config(tmp_path, config):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w", libver="latest") as handle:
        handle.attrs["model_config"] = config
    with pytest.raises(UserInputError, match="nested"):
        load_hackml_model(str(path))


def _detector_file(path, **attrs):
    values = {"poison_tf_detector": "vae", "hyperparams": "{}", "threshold": 1.0}
    values = {**values, "input_shape": "[55, 47, 3]", **attrs}
    with h5py.File(path, "w") as handle:
        for key, value in values.items():
            handle.attrs[key] = value
    return str(path)


@pytest.mark.parametrize(
    "attrs, message",
    [
        ({"threshold": np.nan}, "threshold: nan is not a finite number"),
        ({"threshold": "high"}, "threshold: expected a number"),
        ({"hyperparams": "[" * 50_000 + "]" * 50_000}, "nested"),
        ({"input_shape": '{"a": 1}'}, "is not a list of positive sizes"),
    ],
    ids=["threshold_nan", "threshold_text", "hyperparams_deep", "input_shape_object"],
)
def test_malformed_detector_attributes(tmp_path, attrs, message):
    with pytest.raises(UserInputError, match=message):
        load_detector(_detector_file(tmp_path / "det.h5", **attrs))


def test_nan_weights_of_a_stored_detector_model(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with h5py.File(tmp_path / "s.h5", "w") as root:
        write_model(root, "m", model)
        weight = root["m/weights/00000"]
        _replace(root["m/weights"], "00000", np.full(weight.shape, np.nan, weight.dtype))
    with h5py.File(tmp_path / "s.h5", "r") as root:
        with pytest.raises(UserInputError, match="NaN or infinite"):
            read_model(root, "m", str(tmp_path / "s.h5"))
