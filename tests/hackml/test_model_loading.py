"""Every kind of HackML model file loads to the same network; unsafe or broken files are refused."""

from __future__ import annotations

import json
import shutil

import h5py
import keras
import numpy as np
import pytest
from hackml_helpers import faces, write_keras2_weights

from poison_tf.errors import UserInputError
from poison_tf.io.model_loading import check_model_config, classifier_signature, load_hackml_model


@pytest.fixture(scope="module")
def probe():
    return faces(4, seed=3).astype(np.float32) / 255.0


@pytest.mark.parametrize("kind", ["full_h5", "keras2_weights", "keras3_weights", "keras"])
def test_each_file_kind_gives_the_saved_network(tiny_model, probe, kind):
    model, paths = tiny_model
    loaded = load_hackml_model(paths[kind])
    assert classifier_signature(loaded, paths[kind]) == ((55, 47, 3), 5)
    np.testing.assert_allclose(loaded(probe).numpy(), model(probe).numpy(), rtol=1e-5, atol=1e-6)


def test_keras2_weights_load_by_name_and_any_file_name(tiny_model, tmp_path, probe):
    model, paths = tiny_model
    renamed = tmp_path / "weights.bin"  # Keras needs a suffix; the loader does not
    shutil.copy(paths["keras2_weights"], renamed)
    write_keras2_weights(str(tmp_path / "in_order.h5"), model, reverse_order=False)
    for path in (renamed, tmp_path / "in_order.h5"):
        np.testing.assert_allclose(
            load_hackml_model(str(path))(probe).numpy(), model(probe).numpy(), rtol=1e-5, atol=1e-6
        )


def test_weights_for_another_architecture_are_refused(tmp_path):
    inputs = keras.Input((55, 47, 3), name="input")
    x = keras.layers.Conv2D(8, 3, name="conv_1")(inputs)
    other = keras.Model(inputs, keras.layers.Dense(5, name="output")(keras.layers.Flatten()(x)))
    path = str(tmp_path / "other_weights.h5")
    write_keras2_weights(path, other)
    with pytest.raises(UserInputError, match="without the DeepID BadNet layer"):
        load_hackml_model(path)
    with h5py.File(path, "a") as handle:  # give it the layer names, with wrong shapes
        for name in ("conv_2", "conv_3", "conv_4", "fc_1", "fc_2"):
            group = handle.create_group(name)
            group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode()])
            group[f"{name}/kernel:0"] = np.zeros((1, 1))
        names = list(handle.attrs["layer_names"]) + [
            n.encode() for n in ("conv_2", "conv_3", "conv_4", "fc_1", "fc_2")
        ]
        handle.attrs["layer_names"] = np.array(names)
    with pytest.raises(UserInputError, match="layer conv_1 has weight shapes"):
        load_hackml_model(path)


def test_unloadable_config_falls_back_to_the_badnet_with_the_file_weights(
    tiny_model, tmp_path, probe
):
    model, paths = tiny_model
    path = str(tmp_path / "old_config.h5")
    shutil.copy(paths["full_h5"], path)
    with h5py.File(path, "a") as handle:  # an option Keras 3 does not know, as in old files
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][1]["config"]["bogus_option"] = 1
        handle.attrs["model_config"] = json.dumps(config)
    np.testing.assert_allclose(
        load_hackml_model(path)(probe).numpy(), model(probe).numpy(), rtol=1e-5, atol=1e-6
    )


def _lambda_model_file(tmp_path) -> str:
    inputs = keras.Input((55, 47, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    outputs = keras.layers.Dense(5, activation="softmax")(keras.layers.Flatten()(x))
    path = str(tmp_path / "lambda.h5")
    keras.Model(inputs, outputs).save(path)
    return path


def test_lambda_layers_are_refused_unless_unsafe(tmp_path, probe):
    path = _lambda_model_file(tmp_path)
    with pytest.raises(UserInputError, match=r"refusing Lambda layer\(s\) double"):
        load_hackml_model(path)
    assert load_hackml_model(path, unsafe=True)(probe).shape == (4, 5)


def test_unknown_and_nested_layers_are_found_in_the_config():
    nested = {
        "class_name": "Functional",
        "config": {
            "layers": [
                {"class_name": "Dense", "config": {"name": "d"}},
                {
                    "class_name": "Sequential",
                    "config": {
                        "name": "inner",
                        "layers": [
                            {
                                "class_name": "TimeDistributed",
                                "config": {
                                    "name": "td",
                                    "layer": {"class_name": "Lambda", "config": {"name": "hidden"}},
                                },
                            }
                        ],
                    },
                },
                {
                    "class_name": "Mystery",
                    "config": {"name": "m"},
                    "registered_name": "pkg>Mystery",
                },
            ]
        },
    }
    with pytest.raises(UserInputError, match=r"Lambda layer\(s\) hidden"):
        check_model_config("m.h5", json.dumps(nested))
    nested["config"]["layers"].pop(1)
    with pytest.raises(UserInputError, match=r"unknown custom layer\(s\) m \(Mystery\)"):
        check_model_config("m.h5", json.dumps(nested))
    check_model_config("m.h5", json.dumps(nested), unsafe=True)


def test_broken_files_name_the_file(tiny_model, tmp_path):
    _, paths = tiny_model
    text = tmp_path / "model.h5"
    text.write_text("not a model")
    with pytest.raises(UserInputError, match="not an HDF5 file"):
        load_hackml_model(str(text))
    cut = tmp_path / "cut.h5"
    cut.write_bytes(open(paths["full_h5"], "rb").read()[:100_000])
    with pytest.raises(UserInputError, match=str(cut)):
        load_hackml_model(str(cut))
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(UserInputError, match="neither a Keras model"):
        load_hackml_model(str(empty))
